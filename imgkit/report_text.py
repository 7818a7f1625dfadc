"""The words of the reports: each notebook's computed conclusions and its "Inputs used" rows.

A report's notebook holds its narrative and calls these; the logic that picks the fastest option, the
cheapest one or the assumption that moves the bill most lives here, tested once. Every figure in a sentence
goes through :func:`imgkit.formats.format_value` (money to the cent, prices to 4 significant digits,
durations in ms or s), so a number reads the same in a sentence, a report table and the CLI.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import polars as pl

from imgkit.formats import format_value

__all__ = [
    "exact_percent",
    "frontier_conclusions",
    "frontier_line",
    "projection_conclusions",
    "workload_inputs",
]


# --- elo_vs_speed ------------------------------------------------------------------------------------------------


def frontier_line(frame: pl.DataFrame, axis: str, what: str, fmt: Callable[[Any], str]) -> str:
    """One sentence on a frontier (a :func:`~imgkit.analysis.frontier.pareto_frontier` result) along
    ``axis``: its options best rated first with their values (``fmt``), how many options lack a value, and
    what climbing it from the lowest-rated to the best costs."""
    placed = frame.filter(pl.col("status") != "excluded")
    front = placed.filter(pl.col("on_frontier")).sort("rating", descending=True)
    if not front.height:
        return f"Quality vs {what}: no option has both a rating and a {what}."
    points = ", ".join(
        f"{r['option']} ({r['rating']:.0f}, {fmt(r[axis])})" for r in front.iter_rows(named=True)
    )
    line = (
        f"Quality vs {what}: {front.height} of {placed.height} placed options on the frontier, best rated "
        f"first: {points}; {frame.height - placed.height} options lack a rating or a {what}."
    )
    top, low = front.row(0, named=True), front.row(-1, named=True)
    if top["rating"] > low["rating"]:
        line += (
            f" Climbing the frontier from {low['option']} to {top['option']} buys "
            f"{top['rating'] - low['rating']:.0f} Elo for {float(top[axis]) / float(low[axis]):.1f}× the {what}."
        )
    return line


def frontier_conclusions(
    by_cost: pl.DataFrame, by_time: pl.DataFrame, recommendation: Any, options: pl.DataFrame
) -> list[str]:
    """The conclusions of the quality vs cost vs speed report: each frontier, the recommendation
    (:class:`~imgkit.analysis.frontier.Recommendation`), where the numbers come from, and a warning when
    any is simulated."""
    from imgkit.analysis.frontier import provenance_caption

    lines = [
        frontier_line(by_cost, "cost_usd", "cost per image", lambda usd: format_value(usd, "price")),
        frontier_line(by_time, "p50_ms", "median generation time", lambda ms: format_value(ms, "ms")),
        ("Recommended: " if recommendation.choice else "No recommendation: ") + recommendation.reason + ".",
        f"Where the numbers come from: {provenance_caption(options)}.",
    ]
    simulated = [
        f"{kind}_provenance" for kind in ("latency", "cost") if f"{kind}_provenance" in options.columns
    ]
    if any((options[column] == "simulated").any() for column in simulated):
        lines.append(
            "Simulated figures follow published profiles; measure your own traffic before deciding on them."
        )
    return lines


# --- cost_projection ---------------------------------------------------------------------------------------------


def exact_percent(share: Decimal) -> str:
    """A stated fraction as a percentage, exactly as stated: ``0.05`` is ``5 %``, ``0.125`` is ``12.5 %``."""
    return f"{(share * 100).normalize():f} %"


def workload_inputs(
    workload: Any, frame: pl.DataFrame, totals: pl.DataFrame, reliability: Any = None
) -> list[dict[str, Any]]:
    """``input, value, provenance`` rows of a projection's assumptions, as stated in the workload
    (:class:`~imgkit.analysis.projection.Workload`), the prices (``frame``: :func:`~imgkit.analysis.projection.
    project`, ``totals``: its :func:`~imgkit.analysis.projection.summarise`) and any measured failure rates
    (:class:`~imgkit.analysis.projection.MeasuredReliability`)."""
    kinds = workload.provenance
    mix = ", ".join(
        f"{c.label} {exact_percent(c.share)} ({c.mode}, {c.quality or 'default'}, {c.size})"
        for c in workload.mix
    )
    volume = (
        f"{workload.volume:,f} {workload.volume_unit}/month, growing {exact_percent(workload.growth_per_month)} "
        "a month"
    )
    reliability_text = (
        f"attempt failure rate {exact_percent(workload.failure_rate)}, up to {workload.max_attempts} attempts, "
        f"{exact_percent(workload.billed_failure_share)} of failures billed"
    )
    price_kinds = totals["price_provenance"].str.split("+").explode().unique().sort().str.join("+")[0]
    rows = [
        {"input": "volume", "value": volume, "provenance": kinds.get("volume")},
        {"input": "mix", "value": mix, "provenance": kinds.get("mix")},
        {"input": "reliability", "value": reliability_text, "provenance": kinds.get("reliability")},
        {
            "input": "batch share",
            "value": f"{exact_percent(workload.batch_share)} (targets may override)",
            "provenance": kinds.get("batch"),
        },
        {
            "input": "prices",
            "value": f"imgkit catalog, per month from {frame['month_start'].min() or 'today'}",
            "provenance": price_kinds,
        },
    ]
    if reliability is not None:
        rows.append(
            {
                "input": "measured failure rates",
                "value": reliability.describe(),
                "provenance": reliability.provenance,
            }
        )
    return rows


def projection_conclusions(
    workload: Any,
    months: int,
    source: str,
    totals: pl.DataFrame,
    pairs: pl.DataFrame,
    tornado: pl.DataFrame,
    option: str,
    caption: str,
) -> list[str]:
    """The conclusions of the cost projection: the cheapest and the dearest option over ``months``
    (``totals``: :func:`~imgkit.analysis.projection.summarise`), where options break even (``pairs``:
    :func:`~imgkit.analysis.projection.break_even`), the assumption that moves ``option``'s total most
    (``tornado``: :func:`~imgkit.analysis.projection.sensitivity`) and where the numbers come from."""
    cheap, dear = totals.row(0, named=True), totals.row(-1, named=True)
    lines = [
        f"Over {months} months ({workload.name}, {source}) the cheapest option is {cheap['option']}: "
        f"{format_value(cheap['total_cost_usd'], 'money')} in total, {format_value(cheap['month_1_cost_usd'], 'money')} "
        f"in month 1 rising to {format_value(cheap['last_month_cost_usd'], 'money')} in month {months}, "
        f"{format_value(cheap['cost_per_image_usd'], 'price')} per image.",
    ]
    if totals.height > 1:
        lines.append(
            f"The dearest, {dear['option']}, costs {format_value(dear['total_cost_usd'], 'money')} "
            f"({dear['total_cost_usd'] / cheap['total_cost_usd']:.1f}× the cheapest); "
            f"{totals.height} options compared."
        )
    crossing = pairs.filter(pl.col("break_even_month").is_not_null())
    lines += [f"Break-even: {row['explanation']}." for row in crossing.iter_rows(named=True)]
    if not crossing.height and pairs.height:
        lines.append(f"No two options' cumulative costs cross within {months} months.")
    top = tornado.filter(pl.col("option") == option).row(0, named=True)
    lines.append(
        f"For {option}, the total moves most with {top['assumption']} (base {top['base_value']}): "
        f"{top['delta']} changes it by {format_value(top['swing_usd'], 'money')} from low to high "
        f"({top['swing_usd'] / top['total_usd'] * 100:.0f} % of {format_value(top['total_usd'], 'money')})."
    )
    lines.append(f"Where the numbers come from: {caption}.")
    return lines
