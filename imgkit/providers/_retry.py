"""When to try again and how long to wait (API.md §1.11 and §6 rule 4, following openai-python).

Retried: HTTP 408, 409, 429 and 5xx, connection errors, malformed bodies, as the error says
(``ProviderError.retryable``); the server's ``x-should-retry`` / ``X-Fal-Retryable`` overrides the status
rule. Never retried: 400/401/403/404/422, moderation blocks, a Retry-After above 120 s, and (by default)
a read timeout of a billed image POST, which may already have been paid for.

Wait: the server's hint (``retry-after-ms``, else ``retry-after`` as seconds or an HTTP date) when it is in
(0, 120] s, else ``min(0.5 × 2^n, 8) × (1 − 0.25 × U[0,1))`` where ``n`` counts the retries already taken.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

from imgkit.errors import ContentPolicyError, InvalidParameterError, ProviderError, ProviderTimeoutError

__all__ = ["RetryPolicy", "parse_retry_after", "should_retry_header"]


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asks to wait: ``retry-after-ms``, else ``retry-after`` (seconds or an HTTP date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            value = float(raw_ms) / 1000.0
            if math.isfinite(value):
                return value
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        value = float(raw)
        return value if math.isfinite(value) else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return when.timestamp() - (time.time() if now is None else now)


def should_retry_header(headers: Mapping[str, str]) -> bool | None:
    """The server's explicit verdict (``x-should-retry`` or fal's ``x-fal-retryable``), else ``None``."""
    for name in ("x-should-retry", "x-fal-retryable", "x-fal-needs-retry"):
        value = headers.get(name)
        if value in ("true", "false"):
            return value == "true"
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and jitter (module doc). ``max_attempts`` counts the first."""

    max_attempts: int = 3
    initial_delay_s: float = 0.5
    max_delay_s: float = 8.0
    jitter: float = 0.25
    max_retry_after_s: float = 120.0
    retry_read_timeouts: bool = False

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InvalidParameterError("max_attempts", self.max_attempts, "1 or more")
        if not 0 <= self.jitter < 1:
            raise InvalidParameterError("jitter", self.jitter, "a fraction in [0, 1)")

    def should_retry(self, error: ProviderError, attempt: int) -> bool:
        """Whether attempt number ``attempt`` (1-based) that failed with ``error`` is followed by another."""
        if attempt >= self.max_attempts or isinstance(error, ContentPolicyError):
            return False
        hint = error.retry_after_s
        if hint is not None and hint > self.max_retry_after_s:
            return False
        if isinstance(error, ProviderTimeoutError) and error.billed_read_timeout:
            return self.retry_read_timeouts
        return bool(error.retryable)

    def delay_s(
        self, retries_taken: int, retry_after_s: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to sleep before retry number ``retries_taken + 1``."""
        if retry_after_s is not None and 0 < retry_after_s <= self.max_retry_after_s:
            return retry_after_s
        nominal = min(self.initial_delay_s * 2.0**retries_taken, self.max_delay_s)
        return nominal * (1.0 - self.jitter * (rng or random).random())
