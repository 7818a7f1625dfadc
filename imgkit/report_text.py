"""The words of the reports: each notebook's computed conclusions and its "Inputs used" rows.

A report's notebook holds its narrative and calls these; the logic that picks the fastest option, the
cheapest one or the assumption that moves the bill most lives here, tested once. Every figure in a sentence
goes through :func:`imgkit.formats.format_value` (money to the cent, prices to 4 significant digits,
durations in ms or s), so a number reads the same in a sentence, a report table and the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, cast

import polars as pl

from imgkit.formats import format_value

__all__ = [
    "exact_percent",
    "frontier_conclusions",
    "frontier_line",
    "grid_conclusions",
    "log_inputs",
    "performance_conclusions",
    "projection_conclusions",
    "ratings_conclusions",
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


def recommendation_rule(recommendation: Any) -> str:
    """The rule a :class:`~imgkit.analysis.frontier.Recommendation` applied, in words."""
    goal = {
        "max_quality": "the highest-rated option",
        "min_cost": "the cheapest option",
        "min_latency": "the fastest option (median)",
    }[recommendation.objective]
    c = recommendation.constraints
    terms = []
    if c.get("quality_floor") is not None:
        terms.append(f"rated at least {c['quality_floor']:g}")
    if c.get("budget_usd_per_image") is not None:
        terms.append(f"at most {format_value(c['budget_usd_per_image'], 'price')} per image")
    if c.get("latency_ceiling_ms") is not None:
        terms.append(f"a median generation time of at most {format_value(c['latency_ceiling_ms'], 'ms')}")
    within = f" {', '.join(terms)}" if terms else ""
    return (
        f"Rule: {goal}{' that is' if terms else ''}{within}; an option lacking a value the rule needs is passed "
        "over, never guessed."
    )


def passed_over_line(choice: Any, passed: pl.DataFrame, relaxed: Any = None, key: str = "option") -> str:
    """What the recommendation passed over (:func:`~imgkit.analysis.frontier.passed_over`) and, when the
    time ceiling alone decided it, what wins without it (``relaxed``)."""
    if passed.height:
        top = passed.row(0, named=True)
        text = (
            f"Passed over {passed.height} higher-rated option{'s' * (passed.height > 1)}, best {top[key]} "
            f"({top['rejected_because']})"
        )
    else:
        text = "Nothing rated higher was passed over"
    if relaxed is not None and relaxed.choice is not None and relaxed.choice != choice.choice:
        text += f"; without the time ceiling: {relaxed.reason}"
    return text + "."


def frontier_conclusions(
    by_cost: pl.DataFrame,
    by_time: pl.DataFrame,
    recommendation: Any,
    options: pl.DataFrame,
    *,
    passed: pl.DataFrame | None = None,
    relaxed: Any = None,
    staleness: str | None = None,
) -> list[str]:
    """The conclusions of the quality vs cost vs speed report: each frontier, the recommendation
    (:class:`~imgkit.analysis.frontier.Recommendation`) with its rule and what it ``passed`` over (and the
    ``relaxed`` choice without the time ceiling), where the numbers come from, a leaderboard's
    ``staleness`` warning, and a warning when any figure is simulated."""
    from imgkit.analysis.frontier import provenance_caption

    lines = [
        frontier_line(by_cost, "cost_usd", "cost per image", lambda usd: format_value(usd, "price")),
        frontier_line(by_time, "p50_ms", "median generation time", lambda ms: format_value(ms, "ms")),
        ("Recommended: " if recommendation.choice else "No recommendation: ") + recommendation.reason + ".",
    ]
    if passed is not None:
        lines += [recommendation_rule(recommendation), passed_over_line(recommendation, passed, relaxed)]
    lines.append(f"Where the numbers come from: {provenance_caption(options)}.")
    if staleness:
        lines.append(f"Warning: the leaderboard is {staleness}.")
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
            "value": f"imgkit catalog, per month from {frame['month_start'].min() or 'today'!s}",
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


# --- provider_performance ---------------------------------------------------------------------------------------


def _label(row: dict[str, Any], keys: Sequence[str]) -> str:
    """``openai / gpt-image-1-mini / low``: a group's key values, missing ones left out."""
    return " / ".join(str(row[k]) for k in keys if row[k] is not None)


def _served(table: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, Any], dict[str, Any], pl.DataFrame]:
    """The groups of a performance table with a success, its fastest and slowest by median, and those with a
    known cost per image, cheapest first."""
    served = table.filter(pl.col("successes") > 0)
    fastest = served.sort("latency_p50_ms").row(0, named=True)
    slowest = served.sort("latency_p50_ms", descending=True).row(0, named=True)
    priced = served.filter(pl.col("cost_per_image_usd").is_not_null()).sort("cost_per_image_usd")
    return served, fastest, slowest, priced


