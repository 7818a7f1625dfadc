"""Rating figures: ratings with 95 % interval bars, and observed vs predicted win-rate heatmaps.

Each function returns a ``matplotlib.figure.Figure`` on the Agg canvas (no pyplot state) with a provenance
caption drawn under the plot: ``measured: 1,451 votes, bootstrap 1000, seed 0`` (the default for a
:class:`~imgkit.analysis.ratings.RatingsResult`) or, for a published leaderboard frame, a caption the caller
must give, such as ``published: LMArena leaderboard-image.json, 2025-12-17``.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from imgkit.analysis.ratings import RatingsResult, win_rate_matrices
from imgkit.errors import InvalidParameterError

__all__ = ["plot_ratings", "plot_win_rates"]


def _caption_text(source: RatingsResult | pl.DataFrame, caption: str | None) -> str:
    if caption:
        return caption
    if isinstance(source, RatingsResult):
        return source.caption()
    raise InvalidParameterError(
        "caption", caption, "where the numbers come from, e.g. 'published: LMArena, 2025-12-17'"
    )


def _draw_caption(fig: Figure, text: str) -> None:
    fig.supxlabel(text, fontsize=7, color="dimgray", x=0.01, ha="left")


def plot_ratings(
    ratings: RatingsResult | pl.DataFrame,
    *,
    caption: str | None = None,
    title: str = "Bradley–Terry rating with 95 % interval",
    top: int | None = None,
) -> Figure:
    """Horizontal bars from ci_low to ci_high with the point rating, best on top; flagged models in grey.

    ``ratings``: a fit result or a frame with ``model, rating`` and optionally ``ci_low, ci_high`` and
    ``flags`` (a published leaderboard). ``top`` keeps the best N.
    """
    frame = ratings.table if isinstance(ratings, RatingsResult) else ratings
    text = _caption_text(ratings, caption)
    missing = {"model", "rating"} - set(frame.columns)
    if missing:
        raise InvalidParameterError(
            "ratings columns", sorted(frame.columns), "model, rating[, ci_low, ci_high]"
        )
    frame = frame.sort("rating", descending=True)
    if top:
        frame = frame.head(top)
    rating = frame["rating"].to_numpy()
    low = frame["ci_low"].to_numpy() if "ci_low" in frame.columns else rating
    high = frame["ci_high"].to_numpy() if "ci_high" in frame.columns else rating
    low, high = (
        np.where(np.isnan(low.astype(float)), rating, low),
        np.where(np.isnan(high.astype(float)), rating, high),
    )
    flagged = (
        np.array([bool(f) for f in frame["flags"].to_list()])
        if "flags" in frame.columns
        else np.zeros(len(frame), bool)
    )
    y = np.arange(len(frame))[::-1]
    fig = Figure(figsize=(8, max(2.5, 0.32 * len(frame) + 1.6)), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colors = np.where(flagged, "gray", "tab:blue")
    ax.hlines(y, low, high, colors=colors.tolist(), linewidth=2.5, alpha=0.6)
    ax.scatter(rating, y, c=colors, zorder=3, s=18)
    ax.set_yticks(y, frame["model"].to_list(), fontsize=8)
    ax.set_xlabel("rating (Elo scale: 400 points = 10:1 odds)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title, fontsize=10)
    if flagged.any():
        ax.text(0.99, 0.01, "grey: flagged (see notes)", transform=ax.transAxes, ha="right", fontsize=7)
    _draw_caption(fig, text)
    return fig


def plot_win_rates(
    result: RatingsResult, *, caption: str | None = None, annotate: bool | None = None
) -> Figure:
    """Side-by-side heatmaps: observed win rate of row over column (ties as half) and the BT prediction.

    Cells where the pair never met are blank. ``annotate`` writes percentages in the cells (default: up to
    15 models).
    """
    models, observed, predicted = win_rate_matrices(result)
    text = _caption_text(result, caption)
    size = len(models)
    annotate = size <= 15 if annotate is None else annotate
    side = max(3.5, 0.42 * size + 1.8)
    fig = Figure(figsize=(2 * side + 1.0, side + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, matrix, name in (
        (axes[0], observed, "observed (ties = ½)"),
        (axes[1], np.where(np.eye(size, dtype=bool), np.nan, predicted), "predicted by the ratings"),
    ):
        image = ax.imshow(matrix, cmap="RdBu", vmin=0.0, vmax=1.0)
        ax.set_title(f"win rate of row over column: {name}", fontsize=9)
        ax.set_xticks(range(size), models, rotation=90, fontsize=7)
        ax.set_yticks(range(size), models, fontsize=7)
        ax.set_facecolor("whitesmoke")
        if annotate:
            for r, c in zip(*np.nonzero(np.isfinite(matrix)), strict=True):
                value = matrix[r, c]
                ax.text(
                    c,
                    r,
                    f"{value:.0%}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if abs(value - 0.5) > 0.3 else "black",
                )
    fig.colorbar(image, ax=axes, shrink=0.7, label="P(row beats column)")
    _draw_caption(fig, text)
    return fig
