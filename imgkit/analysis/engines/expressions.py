"""The one definition of imgkit's aggregate analyses over a request log, as ibis expressions.

Every function here takes an ``ibis.Table`` holding the canonical log columns
(:data:`imgkit.records.schema.LOG_SCHEMA`, as :func:`canonical` makes them) and returns an expression that
any ibis backend compiles: DuckDB in process, Spark, BigQuery, Snowflake, Trino. The engine computes only
counts, exact sums and what the percentiles need; every rate, interval, division and label is computed in
Python from the small grouped result (:mod:`imgkit.analysis.performance`, :mod:`imgkit.analysis.reconcile`),
because no engine divides money the way imgkit does (DuckDB divides decimals into DOUBLE; Spark rounds half
up and drops to 6 decimal places; ibis types decimal / decimal as float64).

* :func:`fine_sums`, :func:`time_histogram`, :func:`time_values`: the performance table's passes, the
  same as the polars path's (counts and sums per group and latency bucket, the TTFB histogram, the distinct
  times of the selected buckets). Percentiles come out of them by histogram selection, exact and
  bit for bit with polars, with nothing but GROUP BY, COUNT and IN.
* :func:`one_statement`: the table's counts, sums and percentiles in one SELECT, with the engine's own
  grouped percentile: exact ``quantile_cont`` (DuckDB), ``percentile`` (Spark), ``PERCENTILE_CONT``
  (Snowflake), or the approximate function where an engine has no exact one (BigQuery, Trino): what
  ``imgkit perf --show-sql`` prints for a warehouse.
* :func:`recost_units`, :func:`reconcile_sums`, :func:`volume_mix`: the re-cost aggregates behind
  ``imgkit reconcile`` and the per-month volume mix a projection takes from a log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import polars as pl

from imgkit.analysis.percentiles import bucket_column, percentile_column
from imgkit.analysis.performance import TABLE_PERCENTILES
from imgkit.analysis.reconcile import TOLERANCE_USD
from imgkit.money import MONEY_PRECISION, MONEY_SCALE, UNITS_PER_USD, to_units
from imgkit.pricing import KEPT_BILLS, RECOST_KEYS, TOKEN_COLUMNS
from imgkit.provenance import Provenance
from imgkit.records.schema import LOG_SCHEMA, OUTCOME_CACHE_HIT, OUTCOME_OK, OUTCOME_SENT, ColumnType

__all__ = [
    "LOG_IBIS_SCHEMA",
    "TABLE_READ",
    "canonical",
    "fine_sums",
    "one_statement",
    "period_key",
    "provenance_kinds",
    "reconcile_sums",
    "recost_keys",
    "recost_units",
    "time_histogram",
    "time_values",
    "volume_mix",
    "window",
]


def _ibis_type(dtype: ColumnType) -> str:
    if dtype == pl.String:
        return "string"
    if dtype == pl.Boolean:
        return "boolean"
    if dtype in (pl.Int32, pl.Int64, pl.Float64):
        return str(dtype).lower()
    if isinstance(dtype, pl.Datetime):
        return "timestamp('UTC')"
    if isinstance(dtype, pl.Decimal):
        return f"decimal({MONEY_PRECISION}, {MONEY_SCALE})"
    raise TypeError(f"no ibis type for {dtype}")


#: the canonical log as ibis sees it (a warehouse table holds these columns, or the ones an analysis reads)
LOG_IBIS_SCHEMA = ibis.schema({name: _ibis_type(dtype) for name, dtype in LOG_SCHEMA.items()})
#: rows below every positive time in the histogram (times <= 0); NaN and null times are left out
_BOTTOM_BUCKET = -(2**30)
_TOP_BUCKET = 2**30
#: buckets per octave: 1/256 of an octave, as the polars path's IEEE-bit bucket
_PER_OCTAVE = 256
#: amounts this close are "equal" for reconciliation's flags, in units of 1e-10 USD
TOLERANCE_UNITS = to_units(TOLERANCE_USD)


#: the columns the performance table reads besides its keys
TABLE_READ = (
    "final",
    "outcome",
    "started_at",
    "latency_ms",
    "ttfb_ms",
    "images_count",
    "n",
    "actual_cost_usd",
    "provenance",
)


def canonical(t: ir.Table, columns: Sequence[str] | None = None) -> ir.Table:
    """``t`` with every canonical column the analyses read, in its canonical type: a column the source lacks
    is null (``provenance``: ``measured``, as :func:`imgkit.records.scan.scan_log` fills it); the ``sent``
    records written before each request leaves are left out. ``final`` and ``outcome`` are required.
    ``columns``: only these (a warehouse query then names only what it reads)."""
    present = set(t.columns)
    for required in ("final", "outcome"):
        if required not in present:
            from imgkit.errors import InvalidParameterError

            raise InvalidParameterError(
                "log", f"a table without {required}", "canonical log columns (imgkit.records.schema)"
            )
    selected = {}
    for name, dtype in LOG_IBIS_SCHEMA.items():
        if columns is not None and name not in columns:
            continue
        if name not in present:
            selected[name] = ibis.null(dtype)
        elif t[name].type() == dtype or (t[name].type().is_timestamp() and dtype.is_timestamp()):
            selected[name] = t[name]
        else:
            selected[name] = t[name].cast(dtype)
    selected["provenance"] = selected["provenance"].fill_null(Provenance.MEASURED.value)
    extra = [c for c in t.columns if c not in LOG_IBIS_SCHEMA]  # hive partitions (date=...): for pruning
    out = t.select(*[t[c] for c in extra], **selected)
    return out.filter(out.outcome.isnull() | (out.outcome != OUTCOME_SENT))


def window(t: ir.Table, lower: dt.datetime | None, upper: dt.datetime | None) -> ir.Table:
    """Attempts with ``lower <= started_at < upper`` (either bound optional); a hive ``date`` partition
    column, when the source has one, is bounded too, so an engine reads only the days it needs."""
    if lower is not None:
        t = t.filter(t.started_at >= ibis.literal(lower, "timestamp('UTC')"))
    if upper is not None:
        t = t.filter(t.started_at < ibis.literal(upper, "timestamp('UTC')"))
    if "date" in t.columns and "date" not in LOG_IBIS_SCHEMA:
        day = t.date.cast("date") if not t.date.type().is_date() else t.date
        if lower is not None:
            t = t.filter(day >= lower.date())
        if upper is not None:
            t = t.filter(day <= upper.date())
    return t


def period_key(t: ir.Table, period: str) -> ir.Table:
    """``t`` with ``period``: the UTC day or week (weeks start Monday) of ``started_at`` as a date."""
    unit = {"day": "D", "week": "W"}[period]
    return t.mutate(period=t.started_at.truncate(unit).date())


def _success(t: ir.Table) -> ir.BooleanValue:
    return t.final & (t.outcome == OUTCOME_OK)


def _with_time(t: ir.Table, metric: str) -> ir.BooleanValue:
    x = t[metric]
    return _success(t) & x.notnull() & ~x.isnan()


def _bucket(x: ir.FloatingValue) -> ir.IntegerValue:
    """A histogram bucket that sorts as the times do: floor(log2(t) * 256) for a finite t > 0 (1/256 of an
    octave, portable SQL: LOG2 or LOG(2, x), FLOOR, CAST); every t <= 0 in one bucket below, +inf above."""
    finite = (x.log2() * _PER_OCTAVE).floor().cast("int64")
    return ibis.cases(
        (x <= 0, ibis.literal(_BOTTOM_BUCKET, "int64")),
        (x == float("inf"), ibis.literal(_TOP_BUCKET, "int64")),
        else_=finite,
    )


def fine_sums(t: ir.Table, keys: Sequence[str]) -> ir.Table:
    """The performance table's first pass: per group and latency bucket (null for rows without a
    successful latency), the counts and sums of :data:`imgkit.analysis.performance.FINE_SUMS`,
    ``_cost_sum`` (exact DECIMAL) and the least and greatest provenance kind."""
    latency = bucket_column("latency_ms")
    t = t.mutate(
        **{latency: ibis.ifelse(_with_time(t, "latency_ms"), _bucket(t.latency_ms), ibis.null("int64"))}
    )
    ok = _success(t)
    delivered = ibis.coalesce(t.images_count, t.n)
    return t.group_by([*keys, latency]).aggregate(
        **_group_counts(t, ok, delivered),
        _provenance_min=t.provenance.min(),
        _provenance_max=t.provenance.max(),
    )


def _group_counts(t: ir.Table, ok: ir.BooleanValue, delivered: ir.IntegerValue) -> dict[str, Any]:
    """The counts and exact sums every form of the table aggregates per group (``ok``: a successful final
    attempt; ``delivered``: its images)."""
    return {
        "requests": t.count(where=t.final),
        "attempts": t.count(),
        "successes": t.count(where=ok),
        "images": delivered.sum(where=ok).cast("int64"),
        "_images_unknown": t.count(where=ok & delivered.isnull()),
        "cost_unknown_attempts": t.count(where=t.actual_cost_usd.isnull()),
        "_provenance_rows": t.provenance.count(),
        "_cost_sum": t.actual_cost_usd.sum(),
    }


def provenance_kinds(t: ir.Table, keys: Sequence[str]) -> ir.Table:
    """The distinct provenance kinds per group (only asked for groups that mix kinds)."""
    return t.filter(t.provenance.notnull()).select(*keys, "provenance").distinct()


def time_histogram(t: ir.Table, keys: Sequence[str], metric: str) -> ir.Table:
    """``keys, <bucket>, count``: successful final attempts per group and bucket of ``metric``."""
    bucket = bucket_column(metric)
    s = t.filter(_with_time(t, metric))
    s = s.select(*keys, **{bucket: _bucket(s[metric])})
    return s.group_by([*keys, bucket]).aggregate(count=s.count())


def time_values(t: ir.Table, keys: Sequence[str], wanted: Mapping[str, Sequence[int]]) -> ir.Table:
    """The distinct times, with their counts, of the ``wanted`` buckets of each time column, in one query:
    ``keys, _metric, _bucket, _value, count`` (the metrics' parts united)."""
    parts = []
    for metric, buckets in wanted.items():
        if not buckets:
            continue
        s = t.filter(_with_time(t, metric))
        s = s.select(*keys, _metric=ibis.literal(metric), _bucket=_bucket(s[metric]), _value=s[metric])
        s = s.filter(s._bucket.isin(list(buckets)))
        parts.append(s.group_by([*keys, "_metric", "_bucket", "_value"]).aggregate(count=s.count()))
    if not parts:
        raise ValueError("no buckets wanted")
    return parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]


