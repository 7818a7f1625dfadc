"""Provider performance from request logs: speed, reliability and cost per successful image, by any grouping.

Reading a log (:func:`scan_log`)
--------------------------------
``scan_log`` returns a ``pl.LazyFrame`` in the canonical schema (:data:`imgkit.runs.schema.LOG_SCHEMA`, one
row per attempt) from

* imgkit's journal ``log.jsonl`` (JSON Lines; a torn, unparseable last line left by a killed writer is
  skipped, any other bad line is an error; the ``sent`` records written before each request leaves are not
  attempts and are left out);
* Parquet: files, or a partitioned directory (hive layout ``provider=openai/...``, as :func:`export_parquet`
  writes); scanned lazily, so a log larger than memory works;
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

Statistics (:func:`performance_table`)
--------------------------------------
Per group: requests (items = final attempts), attempts, successes (final attempts with outcome ``ok``),
success rate with a Wilson score 95 % interval, p50/p95/p99 generation time and p50/p95 TTFB (of successful
final attempts), retries per success, and cost per successful image in exact ``Decimal``.
Percentiles use :data:`PERCENTILE_METHOD` (numpy's default, pandas' default).

Scale: everything runs on polars' streaming engine, and percentiles stay exact without holding the times:
one pass counts each group's times per histogram bucket (1/256 of an octave), which says the bucket and the
rank there of every order statistic wanted; a second collects the distinct times of just those buckets. A
table holds what its groups' histograms hold, not its requests, so 100 M logged requests in partitioned
Parquet are analysed in well under 1 GiB (``bench/bench_performance.py --huge``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import polars as pl

from imgkit._files import decode_utf8, first_ragged_csv_row
from imgkit.catalog import load_yaml
from imgkit.errors import InvalidParameterError, SpecError, UnknownNameError, first_line
from imgkit.money import MONEY, MONEY_TOTAL, round_money
from imgkit.provenance import Provenance
from imgkit.runs.log import scan_journal
from imgkit.runs.schema import ALLOWED_VALUES, LOG_SCHEMA, OUTCOME_OK, OUTCOME_SENT, TS
from imgkit.stats import Z_95, lognormal_from_p50_p95

__all__ = [
    "DEFAULT_SYNTHETIC_PROFILES",
    "GROUPABLE_COLUMNS",
    "HTTP_OUTCOMES",
    "PERCENTILE_METHOD",
    "LogSummary",
    "SyntheticProfile",
    "attempt_failure_probability",
    "describe_log",
    "export_parquet",
    "filter_window",
    "group_columns",
    "log_summary",
    "parse_time_bound",
    "performance_table",
    "scan_log",
    "success_percentiles",
    "synthetic_log",
    "window_bounds",
]

PERCENTILE_METHOD = (
    "linear interpolation between the two nearest order statistics (Hyndman-Fan type 7; "
    "numpy.percentile method='linear', pandas quantile default)"
)
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
#: canonical columns a table may be grouped by
GROUPABLE_COLUMNS = tuple(
    name
    for name, dtype in LOG_SCHEMA.items()
    if dtype in (pl.String, pl.Int32, pl.Boolean)
    and name not in {"requested_params", "resolved_params", "images", "error_message", "request_id"}
)
_PERIODS = {"day": "1d", "week": "1w"}
#: the percentiles the table reports, per time column
_PERCENTILES = {"latency_ms": (50, 95, 99), "ttfb_ms": (50, 95)}
_DURATION_UNITS_PER_MS = {"s": 1000.0, "ms": 1.0, "us": 0.001}
_MONEY_UNITS_PER_USD = {"usd": 1, "cents": 100, "micro_usd": 1_000_000}
_EPOCH_UNITS = {"epoch_s": 1_000_000, "epoch_ms": 1_000, "epoch_us": 1}
_MAPPING_KEYS = {"columns", "units", "outcome", "constants"}
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_RELATIVE_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


# --- reading logs ------------------------------------------------------------------------------------------


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
    :mod:`imgkit.runs.schema`) are left out unless ``include_sent``.

    A file that cannot be read in the canonical dtypes is refused here, before any analysis, with a
    :class:`~imgkit.errors.SpecError` naming the file and where: imgkit's journal line by line
    (:func:`imgkit.runs.log.scan_journal`, ``sent`` records included); other sources by one streaming pass
    over the columns whose conversion can fail (none for Parquet in the canonical dtypes, such as
    :func:`export_parquet` writes).
    """
    paths = [Path(p) for p in ([path_or_paths] if isinstance(path_or_paths, (str, Path)) else path_or_paths)]
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


