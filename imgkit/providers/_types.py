"""Result types: what one attempt measured, what one provider call returned, what a request produced."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from imgkit.errors import ProviderError
from imgkit.params import ResolvedRequest
from imgkit.pricing import Cost
from imgkit.records.images import StoredImage

__all__ = ["AttemptClock", "CallOutput", "ImageResult", "RawImage", "Timings"]


@dataclass(frozen=True)
class Timings:
    """When a request (or one attempt) started, saw its first byte and first partial image, and ended (UTC)."""

    started_at: dt.datetime
    first_byte_at: dt.datetime | None
    first_partial_at: dt.datetime | None
    ended_at: dt.datetime

    @staticmethod
    def _ms(later: dt.datetime | None, earlier: dt.datetime) -> float | None:
        return None if later is None else (later - earlier).total_seconds() * 1000.0

    @property
    def latency_ms(self) -> float:
        return self._ms(self.ended_at, self.started_at) or 0.0

    @property
    def ttfb_ms(self) -> float | None:
        return self._ms(self.first_byte_at, self.started_at)

    @property
    def first_partial_ms(self) -> float | None:
        return self._ms(self.first_partial_at, self.started_at)


class AttemptClock:
    """Marks of one attempt: wall-clock start, then monotonic offsets (immune to clock steps)."""

    __slots__ = ("_t0", "ended", "first_byte", "first_partial", "started_at")

    def __init__(self) -> None:
        self.started_at = dt.datetime.now(dt.UTC)
        self._t0 = time.perf_counter()
        self.first_byte: float | None = None
        self.first_partial: float | None = None
        self.ended: float | None = None

    def mark_first_byte(self) -> None:
        if self.first_byte is None:
            self.first_byte = time.perf_counter() - self._t0

    def mark_first_partial(self) -> None:
        if self.first_partial is None:
            self.first_partial = time.perf_counter() - self._t0

    def end(self) -> float:
        self.ended = time.perf_counter() - self._t0
        return self.ended

    def _at(self, offset: float | None) -> dt.datetime | None:
        return None if offset is None else self.started_at + dt.timedelta(seconds=offset)

    def timings(self) -> Timings:
        ended = self.ended if self.ended is not None else self.end()
        return Timings(
            self.started_at,
            self._at(self.first_byte),
            self._at(self.first_partial),
            self.started_at + dt.timedelta(seconds=ended),
        )


@dataclass
class RawImage:
    """An image as received, before conversion and storage."""

    data: bytes
    width: int | None = None
    height: int | None = None


@dataclass
class CallOutput:
    """What one successful provider call returned (images still in memory, body without image payloads)."""

    status: int
    headers: Mapping[str, str]
    images: list[RawImage]
    body: dict[str, Any]  # for pricing and echoes: image payloads replaced by their sizes
    request_id: str | None = None
    usage: Mapping[str, Any] | None = None
    partial_images: int = 0
    charge: Cost | None = (
        None  # the provider's own bill of this call (BFL's cost), used instead of the catalog
    )


@dataclass(frozen=True)
class ImageResult:
    """A request's outcome: stored images, timings, usage, echoed parameters, costs and every attempt's record.

    ``cost`` is the bill computed from the responses (``imgkit.pricing.cost_from_response``), summed over the
    calls of an emulated ``n``; ``estimated_cost`` is the quote made before sending. ``error`` is set (and
    ``ok`` false) when a call ended in an error and the client was asked not to raise. ``retries_refused``
    counts the calls whose retry was due but did not fit the budget (so their error ended them).
    """

    resolved: ResolvedRequest
    run_id: str
    item_id: str
    images: tuple[StoredImage, ...]
    timings: Timings
    usage: Mapping[str, int] | None
    quality: str | None
    size: str | None
    output_format: str | None
    background: str | None
    request_id: str | None
    request_ids: tuple[str, ...]
    cost: Cost | None
    estimated_cost: Cost | None
    attempts: tuple[dict[str, Any], ...]
    partial_images: int = 0
    error: ProviderError | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    retries_refused: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None
