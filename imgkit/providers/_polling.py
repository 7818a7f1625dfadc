"""Watching a job a provider runs for us (fal's queue, Replicate's predictions, BFL's tasks): how often, how long,
and the GET that survives a transient failure.

A poll is free and idempotent, so it is retried on its own (transport errors, 408, 429 and 5xx, waiting
``poll_interval_s`` doubling up to ``poll_max_interval_s``, or the server's ``Retry-After``); only the submit
is a billed attempt. When the retries run out the job's fate is unknown: it may finish and be billed, so the
error says so and is not retried as a new job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from imgkit.errors import ProviderError
from imgkit.providers._errors import error_from_transport
from imgkit.providers._http import CallRequest
from imgkit.providers._retry import parse_retry_after

__all__ = ["POLL_FAILURES", "Polling", "poll_get"]

#: tries of each poll GET before the attempt fails
POLL_FAILURES = 5


@dataclass(frozen=True)
class Polling:
    """How a job is watched: first interval, growth factor, longest interval (s), and the job's time limit."""

    poll_interval_s: float = 0.1
    poll_backoff: float = 1.5
    poll_max_interval_s: float = 2.0
    timeout_s: float = 600.0

    def next_interval(self, interval_s: float) -> float:
        return min(interval_s * self.poll_backoff, self.poll_max_interval_s)


ErrorFrom = Callable[[int, bytes, Mapping[str, str], str], ProviderError]


async def poll_get(
    call: CallRequest,
    url: str,
    headers: Mapping[str, str],
    polling: Polling,
    error_from: ErrorFrom,
    *,
    request_id: str | None = None,
    answered: Callable[[httpx.Response], bool] = lambda resp: False,
) -> httpx.Response:
    """GET a job's URL, retrying transport errors and 408/429/5xx (module doc); any other answer, or one
    ``answered`` says belongs to the job itself, is returned whatever its status."""
    provider = call.provider_id
    error: ProviderError | None = None
    for attempt in range(POLL_FAILURES):
        wait = min(polling.poll_interval_s * 2**attempt, polling.poll_max_interval_s)
        try:
            resp = await call.http.get(url, headers=headers)
        except httpx.HTTPError as exc:
            error = error_from_transport(exc, provider, billed_post=False, request_id=request_id)
        else:
            transient = resp.status_code in (408, 429) or resp.status_code >= 500
            if not transient or answered(resp):
                return resp
            error = error_from(resp.status_code, resp.content, resp.headers, provider)
            hint = parse_retry_after(resp.headers)
            if hint is not None and 0 < hint <= polling.poll_max_interval_s * 8:
                wait = hint
        if attempt + 1 < POLL_FAILURES:
            await asyncio.sleep(wait)
    assert error is not None
    error.retryable, error.may_be_billed = False, True
    raise error
