"""Experiment runs: the request-log schema and store, the runner, experiment specs.

The names below are imported on first use from the module named beside each (imported eagerly, the runner
would pull in the providers, which themselves use the log and the image store).
"""

from __future__ import annotations

from imgkit._lazy import lazy_exports

_EXPORTS = {
    "LOG_SCHEMA": "imgkit.runs.schema",
    "RequestLog": "imgkit.runs.log",
    "ImageStore": "imgkit.runs.images",
    "ExperimentSpec": "imgkit.runs.spec",
    "load_spec": "imgkit.runs.spec",
    "parse_spec": "imgkit.runs.spec",
    "plan_run": "imgkit.runs.plan",
    "Budget": "imgkit.money",
    "RunSummary": "imgkit.runs.runner",
    "run_experiment": "imgkit.runs.runner",
    "run_experiment_async": "imgkit.runs.runner",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
