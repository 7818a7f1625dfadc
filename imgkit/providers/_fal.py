"""The fal.ai adapter: the queue (submit, poll the returned status URL, fetch the returned response URL), or
the synchronous run endpoint (``sync=True``: one POST to ``https://fal.run/{endpoint_id}`` answered with the
result; a connection lost before the answer may have been billed).

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
from typing import Any

import httpx

from imgkit.errors import ProviderTimeoutError
from imgkit.keys import scrub
from imgkit.providers._errors import error_from_fal, error_from_transport, malformed, request_id_of
from imgkit.providers._http import (
    CallRequest,
    Downloads,
    download_image,
    input_field,
    json_object,
    same_origin,
)
from imgkit.providers._polling import Polling, poll_get
from imgkit.providers._types import CallOutput

__all__ = ["FAL_RUN_URL", "FalAdapter", "FalPolling"]

#: fal's synchronous host (``FalAdapter(sync=True)``): ``POST {FAL_RUN_URL}/{endpoint_id}`` answers the result
FAL_RUN_URL = "https://fal.run"

_WAITING = ("IN_QUEUE", "IN_PROGRESS")


#: how fal's queue is watched (the same settings as every polled protocol)
FalPolling = Polling


class FalAdapter:
    """One fal queue job (module doc)."""

    kind = "fal"

    def __init__(
        self, downloads: Downloads | None = None, polling: FalPolling | None = None, *, sync: bool = False
    ) -> None:
        self.downloads = downloads or Downloads()
        self.polling = polling or FalPolling()
        self.sync = sync

    def _headers(self, call: CallRequest) -> dict[str, str]:
        headers = {"accept": "application/json"}
        if call.key is not None:
            headers["authorization"] = f"Key {call.key.reveal()}"
        return headers

    def body(self, call: CallRequest) -> dict[str, Any]:
        """The model input: the resolved body plus edit inputs as ``data:`` URIs."""
        body = dict(call.body)
        if call.inputs:
            body[input_field(call.resolved, "image_urls")] = [f.data_uri() for f in call.inputs]
        return body

    async def call(self, call: CallRequest) -> CallOutput:
        if self.sync:
            return await self._run(call)
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

    async def _run(self, call: CallRequest) -> CallOutput:
        """fal's synchronous endpoint: one POST answered with the result once the model is done."""
        provider = call.provider_id
        url = f"{call.base_url.rstrip('/')}/{call.resolved.endpoint.strip('/')}"
        content = json.dumps(self.body(call), separators=(",", ":")).encode()
        headers = {**self._headers(call), "content-type": "application/json"}
        try:
            resp = await call.http.post(url, content=content, headers=headers)
        except httpx.HTTPError as exc:
            # the model may have run (and be billed) before the connection failed
            raise error_from_transport(exc, provider, billed_post=True) from None
        call.clock.mark_first_byte()
        if resp.status_code >= 400:
            raise error_from_fal(resp.status_code, resp.content, resp.headers, provider)
        return await self._images(call, resp, request_id_of(resp.headers) or "")

    def _json(self, resp: httpx.Response, provider: str) -> dict[str, Any]:
        return json_object(resp.content, resp, provider, f"{resp.request.method} answer")

    async def _get(
        self, call: CallRequest, url: str, headers: dict[str, str], request_id: str
    ) -> httpx.Response:
        """GET a queue URL (:func:`~imgkit.providers._polling.poll_get`); an answer carrying
        ``x-fal-request-id`` is the job's own and is returned whatever its status."""
        return await poll_get(
            call,
            url,
            headers,
            self.polling,
            error_from_fal,
            request_id=request_id,
            answered=lambda resp: "x-fal-request-id" in resp.headers,
        )

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
            interval = self.polling.next_interval(interval)

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
        resp = await self._get(call, response_url, headers, request_id)
        call.clock.mark_first_byte()
        if resp.status_code >= 400:
            raise error_from_fal(resp.status_code, resp.content, resp.headers, call.provider_id)
        return await self._images(call, resp, request_id)

    async def _images(self, call: CallRequest, resp: httpx.Response, request_id: str) -> CallOutput:
        """A result's ``images[]``, downloaded without credentials (or decoded from ``data:`` URIs)."""
        provider = call.provider_id
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
