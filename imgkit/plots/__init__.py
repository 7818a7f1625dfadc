"""Matplotlib figures over analysis results; each caption says where its numbers come from.

The names below are imported on first use from the module named beside each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:  # the table's names, for type checkers and IDEs (tests/test_typing.py keeps them equal)
    from imgkit.plots.frontier import plot_rating_vs_cost as plot_rating_vs_cost
    from imgkit.plots.frontier import plot_rating_vs_latency as plot_rating_vs_latency
    from imgkit.plots.grids import grid_figure as grid_figure
    from imgkit.plots.performance import latency_distribution as latency_distribution
    from imgkit.plots.performance import success_rates as success_rates
    from imgkit.plots.performance import ttfb_vs_total as ttfb_vs_total
    from imgkit.plots.projection import plot_projection as plot_projection
    from imgkit.plots.projection import plot_projection_mix as plot_projection_mix
    from imgkit.plots.projection import plot_sensitivity as plot_sensitivity
    from imgkit.plots.ratings import plot_ratings as plot_ratings
    from imgkit.plots.ratings import plot_win_rates as plot_win_rates
else:
    __getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