def _log_format(path: Path) -> str:
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
    if kind == "parquet":
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
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
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
    if outcome_rule is not None:
        origin_column = outcome_rule.get("from") or sources.get("outcome") or sources.get("http_status")
        if origin_column not in source_schema:
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
                "the log has neither an outcome nor an http_status column; map one (see imgkit.analysis.performance)",
            )
    _check_conversions(raw, checks, sources, path, canonical=mapping is None)
    lf = raw.select(exprs)
    return lf.with_columns(_derivations(present, outcome_rule is not None))


def _constant(value: Any, name: str, dtype: pl.DataType, mapping: _Mapping | None) -> Any:
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


# --- windows -----------------------------------------------------------------------------------------------


def parse_time_bound(
    value: str | dt.datetime | dt.date, now: dt.datetime, *, field: str = "since"
) -> dt.datetime:
    """An aware UTC datetime from ``"30d"``/``"12h"``/``"2w"``/``"90m"`` (before ``now``), ISO text or a datetime."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    match = _RELATIVE.match(str(value))
    if match:
        return now - dt.timedelta(**{_RELATIVE_UNITS[match[2]]: float(match[1])})
    try:
        return parse_time_bound(dt.datetime.fromisoformat(str(value)), now)
    except ValueError:
        raise InvalidParameterError(
            field, value, "a span before now such as 30d, 12h, 2w, 90m, or an ISO date/datetime"
        ) from None


def window_bounds(
    since: str | dt.datetime | None, until: str | dt.datetime | None, now: dt.datetime | None = None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``(since, until)`` as aware UTC datetimes; relative spans count back from ``now`` (default: now)."""
    now = now if now is not None else dt.datetime.now(dt.UTC)
    now = now.replace(tzinfo=dt.UTC) if now.tzinfo is None else now
    return (
        parse_time_bound(since, now, field="since") if since is not None else None,
        parse_time_bound(until, now, field="until") if until is not None else None,
    )


