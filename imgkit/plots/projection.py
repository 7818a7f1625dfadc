"""Cost-projection figures: monthly cost per option, the cost of one option stacked by mix component, and a
tornado chart of the sensitivity of the total to each assumption.

Inputs are the frames of :mod:`imgkit.analysis.projection`. Money is exact in the frames and converted to
float only to draw. Each caption says where the numbers come from: the workload's assumptions (with their
provenance) and the prices' provenance; :func:`projection_caption` builds it.
"""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Sequence

import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from imgkit.analysis.projection import projection_caption
from imgkit.errors import InvalidParameterError

__all__ = ["plot_projection", "plot_projection_mix", "plot_sensitivity", "projection_caption"]


#: line style and marker of a series identical to one drawn before it, in turn
_SAME_AS_STYLES = (("--", "s"), (":", "^"), ("-.", "D"), ((0, (5, 2, 1, 2)), "v"))


def draw_caption(fig: Figure, text: str) -> None:
    """The provenance caption, small and grey, under the axes (wrapped at about 150 characters)."""
    fig.supxlabel("\n".join(textwrap.wrap(text, 150)), fontsize=7, color="dimgray", x=0.01, ha="left")


def _usd_axis(ax: Axes) -> None:
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"${v:,.0f}" if abs(v) >= 10 else f"${v:,.2f}"))


def _figure(width: float = 9, height: float = 5.5) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _months(frame: pl.DataFrame) -> tuple[list, str]:
    if "month_start" in frame.columns and frame["month_start"].null_count() == 0:
        return frame["month_start"].to_list(), "month"
    return frame["month"].to_list(), "month of the projection"


def plot_projection(
    frame: pl.DataFrame,
    *,
    cumulative: bool = False,
    options: Sequence[str] | None = None,
    source: str | None = None,
    caption: str | None = None,
) -> Figure:
    """One line per option: monthly (or cumulative) cost, fixed fees and setup costs included.

    An option whose costs equal an earlier option's month for month (the same model at a gateway that
    charges the provider's price) would hide under it: it is drawn dashed with hollow markers on top, and
    its legend entry says ``(same as OTHER)``.
    """
    per = frame.group_by("option", "month", maintain_order=True).agg(
        pl.col("cost_usd").sum(), pl.col("month_start").first()
    )
    names = list(options) if options else list(dict.fromkeys(frame["option"].to_list()))
    fig, ax = _figure()
    drawn: dict[tuple, str] = {}  # an exact series -> the first option drawn with it
    same_styles = itertools.cycle(_SAME_AS_STYLES)
    for name in names:
        rows = per.filter(pl.col("option") == name).sort("month")
        if not rows.height:
            raise InvalidParameterError("option", name, sorted(set(per["option"].to_list())))
        exact = rows["cost_usd"].to_list()
        values = np.array([float(v) for v in exact])
        x, xlabel = _months(rows)
        y = np.cumsum(values) if cumulative else values
        same = drawn.setdefault((tuple(x), tuple(exact)), name)
        if same == name:
            ax.plot(x, y, marker="o", ms=3, label=name)
        else:  # the same costs as an option already drawn: dashed, hollow markers, on top, named in the legend
            linestyle, marker = next(same_styles)
            label = f"{name} (same as {same})"
            ax.plot(x, y, linestyle=linestyle, marker=marker, ms=7, mfc="none", lw=1.8, zorder=3, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{'cumulative ' if cumulative else ''}cost (USD)")
    _usd_axis(ax)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(f"Projected {'cumulative' if cumulative else 'monthly'} cost per option", fontsize=10)
    draw_caption(fig, caption or projection_caption(frame, source))
    return fig


def plot_projection_mix(
    frame: pl.DataFrame, option: str | None = None, *, source: str | None = None, caption: str | None = None
) -> Figure:
    """Stacked bars of one option's monthly cost by mix component (fees and setup as their own layers).

    ``option`` defaults to the option with the lowest total.
    """
    if option is None:
        totals = frame.group_by("option").agg(pl.col("cost_usd").sum()).sort("cost_usd", "option")
        option = totals["option"][0]
    rows = frame.filter(pl.col("option") == option)
    if not rows.height:
        raise InvalidParameterError("option", option, sorted(set(frame["option"].to_list())))
    months = sorted(set(rows["month"].to_list()))
    components = list(dict.fromkeys(rows["component"].to_list()))
    table = rows.group_by("month", "component").agg(pl.col("cost_usd").sum())
    lookup = {(m, c): float(v) for m, c, v in table.iter_rows()}
    fig, ax = _figure()
    bottom = np.zeros(len(months))
    starts = {m: s for m, s in rows.select("month", "month_start").unique().iter_rows()}
    labels = [str(starts[m])[:7] if starts.get(m) else str(m) for m in months]
    for component in components:
        heights = np.array([lookup.get((m, component), 0.0) for m in months])
        ax.bar(labels, heights, bottom=bottom, label=component)
        bottom += heights
    ax.set_ylabel("cost (USD)")
    _usd_axis(ax)
    ax.set_xlabel("month")
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    ax.legend(fontsize=7)
    ax.set_title(f"Monthly cost of {option} by mix component", fontsize=10)
    draw_caption(fig, caption or projection_caption(rows, source))
    return fig


def plot_sensitivity(
    sensitivity: pl.DataFrame,
    option: str | None = None,
    *,
    projection: pl.DataFrame | None = None,
    source: str | None = None,
    caption: str | None = None,
) -> Figure:
    """Tornado chart: the change of one option's total when each assumption moves down (left bar) or up.

    Largest swing on top. ``option`` defaults to the first option of the frame; ``projection`` (the frame of
    :func:`~imgkit.analysis.projection.project`) adds the assumptions' provenance to the caption.
    """
    option = option or sensitivity["option"][0]
    rows = sensitivity.filter(pl.col("option") == option).sort("swing_usd", descending=True)
    if not rows.height:
        raise InvalidParameterError("option", option, sorted(set(sensitivity["option"].to_list())))
    base = float(rows["total_usd"][0])
    low = np.array([float(v) for v in rows["change_low_usd"].to_list()])
    high = np.array([float(v) for v in rows["change_high_usd"].to_list()])
    labels = [f"{a} ({b})" for a, b in rows.select("assumption", "base_value").iter_rows()]
    delta = rows["delta"][0] if "delta" in rows.columns else "±X %"
    fig, ax = _figure(9, max(3.0, 0.4 * rows.height + 1.8))
    y = np.arange(rows.height)[::-1]
    step = delta.lstrip("±")
    ax.barh(y, low, color="tab:blue", alpha=0.8, label=f"assumption −{step}")
    ax.barh(y, high, color="tab:red", alpha=0.8, label=f"assumption +{step}")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{'+' if v > 0 else ''}{v:,.0f}"))
    ax.set_xlabel(f"change of the total (USD) from ${base:,.2f}")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"Sensitivity of {option}'s total to each assumption ({delta})", fontsize=10)
    moved = f"each assumption moved by {delta} of its value, one at a time, the others as stated"
    if projection is not None:
        text = f"{projection_caption(projection, source)}; {moved}"
    else:
        text = f"workload {source}: {moved}" if source else f"workload: {moved}"
    draw_caption(fig, caption or text)
    return fig
