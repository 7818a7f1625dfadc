"""Parquet, the analysis format: a canonical log written as hive-partitioned files, which
:func:`imgkit.records.scan.scan_log`, Spark and DuckDB read lazily (a log larger than memory is analysed from
them)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl

from imgkit.errors import InvalidParameterError, UnknownNameError
from imgkit.records.schema import LOG_SCHEMA

__all__ = ["export_parquet"]


def export_parquet(
    lf: pl.LazyFrame | pl.DataFrame,
    out_dir: str | Path,
    partition_by: Sequence[str] = ("provider",),
    *,
    file_stem: str = "part",
) -> Path:
    """Write a canonical log as hive-partitioned Parquet (``out_dir/provider=openai/part-00000.parquet``).

    ``partition_by`` takes canonical columns and ``date`` (the UTC date of ``started_at``). Files are named
    ``{file_stem}-NNNNN.parquet``; a distinct ``file_stem`` per call appends to an existing directory (how a
    large log is written chunk by chunk). The result is readable by :func:`imgkit.records.scan.scan_log`, Spark and DuckDB.
    """
    out = Path(out_dir)
    keys: list[str | pl.Expr] = []
    for key in partition_by:
        if key == "date":
            keys.append(pl.col("started_at").dt.date().alias("date"))
        elif key in LOG_SCHEMA:
            keys.append(key)
        else:
            raise UnknownNameError("partition_by", key, [*LOG_SCHEMA, "date"])
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", file_stem):
        raise InvalidParameterError("file_stem", file_stem, "letters, digits, '_', '.', '-'")

    def file_path(args: Any) -> str:
        parts = [
            f"{name}={quote(str(value) if value is not None else '__HIVE_DEFAULT_PARTITION__', safe='')}"
            for name, value in args.partition_keys.row(0, named=True).items()
        ]
        return "/".join([*parts, f"{file_stem}-{args.index_in_partition:05d}.parquet"])

    target = (
        pl.PartitionBy(out, key=keys, include_key=False, file_path_provider=file_path)
        if keys
        else out / f"{file_stem}.parquet"
    )
    out.mkdir(parents=True, exist_ok=True)
    lf.lazy().sink_parquet(target, mkdir=True)
    return out