def _cheapest_and_dearest(priced: pl.DataFrame, keys: Sequence[str]) -> str:
    """``A at $0.003; dearest: B at $0.011`` of groups sorted by cost per image."""
    cheap, dear = priced.row(0, named=True), priced.row(-1, named=True)
    return (
        f"{_label(cheap, keys)} at {format_value(cheap['cost_per_image_usd'], 'price')}; "
        f"dearest: {_label(dear, keys)} at {format_value(dear['cost_per_image_usd'], 'price')}"
    )


def log_inputs(
    summary: Any,
    source: str,
    keys: Sequence[str],
    published: pl.DataFrame,
    *,
    since: Any = None,
    until: Any = None,
    period: str | None = None,
) -> list[dict[str, Any]]:
    """``input, value, provenance, detail`` rows of the performance report: the log
    (:class:`~imgkit.analysis.performance.LogSummary` of ``source``), the window and grouping, and each
    published figure set beside it, one row per set (:func:`~imgkit.analysis.published.published_performance`:
    the seed page, the gateway's model pages), with its date or ``undated``."""
    from imgkit.analysis.performance import describe_log

    grouped = f"grouped by {', '.join(keys)}" + (f" and {period}" if period else "")
    rows = [
        {
            "input": "request log",
            "value": source,
            "provenance": summary.kind,
            "detail": describe_log(summary, source) + f"; {summary.attempts:,} attempts",
        },
        {
            "input": "window",
            "value": f"since {since or 'start'}, until {until or 'end'}",
            "provenance": "parameter",
            "detail": grouped,
        },
    ]
    for (figure_set,), group in published.group_by("figure_set", maintain_order=True):
        pairs = group.select("provider", "model").unique(maintain_order=True)
        dated = sorted(str(d) for d in group["published_on"].drop_nulls().to_list())
        when = f"published {dated[0]} to {dated[-1]}" if dated else "undated"
        checked = sorted(str(d) for d in group["source_date"].drop_nulls().to_list())
        read = (
            checked[0] + (f" to {checked[-1]}" if checked[-1] != checked[0] else "") if checked else "never"
        )
        rows.append(
            {
                "input": "published figures",
                "value": f"{figure_set!s}: {group.height} figures for {pairs.height} provider x model pairs",
                "provenance": "+".join(sorted(set(group["provenance"].to_list()))),
                "detail": f"{group['source'].n_unique()} sources ({group['source_url'][0]!s} ...), {when}, "
                f"checked {read}",
            }
        )
    return rows


def performance_conclusions(
    table: pl.DataFrame,
    keys: Sequence[str],
    summary: Any,
    source: str,
    measured: pl.DataFrame | None = None,
    published: pl.DataFrame | None = None,
) -> list[str]:
    """The conclusions of the performance report from its table (:func:`~imgkit.analysis.performance.
    performance_table` by ``keys``): the fastest and slowest median, the most and least reliable by the lower
    bound of the success interval, the cheapest and dearest successful image, and each provider x model of
    ``measured`` (by provider, model) against its ``published`` figures."""
    from imgkit.analysis.performance import describe_log

    overall, fastest, slowest, priced = _served(table)
    steady = overall.sort("success_ci_low", descending=True).row(0, named=True)
    shaky = overall.sort("success_ci_low").row(0, named=True)
    lines = [
        f"{describe_log(summary, source)}; {overall.height} groups by {', '.join(keys)}.",
        f"Fastest median: {_label(fastest, keys)} at {format_value(fastest['latency_p50_ms'], 'ms')} (p95 "
        f"{format_value(fastest['latency_p95_ms'], 'ms')}), "
        f"{slowest['latency_p50_ms'] / fastest['latency_p50_ms']:.1f}× quicker than the slowest, "
        f"{_label(slowest, keys)} ({format_value(slowest['latency_p50_ms'], 'ms')}).",
        f"Most reliable (highest lower bound): {_label(steady, keys)}, {100 * steady['success_rate']:.1f} % "
        f"({steady['successes']}/{steady['requests']}, 95 % CI {100 * steady['success_ci_low']:.1f}–"
        f"{100 * steady['success_ci_high']:.1f} %); least: {_label(shaky, keys)}, "
        f"{100 * shaky['success_rate']:.1f} % ({shaky['successes']}/{shaky['requests']}).",
    ]
    if priced.height:
        lines.append(f"Cheapest per successful image: {_cheapest_and_dearest(priced, keys)}.")
    if measured is not None and published is not None:
        compared = measured.join(
            published.filter(pl.col("latency_p50_ms").is_not_null()),
            on=["provider", "model"],
            suffix="_published",
        )
        for row in compared.iter_rows(named=True):
            lines.append(
                f"{row['provider']} / {row['model']}: {summary.kind} p50 {format_value(row['latency_p50_ms'], 'ms')} "
                f"and p95 {format_value(row['latency_p95_ms'], 'ms')} against the published "
                f"{format_value(row['latency_p50_ms_published'], 'ms')} and "
                f"{format_value(row['latency_p95_ms_published'], 'ms')} ({row['source_published']}, "
                f"{_published_when(row)})."
            )
    return lines


