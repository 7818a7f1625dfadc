"""Quality against cost and speed: rating vs $/image and rating vs generation time, frontier highlighted.

Conventions (stated on every figure): the x axis is logarithmic and **better is to the right**, as on
LMArena's scatter plot (cheaper models to the right, domain ``[max x 1.5, min / 2]``) and, for generation
time, faster to the right. Vertical bars are the rating's 95 % interval; horizontal whiskers on the time plot
run from p50 to p95. Frontier options are drawn in colour and connected in order along the axis; dominated
options are grey; options kept on the frontier only because the intervals cannot confirm a dominance
(``statistical=True``) are orange. Labels are placed by :func:`place_labels`, a small iterative repulsion
that keeps labels from overlapping each other and the points. Each figure's caption says where its numbers
come from (:func:`imgkit.analysis.frontier.provenance_caption`).

Figures are drawn on the Agg canvas (no pyplot state).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from imgkit.analysis.frontier import pareto_frontier, provenance_caption
from imgkit.errors import InvalidParameterError

__all__ = [
    "LABEL_GID",
    "draw_caption",
    "label_overlaps",
    "place_labels",
    "plot_rating_vs_cost",
    "plot_rating_vs_latency",
]

#: ``gid`` of the point labels, so that tests and callers can find them
LABEL_GID = "point-label"
_COLOURS = {"frontier": "tab:blue", "unresolved": "tab:orange", "dominated": "0.6"}


def draw_caption(fig: Figure, text: str) -> None:
    """The provenance caption, small and grey, under the axes (wrapped at about 150 characters)."""
    import textwrap

    fig.supxlabel("\n".join(textwrap.wrap(text, 150)), fontsize=7, color="dimgray", x=0.01, ha="left")


def _boxes_overlap(a: np.ndarray, b: np.ndarray, pad: float) -> tuple[float, float]:
    """Overlap (dx, dy) of boxes [x0, y0, x1, y1] grown by ``pad``; non-positive when apart."""
    dx = min(a[2], b[2]) - max(a[0], b[0]) + pad
    dy = min(a[3], b[3]) - max(a[1], b[1]) + pad
    return dx, dy


def place_labels(
    ax: Axes,
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    labels: Sequence[str],
    *,
    fontsize: float = 7,
    pad_px: float = 2.0,
    max_iter: int = 400,
) -> list[Text]:
    """Write ``labels`` next to their points without overlaps: iterative pairwise repulsion in pixels.

    Each label starts up and to the right of its point; overlapping pairs are pushed apart along the axis
    of least overlap (half each), labels are pushed off every marker, and all stay inside the axes. A label
    moved away from its point gets a thin leader line. The axes limits must be final before the call.
    """
    fig = ax.get_figure(root=True)
    assert isinstance(fig, Figure), "the axes belong to a figure"
    fig.canvas.draw()  # settle the layout: pixel positions are final from here
    fig.set_layout_engine("none")
    renderer = cast(FigureCanvasAgg, fig.canvas).get_renderer()
    points = ax.transData.transform(np.column_stack([np.asarray(x, float), np.asarray(y, float)]))
    texts = [ax.text(0, 0, s, fontsize=fontsize, gid=LABEL_GID, zorder=5) for s in labels]
    sizes = np.array(
        [[t.get_window_extent(renderer).width, t.get_window_extent(renderer).height] for t in texts]
    )
    pos = points + np.array([4.0, 3.0])  # lower-left corner of each label
    frame = ax.get_window_extent(renderer)
    marker = 4.0
    for _ in range(max_iter):
        moved = False
        boxes = np.column_stack([pos, pos + sizes])
        for i in range(len(texts)):
            for j in range(i + 1, len(texts)):
                dx, dy = _boxes_overlap(boxes[i], boxes[j], pad_px)
                if dx > 0 and dy > 0:
                    moved = True
                    axis, amount = (0, dx) if dx < dy else (1, dy)
                    direction = np.sign((pos[i] - pos[j])[axis]) or (1.0 if i < j else -1.0)
                    pos[i, axis] += direction * amount / 2
                    pos[j, axis] -= direction * amount / 2
            for k in range(len(points)):
                dot = np.array([*(points[k] - marker), *(points[k] + marker)])
                dx, dy = _boxes_overlap(np.array([*pos[i], *(pos[i] + sizes[i])]), dot, 0.0)
                if dx > 0 and dy > 0:
                    moved = True
                    if dx < dy:
                        pos[i, 0] += dx if pos[i, 0] + sizes[i, 0] / 2 >= points[k, 0] else -dx
                    else:
                        pos[i, 1] += dy if pos[i, 1] + sizes[i, 1] / 2 >= points[k, 1] else -dy
        pos[:, 0] = np.clip(pos[:, 0], frame.x0 + 1, frame.x1 - sizes[:, 0] - 1)
        pos[:, 1] = np.clip(pos[:, 1], frame.y0 + 1, frame.y1 - sizes[:, 1] - 1)
        if not moved:
            break
    inverse = ax.transData.inverted()
    for text, corner, point, size in zip(texts, pos, points, sizes, strict=True):
        left, bottom = inverse.transform(corner)
        text.set_position((float(left), float(bottom)))
        text.set_horizontalalignment("left")
        text.set_verticalalignment("bottom")
        centre = corner + size / 2
        if np.hypot(*(centre - point)) > 2.5 * max(size[1], 8):
            nearest = np.clip(point, corner, corner + size)
            ax.plot(*inverse.transform(np.vstack([point, nearest])).T, color="0.7", lw=0.5, zorder=1)
    return texts


def label_overlaps(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of point labels (``gid == LABEL_GID``) whose drawn boxes overlap; empty when none do."""
    renderer = cast(FigureCanvasAgg, fig.canvas).get_renderer()
    texts = [t for ax in fig.axes for t in ax.texts if t.get_gid() == LABEL_GID]
    boxes = [t.get_window_extent(renderer) for t in texts]
    return [
        (texts[i].get_text(), texts[j].get_text())
        for i in range(len(texts))
        for j in range(i + 1, len(texts))
        if boxes[i].overlaps(boxes[j])
    ]