def filter_window(
    lf: pl.LazyFrame | pl.DataFrame,
    since: str | dt.datetime | None = None,
    until: str | dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> pl.LazyFrame:
    """Attempts with ``since <= started_at < until`` (either bound optional), lazily."""
    lower, upper = window_bounds(since, until, now)
    lf = lf.lazy()
    if lower is not None:
        lf = lf.filter(pl.col("started_at") >= lower)
    if upper is not None:
        lf = lf.filter(pl.col("started_at") < upper)
    return lf


# --- the table ---------------------------------------------------------------------------------------------


def _wilson_exprs(successes: str, n: str, z: float = Z_95) -> list[pl.Expr]:
    """``wilson_interval`` as polars expressions over count columns (null where n = 0)."""
    nn = pl.when(pl.col(n) > 0).then(pl.col(n).cast(pl.Float64))
    p = pl.col(successes) / nn
    denom = 1 + z * z / nn
    centre = (p + z * z / (2 * nn)) / denom
    half = z * (p * (1 - p) / nn + z * z / (4 * nn * nn)).sqrt() / denom
    return [
        (centre - half).clip(0.0, 1.0).alias("success_ci_low"),
        (centre + half).clip(0.0, 1.0).alias("success_ci_high"),
    ]


def group_columns(by: str | Iterable[str] | None) -> list[str]:
    """Grouping columns from ``"provider,model"`` or a sequence, each checked against :data:`GROUPABLE_COLUMNS`."""
    if by is None:
        return []
    keys = [k.strip() for k in (by.split(",") if isinstance(by, str) else by) if k and k.strip()]
    for key in keys:
        if key not in GROUPABLE_COLUMNS:
            raise UnknownNameError("by", key, GROUPABLE_COLUMNS)
    return keys


def performance_table(
    lf: pl.LazyFrame | pl.DataFrame,
    by: str | Iterable[str] | None = ("provider", "model"),
    since: str | dt.datetime | None = None,
    until: str | dt.datetime | None = None,
    now: dt.datetime | None = None,
    period: str | None = None,
) -> pl.DataFrame:
    """Speed, reliability and cost per group of a canonical log, one row per group (sorted by the keys).

    ``since``/``until`` bound attempts by ``started_at`` (``until`` exclusive; relative spans count back from
    ``now``, default the current time). ``period`` ("day" or "week", weeks starting Monday, UTC) adds a
    ``period`` date column to the keys. Columns: requests (final attempts), attempts, successes,
    success_rate, success_ci_low/high (Wilson 95 %), latency_p50/p95/p99_ms and ttfb_p50/p95_ms (successful
    final attempts, :data:`PERCENTILE_METHOD`), retries_per_success ((attempts - requests) / successes),
    images (delivered by successes: ``images_count``, else ``n``), total_cost_usd (sum of
    ``actual_cost_usd`` over all attempts, null if any is unknown), cost_per_image_usd (total / images,
    exact Decimal to 1e-10 USD), cost_unknown_attempts, provenance (the log's kinds, joined by "+").

    Memory: one streaming pass counts and sums per group and latency bucket, a second counts TTFB buckets
    and a third collects the distinct times of the few buckets that hold the percentiles
    (:func:`_exact_percentiles`), so a scan of partitioned Parquet larger than memory works and what is held
    grows with the groups and their time ranges, not with the requests.
    """
    keys = group_columns(by)
    if period is not None and period not in _PERIODS:
        raise InvalidParameterError("period", period, sorted(_PERIODS))
    lf = filter_window(lf, since, until, now)
    if period is not None:
        lf = lf.with_columns(pl.col("started_at").dt.truncate(_PERIODS[period]).dt.date().alias("period"))
        keys = [*keys, "period"]
    # only the columns the table reads, and the success flag computed once
    success = pl.col("final") & (pl.col("outcome") == OUTCOME_OK)
    delivered = pl.coalesce("images_count", "n")
    read = ("final", "latency_ms", "ttfb_ms", "actual_cost_usd", "provenance")
    lf = lf.select(
        *dict.fromkeys([*keys, *read]),  # a key may be one of the columns read (--by final, provenance)
        success.alias("_success"),
        # images of successes (null elsewhere): masks aggregate faster than filters inside groups
        pl.when(success).then(delivered).alias("_delivered"),
        (success & delivered.is_null()).alias("_delivered_unknown"),
    ).with_columns(_time_bucket(metric) for metric in _PERCENTILES)
    sums = {
        "requests": pl.col("final").sum(),
        "attempts": pl.len(),
        "successes": pl.col("_success").sum(),
        "images": pl.col("_delivered").sum(),
        "_images_unknown": pl.col("_delivered_unknown").sum(),
        "cost_unknown_attempts": pl.col("actual_cost_usd").null_count(),
    }
    aggs = [e.cast(pl.Int64).alias(name) for name, e in sums.items()]
    aggs.append(pl.col("actual_cost_usd").sum().alias("_cost_sum"))
    # provenance kinds per group, sorted and joined: "+".join(sorted(set(kinds) - {None}))
    sole, mixed = _sole_provenance(lf)
    if mixed:  # the kinds per group as a list (a string aggregation, the slow part of this pass)
        aggs.append(pl.col("provenance").unique().alias("_kinds"))
        regroup_kinds = pl.col("_kinds").explode().unique()
        kinds = pl.col("_kinds").list.drop_nulls().list.sort().list.join("+")
    else:  # one kind in the whole log (the usual case): a group has it unless all its rows lack one
        aggs.append(pl.col("provenance").null_count().cast(pl.Int64).alias("_kinds"))
        regroup_kinds = pl.col("_kinds").sum()
        kinds = pl.when(pl.col("_kinds") < pl.col("attempts")).then(pl.lit(sole or "")).otherwise(pl.lit(""))
    # one streaming pass: the sums per group and latency bucket, which are also latency's histogram
    latency_bucket = _bucket_column("latency_ms")
    fine = lf.group_by([*keys, latency_bucket]).agg(*aggs).collect(engine="streaming")
    regroup = [pl.col(name).sum() for name in [*sums, "_cost_sum"]]
    regroup.append(regroup_kinds.implode() if mixed and not keys else regroup_kinds)
    df = fine.group_by(keys).agg(*regroup) if keys else fine.select(*regroup)
    df = df.with_columns(
        (pl.col("successes") / pl.when(pl.col("requests") > 0).then(pl.col("requests"))).alias(
            "success_rate"
        ),
        *_wilson_exprs("successes", "requests"),
        (
            (pl.col("attempts") - pl.col("requests"))
            / pl.when(pl.col("successes") > 0).then(pl.col("successes"))
        ).alias("retries_per_success"),
        pl.when(pl.col("cost_unknown_attempts") == 0).then(pl.col("_cost_sum")).alias("total_cost_usd"),
        *([] if "provenance" in keys else [kinds.alias("provenance")]),  # grouped by it: the key says it
    )
    if keys:
        df = df.sort(keys, nulls_last=True)
    # a bucketed group's rows are all successes with a latency: its count is its successes
    latency_histogram = fine.filter(pl.col(latency_bucket).is_not_null()).select(
        *keys, latency_bucket, pl.col("successes").alias("count")
    )
    df = df.with_columns(
        _exact_percentiles(lf, df.select(keys), histograms={"latency_ms": latency_histogram})
    )
    cost_per_image = [
        _cost_per_image(total, images, unknown)
        for total, images, unknown in zip(
            df["total_cost_usd"], df["images"], df["_images_unknown"], strict=True
        )
    ]
    df = df.with_columns(pl.Series("cost_per_image_usd", cost_per_image, dtype=MONEY_TOTAL))
    columns = [
        *keys,
        "requests",
        "attempts",
        "successes",
        "success_rate",
        "success_ci_low",
        "success_ci_high",
        "latency_p50_ms",
        "latency_p95_ms",
        "latency_p99_ms",
        "ttfb_p50_ms",
        "ttfb_p95_ms",
        "retries_per_success",
        "images",
        "total_cost_usd",
        "cost_per_image_usd",
        "cost_unknown_attempts",
        "provenance",
    ]
    return df.select(list(dict.fromkeys(columns)))


def _sole_provenance(lf: pl.LazyFrame) -> tuple[str | None, bool]:
    """The log's provenance kind if it has only one (None when no row has one), and whether it has more.

    The distinct kinds, one streaming group-by over a column of a few values (memory stays flat on a log of
    any size), far cheaper than collecting each group's distinct kinds from a string column.
    """
    kinds = lf.group_by("provenance").len().collect(engine="streaming")["provenance"].drop_nulls()
    return (kinds[0] if len(kinds) else None), len(kinds) > 1


def _percentile_column(metric: str, percentile: int) -> str:
    return f"{metric.removesuffix('_ms')}_p{percentile}_ms"


# --- exact percentiles by histogram selection ---------------------------------------------------------------
#
# Two passes instead of holding every time: (1) count each group's successes per histogram bucket of their
# time; the counts say which bucket holds each wanted order statistic and its rank there; (2) collect the
# distinct times (with their counts) of just those buckets, and read the order statistics off them. Memory
# is bounded by the groups' buckets and the distinct times of a few buckets, not by the number of requests.

#: a time's bucket is its float64 order key shifted right by this many bits: sign, exponent and the top 8
#: mantissa bits remain, so a bucket spans 1/256 of an octave (0.27 %) and a group has at most 256 buckets
#: per octave its times span, however many requests it holds
_BUCKET_SHIFT = 44
_MAGNITUDE_BITS = 0x7FFF_FFFF_FFFF_FFFF


def _bucket_column(metric: str) -> str:
    return f"_bucket_{metric}"


def _time_bucket(metric: str) -> pl.Expr:
    """The histogram bucket of ``metric`` on rows with ``_success`` and a time (null on the other rows).

    An Int32 that sorts as the times do: the IEEE-754 bits read as an integer, a negative's magnitude bits
    flipped, shifted right by :data:`_BUCKET_SHIFT`. Null and NaN times are left out (-0.0 sorts just
    before 0.0, which it equals).
    """
    bits = pl.col(metric).reinterpret(dtype=pl.Int64)
    order = pl.when(bits < 0).then(bits.xor(pl.lit(_MAGNITUDE_BITS, dtype=pl.Int64))).otherwise(bits)
    bucket = (order // (1 << _BUCKET_SHIFT)).cast(pl.Int32)
    return (
        pl.when(pl.col("_success") & pl.col(metric).is_not_nan()).then(bucket).alias(_bucket_column(metric))
    )


def _percentile_ranks(
    n: np.ndarray, percentiles: Sequence[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """numpy's "linear" method for groups of ``n`` values (one group a row, one percentile a column): the
    0-based ranks of the lower and upper order statistics, and the weight ``gamma`` of the upper one."""
    q = np.asarray(percentiles, dtype=np.float64) / 100
    n = np.asarray(n, dtype=np.int64)[:, None]
    virtual = (n - 1) * q  # numpy's virtual index
    floor = np.floor(virtual)
    above = virtual >= n - 1  # numpy takes the last value there
    lower = np.where(above, n - 1, floor).astype(np.int64)
    upper = np.where(above, n - 1, floor + 1).astype(np.int64)
    gamma = virtual - np.where(above, -1, floor)  # as numpy computes it (its index is -1 there)
    return lower, upper, gamma


def _lerp(a: np.ndarray, b: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """numpy's ``_lerp``, from the nearer end, so that results are numpy's bit for bit."""
    with np.errstate(invalid="ignore"):  # inf - inf is NaN, as in numpy
        diff = b - a
        out = a + diff * gamma
        np.subtract(b, diff * (1 - gamma), out=out, where=gamma >= 0.5)
    return out


@dataclass(frozen=True)
class _Selection:
    """Where one time column's wanted order statistics lie: for each group with times (``groups``, indexes
    into the table's rows) and each rank (columns: every percentile's lower rank, then its upper rank), the
    ``bucket`` holding it and its 0-based rank ``within`` that bucket; ``gamma`` weighs the upper ranks."""

    groups: np.ndarray
    bucket: np.ndarray
    within: np.ndarray
    gamma: np.ndarray


def _select_buckets(
    histogram: pl.DataFrame, bucket: str, groups: int, percentiles: Sequence[float]
) -> _Selection:
    """From a histogram ``_g, <bucket>, count``: the buckets holding each group's order statistics."""
    histogram = histogram.sort("_g", bucket)
    count = histogram["count"].to_numpy()
    cum = np.cumsum(count)
    n = np.bincount(histogram["_g"].to_numpy(), weights=count, minlength=groups).astype(np.int64)
    with_times = np.flatnonzero(n)
    before = (np.cumsum(n) - n)[with_times][:, None]  # times of the groups sorted before each group
    lower, upper, gamma = _percentile_ranks(n[with_times], percentiles)
    ranks = before + np.concatenate([lower, upper], axis=1)  # ranks among all the histogram's times
    at = np.searchsorted(cum, ranks, side="right")  # the histogram row holding each rank
    return _Selection(with_times, histogram[bucket].to_numpy()[at], ranks - (cum[at] - count[at]), gamma)


def _order_statistics(values: pl.DataFrame, bucket: str, metric: str, selection: _Selection) -> np.ndarray:
    """The selected order statistics, shaped like ``selection.bucket``, from ``values``: ``_g, <bucket>,
    <metric>, count``, the distinct times of (at least) the selected buckets.

    NaN where a bucket holds no times; a rank beyond a bucket's times clips to its largest (both only when
    the log changed between the passes).
    """
    wanted = pl.DataFrame(
        {
            "_g": np.repeat(selection.groups, selection.bucket.shape[1]).astype(np.uint32),
            bucket: selection.bucket.ravel(),
            "_within": selection.within.ravel(),
        }
    )
    values = values.sort("_g", bucket, metric).with_columns(
        pl.col("count").cum_sum().alias("_cum"), pl.int_range(pl.len(), dtype=pl.Int64).alias("_row")
    )
    segments = values.group_by("_g", bucket).agg(
        (pl.col("_cum") - pl.col("count")).first().alias("_before"), pl.col("_row").last().alias("_last")
    )
    found = wanted.join(segments, on=["_g", bucket], how="left", maintain_order="left")
    present = found["_last"].is_not_null().to_numpy()
    found = found.filter(pl.col("_last").is_not_null())
    position = (found["_before"] + found["_within"]).to_numpy()
    row = np.minimum(
        np.searchsorted(values["_cum"].to_numpy(), position, side="right"), found["_last"].to_numpy()
    )
    out = np.full(len(present), np.nan)
    out[present] = values[metric].to_numpy()[row]
    return out.reshape(selection.bucket.shape)


def _numbered(frame: pl.LazyFrame, index: pl.LazyFrame | None) -> pl.LazyFrame:
    """``frame`` with ``_g``, the row of its keys in the table (rows whose keys are not there are dropped:
    a log that grew after the table was counted); ``index`` None: one group, the whole log."""
    if index is None:
        return frame.with_columns(pl.lit(0, dtype=pl.UInt32).alias("_g"))
    keys = [c for c in index.collect_schema().names() if c != "_g"]
    return frame.join(index, on=keys, nulls_equal=True).drop(keys)


def _exact_percentiles(
    lf: pl.LazyFrame,
    groups: pl.DataFrame,
    percentiles: Mapping[str, Sequence[int]] = _PERCENTILES,
    histograms: Mapping[str, pl.DataFrame] | None = None,
) -> list[pl.Series]:
    """``percentiles`` of time columns over rows with ``_success``, per row of ``groups`` (numpy "linear",
    bit for bit), as columns named by :func:`_percentile_column`; null for a group without times.

    ``lf`` carries ``_success`` and each metric's :func:`_time_bucket`; ``groups`` holds the key columns in
    the table's row order (no columns: one group, the whole log). ``histograms`` may give a metric's
    ``keys, <bucket>, count`` already counted (the table counts latency's with its other sums).

    Each query runs on its own, one after the other: ``pl.collect_all`` would cache the scan the queries
    share, which holds the whole log in memory.
    """
    keys, count = groups.columns, groups.height if groups.columns else 1
    index = groups.with_row_index("_g").lazy() if keys else None

    def counted(rows: pl.LazyFrame, by: list[str]) -> pl.DataFrame:
        grouped = rows.group_by([*keys, *by]).agg(pl.len().cast(pl.Int64).alias("count"))
        return _numbered(grouped, index).collect(engine="streaming")

    columns = []
    for metric, wanted in percentiles.items():
        bucket, p = _bucket_column(metric), len(wanted)
        given = (histograms or {}).get(metric)
        histogram = (
            _numbered(given.lazy(), index).collect()
            if given is not None
            else counted(lf.filter(pl.col(bucket).is_not_null()), [bucket])
        )
        selection = _select_buckets(histogram, bucket, count, wanted)
        values = counted(
            lf.filter(pl.col(bucket).is_in(np.unique(selection.bucket).tolist())), [bucket, metric]
        )
        stats = _order_statistics(values, bucket, metric, selection)
        result = _lerp(stats[:, :p], stats[:, p:], selection.gamma)
        found = ~(np.isnan(stats[:, :p]) | np.isnan(stats[:, p:]))  # a time is never NaN, a lost bucket is
        for i, q in enumerate(wanted):
            column: list[float | None] = [None] * count
            for group, value, ok in zip(
                selection.groups.tolist(), result[:, i].tolist(), found[:, i].tolist(), strict=True
            ):
                column[group] = value if ok else None
            columns.append(pl.Series(_percentile_column(metric, q), column, dtype=pl.Float64))
    return columns


def success_percentiles(
    lf: pl.LazyFrame | pl.DataFrame,
    by: str | Iterable[str] | None = ("provider", "model"),
    percentiles: Mapping[str, Sequence[int]] = _PERCENTILES,
) -> pl.DataFrame:
    """Exact percentiles of time columns over successful final attempts, per group, with their ``count``.

    ``percentiles`` maps a time column to the percentiles wanted, e.g. ``{"latency_ms": (25, 50, 75)}``;
    columns are named ``latency_p25_ms``... Same method and memory bound as :func:`performance_table`.
    """
    keys = group_columns(by)
    for metric in percentiles:
        if metric not in _PERCENTILES:
            raise InvalidParameterError("metric", metric, sorted(_PERCENTILES))
    success = pl.col("final") & (pl.col("outcome") == OUTCOME_OK)
    lf = (
        lf.lazy()
        .select(*keys, *percentiles, success.alias("_success"))
        .with_columns(_time_bucket(metric) for metric in percentiles)
    )
    successes = lf.filter(pl.col("_success"))
    counts = successes.group_by(keys).agg(pl.len()) if keys else successes.select(pl.len())
    counts = counts.rename({"len": "count"})
    counts = (counts.sort(keys, nulls_last=True) if keys else counts).collect(engine="streaming")
    return counts.with_columns(_exact_percentiles(lf, counts.select(keys), percentiles))


def _cost_per_image(total: Decimal | None, images: int | None, images_unknown: int) -> Decimal | None:
    if total is None or not images or images_unknown:
        return None
    return round_money(Decimal(total) / Decimal(images))


# --- what a table or a figure says about its source --------------------------------------------------------


@dataclass(frozen=True)
class LogSummary:
    """What a log holds: requests (final attempts), attempts, the span of ``started_at``, provenance kinds."""

    requests: int
    attempts: int
    first_started_at: dt.datetime | None
    last_started_at: dt.datetime | None
    provenance: tuple[str, ...]

    @property
    def kind(self) -> str:
        """``measured``, ``simulated``, or kinds joined by "+" when the log mixes them."""
        return "+".join(self.provenance) or Provenance.MEASURED.value


def log_summary(lf: pl.LazyFrame | pl.DataFrame) -> LogSummary:
    """One pass over a canonical log for the figures a caption or a JSON report needs."""
    row = (
        lf.lazy()
        .select(
            pl.col("final").sum().cast(pl.Int64).alias("requests"),
            pl.len().cast(pl.Int64).alias("attempts"),
            pl.col("started_at").min().alias("first"),
            pl.col("started_at").max().alias("last"),
            pl.col("provenance").drop_nulls().unique().sort().implode().alias("provenance"),
        )
        .collect(engine="streaming")
        .row(0, named=True)
    )
    return LogSummary(row["requests"], row["attempts"], row["first"], row["last"], tuple(row["provenance"]))


def describe_log(summary: LogSummary, source: str | None = None) -> str:
    """A caption such as ``measured from log.jsonl, 137 requests, 2026-01-01 – 2026-01-30``."""
    where = f" from {source}" if source else ""
    span = ""
    if summary.first_started_at is not None and summary.last_started_at is not None:
        first, last = summary.first_started_at.date().isoformat(), summary.last_started_at.date().isoformat()
        span = f", {first}" if first == last else f", {first} – {last}"
    return f"{summary.kind}{where}, {summary.requests:,} requests{span}"


# --- Parquet export ----------------------------------------------------------------------------------------


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
    large log is written chunk by chunk). The result is readable by :func:`scan_log`, Spark and DuckDB.
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


# --- synthetic logs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticProfile:
    """How one (provider, model, quality, size) behaves in a synthetic log.

    Latency and TTFB are lognormal from their p50/p95 (TTFB shares the request's normal draw and never
    exceeds the latency). ``success_rate`` is per request (the share of items whose final attempt succeeds,
    as dashboards publish it): each attempt fails with the probability that yields it, a failure is retried
    (rate_limit, unavailable, timeout) with probability ``retry_share`` and up to ``max_attempts``, otherwise
    final (content_policy). A success bills ``cost_usd`` per image, a failure nothing (``not_billed``).
    ``weight`` is the profile's share of requests.
    """

    provider: str
    model: str
    p50_ms: float
    p95_ms: float
    ttfb_p50_ms: float
    ttfb_p95_ms: float
    success_rate: float
    cost_usd: Decimal
    quality: str | None = None
    size: str | None = "1024x1024"
    mode: str = "generate"
    weight: float = 1.0
    retry_share: float = 0.5
    max_attempts: int = 3


#: the seed page's gpt-image-1-mini via openai (17,840 / 46,372 ms, TTFB 17,216 / 45,544 ms, 133 of 137,
#: $0.005 low) and two assumed neighbours, for tests, benchmarks and notebooks
DEFAULT_SYNTHETIC_PROFILES: tuple[SyntheticProfile, ...] = (
    SyntheticProfile(
        "openai", "gpt-image-1-mini", 17_840, 46_372, 17_216, 45_544, 133 / 137, Decimal("0.005"), "low"
    ),
    SyntheticProfile(
        "openai", "gpt-image-1-mini", 24_000, 60_000, 23_000, 58_000, 0.97, Decimal("0.011"), "medium"
    ),
    SyntheticProfile("fal", "gpt-image-1-mini", 14_000, 38_000, 600, 1_500, 0.95, Decimal("0.005"), "low"),
    SyntheticProfile("fal", "flux-1-schnell", 1_800, 4_500, 300, 900, 0.99, Decimal("0.003"), None),
)
_FAILURES = ("rate_limit", "unavailable", "timeout", "content_policy")
_RETRIED_FAILURE_SHARES = (0.5, 0.3, 0.2, 0.0)  # how retried failures spread over kinds (assumed)
_BACKOFF_MS = 1_000.0


def synthetic_log(
    n: int,
    seed: int = 0,
    profiles: Sequence[SyntheticProfile] = DEFAULT_SYNTHETIC_PROFILES,
    *,
    end: dt.datetime = dt.datetime(2026, 1, 31, tzinfo=dt.UTC),
    span: dt.timedelta = dt.timedelta(days=30),
    run_id: str | None = None,
) -> pl.DataFrame:
    """A canonical-schema log of ``n`` requests (plus their retry attempts), reproducible by ``seed``.

    Requests start uniformly in ``[end - span, end)`` and are spread over ``profiles`` by weight; every
    row has ``provenance="simulated"``.
    """
    if n < 0:
        raise InvalidParameterError("n", n, "a count >= 0")
    if not profiles:
        raise InvalidParameterError("profiles", [], "one or more SyntheticProfile")
    rng = np.random.default_rng(seed)
    weights = np.array([p.weight for p in profiles], dtype=float)
    counts = rng.multinomial(n, weights / weights.sum())
    run = run_id or f"synthetic-{seed}"
    start_us = int((end - span).timestamp() * 1_000_000)
    frames, first_item = [], 0
    for profile, count in zip(profiles, counts, strict=True):
        frames.append(_synthetic_block(profile, int(count), first_item, rng, start_us, span, run))
        first_item += int(count)
    return pl.concat(frames, how="vertical").sort("started_at")


def attempt_failure_probability(request_success: float, max_attempts: int, retry_share: float) -> float:
    """Per-attempt failure probability ``f`` giving a per-request success rate under retries.

    An item fails if an attempt fails without retry (probability ``f (1 - s)``) or all ``max_attempts`` fail:
    ``P(fail) = sum_{a<M} (f s)^(a-1) f (1 - s) + (f s)^(M-1) f``, increasing in ``f``; solved by bisection.
    """
    if not 0 < request_success <= 1:
        raise InvalidParameterError("success_rate", request_success, "a probability in (0, 1]")
    if not 0 <= retry_share <= 1 or max_attempts < 1:
        raise InvalidParameterError("retry_share, max_attempts", (retry_share, max_attempts), "0..1 and >= 1")

    def item_failure(f: float) -> float:
        q = f * retry_share
        return (
            sum(q ** (a - 1) * f * (1 - retry_share) for a in range(1, max_attempts))
            + q ** (max_attempts - 1) * f
        )

    low, high = 0.0, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if item_failure(mid) < 1 - request_success else (low, mid)
    return (low + high) / 2


def _synthetic_block(
    profile: SyntheticProfile,
    count: int,
    first_item: int,
    rng: np.random.Generator,
    start_us: int,
    span: dt.timedelta,
    run: str,
) -> pl.DataFrame:
    mu, sigma = lognormal_from_p50_p95(profile.p50_ms, profile.p95_ms)
    mu_t, sigma_t = lognormal_from_p50_p95(profile.ttfb_p50_ms, profile.ttfb_p95_ms)
    attempt_failure = attempt_failure_probability(
        profile.success_rate, profile.max_attempts, profile.retry_share
    )
    items = np.arange(first_item, first_item + count, dtype=np.int64)
    t_ms = rng.random(count) * (span.total_seconds() * 1000.0)
    rows: dict[str, list[np.ndarray]] = {
        k: [] for k in ("item", "attempt", "final", "failure", "start", "lat", "ttfb")
    }
    for attempt in range(1, profile.max_attempts + 1):
        k = len(items)
        if k == 0:
            break
        z = rng.standard_normal(k)
        latency = np.exp(mu + sigma * z)
        ttfb = np.minimum(np.exp(mu_t + sigma_t * z), latency)
        failed = rng.random(k) < attempt_failure
        retryable = rng.random(k) < profile.retry_share
        kind = np.where(
            retryable,
            rng.choice(len(_FAILURES), size=k, p=_RETRIED_FAILURE_SHARES),
            _FAILURES.index("content_policy"),
        )
        failure = np.where(failed, kind, -1)
        latency = np.where(failed, latency * rng.uniform(0.05, 1.0, k), latency)  # errors come back sooner
        retried = failed & retryable & (attempt < profile.max_attempts)
        for key, value in (
            ("item", items),
            ("attempt", np.full(k, attempt, dtype=np.int32)),
            ("final", ~retried),
            ("failure", failure),
            ("start", t_ms),
            ("lat", latency),
            ("ttfb", np.where(failure == _FAILURES.index("timeout"), np.nan, np.minimum(ttfb, latency))),
        ):
            rows[key].append(value)
        items, t_ms = items[retried], (t_ms + latency + _BACKOFF_MS * 2 ** (attempt - 1))[retried]
    cols = {k: np.concatenate(v) if v else np.array([]) for k, v in rows.items()}
    started = (
        pl.Series(start_us + np.round(cols["start"] * 1000).astype(np.int64))
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
    )
    lat_us = pl.Series(np.round(cols["lat"] * 1000).astype(np.int64)).cast(pl.Duration("us"))
    ttfb_us = pl.Series(np.round(np.nan_to_num(cols["ttfb"]) * 1000).astype(np.int64)).cast(pl.Duration("us"))
    outcome = pl.Series(np.asarray(cols["failure"], dtype=np.int64) + 1).replace_strict(
        {0: OUTCOME_OK, **{i + 1: f for i, f in enumerate(_FAILURES)}}, return_dtype=pl.String
    )
    base = pl.DataFrame(
        {
            "item": cols["item"],
            "attempt": cols["attempt"],
            "final": cols["final"].astype(bool),
            "started_at": started,
            "_lat": lat_us,
            "_ttfb": ttfb_us,
            "_has_ttfb": ~np.isnan(cols["ttfb"]),
            "outcome": outcome,
        }
    )
    ok = pl.col("outcome") == OUTCOME_OK
    width, height = (int(x) for x in profile.size.split("x")) if profile.size else (None, None)
    values: dict[str, pl.Expr] = {
        "run_id": pl.lit(run),
        "item_id": pl.format("{}-{}", pl.lit(run), pl.col("item")),
        "target": pl.lit(
            "/".join(str(x) for x in (profile.model, profile.provider, profile.quality, profile.size))
        ),
        "repeat": pl.lit(0),
        "attempt": pl.col("attempt"),
        "final": pl.col("final"),
        "started_at": pl.col("started_at"),
        "first_byte_at": pl.when(pl.col("_has_ttfb")).then(pl.col("started_at") + pl.col("_ttfb")),
        "ended_at": pl.col("started_at") + pl.col("_lat"),
        "latency_ms": pl.col("_lat").dt.total_microseconds() / 1000.0,
        "ttfb_ms": pl.when(pl.col("_has_ttfb")).then(pl.col("_ttfb").dt.total_microseconds() / 1000.0),
        "outcome": pl.col("outcome"),
        "http_status": pl.col("outcome").replace_strict(
            {OUTCOME_OK: 200, "rate_limit": 429, "unavailable": 503, "timeout": None, "content_policy": 400},
            return_dtype=pl.Int32,
        ),
        "provider": pl.lit(profile.provider),
        "model": pl.lit(profile.model),
        "provider_model_id": pl.lit(profile.model),
        "mode": pl.lit(profile.mode),
        "quality": pl.lit(profile.quality),
        "size": pl.lit(profile.size),
        "width": pl.lit(width),
        "height": pl.lit(height),
        "n": pl.lit(1),
        "streamed": pl.lit(False),
        "partial_images": pl.lit(0),
        "estimated_cost_usd": pl.lit(profile.cost_usd),
        "actual_cost_usd": pl.when(ok).then(pl.lit(profile.cost_usd)).otherwise(pl.lit(Decimal(0))),
        "cost_method": pl.when(ok).then(pl.lit("per_image_table")).otherwise(pl.lit("not_billed")),
        "images_count": pl.when(ok).then(1).otherwise(0),
        "provenance": pl.lit(Provenance.SIMULATED.value),
    }
    return base.select(
        [values.get(name, pl.lit(None)).cast(dtype).alias(name) for name, dtype in LOG_SCHEMA.items()]
    )
