"""The fal.ai queue adapter: submit, poll the returned status URL, fetch the returned response URL.

``POST {base}/{endpoint_id}`` with the model input as JSON and ``Authorization: Key …``; the answer names
``status_url``, ``response_url`` and ``cancel_url`` (used as given, and only on the submit's own origin: the
key is never sent elsewhere). The status is polled from ``poll_interval_s``, growing by ``poll_backoff`` up
to ``poll_max_interval_s``; a transient poll failure is retried (polls are free, only the submit is a
billed attempt). ``COMPLETED`` is followed by the result GET (its response time is the attempt's first
byte); an error result comes in one of fal's two shapes (5xx: not billed; 422: may be billed). Past
``timeout_s`` the job is cancelled (``PUT cancel_url``): a job cancelled while queued was not billed and may
be retried, one already running may have been. Edit inputs travel as ``data:`` URIs in ``image_urls``.
``images[]`` are downloaded without credentials (or decoded from ``data:`` URIs with ``sync_mode``).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from imgkit.errors import ProviderTimeoutError
from imgkit.keys import scrub
from imgkit.providers._errors import error_from_fal, error_from_transport, malformed, request_id_of
from imgkit.providers._http import CallRequest, Downloads, download_image, same_origin
from imgkit.providers._types import CallOutput

__all__ = ["FalAdapter", "FalPolling"]

_WAITING = ("IN_QUEUE", "IN_PROGRESS")
#: tries of each queue GET (status, result) before the attempt fails
POLL_FAILURES = 5


@dataclass(frozen=True)
class FalPolling:
    """How the queue is watched: first interval, growth factor, longest interval, and the job's time limit."""

    poll_interval_s: float = 0.1
    poll_backoff: float = 1.5
    poll_max_interval_s: float = 2.0
    timeout_s: float = 600.0


