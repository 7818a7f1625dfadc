"""Provider performance from request logs: speed, reliability and cost per successful image, by any grouping.

The log is a canonical frame (:func:`imgkit.records.scan.scan_log` reads every format into it, or
:func:`imgkit.analysis.synthetic.synthetic_log` makes one); the functions here are pure functions of it.

Statistics (:func:`performance_table`)
--------------------------------------
Per group: requests (items = final attempts), attempts, successes (final attempts with outcome ``ok``),
success rate with a Wilson score 95 % interval, p50/p95/p99 generation time and p50/p95 TTFB (of successful
final attempts), retries per success, and cost per successful image in exact ``Decimal``. Imported requests a
gateway served from its cache (outcome ``cache_hit``) called no provider and are no attempts: left out.
Percentiles use :data:`PERCENTILE_METHOD` (numpy's default, pandas' default).

Scale: everything runs on polars' streaming engine, and percentiles stay exact without holding the times:
one pass counts each group's times per histogram bucket (1/256 of an octave), which says the bucket and the
rank there of every order statistic wanted; a second collects the distinct times of just those buckets. A
table holds what its groups' histograms hold, not its requests, so 100 M logged requests in partitioned
Parquet are analysed in well under 1 GiB (``bench/bench_performance.py --huge``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from imgkit.analysis.percentiles import bucket_column, exact_percentiles, percentile_column, time_bucket
from imgkit.errors import InvalidParameterError, UnknownNameError
from imgkit.money import MONEY_TOTAL, round_money
from imgkit.provenance import Provenance
from imgkit.records.schema import LOG_SCHEMA, OUTCOME_CACHE_HIT, OUTCOME_OK
from imgkit.stats import Z_95

__all__ = [
    "DERIVED_KEYS",
    "FINE_SUMS",
    "GROUPABLE_COLUMNS",
    "PERCENTILE_METHOD",
    "PERIODS",
    "TABLE_COLUMNS",
    "TABLE_PERCENTILES",
    "LogSummary",
    "describe_log",
    "filter_window",
    "finish_table",
    "group_columns",
    "group_sums",
    "latency_histogram",
    "log_summary",
    "parse_time_bound",
    "performance_table",
    "success_percentiles",
    "window_bounds",
]

PERCENTILE_METHOD = (
    "linear interpolation between the two nearest order statistics (Hyndman-Fan type 7; "
    "numpy.percentile method='linear', pandas quantile default)"
)
#: keys derived from the log's columns: ``delivery`` is ``batch`` for attempts sent through a Batch API
#: (``batch_id`` set: their ``latency_ms`` is the batch's turnaround, submitted -> result available, and they
#: have no TTFB), else ``interactive``
DERIVED_KEYS: dict[str, pl.Expr] = {
    "delivery": pl.when(pl.col("batch_id").is_not_null())
    .then(pl.lit("batch"))
    .otherwise(pl.lit("interactive"))
}
#: canonical columns a table may be grouped by, and the derived keys
GROUPABLE_COLUMNS = (
    *(
        name
        for name, dtype in LOG_SCHEMA.items()
        if dtype in (pl.String, pl.Int32, pl.Boolean)
        and name not in {"requested_params", "resolved_params", "images", "error_message", "request_id"}
    ),
    *DERIVED_KEYS,
)
#: the periods a table may be grouped by (UTC days, weeks starting Monday) as polars truncation units
PERIODS = {"day": "1d", "week": "1w"}
_PERIODS = PERIODS
#: the percentiles the table reports, per time column
TABLE_PERCENTILES = {"latency_ms": (50, 95, 99), "ttfb_ms": (50, 95)}
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_RELATIVE_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


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
    exact Decimal to 1e-10 USD), cost_unknown_attempts, provenance (the log's kinds, joined by "+"). Group by
    ``delivery`` (:data:`DERIVED_KEYS`) to keep batched requests, whose times are turnarounds, apart.

    Memory: one streaming pass counts and sums per group and latency bucket, a second counts TTFB buckets
    and a third collects the distinct times of the few buckets that hold the percentiles
    (:func:`exact_percentiles`), so a scan of partitioned Parquet larger than memory works and what is held
    grows with the groups and their time ranges, not with the requests. The same table on DuckDB, Spark
    or a warehouse: :mod:`imgkit.analysis.engines` (the same passes, and the same Python after them).
    """
    keys = group_columns(by)
    if period is not None and period not in _PERIODS:
        raise InvalidParameterError("period", period, sorted(_PERIODS))
    # a request a gateway served from its cache (imported) called no provider: not an attempt
    lf = filter_window(lf, since, until, now).filter(pl.col("outcome").ne_missing(OUTCOME_CACHE_HIT))
    derived = [expr.alias(key) for key, expr in DERIVED_KEYS.items() if key in keys]
    if derived:
        lf = lf.with_columns(derived)
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
    ).with_columns(time_bucket(metric) for metric in TABLE_PERCENTILES)
    sums = {
        "requests": pl.col("final").sum(),
        "attempts": pl.len(),
        "successes": pl.col("_success").sum(),
        "images": pl.col("_delivered").sum(),
        "_images_unknown": pl.col("_delivered_unknown").sum(),
        "cost_unknown_attempts": pl.col("actual_cost_usd").null_count(),
        "_provenance_rows": pl.col("provenance").count(),
    }
    # one streaming pass: the sums per group and latency bucket, which are also latency's histogram; the
    # provenance kinds as their least and greatest (a second pass only for groups that mix kinds)
    fine = (
        lf.group_by([*keys, bucket_column("latency_ms")])
        .agg(
            *(e.cast(pl.Int64).alias(name) for name, e in sums.items()),
            pl.col("actual_cost_usd").sum().alias("_cost_sum"),
            pl.col("provenance").min().alias("_provenance_min"),
            pl.col("provenance").max().alias("_provenance_max"),
        )
        .collect(engine="streaming")
    )

    def fetch_kinds(mixed: pl.DataFrame) -> pl.DataFrame:
        rows = lf.join(mixed.lazy(), on=keys, nulls_equal=True) if keys else lf
        kinds = pl.col("provenance").drop_nulls().unique()
        return (rows.group_by(keys).agg(kinds) if keys else rows.select(kinds.implode())).collect()

    df = group_sums(fine, keys, fetch_kinds)
    df = df.with_columns(
        exact_percentiles(
            lf, df.select(keys), TABLE_PERCENTILES, histograms={"latency_ms": latency_histogram(fine, keys)}
        )
    )
    return finish_table(df, keys)


