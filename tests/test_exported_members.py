"""The public API: what each module exports exists and says what it is; the packages' entry points are
imported on first use, so ``import imgkit`` stays cheap."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys

import pytest

import imgkit

PUBLIC_MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(imgkit.__path__, "imgkit.")
    if not any(part.startswith("_") for part in info.name.split("."))
    and not info.name.startswith("imgkit.cli")
)
PACKAGES = ["imgkit", "imgkit.analysis", "imgkit.plots", "imgkit.records", "imgkit.runs"]


def test_the_top_level_api_is_pinned():
    assert imgkit.__all__ == [
        "ImageClient",
        "ImageRequest",
        "ImgkitError",
        "Provenance",
        "RequestLog",
        "SimulatorServer",
        "__version__",
        "cost_from_response",
        "cost_from_usage",
        "fit_bradley_terry",
        "load_catalog",
        "load_spec",
        "load_workload",
        "make_grid",
        "pareto_frontier",
        "performance_table",
        "project",
        "quote",
        "read_votes",
        "recommend",
        "resolve",
        "run_experiment",
        "run_report",
        "scan_log",
    ]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_every_exported_name_exists_once_and_documents_itself(name):
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(exported) == len(set(exported)), f"{name}.__all__ repeats a name"
    undocumented = []
    for attr in exported:
        value = getattr(module, attr)  # AttributeError here: __all__ names something that is not there
        defined_here = getattr(value, "__module__", "").startswith("imgkit")
        if (inspect.isfunction(value) or inspect.isclass(value)) and defined_here:
            if not inspect.getdoc(value):
                undocumented.append(attr)
    assert undocumented == [], f"{name}: no docstring on {undocumented}"


@pytest.mark.parametrize("package", PACKAGES)
def test_package_entry_points_are_the_objects_of_their_home_modules(package):
    module = importlib.import_module(package)
    homes = module._EXPORTS
    assert set(homes) <= set(module.__all__) <= set(dir(module))
    for name, home in homes.items():
        assert getattr(module, name) is getattr(importlib.import_module(home), name)
        assert name in importlib.import_module(home).__all__, f"{home} does not export {name}"
    with pytest.raises(AttributeError, match=f"module '{package}' has no attribute 'no_such_name'"):
        module.no_such_name  # noqa: B018


def test_importing_imgkit_loads_no_heavy_dependency():
    code = (
        "import sys, imgkit, imgkit.analysis, imgkit.plots, imgkit.records, imgkit.runs; "
        "print(sorted(m for m in ('polars', 'numpy', 'httpx', 'matplotlib', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
