"""A comparison grid (:func:`imgkit.grids.make_grid`) as a figure with a title and a provenance caption.

The grid PNG is shown at one figure pixel per grid pixel, so the cells' cost and latency captions stay
legible; the caption under it says where the images and figures come from (e.g. ``simulated``), so the
figure keeps its label when it is copied out of a report.
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from imgkit.grids import GridResult
from imgkit.plots.frontier import draw_caption

__all__ = ["grid_figure"]


def grid_figure(grid: GridResult, *, title: str, caption: str, dpi: int = 100) -> Figure:
    """The grid image with ``title`` above and ``caption`` below, drawn on the Agg canvas."""
    with Image.open(grid.png) as im:
        pixels = im.convert("RGB")
    width, height = pixels.size
    margin_px = 110  # title above, caption below
    fig = Figure(figsize=(width / dpi, (height + margin_px) / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.0, 60 / (height + margin_px), 1.0, height / (height + margin_px)))
    ax.imshow(pixels, interpolation="none")
    ax.set_axis_off()
    fig.suptitle(title, fontsize=11, y=1 - 12 / (height + margin_px), va="top")
    draw_caption(fig, caption)
    return fig