def one_statement(t: ir.Table, keys: Sequence[str], *, exact: bool) -> ir.Table:
    """The table's counts, sums and percentiles in one SELECT: the engine's exact grouped percentile
    (``exact``) or its approximate one; provenance kinds as an array (labelled in Python)."""
    # each predicate once, as a column: the statement stays readable (the aggregates name the columns)
    t = t.mutate(
        _ok=_success(t),
        _delivered=ibis.coalesce(t.images_count, t.n),
        **{f"_ok_{m}": ibis.ifelse(_with_time(t, m), t[m], ibis.null("float64")) for m in TABLE_PERCENTILES},
    )
    ok, delivered = t._ok, t._delivered
    percentiles: dict[str, Any] = {}
    for metric, wanted in TABLE_PERCENTILES.items():
        x = t[f"_ok_{metric}"]  # null unless a successful request's time: the aggregates skip nulls
        for q in wanted:
            value = x.quantile(q / 100) if exact else x.approx_quantile(q / 100)
            percentiles[percentile_column(metric, q)] = value
    return t.group_by(list(keys)).aggregate(
        **_group_counts(t, ok, delivered),
        _provenance_kinds=t.provenance.collect(distinct=True),
        **percentiles,
    )


# --- re-costing and reconciliation -------------------------------------------------------------------------


