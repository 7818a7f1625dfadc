"""Calling image providers: one client, every provider's wire protocol, retries, pacing, a durable attempt log.

::

    from imgkit.params import ImageRequest
    from imgkit.providers import ImageClient

    client = ImageClient(log="runs/today")                 # keys from the environment or keys.yaml
    result = client.generate_sync(ImageRequest("gpt-image-2", "a lighthouse", quality="low"))
    result.images[0].path, result.cost.total_usd, result.timings.ttfb_ms

Adapters, chosen by the provider's catalog ``adapter``: :class:`OpenAIAdapter` (OpenAI Images and every
OpenAI-compatible server: the gateway, LiteLLM, the simulator), :class:`FalAdapter` (fal.ai's queue, or its
synchronous run endpoint), :class:`GeminiAdapter` and :class:`VertexAdapter` (generateContent and Imagen's
predict), :class:`ReplicateAdapter` (predictions), :class:`BflAdapter` (Black Forest Labs' tasks) and
:class:`TogetherAdapter`. :class:`OpenAIBatchAPI` (Files + Batches), :class:`GeminiBatchAPI` (Batch Mode +
Files) and :class:`BatchClient` send requests through a Batch API instead. Errors are the :class:`~imgkit.errors.ProviderError` classes, mapped from each
provider's error shapes.
"""

from imgkit.providers._batch import (
    BatchAnswer,
    BatchClient,
    BatchLimits,
    BatchOutcome,
    BatchStatus,
    GeminiBatchAPI,
    OpenAIBatchAPI,
    batch_api_class,
    batch_endpoint,
)
from imgkit.providers._bfl import BflAdapter, bfl_charge
from imgkit.providers._client import LABELS, USAGE_BILLED, ImageClient, cover_token_bill, sum_costs
from imgkit.providers._convert import TRANSPARENT_FORMATS, convert_image
from imgkit.providers._errors import (
    error_from_bfl,
    error_from_event,
    error_from_fal,
    error_from_google,
    error_from_openai,
    error_from_replicate,
    error_from_transport,
)
from imgkit.providers._fal import FAL_RUN_URL, FalAdapter, FalPolling
from imgkit.providers._google import GeminiAdapter, VertexAdapter, gemini_usage, vertex_base_url
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
from imgkit.providers._polling import Polling
from imgkit.providers._replicate import ReplicateAdapter
from imgkit.providers._retry import RetryPolicy, parse_retry_after, should_retry_header
from imgkit.providers._together import TogetherAdapter
from imgkit.providers._types import AttemptClock, CallOutput, ImageResult, RawImage, Timings

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_TIMEOUT",
    "FAL_RUN_URL",
    "LABELS",
    "TRANSPARENT_FORMATS",
    "USAGE_BILLED",
    "AttemptClock",
    "BatchAnswer",
    "BatchClient",
    "BatchLimits",
    "BatchOutcome",
    "BatchStatus",
    "BflAdapter",
    "CallOutput",
    "CallRequest",
    "Downloads",
    "FalAdapter",
    "FalPolling",
    "GeminiAdapter",
    "GeminiBatchAPI",
    "ImageClient",
    "ImageResult",
    "InputFile",
    "OpenAIAdapter",
    "OpenAIBatchAPI",
    "Polling",
    "RateLimit",
    "RateLimiter",
    "RawImage",
    "ReplicateAdapter",
    "RetryPolicy",
    "Timings",
    "TogetherAdapter",
    "VertexAdapter",
    "batch_api_class",
    "batch_endpoint",
    "bfl_charge",
    "convert_image",
    "cover_token_bill",
    "download_image",
    "error_from_bfl",
    "error_from_event",
    "error_from_fal",
    "error_from_google",
    "error_from_openai",
    "error_from_replicate",
    "error_from_transport",
    "gemini_usage",
    "make_http_client",
    "parse_retry_after",
    "should_retry_header",
    "sse_events",
    "sum_costs",
    "vertex_base_url",
]