#: the per-group counts of the table's first pass, as every engine returns them per (keys, latency bucket)
FINE_SUMS = (
    "requests",
    "attempts",
    "successes",
    "images",
    "_images_unknown",
    "cost_unknown_attempts",
    "_provenance_rows",
)


def latency_histogram(fine: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """Latency's histogram (``keys, <bucket>, count``) from the first pass: a bucketed row is a success with
    a latency, so its count is its successes."""
    bucket = bucket_column("latency_ms")
    return fine.filter(pl.col(bucket).is_not_null()).select(*keys, bucket, pl.col("successes").alias("count"))


def group_sums(
    fine: pl.DataFrame,
    keys: Sequence[str],
    fetch_kinds: Callable[[pl.DataFrame], pl.DataFrame],
) -> pl.DataFrame:
    """The first pass's rows (keys, latency bucket, :data:`FINE_SUMS`, ``_cost_sum``, ``_provenance_min``,
    ``_provenance_max``) summed per group, sorted by the keys, with the ``provenance`` label: the group's
    kinds sorted and joined by "+" ("" when no row has one). A group whose least and greatest kinds differ
    mixes kinds: ``fetch_kinds(groups)`` reads their distinct kinds (keys, ``provenance`` as a list; no
    keys: one row).
    """
    keys = list(keys)
    regroup = [
        *(pl.col(name).sum().cast(pl.Int64) for name in FINE_SUMS),
        pl.col("_cost_sum").sum().cast(MONEY_TOTAL),
        pl.col("_provenance_min").min(),
        pl.col("_provenance_max").max(),
    ]
    df = fine.group_by(keys).agg(*regroup) if keys else fine.select(*regroup)
    if keys:
        df = df.sort(keys, nulls_last=True)
    if "provenance" in keys:  # grouped by it: the key says it
        return df
    sole = pl.when(pl.col("_provenance_rows") > 0).then(pl.col("_provenance_min")).otherwise(pl.lit(""))
    df = df.with_columns(sole.alias("provenance"))
    mixed = df.filter(pl.col("_provenance_min") != pl.col("_provenance_max"))
    if mixed.height:
        kinds = fetch_kinds(mixed.select(keys)).select(
            *keys, pl.col("provenance").list.sort().list.join("+").alias("_k")
        )
        df = (
            df.join(kinds, on=keys, how="left", nulls_equal=True, maintain_order="left")
            if keys
            else df.with_columns(kinds["_k"])
        )
        df = df.with_columns(pl.coalesce("_k", "provenance").alias("provenance")).drop("_k")
    return df


def finish_table(df: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """The table from its per-group counts and sums (:func:`group_sums`) and percentile columns: every
    derived column (rates, the Wilson interval, retries per success, total and per-image cost in exact
    ``Decimal``) is computed here, once for every engine, and the columns put in the table's order."""
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
    )
    cost_per_image = [
        _cost_per_image(total, images, unknown)
        for total, images, unknown in zip(
            df["total_cost_usd"], df["images"], df["_images_unknown"], strict=True
        )
    ]
    df = df.with_columns(pl.Series("cost_per_image_usd", cost_per_image, dtype=MONEY_TOTAL))
    return df.select(list(dict.fromkeys([*keys, *TABLE_COLUMNS])))


#: the table's columns after its keys
TABLE_COLUMNS = (
    "requests",
    "attempts",
    "successes",
    "success_rate",
    "success_ci_low",
    "success_ci_high",
    *(percentile_column(m, q) for m, wanted in TABLE_PERCENTILES.items() for q in wanted),
    "retries_per_success",
    "images",
    "total_cost_usd",
    "cost_per_image_usd",
    "cost_unknown_attempts",
    "provenance",
)


def success_percentiles(
    lf: pl.LazyFrame | pl.DataFrame,
    by: str | Iterable[str] | None = ("provider", "model"),
    percentiles: Mapping[str, Sequence[int]] = TABLE_PERCENTILES,
) -> pl.DataFrame:
    """Exact percentiles of time columns over successful final attempts, per group, with their ``count``.

    ``percentiles`` maps a time column to the percentiles wanted, e.g. ``{"latency_ms": (25, 50, 75)}``;
    columns are named ``latency_p25_ms``... Same method and memory bound as :func:`performance_table`.
    """
    keys = group_columns(by)
    for metric in percentiles:
        if metric not in TABLE_PERCENTILES:
            raise InvalidParameterError("metric", metric, sorted(TABLE_PERCENTILES))
    success = pl.col("final") & (pl.col("outcome") == OUTCOME_OK)
    lf = (
        lf.lazy()
        .select(*keys, *percentiles, success.alias("_success"))
        .with_columns(time_bucket(metric) for metric in percentiles)
    )
    successes = lf.filter(pl.col("_success"))
    counts = successes.group_by(keys).agg(pl.len()) if keys else successes.select(pl.len())
    counts = counts.rename({"len": "count"})
    table = (counts.sort(keys, nulls_last=True) if keys else counts).collect(engine="streaming")
    return table.with_columns(exact_percentiles(lf, table.select(keys), percentiles))


def _cost_per_image(total: Decimal | None, images: int | None, images_unknown: int) -> Decimal | None:
    if total is None or not images or images_unknown:
        return None
    return round_money(Decimal(total) / Decimal(images))


# --- what a table or a figure says about its source --------------------------------------------------------


@dataclass(frozen=True)
class LogSummary:
    """What a log holds: requests (final attempts), attempts, the span of ``started_at``, provenance kinds,
    and how many attempts went through a Batch API."""

    requests: int
    attempts: int
    first_started_at: dt.datetime | None
    last_started_at: dt.datetime | None
    provenance: tuple[str, ...]
    batch_attempts: int = 0

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
            pl.col("batch_id").is_not_null().sum().cast(pl.Int64).alias("batch_attempts"),
        )
        .collect(engine="streaming")
        .row(0, named=True)
    )
    return LogSummary(
        row["requests"],
        row["attempts"],
        row["first"],
        row["last"],
        tuple(row["provenance"]),
        row["batch_attempts"],
    )


def describe_log(summary: LogSummary, source: str | None = None) -> str:
    """A caption such as ``measured from log.jsonl, 137 requests, 2026-01-01 – 2026-01-30``."""
    where = f" from {source}" if source else ""
    span = ""
    if summary.first_started_at is not None and summary.last_started_at is not None:
        first, last = summary.first_started_at.date().isoformat(), summary.last_started_at.date().isoformat()
        span = f", {first}" if first == last else f", {first} – {last}"
    return f"{summary.kind}{where}, {summary.requests:,} requests{span}"
