"""Pure analysis functions over polars frames: performance, ratings, frontiers, projections.

The names below are imported on first use from the module named beside each; the modules hold the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from imgkit._lazy import lazy_exports

_EXPORTS = {
    # request logs into the canonical schema, and out as Parquet (imgkit.records owns them)
    "scan_log": "imgkit.records.scan",
    "export_parquet": "imgkit.records.parquet",
    # performance: speed, reliability and cost per group of a request log
    "performance_table": "imgkit.analysis.performance",
    "success_percentiles": "imgkit.analysis.performance",
    "log_summary": "imgkit.analysis.performance",
    "wilson_interval": "imgkit.stats",
    # ratings from pairwise votes
    "read_votes": "imgkit.analysis.ratings",
    "fit_bradley_terry": "imgkit.analysis.ratings",
    "fit_by_category": "imgkit.analysis.ratings",
    "online_elo": "imgkit.analysis.ratings",
    "win_rate_matrices": "imgkit.analysis.ratings",
    "RatingsResult": "imgkit.analysis.ratings",
    # frontiers and recommendations
    "frontier_inputs": "imgkit.analysis.frontier",
    "pareto_frontier": "imgkit.analysis.frontier",
    "recommend": "imgkit.analysis.frontier",
    # monthly cost projections
    "load_workload": "imgkit.analysis.projection",
    "project": "imgkit.analysis.projection",
    "break_even": "imgkit.analysis.projection",
    "sensitivity": "imgkit.analysis.projection",
    # published figures shipped in data/published
    "lmarena_leaderboard": "imgkit.analysis.published",
    "seed_performance": "imgkit.analysis.published",
}

if TYPE_CHECKING:  # the table's names, for type checkers and IDEs (tests/test_typing.py keeps them equal)
    from imgkit.analysis.frontier import frontier_inputs as frontier_inputs
    from imgkit.analysis.frontier import pareto_frontier as pareto_frontier
    from imgkit.analysis.frontier import recommend as recommend
    from imgkit.analysis.performance import log_summary as log_summary
    from imgkit.analysis.performance import performance_table as performance_table
    from imgkit.analysis.performance import success_percentiles as success_percentiles
    from imgkit.analysis.projection import break_even as break_even
    from imgkit.analysis.projection import load_workload as load_workload
    from imgkit.analysis.projection import project as project
    from imgkit.analysis.projection import sensitivity as sensitivity
    from imgkit.analysis.published import lmarena_leaderboard as lmarena_leaderboard
    from imgkit.analysis.published import seed_performance as seed_performance
    from imgkit.analysis.ratings import RatingsResult as RatingsResult
    from imgkit.analysis.ratings import fit_bradley_terry as fit_bradley_terry
    from imgkit.analysis.ratings import fit_by_category as fit_by_category
    from imgkit.analysis.ratings import online_elo as online_elo
    from imgkit.analysis.ratings import read_votes as read_votes
    from imgkit.analysis.ratings import win_rate_matrices as win_rate_matrices
    from imgkit.records.parquet import export_parquet as export_parquet
    from imgkit.records.scan import scan_log as scan_log
    from imgkit.stats import wilson_interval as wilson_interval
else:
    __getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
