"""imgkit: choose an AI image-generation model, provider and quality tier.

Exact per-image and token costs, measured speed and reliability from request logs, Bradley–Terry ratings
from blind pairwise votes, frontiers and monthly projections, in reproducible Papermill reports.

The names below are the everyday entry points, imported on first use (``import imgkit`` loads neither
polars nor httpx); each lives in the module named beside it, which holds the rest of its API.
"""

from __future__ import annotations

from imgkit._lazy import lazy_exports
from imgkit.errors import ImgkitError

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

__getattr__, __dir__, __all__ = lazy_exports(
    __name__, _EXPORTS, {"ImgkitError": ImgkitError, "__version__": __version__}
)
