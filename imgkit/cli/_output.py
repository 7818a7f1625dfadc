"""Output helpers shared by the CLI commands: JSON with exact money, aligned text tables for people."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from imgkit.tables import text_table


def to_jsonable(obj: Any) -> Any:
    """Convert to JSON-ready values; ``Decimal`` becomes a decimal string so money stays exact."""
    if isinstance(obj, Decimal):
        return format(obj, "f")
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if hasattr(obj, "model_dump"):
        return to_jsonable(obj.model_dump(mode="python"))
    if isinstance(obj, (dt.date, dt.datetime)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and obj != obj:  # NaN is not JSON
        return None
    return obj


def emit_json(obj: Any, stream=None) -> None:
    """Write one JSON object to stdout (or ``stream``)."""
    stream = stream or sys.stdout
    json.dump(to_jsonable(obj), stream, indent=2, ensure_ascii=False)
    stream.write("\n")


def format_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    kinds: Mapping[str, str] | None = None,
) -> str:
    """Aligned plain-text table for people (:func:`imgkit.tables.text_table`): money to the cent, counts
    whole, percentages, durations; numbers right-aligned. ``kinds`` names what a column's name cannot tell."""
    return text_table(rows, columns, kinds)
