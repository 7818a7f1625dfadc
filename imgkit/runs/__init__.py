"""Experiment runs: experiment specs, the plan, the runner (their records are :mod:`imgkit.records`').

The names below are imported on first use from the module named beside each (imported eagerly, the runner
would pull in the providers and the simulator).
"""

from __future__ import annotations

from imgkit._lazy import lazy_exports

_EXPORTS = {
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
