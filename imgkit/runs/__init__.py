"""Experiment runs: experiment specs, the plan, the runner (their records are :mod:`imgkit.records`').

The names below are imported on first use from the module named beside each (imported eagerly, the runner
would pull in the providers and the simulator).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:  # the table's names, for type checkers and IDEs (tests/test_typing.py keeps them equal)
    from imgkit.money import Budget as Budget
    from imgkit.runs.plan import plan_run as plan_run
    from imgkit.runs.runner import RunSummary as RunSummary
    from imgkit.runs.runner import run_experiment as run_experiment
    from imgkit.runs.runner import run_experiment_async as run_experiment_async
    from imgkit.runs.spec import ExperimentSpec as ExperimentSpec
    from imgkit.runs.spec import load_spec as load_spec
    from imgkit.runs.spec import parse_spec as parse_spec
else:
    __getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
