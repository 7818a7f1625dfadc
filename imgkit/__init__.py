"""imgkit: choose an AI image-generation model, provider and quality tier.

Exact per-image and token costs, measured speed and reliability from request logs, Bradley–Terry ratings
from blind pairwise votes, frontiers and monthly projections, in reproducible Papermill reports.
"""

from imgkit.errors import ImgkitError

__version__ = "0.1.0"

__all__ = ["ImgkitError", "__version__"]