class FalAdapter:
    """One fal queue job (module doc)."""

    kind = "fal"

    def __init__(self, downloads: Downloads | None = None, polling: FalPolling | None = None) -> None:
        self.downloads = downloads or Downloads()
        self.polling = polling or FalPolling()

    def _headers(self, call: CallRequest) -> dict[str, str]:
        headers = {"accept": "application/json"}
        if call.key is not None:
            headers["authorization"] = f"Key {call.key.reveal()}"
        return headers

    def body(self, call: CallRequest) -> dict[str, Any]:
        """The model input: the resolved body plus edit inputs as ``data:`` URIs."""
        body = dict(call.body)
        if call.inputs:
            target = next(
                (a.sent_as for a in call.resolved.actions if a.field == "input_images" and a.sent_as),
                "image_urls",
            )
            body[target] = [f.data_uri() for f in call.inputs]
        return body

    async def call(self, call: CallRequest) -> CallOutput:
        provider = call.provider_id
        base = call.base_url.rstrip("/")
        submit_url = f"{base}/{call.resolved.endpoint.strip('/')}"
        headers = self._headers(call)
        content = json.dumps(self.body(call), separators=(",", ":")).encode()
        try:
            resp = await call.http.post(
                submit_url, content=content, headers={**headers, "content-type": "application/json"}
            )
        except httpx.HTTPError as exc:
            # a job that was never acknowledged is not billed
            raise error_from_transport(exc, provider, billed_post=False) from None
        if resp.status_code >= 400:
            raise error_from_fal(resp.status_code, resp.content, resp.headers, provider)
        job = self._json(resp, provider)
        urls = {}
        for name in ("status_url", "response_url", "cancel_url"):
            url = job.get(name)
            if not isinstance(url, str) or not same_origin(url, base):
                raise malformed(
                    f"submit answer lacks a {name} on {scrub(base)} (got {scrub(str(url))}); the key is not sent elsewhere",
                    provider=provider,
                    status=resp.status_code,
                    headers=resp.headers,
                )
            urls[name] = url
        request_id = str(job.get("request_id") or request_id_of(resp.headers) or "")
        deadline = time.monotonic() + self.polling.timeout_s
        await self._wait(call, urls, headers, request_id, deadline)
        return await self._result(call, urls["response_url"], headers, request_id)

    def _json(self, resp: httpx.Response, provider: str) -> dict[str, Any]:
        try:
            body = json.loads(resp.content)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise malformed(
                f"{resp.request.method} answer is not a JSON object",
                provider=provider,
                status=resp.status_code,
                headers=resp.headers,
            )
        return body

    async def _get(
        self, call: CallRequest, url: str, headers: dict[str, str], request_id: str
    ) -> httpx.Response:
        """GET a queue URL (idempotent, free), retrying transport errors and ingress-level 408/429/5xx.

        An answer carrying ``x-fal-request-id`` is the job's own and is returned whatever its status. When
        the retries run out the job's fate is unknown: it may complete and be billed, so no new job is
        submitted for it.
        """
        provider = call.provider_id
        for attempt in range(POLL_FAILURES):
            try:
                resp = await call.http.get(url, headers=headers)
            except httpx.HTTPError as exc:
                error = error_from_transport(exc, provider, billed_post=False, request_id=request_id)
            else:
                transient = resp.status_code in (408, 429) or resp.status_code >= 500
                if not transient or "x-fal-request-id" in resp.headers:
                    return resp
                error = error_from_fal(resp.status_code, resp.content, resp.headers, provider)
            if attempt + 1 < POLL_FAILURES:
                await asyncio.sleep(
                    min(self.polling.poll_interval_s * 2**attempt, self.polling.poll_max_interval_s)
                )
        error.retryable, error.may_be_billed = False, True
        raise error

    async def _wait(
        self,
        call: CallRequest,
        urls: dict[str, str],
        headers: dict[str, str],
        request_id: str,
        deadline: float,
    ) -> None:
        provider, interval = call.provider_id, self.polling.poll_interval_s
        while True:
            resp = await self._get(call, urls["status_url"], headers, request_id)
            if resp.status_code >= 400:
                raise error_from_fal(resp.status_code, resp.content, resp.headers, provider)
            status = self._json(resp, provider).get("status")
            if status == "COMPLETED":
                return
            if status not in _WAITING:
                raise malformed(
                    f"unknown queue status {scrub(str(status))!r}",
                    provider=provider,
                    status=resp.status_code,
                    headers=resp.headers,
                )
            if time.monotonic() + interval > deadline:
                raise await self._cancel(call, urls["cancel_url"], headers, request_id)
            await asyncio.sleep(interval)
            interval = min(interval * self.polling.poll_backoff, self.polling.poll_max_interval_s)

    async def _cancel(
        self, call: CallRequest, cancel_url: str, headers: dict[str, str], request_id: str
    ) -> ProviderTimeoutError:
        """Cancel the job; the error says whether it could have been billed (only if it had started)."""
        try:
            resp = await call.http.put(cancel_url, headers=headers)
            queued = resp.status_code == 202
        except httpx.HTTPError:
            queued = False
        state = (
            "cancelled while queued (not billed)"
            if queued
            else "cancel refused: it was running (may be billed)"
        )
        return ProviderTimeoutError(
            f"fal job did not complete within {self.polling.timeout_s:g} s; {state}",
            provider=call.provider_id,
            request_id=request_id or None,
            retryable=queued,
            may_be_billed=not queued,
        )

    async def _result(
        self, call: CallRequest, response_url: str, headers: dict[str, str], request_id: str
    ) -> CallOutput:
        provider = call.provider_id
        resp = await self._get(call, response_url, headers, request_id)
        call.clock.mark_first_byte()
        if resp.status_code >= 400:
            raise error_from_fal(resp.status_code, resp.content, resp.headers, provider)
        body = self._json(resp, provider)
        images = body.get("images")
        if (
            not isinstance(images, list)
            or not images
            or not all(isinstance(i, dict) and i.get("url") for i in images)
        ):
            raise malformed(
                "result has no images[] with urls",
                provider=provider,
                status=resp.status_code,
                headers=resp.headers,
            )
        fetched = await asyncio.gather(
            *(
                download_image(
                    call.http,
                    i["url"],
                    self.downloads,
                    provider=provider,
                    width=i.get("width"),
                    height=i.get("height"),
                )
                for i in images
            )
        )
        slim = {k: v for k, v in body.items() if k not in ("images", "prompt")}
        slim["images"] = [{k: v for k, v in i.items() if k != "url"} for i in images]
        return CallOutput(resp.status_code, resp.headers, list(fetched), slim, request_id=request_id or None)
