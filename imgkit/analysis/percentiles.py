"""Exact percentiles of time columns per group, by histogram selection, with bounded memory.

Two passes instead of holding every time: (1) count each group's successes per histogram bucket of their
time; the counts say which bucket holds each wanted order statistic and its rank there; (2) collect the
distinct times (with their counts) of just those buckets, and read the order statistics off them. Memory
is bounded by the groups' buckets and the distinct times of a few buckets, not by the number of requests.
Results are numpy's "linear" method (Hyndman-Fan type 7) bit for bit.

Used by :func:`imgkit.analysis.performance.performance_table` and
:func:`imgkit.analysis.performance.success_percentiles`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

__all__ = [
    "ValuesFetcher",
    "bucket_column",
    "exact_percentiles",
    "group_index",
    "numbered",
    "percentile_column",
    "percentiles_from_histograms",
    "time_bucket",
]


def percentile_column(metric: str, percentile: float) -> str:
    """The column holding ``percentile`` of ``metric``: ``("latency_ms", 95)`` -> ``latency_p95_ms``."""
    return f"{metric.removesuffix('_ms')}_p{percentile}_ms"


#: a time's bucket is its float64 order key shifted right by this many bits: sign, exponent and the top 8
#: mantissa bits remain, so a bucket spans 1/256 of an octave (0.27 %) and a group has at most 256 buckets
#: per octave its times span, however many requests it holds
_BUCKET_SHIFT = 44
_MAGNITUDE_BITS = 0x7FFF_FFFF_FFFF_FFFF


def bucket_column(metric: str) -> str:
    """The name of ``metric``'s histogram-bucket column (:func:`time_bucket`)."""
    return f"_bucket_{metric}"


def time_bucket(metric: str) -> pl.Expr:
    """The histogram bucket of ``metric`` on rows with ``_success`` and a time (null on the other rows).

    An Int32 that sorts as the times do: the IEEE-754 bits read as an integer, a negative's magnitude bits
    flipped, shifted right by :data:`_BUCKET_SHIFT`. Null and NaN times are left out (-0.0 sorts just
    before 0.0, which it equals).
    """
    bits = pl.col(metric).reinterpret(dtype=pl.Int64)
    order = pl.when(bits < 0).then(bits.xor(pl.lit(_MAGNITUDE_BITS, dtype=pl.Int64))).otherwise(bits)
    bucket = (order // (1 << _BUCKET_SHIFT)).cast(pl.Int32)
    return pl.when(pl.col("_success") & pl.col(metric).is_not_nan()).then(bucket).alias(bucket_column(metric))


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


def group_index(groups: pl.DataFrame) -> pl.LazyFrame | None:
    """The table's groups numbered ``_g`` in row order (None: no keys, one group), for :func:`numbered`."""
    return groups.with_row_index("_g").lazy() if groups.columns else None


def numbered(frame: pl.LazyFrame | pl.DataFrame, index: pl.LazyFrame | None) -> pl.DataFrame:
    """A histogram or values frame keyed by the table's keys, keyed by ``_g`` instead (rows of groups the
    table lacks dropped); the engines' results go through this as polars' do."""
    return _numbered(frame.lazy(), index).collect()


#: fetches the distinct times, with their counts, of the wanted buckets of each time column:
#: ``{metric: [bucket, ...]}`` -> ``{metric: frame of _g, <bucket>, <metric>, count}``
ValuesFetcher = Callable[[Mapping[str, list[int]]], Mapping[str, pl.DataFrame]]


def percentiles_from_histograms(
    groups: int,
    percentiles: Mapping[str, Sequence[float]],
    histograms: Mapping[str, pl.DataFrame],
    fetch_values: ValuesFetcher,
) -> list[pl.Series]:
    """The engine-independent half of histogram selection: ``percentiles`` of each time column for
    ``groups`` groups (numpy "linear", bit for bit), as columns named by :func:`percentile_column`; null for
    a group without times.

    ``histograms`` gives each metric's ``_g, <bucket>, count`` (``_g``: the group's row; ``<bucket>``:
    :func:`bucket_column`; any bucketing that sorts as the times do); ``fetch_values`` reads the distinct
    times of the buckets that hold the order statistics wanted, for every metric at once (one pass over the
    log on polars, one query on an engine).
    """
    selections = {
        metric: _select_buckets(histograms[metric], bucket_column(metric), groups, wanted)
        for metric, wanted in percentiles.items()
    }
    values = fetch_values(
        {metric: np.unique(selection.bucket).tolist() for metric, selection in selections.items()}
    )
    columns = []
    for metric, wanted in percentiles.items():
        selection, p = selections[metric], len(wanted)
        stats = _order_statistics(values[metric], bucket_column(metric), metric, selection)
        result = _lerp(stats[:, :p], stats[:, p:], selection.gamma)
        found = ~(np.isnan(stats[:, :p]) | np.isnan(stats[:, p:]))  # a time is never NaN, a lost bucket is
        for i, q in enumerate(wanted):
            column: list[float | None] = [None] * groups
            for group, value, ok in zip(
                selection.groups.tolist(), result[:, i].tolist(), found[:, i].tolist(), strict=True
            ):
                column[group] = value if ok else None
            columns.append(pl.Series(percentile_column(metric, q), column, dtype=pl.Float64))
    return columns


def exact_percentiles(
    lf: pl.LazyFrame,
    groups: pl.DataFrame,
    percentiles: Mapping[str, Sequence[float]],
    histograms: Mapping[str, pl.DataFrame] | None = None,
) -> list[pl.Series]:
    """``percentiles`` of time columns over rows with ``_success``, per row of ``groups`` (numpy "linear",
    bit for bit), as columns named by :func:`percentile_column`; null for a group without times.

    ``lf`` carries ``_success`` and each metric's :func:`time_bucket`; ``groups`` holds the key columns in
    the table's row order (no columns: one group, the whole log). ``histograms`` may give a metric's
    ``keys, <bucket>, count`` already counted (the table counts latency's with its other sums).

    Each query runs on its own, one after the other: ``pl.collect_all`` would cache the scan the queries
    share, which holds the whole log in memory. The times of the selected buckets of every metric are read
    in one pass: the rows of a few buckets, well under 1 % of a large log.
    """
    keys, count = groups.columns, groups.height if groups.columns else 1
    index = group_index(groups)
    counted = {}
    for metric in percentiles:
        bucket, given = bucket_column(metric), (histograms or {}).get(metric)
        rows = given.lazy() if given is not None else lf.filter(pl.col(bucket).is_not_null())
        if given is None:
            rows = rows.group_by([*keys, bucket]).agg(pl.len().cast(pl.Int64).alias("count"))
        counted[metric] = _numbered(rows, index).collect(engine="streaming")

    def fetch_values(wanted: Mapping[str, list[int]]) -> dict[str, pl.DataFrame]:
        selected = [pl.col(bucket_column(m)).is_in(b) for m, b in wanted.items()]
        columns = [*keys, *(bucket_column(m) for m in wanted), *wanted]
        rows = lf.filter(pl.any_horizontal(selected)).select(columns).collect(engine="streaming")
        return {
            metric: _numbered(
                rows.lazy()
                .filter(pl.col(bucket_column(metric)).is_in(buckets))
                .group_by([*keys, bucket_column(metric), metric])
                .agg(pl.len().cast(pl.Int64).alias("count")),
                index,
            ).collect()
            for metric, buckets in wanted.items()
        }

    return percentiles_from_histograms(count, percentiles, counted, fetch_values)