def _published_when(row: Mapping[str, Any]) -> str:
    """``published 2026-11-24`` or ``undated, checked 2026-12-06``: how a published figure is dated."""
    if row.get("published_on") is not None:
        return f"published {row['published_on']}"
    return f"undated, checked {row['source_date']}"


# --- model_ratings ------------------------------------------------------------------------------------------------


def ratings_conclusions(
    result: Any,
    caption: str,
    checks: Any,
    comparison: pl.DataFrame | None = None,
    boards: pl.DataFrame | None = None,
) -> list[str]:
    """The conclusions of the ratings report from a fit (:class:`~imgkit.analysis.ratings.RatingsResult`,
    captioned ``caption``): who leads and whether the intervals separate it, how well the ratings predict
    the votes, the refit against published ratings (:func:`~imgkit.analysis.ratings.compare_with_published`),
    each category's board (:func:`~imgkit.analysis.ratings.category_leaderboards`) and the vote checks
    (:func:`~imgkit.analysis.ratings.vote_diagnostics`)."""
    from imgkit.analysis.ratings import win_rate_gap

    top = result.table.row(0, named=True)
    leaders = result.table.filter(pl.col("rank") == 1)["model"].to_list()
    gap = win_rate_gap(result)
    worst = gap.worst
    lines = [
        f"{top['model']} rates highest at {top['rating']:.0f} "
        f"(95 % interval {top['ci_low']:.0f}–{top['ci_high']:.0f}) on {caption}."
        if top["ci_low"] is not None
        else f"{top['model']} rates highest at {top['rating']:.0f}.",
        "Its lead is clear: no other model's interval reaches it."
        if len(leaders) == 1
        else f"Not separable from it by the intervals: {', '.join(m for m in leaders if m != top['model'])} "
        "share rank 1.",
        f"The ratings predict the observed pairwise win rates within {100 * gap.weighted:.1f} percentage points "
        f"on average, weighted by votes (largest gap: {worst['model']} vs {worst['opponent']}, observed "
        f"{100 * worst['observed_win_rate']:.0f} % vs predicted {100 * worst['predicted_win_rate']:.0f} % over "
        f"{worst['votes']:.0f} votes).",
    ]
    if comparison is not None and comparison.height:
        same_order = int((comparison["published_order"] == comparison["refit_order"]).sum())
        ties = int(result.table["ties"].sum())
        lines.append(
            f"Against the published ratings: same order for {same_order} of {comparison.height} models, largest "
            f"difference {cast(float, comparison['difference'].abs().max()):.0f} Elo"
            + (
                " (the bundled votes hold decisive battles only; the published fit also counts ties)."
                if ties == 0
                else "."
            )
        )
    if boards is not None:
        for name, board in boards.group_by("category", maintain_order=True):
            best = board.row(0, named=True)
            flagged = board.filter(pl.col("flags").list.len() > 0).height
            lines.append(
                f"Category {name[0]}: {best['model']} leads ({best['rating']:.0f}); {board.height} models, "
                f"{int(board['votes'].sum() // 2)} votes"
                + (f", {flagged} flagged (see flags)" if flagged else "")
                + "."
            )
    lines += [f"Vote check, {line}." for line in checks.lines()]
    return lines


# --- comparison_grid ----------------------------------------------------------------------------------------------


def grid_conclusions(
    run_name: str,
    grid: Any,
    table: pl.DataFrame,
    keys: Sequence[str],
    source: str,
    time_scale: float | None = None,
) -> list[str]:
    """The conclusions of the comparison grid (a :class:`~imgkit.grids.Grid` of run ``run_name``, the run's
    performance ``table`` by ``keys``): the fastest and slowest target, the cheapest and dearest image and
    what the run cost, and for a simulated run (``time_scale``) how to read its times."""
    _, fast, slow, priced = _served(table)
    lines = [
        f"{run_name}: {grid.cells} cells, {table.height} targets, {grid.failed} failed cells; {source}.",
        f"Fastest median: {_label(fast, keys)} at {fast['latency_p50_ms'] / 1000:.2f} s; slowest: "
        f"{_label(slow, keys)} at {slow['latency_p50_ms'] / 1000:.2f} s "
        f"({slow['latency_p50_ms'] / fast['latency_p50_ms']:.1f}×).",
    ]
    if priced.height:
        ratio = priced["cost_per_image_usd"][-1] / priced["cost_per_image_usd"][0]
        lines.append(
            f"Cheapest image: {_cheapest_and_dearest(priced, keys)} ({ratio:.1f}×); the run cost "
            f"{format_value(table['total_cost_usd'].sum(), 'money')} in total."
        )
    if time_scale:
        lines.append(
            f"Simulated at time_scale {time_scale:g}: divide the times by it for the published scale "
            f"(fastest median {fast['latency_p50_ms'] / 1000 / time_scale:.1f} s); placeholder images, nothing "
            "billed. Run the spec for real to judge the images."
        )
    return lines
