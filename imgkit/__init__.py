"""imgkit: choose an AI image-generation model, provider and quality tier.

Exact per-image and token costs, measured speed and reliability from request logs, Bradley–Terry ratings
from blind pairwise votes, frontiers and monthly projections, in reproducible Papermill reports.

The names below are the everyday entry points, imported on first use (``import imgkit`` loads neither
polars nor httpx); each lives in the module named beside it, which holds the rest of its API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from imgkit._lazy import lazy_exports
from imgkit.errors import ImgkitError as ImgkitError

__version__ = "0.1.0"

_EXPORTS = {
    # catalog, parameters, money
    "load_catalog": "imgkit.catalog",
    "ImageRequest": "imgkit.params",
    "resolve": "imgkit.params",
    "quote": "imgkit.pricing",
    "cost_from_usage": "imgkit.pricing",
    "cost_from_response": "imgkit.pricing",
    # provider calls and runs
    "ImageClient": "imgkit.providers",
    "SimulatorServer": "imgkit.simulator",
    "load_spec": "imgkit.runs.spec",
    "run_experiment": "imgkit.runs.runner",
    "RequestLog": "imgkit.records.journal",
    "make_grid": "imgkit.grids",
    # analysis and reports
    "scan_log": "imgkit.records.scan",
    "performance_table": "imgkit.analysis.performance",
    "read_votes": "imgkit.analysis.ratings",
    "fit_bradley_terry": "imgkit.analysis.ratings",
    "pareto_frontier": "imgkit.analysis.frontier",
    "recommend": "imgkit.analysis.frontier",
    "load_workload": "imgkit.analysis.projection",
    "project": "imgkit.analysis.projection",
    "run_report": "imgkit.reports",
    "Provenance": "imgkit.provenance",
}

if TYPE_CHECKING:  # the table's names, for type checkers and IDEs (tests/test_typing.py keeps them equal)
    from imgkit.analysis.frontier import pareto_frontier as pareto_frontier
    from imgkit.analysis.frontier import recommend as recommend
    from imgkit.analysis.performance import performance_table as performance_table
    from imgkit.analysis.projection import load_workload as load_workload
    from imgkit.analysis.projection import project as project
    from imgkit.analysis.ratings import fit_bradley_terry as fit_bradley_terry
    from imgkit.analysis.ratings import read_votes as read_votes
    from imgkit.catalog import load_catalog as load_catalog
    from imgkit.grids import make_grid as make_grid
    from imgkit.params import ImageRequest as ImageRequest
    from imgkit.params import resolve as resolve
    from imgkit.pricing import cost_from_response as cost_from_response
    from imgkit.pricing import cost_from_usage as cost_from_usage
    from imgkit.pricing import quote as quote
    from imgkit.provenance import Provenance as Provenance
    from imgkit.providers import ImageClient as ImageClient
    from imgkit.records.journal import RequestLog as RequestLog
    from imgkit.records.scan import scan_log as scan_log
    from imgkit.reports import run_report as run_report
    from imgkit.runs.runner import run_experiment as run_experiment
    from imgkit.runs.spec import load_spec as load_spec
    from imgkit.simulator import SimulatorServer as SimulatorServer
else:
    __getattr__, __dir__, __all__ = lazy_exports(
        __name__, _EXPORTS, {"ImgkitError": ImgkitError, "__version__": __version__}
    )
