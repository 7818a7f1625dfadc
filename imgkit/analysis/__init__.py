"""Pure analysis functions over polars frames: performance, ratings, frontiers, projections.

The names below are imported on first use from the module named beside each; the modules hold the rest.
"""

from __future__ import annotations

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

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
