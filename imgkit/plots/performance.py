"""Provider-performance figures from a request log: latency distributions, TTFB vs total, success rates.

Every function takes a canonical log (``scan_log`` output, lazily filtered as the caller likes), returns a
``matplotlib.figure.Figure`` drawn with the Agg canvas (no pyplot state, safe in scripts, tests and notebooks)
and writes a caption saying where the numbers come from (``measured from log.jsonl, 137 requests,
2026-01-01 – 2026-01-30`` or ``simulated ...``). Distributions are computed over all rows lazily; only the
points a violin or a scatter draws are sampled (seeded).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from imgkit.analysis.performance import (
    describe_log,
    group_columns,
    log_summary,
    performance_table,
    success_percentiles,
)
from imgkit.errors import InvalidParameterError
from imgkit.records.schema import OUTCOME_OK

__all__ = ["latency_distribution", "success_rates", "ttfb_vs_total"]

_SUCCESS = pl.col("final") & (pl.col("outcome") == OUTCOME_OK)
_METRICS = {"latency_ms": "generation time (ms)", "ttfb_ms": "time to first byte (ms)"}
_BOX_PERCENTILES = (1, 25, 50, 75, 95, 99)


def latency_distribution(
    lf: pl.LazyFrame | pl.DataFrame,
    by: str | Iterable[str] = ("provider", "model"),
    *,
    metric: str = "latency_ms",
    kind: str = "box",
    log_x: bool = False,
    source: str | None = None,
    max_points_per_group: int = 20_000,
    seed: int = 0,
) -> Figure:
    """Generation time (or TTFB) of successful requests per group, fastest median on top.

    ``kind="box"``: box p25–p75 and whiskers p1–p99 from exact percentiles over all rows; ``"violin"``: the
    density of a seeded sample of at most ``max_points_per_group`` per group. Both mark p50 (●) and p95 (▲).
    """
    if metric not in _METRICS:
        raise InvalidParameterError("metric", metric, sorted(_METRICS))
    if kind not in ("box", "violin"):
        raise InvalidParameterError("kind", kind, ["box", "violin"])
    keys = group_columns(by)
    stats = success_percentiles(lf, keys, {metric: _BOX_PERCENTILES})
    stats = stats.rename({f"{metric[:-3]}_p{p}_ms": f"p{p}" for p in _BOX_PERCENTILES}).sort("p50")
    if kind == "violin":
        ok = lf.lazy().filter(_SUCCESS & pl.col(metric).is_not_null())
        sample = pl.col(metric).sample(n=pl.len().clip(upper_bound=max_points_per_group), seed=seed)
        drawn = (
            ok.group_by(keys).agg(sample.alias("points"))
            if keys
            else ok.select(sample.implode().alias("points"))
        )
        stats = (
            stats.join(drawn.collect(), on=keys, how="left", nulls_equal=True)
            if keys
            else stats.with_columns(drawn.collect())
        )
    fig, ax = _figure(len(stats))
    labels = _labels(stats, keys)
    positions = list(range(len(stats), 0, -1))
    if kind == "box":
        boxes = [
            {
                "label": label,
                "med": r["p50"],
                "q1": r["p25"],
                "q3": r["p75"],
                "whislo": r["p1"],
                "whishi": r["p99"],
            }
            for label, r in zip(labels, stats.iter_rows(named=True), strict=True)
        ]
        if boxes:
            ax.bxp(
                boxes,
                positions=positions,
                orientation="horizontal",
                showfliers=False,
                widths=0.6,
                patch_artist=True,
            )
        shape = "box p25–p75, whiskers p1–p99"
    else:
        points = [list(p) for p in stats["points"]]
        if points:
            ax.violinplot(
                points, positions=positions, orientation="horizontal", showextrema=False, widths=0.8
            )
        shape = f"violins of ≤{max_points_per_group:,} sampled points per group"
    ax.scatter(stats["p50"], positions, marker="o", color="black", zorder=3, label="p50")
    ax.scatter(stats["p95"], positions, marker="^", color="crimson", zorder=3, label="p95")
    texts = [
        f"p50 {p50:,.0f} · p95 {p95:,.0f} · n={n:,}"
        for p50, p95, n in stats.select("p50", "p95", "count").rows()
    ]
    _annotate(ax, texts, stats["p95"], positions, offset=(6, 8), fontsize=7)
    ax.set_yticks(positions, labels)
    ax.set_xlabel(_METRICS[metric] + (" (log scale)" if log_x else ""))
    if log_x:
        ax.set_xscale("log")
    ax.legend(loc="best", fontsize=8)
    ax.set_title(f"{_METRICS[metric].split(' (')[0].capitalize()} of successful requests")
    _caption(fig, lf, source, f"{shape}; percentiles: linear interpolation")
    return fig


def ttfb_vs_total(
    lf: pl.LazyFrame | pl.DataFrame,
    by: str | Iterable[str] = ("provider", "model"),
    *,
    log: bool = True,
    source: str | None = None,
    max_points_per_group: int = 5_000,
    seed: int = 0,
) -> Figure:
    """Time to first byte against total generation time of successful requests (a seeded sample per group).

    Points near the diagonal are responses that arrive all at once at the end (no useful streaming);
    points far below it start answering early.
    """
    keys = group_columns(by)
    ok = lf.lazy().filter(_SUCCESS & pl.col("ttfb_ms").is_not_null() & pl.col("latency_ms").is_not_null())
    sample = pl.len().clip(upper_bound=max_points_per_group)
    groups = (
        ok.group_by(keys)
        .agg(pl.struct("latency_ms", "ttfb_ms").sample(n=sample, seed=seed).alias("points"))
        .sort(keys, nulls_last=True)
        .collect(engine="streaming")
    )
    fig, ax = _figure(4)
    lowest, highest = float("inf"), 0.0
    for label, points in zip(_labels(groups, keys), groups["points"], strict=True):
        total = [p["latency_ms"] for p in points]
        ttfb = [p["ttfb_ms"] for p in points]
        ax.scatter(total, ttfb, s=6, alpha=0.35, label=label)
        if total:
            lowest, highest = min(lowest, *ttfb, *total), max(highest, *total)
    if highest > 0:
        ax.plot(
            [lowest, highest],
            [lowest, highest],
            color="grey",
            linewidth=0.8,
            linestyle="--",
            label="TTFB = total",
        )
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("generation time (ms)")
    ax.set_ylabel("time to first byte (ms)")
    ax.legend(fontsize=8, markerscale=2)
    ax.set_title("Time to first byte vs generation time")
    _caption(fig, lf, source, f"≤{max_points_per_group:,} sampled successful requests per group")
    return fig


def success_rates(
    lf: pl.LazyFrame | pl.DataFrame,
    by: str | Iterable[str] = ("provider", "model"),
    *,
    source: str | None = None,
) -> Figure:
    """Success rate per group with its Wilson 95 % interval, labelled ``97.1 % (133/137)``."""
    keys = group_columns(by)
    table = performance_table(lf, by=keys).filter(pl.col("requests") > 0).sort("success_rate")
    fig, ax = _figure(len(table))
    positions = list(range(1, len(table) + 1))
    rate = table["success_rate"].to_list()
    low = [r - lo for r, lo in zip(rate, table["success_ci_low"], strict=True)]
    high = [hi - r for r, hi in zip(rate, table["success_ci_high"], strict=True)]
    ax.errorbar(rate, positions, xerr=[low, high], fmt="o", capsize=4, color="tab:blue")
    texts = [
        f"{100 * r:.1f}% ({ok}/{n})"
        for r, ok, n in table.select("success_rate", "successes", "requests").rows()
    ]
    _annotate(ax, texts, rate, positions, offset=(0, 7), fontsize=8, ha="center")
    ax.set_yticks(positions, _labels(table, keys))
    ax.set_ylim(0.4, len(table) + 0.7)
    ax.set_xlabel("success rate (final attempts)")
    lowest = min(table["success_ci_low"].drop_nulls().to_list(), default=0.0)
    ax.set_xlim(max(0.0, lowest - 0.15 * (1 - lowest) - 0.005), 1.0 + 0.05 * (1 - lowest) + 0.002)
    ax.xaxis.set_major_formatter(lambda x, _pos: f"{100 * x:.4g}%")
    ax.set_title("Success rate with Wilson 95 % intervals")
    _caption(fig, lf, source, "bars: Wilson score 95 % interval")
    return fig


# --- shared drawing ----------------------------------------------------------------------------------------


def _figure(rows: int) -> tuple[Figure, Any]:
    fig = Figure(figsize=(9, max(3.0, 0.6 * rows + 1.8)), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.grid(axis="x", alpha=0.3)
    return fig, ax


def _annotate(
    ax: Any,
    texts: Sequence[str],
    xs: Iterable[float],
    ys: Iterable[float],
    *,
    offset: tuple[int, int],
    **style: Any,
) -> None:
    for text, x, y in zip(texts, xs, ys, strict=True):
        ax.annotate(text, (x, y), xytext=offset, textcoords="offset points", **style)


def _labels(frame: pl.DataFrame, keys: Sequence[str]) -> list[str]:
    if not keys:
        return ["all"] * len(frame)
    return [
        " / ".join("—" if row[k] is None else str(row[k]) for k in keys)
        for row in frame.iter_rows(named=True)
    ]


def _caption(fig: Figure, lf: pl.LazyFrame | pl.DataFrame, source: str | None, detail: str) -> None:
    """The figure's source line: provenance, log name, requests, date range; then what the marks show."""
    text = f"{describe_log(log_summary(lf), source)}. {detail}."
    fig.supxlabel(text, fontsize=7, color="dimgray", x=0.01, ha="left")
