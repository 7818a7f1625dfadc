"""Client-side pacing per provider and model: requests per minute, images per minute, a concurrency cap.

Rates are paced with the generic cell rate algorithm (a token bucket expressed as a schedule): a request
costing ``c`` tokens at ``r`` per minute starts no earlier than its slot and pushes the next slot ``c × 60 / r``
seconds on; ``burst`` slots may be used at once. A request worth more tokens than the burst (``n`` images
against a small images-per-minute budget) still goes, and the ones after it wait for the debt to clear.
A provider's 429 with a Retry-After pushes every later slot of that provider and model past the hint.

Defaults come from the catalog (``provider.rate_limits``); overrides are :class:`RateLimit` values keyed by
provider id or ``"provider/model"``, and replace the default whole (a field left ``None`` means no limit).
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass

from imgkit.catalog import Provider
from imgkit.errors import InvalidParameterError

__all__ = ["RateLimit", "RateLimiter"]


@dataclass(frozen=True)
class RateLimit:
    """Pacing for one provider/model; ``None`` = no limit on that dimension."""

    requests_per_minute: float | None = None
    images_per_minute: float | None = None
    concurrency: int | None = None
    burst: int = 1

    def __post_init__(self) -> None:
        for name in ("requests_per_minute", "images_per_minute", "concurrency"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise InvalidParameterError(name, value, "a positive number, or None for no limit")
        if self.burst < 1:
            raise InvalidParameterError("burst", self.burst, "1 or more")

    @classmethod
    def from_provider(cls, provider: Provider) -> RateLimit:
        rl = provider.rate_limits
        return cls(rl.requests_per_minute, rl.images_per_minute, rl.concurrency)


class _Schedule:
    """GCRA: the theoretical arrival time of the next request, thread-safe."""

    def __init__(self, per_minute: float, burst: int) -> None:
        self.interval_s = 60.0 / per_minute
        self.tolerance_s = (burst - 1) * self.interval_s
        self.tat = 0.0
        self.lock = threading.Lock()

    def reserve(self, cost: float, now: float) -> float:
        """Book ``cost`` tokens; returns the delay (s) before the request may start."""
        with self.lock:
            start = max(now, self.tat - self.tolerance_s)
            self.tat = max(self.tat, start) + cost * self.interval_s
            return start - now


class _Pace:
    """The schedules and (per event loop) semaphore of one provider/model."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self.requests = (
            _Schedule(limit.requests_per_minute, limit.burst) if limit.requests_per_minute else None
        )
        self.images = _Schedule(limit.images_per_minute, limit.burst) if limit.images_per_minute else None
        self.paused_until = 0.0  # monotonic seconds; set by a provider's Retry-After
        self._semaphores: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def semaphore(self) -> asyncio.Semaphore | None:
        """The concurrency semaphore of the running event loop (asyncio primitives belong to one loop)."""
        if not self.limit.concurrency:
            return None
        loop = asyncio.get_running_loop()
        sem = self._semaphores.get(loop)
        if sem is None:
            sem = self._semaphores[loop] = asyncio.Semaphore(self.limit.concurrency)
        return sem


class _Slot:
    """An acquired slot: release the concurrency semaphore when the request is over."""

    __slots__ = ("_sem",)

    def __init__(self, sem: asyncio.Semaphore | None) -> None:
        self._sem = sem

    def release(self) -> None:
        if self._sem is not None:
            self._sem.release()
            self._sem = None


class RateLimiter:
    """Per (provider, model) pacing with catalog defaults and overrides (module doc)."""

    def __init__(self, overrides: Mapping[str, RateLimit] | None = None) -> None:
        self.overrides = dict(overrides or {})
        self._paces: dict[tuple[str, str], _Pace] = {}
        self._lock = threading.Lock()

    def limit_for(self, provider: Provider, model: str) -> RateLimit:
        return (
            self.overrides.get(f"{provider.id}/{model}")
            or self.overrides.get(provider.id)
            or RateLimit.from_provider(provider)
        )

    def _pace(self, provider: Provider, model: str) -> _Pace:
        key = (provider.id, model)
        pace = self._paces.get(key)
        if pace is None:
            with self._lock:
                pace = self._paces.get(key)
                if pace is None:
                    pace = self._paces[key] = _Pace(self.limit_for(provider, model))
        return pace

    async def acquire(self, provider: Provider, model: str, images: int) -> _Slot:
        """Wait for a request slot worth ``images`` images, then for a concurrency slot."""
        pace = self._pace(provider, model)
        now = time.monotonic()
        delay = pace.paused_until - now
        if pace.requests is not None:
            delay = max(delay, pace.requests.reserve(1, now))
        if pace.images is not None:
            delay = max(delay, pace.images.reserve(images, now))
        if delay > 0:
            await asyncio.sleep(delay)
        sem = pace.semaphore()
        if sem is not None:
            await sem.acquire()
        return _Slot(sem)

    def back_off(self, provider: Provider, model: str, seconds: float) -> None:
        """The provider said "wait ``seconds``": no request of this provider/model starts before then."""
        pace = self._pace(provider, model)
        pace.paused_until = max(pace.paused_until, time.monotonic() + seconds)
