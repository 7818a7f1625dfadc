"""Package-level names imported on first use (PEP 562), so ``import imgkit`` stays cheap and cycle-free.

A package lists ``{name: "imgkit.module"}``; ``from imgkit.analysis import performance_table`` then imports
``imgkit.analysis.performance`` only when the name is first asked for, and caches it in the package.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], eager: Mapping[str, Any] | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package``, re-exporting ``exports`` lazily."""
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        home = exports.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(home)
        value = getattr(module, name)
        namespace[name] = value  # later look-ups skip this function
        # importing a submodule binds it in the package under its own name: an export of the same name
        # from it (engines.reconcile, the function of engines/reconcile.py) must stay the export
        for other, other_home in exports.items():
            if other_home == home and isinstance(namespace.get(other), types.ModuleType):
                namespace[other] = getattr(module, other)
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__, sorted({*exports, *(eager or {})})
