"""Replicate's predictions API: create with ``Prefer: wait``, poll the prediction, download its outputs at once.

``POST {base}/v1/models/{owner}/{name}/predictions`` with ``{"input": {...}}`` (the catalog's fields under
``input``; edit inputs as ``data:`` URIs at the offering's ``image`` path) and ``Authorization: Bearer``.
``Prefer: wait=N`` (``wait_s``, 60 s at most) lets Replicate answer the finished prediction in the same
request; one not finished by then comes back ``starting`` (or ``processing`` without output) and is polled at
its ``urls.get`` (only on the base URL's own origin: the token is sent nowhere else), from
``poll_interval_s`` growing to ``poll_max_interval_s``. Past ``timeout_s`` it is cancelled (``urls.cancel``):
one still ``starting`` was not billed and may be retried, one already running may have been.

A prediction with output is done (``succeeded``, or ``processing`` with output as synchronous mode returns
it): its first answer holding the output is the attempt's first byte. Outputs (a URL, or a list of them, or
``data:`` URIs) are downloaded without credentials (replicate-python sends its token; imgkit does not, the
files are public for an hour). ``failed`` with an NSFW error is a content-policy error; another failure is
a server error that may be retried (both may have been billed: Replicate bills the time a model ran).
Errors are problem details (:func:`~imgkit.providers._errors.error_from_replicate`). The bill comes from the
catalog (per image or per megapixel); ``metrics.predict_time`` is kept in the call's body.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import httpx

from imgkit.errors import ContentPolicyError, ProviderError, ProviderTimeoutError, ProviderUnavailableError
from imgkit.params import put_path
from imgkit.providers._errors import error_from_replicate, job_error, malformed
from imgkit.providers._http import (
    CallRequest,
    Downloads,
    auth_headers,
    download_image,
    input_field,
    json_object,
    same_origin,
    submit_job,
)
from imgkit.providers._polling import Polling, poll_get
from imgkit.providers._types import CallOutput

__all__ = ["ReplicateAdapter"]

_WAITING = ("starting", "processing")
#: Replicate's synchronous mode holds a request at most this long (seconds)
MAX_WAIT_S = 60


class ReplicateAdapter:
    """One Replicate prediction (module doc)."""

    kind = "replicate"

    def __init__(
        self, downloads: Downloads | None = None, polling: Polling | None = None, wait_s: int = MAX_WAIT_S
    ) -> None:
        self.downloads = downloads or Downloads()
        self.polling = polling or Polling()
        self.wait_s = max(1, min(int(wait_s), MAX_WAIT_S))

    def body(self, call: CallRequest) -> dict[str, Any]:
        """The resolved body, edit inputs as ``data:`` URIs (a list where the field takes several)."""
        if not call.inputs:
            return call.body
        body = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in call.body.items()}
        path = input_field(call.resolved, "input.image")
        uris = [f.data_uri() for f in call.inputs]
        put_path(body, path, uris if path.endswith("s") or len(uris) > 1 else uris[0])
        return body

    async def call(self, call: CallRequest) -> CallOutput:
        provider, base = call.provider_id, call.base_url.rstrip("/")
        headers = auth_headers(call.provider, call.key)
        wait = {"prefer": f"wait={self.wait_s}"}
        resp, prediction = await submit_job(call, self.body(call), error_from_replicate, headers=wait)
        pid = str(prediction.get("id") or "")
        deadline = time.monotonic() + self.polling.timeout_s
        interval = self.polling.poll_interval_s
        while not self._done(prediction):
            get_url = self._own_url(prediction, "get", base, resp)
            if time.monotonic() + interval > deadline:
                raise await self._cancel(call, prediction, base, headers, resp)
            await asyncio.sleep(interval)
            interval = self.polling.next_interval(interval)
            resp = await poll_get(call, get_url, headers, self.polling, error_from_replicate, request_id=pid)
            if resp.status_code >= 400:
                error = error_from_replicate(resp.status_code, resp.content, resp.headers, provider)
                error.may_be_billed, error.retryable = (
                    True,
                    False,
                )  # the prediction exists: its fate is unknown
                raise error
            prediction = json_object(resp.content, resp, provider, "prediction")
        call.clock.mark_first_byte()
        return await self._output(call, resp, prediction)

    @staticmethod
    def _done(prediction: Mapping[str, Any]) -> bool:
        status = prediction.get("status")
        return status not in _WAITING or (status == "processing" and prediction.get("output") is not None)

    def _own_url(self, prediction: Mapping[str, Any], name: str, base: str, resp: httpx.Response) -> str:
        """``urls.get`` / ``urls.cancel`` when on the base URL's origin, else built from the id there."""
        urls_field = prediction.get("urls")
        urls: Mapping[str, Any] = urls_field if isinstance(urls_field, Mapping) else {}
        url = urls.get(name)
        if isinstance(url, str) and same_origin(url, base):
            return url
        pid = prediction.get("id")
        if not isinstance(pid, str) or not pid or "/" in pid:
            raise malformed(
                "prediction has neither an id nor a urls.get on the base URL's origin",
                provider="replicate",
                status=resp.status_code,
                headers=resp.headers,
            )
        return f"{base}/v1/predictions/{pid}" + ("/cancel" if name == "cancel" else "")

    async def _cancel(
        self, call: CallRequest, prediction: Mapping[str, Any], base: str, headers: dict[str, str], resp
    ) -> ProviderTimeoutError:
        started = prediction.get("status") != "starting"
        try:
            await call.http.post(self._own_url(prediction, "cancel", base, resp), headers=headers)
        except (httpx.HTTPError, ProviderError):
            pass
        state = (
            "cancelled while running (may be billed)"
            if started
            else "cancelled before it started (not billed)"
        )
        return ProviderTimeoutError(
            f"Replicate prediction did not finish within {self.polling.timeout_s:g} s; {state}",
            provider=call.provider_id,
            request_id=str(prediction.get("id") or "") or None,
            retryable=not started,
            may_be_billed=started,
        )

    async def _output(
        self, call: CallRequest, resp: httpx.Response, prediction: Mapping[str, Any]
    ) -> CallOutput:
        provider = call.provider_id
        pid = str(prediction.get("id") or "") or None
        status = prediction.get("status")
        kw: dict[str, Any] = {"provider": provider, "resp": resp, "job_id": pid}
        if status == "failed":
            message = str(prediction.get("error") or "prediction failed")
            cls = ContentPolicyError if "nsfw" in message.lower() else ProviderUnavailableError
            raise job_error(cls, message, code="failed", **kw)
        if status == "canceled":
            raise job_error(
                ProviderUnavailableError,
                "the prediction was canceled",
                code="canceled",
                retryable=False,
                **kw,
            )
        output = prediction.get("output")
        urls: list[Any] = output if isinstance(output, list) else [output]
        if not urls or not all(isinstance(u, str) and u for u in urls):
            raise malformed(
                f"prediction {status} without output URLs",
                provider=provider,
                status=resp.status_code,
                headers=resp.headers,
            )
        w, h = call.resolved.width, call.resolved.height
        images = await asyncio.gather(
            *(
                download_image(call.http, u, self.downloads, provider=provider, width=w, height=h)
                for u in urls
            )
        )
        slim: dict[str, Any] = {
            "data": [{} for _ in images],
            "size": call.resolved.size,
            "status": status,
            "metrics": prediction.get("metrics") if isinstance(prediction.get("metrics"), Mapping) else {},
        }
        return CallOutput(resp.status_code, resp.headers, list(images), slim, request_id=pid)
