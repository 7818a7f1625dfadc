"""The one pydantic base of every file people write (catalog files, experiment specs, workloads).

:class:`Strict` refuses keys it does not know (a misspelt ``qualty`` is an error, never silently ignored) and
is immutable once validated; :func:`key_path` names where a validation problem is (``targets[2].model``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["Strict", "key_path"]


class Strict(BaseModel):
    """A pydantic model that forbids unknown keys and is frozen after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def key_path(loc: Iterable[Any]) -> str:
    """A pydantic error location as a key path: ``("targets", 2, "model")`` -> ``targets[2].model``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
