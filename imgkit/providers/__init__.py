"""Calling image providers: one client, two wire protocols, retries, pacing, and a durable attempt log.

::

    from imgkit.params import ImageRequest
    from imgkit.providers import ImageClient

    client = ImageClient(log="runs/today")                 # keys from the environment or keys.yaml
    result = client.generate_sync(ImageRequest("gpt-image-2", "a lighthouse", quality="low"))
    result.images[0].path, result.cost.total_usd, result.timings.ttfb_ms

Adapters: :class:`OpenAIAdapter` (OpenAI Images and every OpenAI-compatible server: the gateway, LiteLLM,
the simulator) and :class:`FalAdapter` (fal.ai's queue). Errors are the
:class:`~imgkit.errors.ProviderError` classes, mapped from each provider's error shapes.
"""

from imgkit.providers._client import LABELS, ImageClient, sum_costs
from imgkit.providers._convert import TRANSPARENT_FORMATS, convert_image
from imgkit.providers._errors import error_from_event, error_from_fal, error_from_openai, error_from_transport
from imgkit.providers._fal import FalAdapter, FalPolling
from imgkit.providers._http import (
    DEFAULT_LIMITS,
    DEFAULT_TIMEOUT,
    CallRequest,
    Downloads,
    InputFile,
    download_image,
    make_http_client,
)
from imgkit.providers._limits import RateLimit, RateLimiter
from imgkit.providers._openai import OpenAIAdapter, sse_events
from imgkit.providers._retry import RetryPolicy, parse_retry_after, should_retry_header
from imgkit.providers._types import AttemptClock, CallOutput, ImageResult, RawImage, Timings

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_TIMEOUT",
    "LABELS",
    "TRANSPARENT_FORMATS",
    "AttemptClock",
    "CallOutput",
    "CallRequest",
    "Downloads",
    "FalAdapter",
    "FalPolling",
    "ImageClient",
    "ImageResult",
    "InputFile",
    "OpenAIAdapter",
    "RateLimit",
    "RateLimiter",
    "RawImage",
    "RetryPolicy",
    "Timings",
    "convert_image",
    "download_image",
    "error_from_event",
    "error_from_fal",
    "error_from_openai",
    "error_from_transport",
    "make_http_client",
    "parse_retry_after",
    "should_retry_header",
    "sse_events",
    "sum_costs",
]
