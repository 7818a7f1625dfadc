"""Matplotlib figures over analysis results; each caption says where its numbers come from.

The names below are imported on first use from the module named beside each.
"""

from __future__ import annotations

from imgkit._lazy import lazy_exports

_EXPORTS = {
    "latency_distribution": "imgkit.plots.performance",
    "success_rates": "imgkit.plots.performance",
    "ttfb_vs_total": "imgkit.plots.performance",
    "plot_ratings": "imgkit.plots.ratings",
    "plot_win_rates": "imgkit.plots.ratings",
    "plot_rating_vs_cost": "imgkit.plots.frontier",
    "plot_rating_vs_latency": "imgkit.plots.frontier",
    "plot_projection": "imgkit.plots.projection",
    "plot_projection_mix": "imgkit.plots.projection",
    "plot_sensitivity": "imgkit.plots.projection",
    "grid_figure": "imgkit.plots.grids",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