def _log_ticks(ax: Axes, unit: str) -> None:
    """Plain numbers on the log axis ($0.01, 20 s), minor ticks labelled at 2 and 5 x a power of ten."""
    from matplotlib.ticker import FuncFormatter

    def text(value: float) -> str:
        number = f"{value:.6g}"
        return f"${number}" if unit == "$" else f"{number} {unit}"

    def minor(value: float, _pos: int) -> str:
        lead = round(value / 10 ** np.floor(np.log10(value)), 6)
        return text(value) if lead in (2.0, 5.0) else ""

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: text(v)))
    ax.xaxis.set_minor_formatter(FuncFormatter(minor))
    ax.tick_params(axis="x", which="minor", labelsize=7)


def _frontier(frame: pl.DataFrame, axis: str, kind: str, statistical: bool) -> pl.DataFrame:
    if "status" in frame.columns and "on_frontier" in frame.columns:
        return frame
    return pareto_frontier(frame, **{kind: axis}, statistical=statistical)


def _scatter(
    frame: pl.DataFrame,
    *,
    axis: str,
    kind: str,
    to_x,
    xlabel: str,
    caption: str | None,
    statistical: bool,
    title: str,
    unit: str,
    whisker: str | None = None,
) -> Figure:
    for col in ("rating", axis):
        if col not in frame.columns:
            raise InvalidParameterError("column", col, sorted(frame.columns))
    frame = _frontier(frame, axis, kind, statistical)
    shown = frame.filter(pl.col("status") != "excluded")
    x_all = np.array([to_x(v) for v in shown[axis].to_list()], dtype=float)
    positive = x_all > 0
    hidden_zero = int((~positive).sum())
    shown = shown.filter(pl.Series(positive))
    x = x_all[positive]
    if not shown.height:
        raise InvalidParameterError("frame", "no option with a rating and a positive " + axis, "at least one")
    key = "option" if "option" in shown.columns else "model"
    y = shown["rating"].to_numpy().astype(float)
    low = (
        shown["ci_low"].cast(pl.Float64).fill_null(np.nan).to_numpy()
        if "ci_low" in shown.columns
        else y * np.nan
    )
    high = (
        shown["ci_high"].cast(pl.Float64).fill_null(np.nan).to_numpy()
        if "ci_high" in shown.columns
        else y * np.nan
    )
    status = shown["status"].to_list()

    fig = Figure(figsize=(9, 6), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_xscale("log")
    colours = [_COLOURS[s] for s in status]
    has_ci = ~(np.isnan(low) | np.isnan(high))
    if has_ci.any():
        ax.vlines(
            x[has_ci], low[has_ci], high[has_ci], colors=np.array(colours)[has_ci].tolist(), lw=1.5, alpha=0.7
        )
    whisker_shown = False
    if whisker and whisker in shown.columns:
        upper = np.array([np.nan if v is None else to_x(v) for v in shown[whisker].to_list()], dtype=float)
        ok = ~np.isnan(upper)
        whisker_shown = bool(ok.any())
        if whisker_shown:
            ax.hlines(y[ok], x[ok], upper[ok], colors=np.array(colours)[ok], lw=0.8, alpha=0.6)
    ax.scatter(x, y, c=colours, s=28, zorder=3, edgecolors="white", linewidths=0.5)
    # the frontier as a staircase: the best rating reachable at this cost (time) or less
    order = np.lexsort((-y, x))
    ax.plot(
        x[order],
        np.maximum.accumulate(y[order]),
        drawstyle="steps-post",
        color="tab:blue",
        lw=1.0,
        ls="--",
        zorder=2,
        label="frontier (best rating at this value or better)",
    )
    x_max = max(x.max(), np.nanmax(upper)) if whisker_shown else x.max()
    ax.set_xlim(x_max * 1.5, x.min() / 2)  # LMArena's domain, inverted: better to the right
    _log_ticks(ax, unit)
    ymin = np.nanmin(np.where(has_ci, low, y))
    ymax = np.nanmax(np.where(has_ci, high, y))
    margin = max((ymax - ymin) * 0.08, 5.0)
    ax.set_ylim(ymin - margin, ymax + margin)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("rating (Elo scale) with 95 % interval")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    handles = [
        ax.scatter([], [], color=_COLOURS[s], label=label)
        for s, label in (
            ("frontier", "on the frontier"),
            ("unresolved", "on the frontier: dominance not beyond the intervals"),
            ("dominated", "dominated"),
        )
        if s in status
    ]
    ax.legend(handles=[*handles, *ax.get_lines()[-1:]], fontsize=7, loc="best")
    notes = [provenance_caption(shown, ("rating", kind))]
    notes.append(
        "frontier: dominated only when another option's lower bound >= this option's upper bound"
        if statistical
        else "frontier: point estimates (dominated = another option has rating >= and "
        + ("cost" if kind == "cost" else "time")
        + " <= with one strict)"
    )
    excluded = frame.height - shown.height
    if excluded:
        notes.append(
            f"{excluded} option{'s' * (excluded > 1)} not shown (no rating or no {axis}"
            + (", or zero" if hidden_zero else "")
            + ")"
        )
    draw_caption(fig, caption or "; ".join(notes))
    place_labels(ax, x, y, [str(v) for v in shown[key].to_list()])
    return fig


def plot_rating_vs_cost(
    frame: pl.DataFrame,
    *,
    cost: str = "cost_usd",
    statistical: bool = False,
    caption: str | None = None,
    title: str = "Rating vs cost per image",
) -> Figure:
    """Rating (95 % interval bars) against $/image on a log axis, cheaper to the right; frontier connected.

    ``frame``: :func:`~imgkit.analysis.frontier.frontier_inputs` output, or its :func:`pareto_frontier`
    (then its ``status`` is used as is). The default caption is built from the frame's provenance columns.
    """
    return _scatter(
        frame,
        axis=cost,
        kind="cost",
        to_x=lambda v: float(v) if v is not None else np.nan,
        xlabel="cost per image (USD, log scale; cheaper →)",
        unit="$",
        caption=caption,
        statistical=statistical,
        title=title,
    )


def plot_rating_vs_latency(
    frame: pl.DataFrame,
    *,
    latency: str = "p50_ms",
    statistical: bool = False,
    caption: str | None = None,
    title: str = "Rating vs generation time",
) -> Figure:
    """Rating against median generation time (s, log axis, faster to the right); whiskers p50 → p95."""
    return _scatter(
        frame,
        axis=latency,
        kind="latency",
        to_x=lambda v: v / 1000.0 if v is not None else np.nan,
        xlabel="generation time p50 (s, log scale; faster →); whisker to p95",
        unit="s",
        caption=caption,
        statistical=statistical,
        title=title,
        whisker="p95_ms" if latency == "p50_ms" else None,
    )
