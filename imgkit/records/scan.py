"""Reading request logs: the one reader of every log format, giving the canonical schema.

``scan_log`` returns a ``pl.LazyFrame`` in the canonical schema (:data:`imgkit.records.schema.LOG_SCHEMA`, one
row per attempt) from

* imgkit's journal ``log.jsonl`` (JSON Lines; a torn, unparseable last line left by a killed writer is
  skipped, any other bad line is an error; the ``sent`` records written before each request leaves are not
  attempts and are left out);
* Parquet: files, or a partitioned directory (hive layout ``provider=openai/...``, as
  :func:`imgkit.records.parquet.export_parquet` writes); scanned lazily, so a log larger than memory works;
* CSV (dates in ISO 8601 are parsed).

Logs from elsewhere are read through a *column mapping*, a dict or a small YAML file::

    columns:                 # source column -> canonical column (unmapped canonical names are kept as is)
      ts: started_at
      duration_s: latency_ms
      ttfb_s: ttfb_ms
      status: http_status
      vendor: provider
      price_cents: actual_cost_usd
    units:                   # canonical column -> unit of the source values
      latency_ms: s          # durations (*_ms): s | ms | us
      ttfb_ms: s
      actual_cost_usd: cents # money (*_usd): usd | cents | micro_usd (converted exactly)
      started_at: iso        # times (*_at): iso | epoch_s | epoch_ms | epoch_us
    outcome:                 # how to derive the outcome ("ok" or an error class)
      from: status           # a source column (default: the one mapped to outcome, else http_status)
      values: {"2xx": ok, 429: rate_limit, 408: timeout, "5xx": unavailable}  # exact values or HTTP classes
      default: bad_request   # anything else (and missing values)
    constants:               # canonical columns the source lacks, one value for every row
      model: gpt-image-1-mini

A mapping holding none of the keys ``columns``, ``units``, ``outcome``, ``constants`` is read as the
``columns`` part alone, e.g. ``{"duration_s": "latency_ms"}`` (durations then stay in their unit, so state
``units`` when they are not milliseconds).

Filling the gaps: canonical columns the source lacks are nulls of the canonical dtype; ``latency_ms`` and
``ttfb_ms`` are derived from the timestamps when only those are logged; an ``outcome`` missing altogether is
derived from ``http_status`` by the HTTP rule of :data:`HTTP_OUTCOMES`; a log without ``final`` counts each
item's highest ``attempt`` as final (each row is one single-attempt request when there is no ``item_id``);
``provenance`` defaults to ``measured`` (numbers computed from a request log).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import polars as pl

from imgkit._files import decode_utf8, first_ragged_csv_row
from imgkit.catalog import load_yaml
from imgkit.errors import InvalidParameterError, SpecError, first_line
from imgkit.money import MONEY, MONEY_TOTAL
from imgkit.provenance import Provenance
from imgkit.records.journal import scan_journal
from imgkit.records.schema import ALLOWED_VALUES, LOG_SCHEMA, OUTCOME_OK, OUTCOME_SENT, TS, ColumnType

__all__ = ["HTTP_OUTCOMES", "scan_log"]

#: outcome from an HTTP status when a log has no outcome: exact statuses first, then classes
HTTP_OUTCOMES: Mapping[str, str] = {
    "401": "authentication",
    "403": "authentication",
    "408": "timeout",
    "429": "rate_limit",
    "504": "timeout",
    "2xx": OUTCOME_OK,
    "4xx": "bad_request",
    "5xx": "unavailable",
}
_HTTP_DEFAULT_OUTCOME = "unavailable"  # no response at all
_DURATION_UNITS_PER_MS = {"s": 1000.0, "ms": 1.0, "us": 0.001}
_MONEY_UNITS_PER_USD = {"usd": 1, "cents": 100, "micro_usd": 1_000_000}
_EPOCH_UNITS = {"epoch_s": 1_000_000, "epoch_ms": 1_000, "epoch_us": 1}
_MAPPING_KEYS = {"columns", "units", "outcome", "constants"}


@dataclass(frozen=True)
class _Mapping:
    """A parsed column mapping (see the module docstring); ``origin`` names it in error messages."""

    columns: Mapping[str, str]
    units: Mapping[str, str]
    outcome: Mapping[str, Any] | None
    constants: Mapping[str, Any]
    origin: str


def scan_log(
    path_or_paths: str | Path | Sequence[str | Path],
    *,
    mapping: Mapping[str, Any] | str | Path | None = None,
    include_sent: bool = False,
) -> pl.LazyFrame:
    """A lazy canonical-schema frame over a journal, Parquet file(s)/directory or CSV; see the module doc.

    One row per attempt: the ``sent`` records a journal holds (written before each request leaves, see
    :mod:`imgkit.records.schema`) are left out unless ``include_sent``.

    A file that cannot be read in the canonical dtypes is refused here, before any analysis, with a
    :class:`~imgkit.errors.SpecError` naming the file and where: imgkit's journal line by line
    (:func:`imgkit.records.journal.scan_journal`, ``sent`` records included); other sources by one streaming pass
    over the columns whose conversion can fail (none for Parquet in the canonical dtypes, such as
    :func:`imgkit.records.parquet.export_parquet` writes).
    """
    given = [path_or_paths] if isinstance(path_or_paths, (str, Path)) else list(path_or_paths)
    paths: list[Any] = [local_or_url(p) for p in given]
    if not paths:
        raise InvalidParameterError("log", [], "one or more paths")
    parsed = _load_mapping(mapping) if mapping is not None else None
    money_sources = [name for name in LOG_SCHEMA if _unit_kind(name) == "money"]
    if parsed is not None:
        money_sources += [src for src, target in parsed.columns.items() if _unit_kind(target) == "money"]
    frames = [
        _normalise(_scan_raw(p, canonical=parsed is None, text_columns=money_sources), parsed, p)
        for p in paths
    ]
    lf = frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical")
    return lf if include_sent else lf.filter(pl.col("outcome").ne_missing(OUTCOME_SENT))


#: URL schemes of object stores polars reads Parquet from (credentials: the store's own environment)
OBJECT_STORE_SCHEMES = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "hf", "http", "https")


def local_or_url(source: str | Path) -> Path | str:
    """A path (``file://`` URLs become one), or an object-store URL kept as text (``s3://bucket/log/``)."""
    text = str(source)
    if "://" not in text:
        return Path(text)
    parsed = urlparse(text)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme not in OBJECT_STORE_SCHEMES:
        raise InvalidParameterError(
            "log", text, f"a path, a file:// URL or one of {', '.join(OBJECT_STORE_SCHEMES)}"
        )
    return text


def _log_format(path: Path | str) -> str:
    if isinstance(path, str):  # an object-store URL: Parquet (a file or a hive-partitioned folder)
        return "parquet"
    if path.is_dir():
        return "parquet"
    if not path.is_file():
        raise InvalidParameterError("log", str(path), "an existing file or directory")
    suffix = path.suffix.lower()
    formats = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet", ".csv": "csv"}
    if suffix not in formats:
        raise InvalidParameterError("log", str(path), "a .jsonl, .parquet, .csv file or a Parquet directory")
    return formats[suffix]


#: polars' errors for data it cannot read or convert (as opposed to a mistake in imgkit's own query)
_DATA_ERRORS = (
    pl.exceptions.ComputeError,
    pl.exceptions.InvalidOperationError,
    pl.exceptions.SchemaError,
    pl.exceptions.NoDataError,
)


def _scan_raw(path: Path, *, canonical: bool, text_columns: Sequence[str]) -> pl.LazyFrame:
    """The file as stored; ``text_columns`` (money) are read from CSV as text so that they stay exact."""
    kind = _log_format(path)
    if kind == "jsonl" and canonical:
        # imgkit's own journal: known schema, checked line by line (sent records: left out by scan_log)
        return scan_journal(path, include_sent=True)
    if kind == "parquet" and isinstance(path, str):
        glob = path if path.endswith(".parquet") else path.rstrip("/") + "/**/*.parquet"
        lf = pl.scan_parquet(glob, hive_partitioning=True, missing_columns="insert")
    elif kind == "parquet":
        lf = pl.scan_parquet(_data_files(path), hive_partitioning=path.is_dir(), missing_columns="insert")
    elif kind == "csv":
        overrides = dict.fromkeys(text_columns, pl.String)
        lf = pl.scan_csv(path, try_parse_dates=True, infer_schema_length=10_000, schema_overrides=overrides)
    else:  # JSON Lines from elsewhere: inferred
        lf = pl.scan_ndjson(path, infer_schema_length=10_000)
    try:
        lf.collect_schema()
    except (*_DATA_ERRORS, OSError) as exc:
        raise _unreadable(path, kind, exc) from None
    return lf


def _data_files(path: Path) -> Path | list[Path]:
    """A Parquet file, or a folder's Parquet files except those under a name starting with ``_`` or ``.``:
    not data, by the Hive/Spark convention (an import's ``_import/`` manifest and ledger, Spark's
    ``_SUCCESS``)."""
    if not path.is_dir():
        return path
    files = [
        f
        for f in sorted(path.rglob("*.parquet"))
        if not any(part.startswith(("_", ".")) for part in f.relative_to(path).parts)
    ]
    return files or path


def _unreadable(path: Path, kind: str, exc: BaseException) -> SpecError:
    """Why polars could not read ``path`` as a whole, located where a Python pass over the file can say."""
    file = str(path)
    if kind == "parquet":
        return SpecError(file, "", f"not a readable Parquet file or folder ({first_line(exc)})")
    text = decode_utf8(path.read_bytes(), file, SpecError)  # not UTF-8: the line and column
    if not text.strip():
        return SpecError(
            file,
            "",
            f"empty file; allowed: a {'CSV header and rows' if kind == 'csv' else 'JSON object per line'}",
        )
    if kind == "csv":
        ragged = first_ragged_csv_row(text)
        if ragged:
            line, fields, width = ragged
            return SpecError(
                file, f"line {line}", f"{fields} fields; allowed: {width}, one per column of the header"
            )
    else:
        for number, text_line in enumerate(text.splitlines(), start=1):
            if not text_line.strip():
                continue
            try:
                record = json.loads(text_line)
            except ValueError as err:
                return SpecError(
                    file, f"line {number}", f"not JSON ({err}); allowed: one JSON object per line"
                )
            if not isinstance(record, dict):
                return SpecError(
                    file, f"line {number}", "not a JSON object; allowed: one JSON object per line"
                )
    return SpecError(file, "", f"not readable as a request log ({first_line(exc)})")


def _load_mapping(mapping: Mapping[str, Any] | str | Path) -> _Mapping:
    origin = "mapping"
    if isinstance(mapping, (str, Path)):
        origin = str(mapping)
        raw = load_yaml(mapping, exact=False, error=SpecError)
    else:
        raw = mapping
    if not isinstance(raw, Mapping):
        raise SpecError(origin, "", "a mapping is expected (columns, units, outcome, constants)")
    if not _MAPPING_KEYS & set(raw):
        raw = {"columns": raw}
    unknown = set(raw) - _MAPPING_KEYS
    if unknown:
        raise SpecError(
            origin, sorted(unknown)[0], f"unknown key; allowed: {', '.join(sorted(_MAPPING_KEYS))}"
        )
    sections = {key: raw.get(key) or {} for key in ("columns", "units", "constants")}
    for key, section in sections.items():
        if not isinstance(section, Mapping):
            raise SpecError(origin, key, "a mapping is expected")
    columns = {str(k): str(v) for k, v in sections["columns"].items()}
    for source, target in columns.items():
        if target not in LOG_SCHEMA:
            raise SpecError(origin, f"columns.{source}", f"unknown canonical column {target!r}")
    for target, unit in sections["units"].items():
        if _unit_kind(str(target)) is None:
            raise SpecError(origin, f"units.{target}", "units apply to *_ms, *_usd and *_at columns only")
        allowed = _allowed_units(str(target))
        if unit not in allowed:
            raise SpecError(origin, f"units.{target}", f"unit {unit!r} is not one of {', '.join(allowed)}")
    for target in sections["constants"]:
        if target not in LOG_SCHEMA:
            raise SpecError(origin, f"constants.{target}", "unknown canonical column")
    outcome = raw.get("outcome")
    if outcome is not None and not (
        isinstance(outcome, Mapping) and isinstance(outcome.get("values"), Mapping)
    ):
        raise SpecError(origin, "outcome", "a mapping with 'values' (and optional 'from', 'default')")
    return _Mapping(
        columns,
        {str(k): str(v) for k, v in sections["units"].items()},
        outcome,
        sections["constants"],
        origin,
    )


def _unit_kind(column: str) -> str | None:
    if column.endswith("_ms"):
        return "duration"
    if column.endswith("_usd"):
        return "money"
    if column.endswith("_at"):
        return "time"
    return None


def _allowed_units(column: str) -> list[str]:
    kind = _unit_kind(column)
    if kind == "duration":
        return list(_DURATION_UNITS_PER_MS)
    if kind == "money":
        return list(_MONEY_UNITS_PER_USD)
    return ["iso", *_EPOCH_UNITS]


def _normalise(raw: pl.LazyFrame, mapping: _Mapping | None, path: Path) -> pl.LazyFrame:
    """Rename, convert and cast to the canonical schema; fill what can be derived (see the module doc)."""
    origin = str(path)
    source_schema = raw.collect_schema()
    sources: dict[str, str] = {name: name for name in source_schema if name in LOG_SCHEMA}
    units: Mapping[str, str] = {}
    constants: Mapping[str, Any] = {}
    if mapping is not None:
        for source, target in mapping.columns.items():
            if source not in source_schema:
                raise SpecError(
                    mapping.origin,
                    f"columns.{source}",
                    f"no such column in {origin}; it has: {', '.join(source_schema.names())}",
                )
            sources[target] = source
        units, constants = mapping.units, mapping.constants

    exprs = []
    checks: dict[str, pl.Expr] = {}  # canonical column -> true on the rows its conversion fails
    for name, dtype in LOG_SCHEMA.items():
        if name in constants:
            expr = pl.lit(_constant(constants[name], name, dtype, mapping)).cast(dtype)
        elif name in sources:
            column, stored = pl.col(sources[name]), source_schema[sources[name]]
            expr = _to_canonical(column, stored, name, units.get(name))
            if stored != dtype:
                lenient = _to_canonical(column, stored, name, units.get(name), strict=False)
                checks[name] = column.is_not_null() & lenient.is_null()
        else:
            expr = pl.lit(None, dtype=dtype)
        exprs.append(expr.alias(name))

    outcome_rule = mapping.outcome if mapping is not None else None
    if mapping is not None and outcome_rule is not None:
        origin_column = outcome_rule.get("from") or sources.get("outcome") or sources.get("http_status")
        if origin_column is None or origin_column not in source_schema:
            raise SpecError(mapping.origin, "outcome.from", f"no such column in {origin}: {origin_column!r}")
        exprs[list(LOG_SCHEMA).index("outcome")] = _outcome_expr(
            pl.col(origin_column).cast(pl.String),
            outcome_rule["values"],
            str(outcome_rule.get("default", _HTTP_DEFAULT_OUTCOME)),
        ).alias("outcome")
    present = set(sources) | set(constants)
    if outcome_rule is None and "outcome" not in present:
        if "http_status" not in present:
            raise SpecError(
                mapping.origin if mapping else origin,
                "outcome",
                "the log has neither an outcome nor an http_status column; map one (see imgkit.records.scan)",
            )
    _check_conversions(raw, checks, sources, path, canonical=mapping is None)
    lf = raw.select(exprs)
    return lf.with_columns(_derivations(present, outcome_rule is not None))


def _constant(value: Any, name: str, dtype: ColumnType, mapping: _Mapping | None) -> Any:
    """A mapping's constant, refused when it is not a value of the column's type."""
    try:
        pl.select(pl.lit(value).cast(dtype))
    except _DATA_ERRORS:
        where = mapping.origin if mapping else "mapping"
        raise SpecError(where, f"constants.{name}", f"{value!r} is not {ALLOWED_VALUES[dtype]}") from None
    return value


def _check_conversions(
    raw: pl.LazyFrame,
    checks: Mapping[str, pl.Expr],
    sources: Mapping[str, str],
    path: Path,
    *,
    canonical: bool,
) -> None:
    """Refuse a source whose values do not convert to the canonical dtypes, naming the row and column.

    One streaming pass counting the failures of the columns stored in another dtype (none for imgkit's
    journal or its Parquet export, so they pay nothing). A CSV or foreign JSON file is always read once
    here, so that a file polars cannot read is refused now, not in the middle of an analysis.
    """
    kind = _log_format(path)
    if not checks and (kind == "parquet" or (kind == "jsonl" and canonical)):  # nothing to convert, or
        return  # imgkit's journal, checked line by line as it was scanned
    counts = [checks[name].sum().alias(name) for name in checks]
    if kind != "parquet":  # every column read: a reader that projects some skips the others' problems
        counts.append(pl.max_horizontal(pl.all().null_count()).alias("_read"))  # (a ragged CSV row too)
    try:
        found = raw.select(counts).collect(engine="streaming").row(0, named=True)
    except _DATA_ERRORS as exc:
        error = _unreadable(path, kind, exc)
        if error.key_path:  # located in the file
            raise error from None
        for name, check in checks.items():  # a conversion that fails as a whole (no time format found)
            try:
                raw.select(check.sum()).collect(engine="streaming")
            except _DATA_ERRORS as column_exc:
                source = sources[name]
                example = raw.select(pl.col(source).drop_nulls().first().cast(pl.String)).collect().item()
                raise SpecError(
                    str(path),
                    f"column {source}",
                    f"values such as {example!r} are not {ALLOWED_VALUES[LOG_SCHEMA[name]]} "
                    f"({first_line(column_exc)})",
                ) from None
        raise error from None
    for name, count in found.items():
        if name in checks and count:
            source = sources[name]
            row, value = (
                raw.with_row_index("_row")
                .filter(checks[name])
                .select("_row", pl.col(source).cast(pl.String))
                .head(1)
                .collect()
                .row(0)
            )
            dtype = LOG_SCHEMA[name]
            target = "" if source == name else f" (read as {name})"
            raise SpecError(
                str(path), f"row {row + 1}, {source}", f"{value!r} is not {ALLOWED_VALUES[dtype]}{target}"
            )


def _derivations(present: set[str], outcome_mapped: bool) -> list[pl.Expr]:
    out = [pl.col("provenance").fill_null(Provenance.MEASURED.value)]
    if "outcome" not in present and not outcome_mapped:
        out.append(
            _outcome_expr(pl.col("http_status").cast(pl.String), HTTP_OUTCOMES, _HTTP_DEFAULT_OUTCOME).alias(
                "outcome"
            )
        )
    for duration, at in (
        ("latency_ms", "ended_at"),
        ("ttfb_ms", "first_byte_at"),
        ("first_partial_ms", "first_partial_at"),
    ):
        if duration not in present:
            out.append(
                pl.col(duration).fill_null(
                    (pl.col(at) - pl.col("started_at")).dt.total_microseconds() / 1000.0
                )
            )
    if "attempt" not in present:
        out.append(pl.col("attempt").fill_null(1))
    if "final" not in present:
        last = (
            pl.col("attempt") == pl.col("attempt").max().over("item_id")
            if "item_id" in present and "attempt" in present
            else pl.lit(True)
        )
        out.append(pl.col("final").fill_null(last))
    return out


def _to_canonical(
    expr: pl.Expr, source: pl.DataType, name: str, unit: str | None, *, strict: bool = True
) -> pl.Expr:
    """``expr`` (stored as ``source``) converted to the canonical column ``name``; ``strict=False``: null
    where a value does not convert (to find such values) instead of an error."""
    target = LOG_SCHEMA[name]
    kind = _unit_kind(name)
    if kind == "time":
        if unit in _EPOCH_UNITS:
            micros = (expr.cast(pl.Float64, strict=strict) * _EPOCH_UNITS[unit]).round(0).cast(pl.Int64)
            return pl.from_epoch(micros, time_unit="us").dt.replace_time_zone("UTC")
        if source == pl.String:
            return expr.str.to_datetime(time_unit="us", time_zone="UTC", strict=strict)
        if isinstance(source, pl.Datetime):
            local = (
                expr.dt.replace_time_zone("UTC")
                if source.time_zone is None
                else expr.dt.convert_time_zone("UTC")
            )
            return local.cast(TS)
        if isinstance(source, pl.Date):
            return expr.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        return expr.cast(target, strict=strict)
    if kind == "duration" and unit is not None:
        return expr.cast(pl.Float64, strict=strict) * _DURATION_UNITS_PER_MS[unit]
    if kind == "money":
        per_usd = _MONEY_UNITS_PER_USD[unit or "usd"]
        as_decimal = expr.cast(pl.String).cast(MONEY_TOTAL, strict=strict) if source != MONEY else expr
        if per_usd == 1:
            return as_decimal.cast(target, strict=strict)
        return (as_decimal / pl.lit(per_usd, dtype=pl.Decimal(38, 0))).cast(target, strict=strict)
    return expr.cast(target, strict=strict)


def _outcome_expr(value: pl.Expr, values: Mapping[Any, Any], default: str) -> pl.Expr:
    """``values`` maps exact values (compared as text) or HTTP classes ("2xx") to outcomes; exact ones win."""
    exact = {str(k): str(v) for k, v in values.items() if not re.fullmatch(r"[1-5][xX]{2}", str(k))}
    classes = {str(k)[0]: str(v) for k, v in values.items() if re.fullmatch(r"[1-5][xX]{2}", str(k))}
    expr: Any = pl
    for key, outcome in exact.items():
        expr = expr.when(value == key).then(pl.lit(outcome))
    for digit, outcome in classes.items():
        expr = expr.when(value.str.contains(rf"^{digit}\d\d$")).then(pl.lit(outcome))
    return pl.lit(default) if expr is pl else expr.otherwise(pl.lit(default))