def _price_window(t: ir.Table, bounds: Sequence[dt.date], today: dt.date) -> ir.IntegerValue:
    """How many catalog price boundaries the UTC day of ``started_at`` has reached (a null day: today's)."""
    day = t.started_at.date().fill_null(today)
    window = ibis.literal(0, "int32")
    for bound in bounds:
        window = window + (day >= bound).cast("int32")
    return window


def recost_keys(t: ir.Table, bounds: Sequence[dt.date], today: dt.date) -> ir.Table:
    """The distinct (provider, model, quality, size, width, height, price window, batched) of the log: what
    :func:`imgkit.pricing.recost_lookup` prices in Python (a few rows)."""
    t = t.mutate(_window=_price_window(t, bounds, today), _batch=t.batch_id.notnull())
    return t.select(*RECOST_KEYS).distinct()


def recost_units(t: ir.Table, lookup: ir.Table, bounds: Sequence[dt.date], today: dt.date) -> ir.Table:
    """``t`` with ``_exact_units``: each attempt's exact cost in integer units of 1e-10 USD (null: unknown),
    by the rules of :func:`imgkit.pricing.recost` (kept bills: :data:`~imgkit.pricing.KEPT_BILLS`; failed
    attempts without usage at 0; token usage x rates, else images x the unit price plus partial images plus
    the per-request fee; a batched attempt at the batch price; ceiled to the provider's quantum), and ``_text_units``: the same with every output token at the text-output rate (what a source
    that mistook image tokens for text recorded; the ``image_tokens_at_text_rate`` flag). ``lookup``:
    :func:`imgkit.pricing.recost_lookup` of :func:`recost_keys`, with ``_offered``."""
    t = t.mutate(_window=_price_window(t, bounds, today), _batch=t.batch_id.notnull())
    j = t.left_join(lookup, [t[k].identical_to(lookup[k]) for k in RECOST_KEYS])  # null-safe keys
    j = j.drop(*[f"{k}_right" for k in RECOST_KEYS if f"{k}_right" in j.columns])

    def billed(quantity: ir.IntegerValue, rate: str) -> ir.IntegerValue:
        qty = quantity.cast("int64").fill_null(0)
        return ibis.ifelse(qty > 0, qty * j[rate], ibis.literal(0, "int64"))

    has_usage = ibis.or_(*[j[c].notnull() for c in TOKEN_COLUMNS])
    inputs = billed(j.input_text_tokens, "r_text_in") + billed(j.input_image_tokens, "r_image_in")
    as_image = billed(j.output_image_tokens, "r_image_out") + billed(j.output_text_tokens, "r_text_out")
    all_out = j.output_image_tokens.cast("int64").fill_null(0) + j.output_text_tokens.cast("int64").fill_null(
        0
    )
    images = ibis.coalesce(j.images_count, j.n).cast("int64")
    partials = j.partial_images.cast("int64").fill_null(0)
    per_image = images * (j.unit_image + partials * j.partial_unit) + j.unit_request
    kept = j.cost_method.isin(KEPT_BILLS) & j.actual_cost_usd.notnull()
    failed = j.outcome.notnull() & (j.outcome != OUTCOME_OK) & ~has_usage
    kept_units = (j.actual_cost_usd * UNITS_PER_USD).cast("int64")  # exact: a scale-10 decimal

    def units(usage: ir.IntegerValue) -> ir.IntegerValue:
        # a batched attempt: x the batch multiplier num/den, exactly (an amount it would split: unknown)
        scaled = ibis.ifelse(has_usage, usage, per_image) * j.batch_num
        raw = ibis.ifelse(scaled % j.batch_den == 0, scaled // j.batch_den, ibis.null("int64"))
        q = j.quantum
        rounded = ibis.ifelse(q.notnull(), ((raw + q - 1) // q) * q, raw)
        unknown = (
            ~j.price_known.fill_null(False)
            | (has_usage & ~j.tokens_known.fill_null(False))
            | (~has_usage & (j.fallback == "unknown"))
            | rounded.isnull()
        )
        return ibis.cases(
            (kept, kept_units),
            (failed, ibis.literal(0, "int64")),
            (unknown, ibis.null("int64")),
            else_=rounded,
        )

    return j.mutate(
        _exact_units=units(inputs + as_image), _text_units=units(inputs + billed(all_out, "r_text_out"))
    )


def reconcile_sums(r: ir.Table, keys: Sequence[str]) -> ir.Table:
    """Per group of a reconciliation: requests, recorded (exact DECIMAL sum, null when nothing recorded),
    exact units (null when any request is unknown), and what the flags and totals need.

    ``r`` carries ``_exact_units``, ``_text_units``, ``recorded_usd``, ``_evidence_dropped``, ``_offered``,
    ``_flat`` and the grouping columns (``day``, ``month``)."""
    exact, recorded, text = r._exact_units, r.recorded_usd, r._text_units
    tol = ibis.literal(TOLERANCE_UNITS, "int64")
    recorded_units = (recorded * UNITS_PER_USD).cast("int64")
    ok_priced = (r.outcome == OUTCOME_OK) & exact.notnull() & recorded.notnull()
    outputs = r.output_image_tokens.fill_null(0) + r.output_text_tokens.fill_null(0)
    near = lambda a, b: (a - b).abs() <= tol  # noqa: E731
    return r.group_by(list(keys)).aggregate(
        requests=r.count(),
        recorded_usd=recorded.sum(),
        _recorded_rows=recorded.count(),
        _exact_units=exact.sum(),
        _unknown=r.count(where=exact.isnull()),
        _both_recorded=recorded.sum(where=exact.notnull()),
        _both_exact=exact.sum(where=recorded.notnull()),
        _flag_recorded_zero=r.count(where=ok_priced & (recorded_units.abs() <= tol) & (exact > tol)),
        _flag_image_tokens_at_text_rate=r.count(
            where=ok_priced & (outputs > 0) & text.notnull() & ~near(text, exact) & near(recorded_units, text)
        ),
        _flag_flat_price=r.count(where=r._flat & ok_priced & ~near(recorded_units, exact)),
        _flag_gateway_cost_dropped=r.count(where=r._evidence_dropped),
        _flag_unknown_model=r.count(where=exact.isnull() & ~r._offered),
        _flag_unpriced=r.count(where=exact.isnull() & r._offered),
    )


def volume_mix(t: ir.Table, *, default_quality: str, default_size: str) -> ir.Table:
    """Requests and failures per month and (mode, quality, size, n): the volume and mix a projection
    takes from a log (missing quality or size: the defaults, said as assumed by the caller); requests a
    gateway served from its cache are left out, as in polars."""
    t = t.filter(t.outcome.isnull() | (t.outcome != OUTCOME_CACHE_HIT))
    t = t.mutate(
        month=t.started_at.strftime("%Y-%m"),
        mode=t["mode"].fill_null("generate"),
        quality=t.quality.fill_null(default_quality),
        size=t["size"].fill_null(default_size),
        n=t.n.fill_null(1).clip(lower=1, upper=128).cast("int32"),
        _assumed=t.quality.isnull() | t["size"].isnull(),
    )
    return t.group_by(["month", "mode", "quality", "size", "n"]).aggregate(
        requests=t.count(),
        failures=t.count(where=t.outcome != OUTCOME_OK),  # a null outcome is no failure, as in polars
        assumed=t.count(where=t._assumed),
    )
