"""The OpenAI-compatible adapter: OpenAI, the gateway, LiteLLM proxies, the simulator, any base URL.

``POST {base}/images/generations`` with a JSON body, ``POST {base}/images/edits`` as multipart (one ``image``
part, or one ``image[]`` part per file when there are several, as openai-python sends them, plus an optional
``mask``); ``model`` is always in the body; ``Authorization: Bearer``. With ``stream: true`` the answer is
server-sent events, parsed here line by line: partial images (``*.partial_image``) mark the first partial,
``*.completed`` carries the image, the echoed fields and ``usage``; an event whose data has a truthy
``error`` is an error; ``data: [DONE]`` ends the stream. ``b64_json`` images are decoded; ``url`` images are
downloaded without credentials, within a byte cap and a timeout.
"""

from __future__ import annotations

import asyncio
import binascii
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from imgkit.providers._errors import (
    error_from_event,
    error_from_openai,
    error_from_transport,
    malformed,
    request_id_of,
)
from imgkit.providers._http import CallRequest, Downloads, decode_b64, download_image
from imgkit.providers._types import CallOutput, RawImage

__all__ = ["OpenAIAdapter", "sse_events"]

_ECHOED = ("size", "quality", "output_format", "background")


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str | None, str]]:
    """``(event name, data)`` per server-sent event; comments skipped, multi-line data joined by newlines."""
    event: str | None = None
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = None, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data:
        yield event, "\n".join(data)


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _bad(message: str, provider: str, resp: httpx.Response):
    return malformed(message, provider=provider, status=resp.status_code, headers=resp.headers)


def _decode(b64: Any, where: str, provider: str, resp: httpx.Response) -> RawImage:
    try:
        return RawImage(decode_b64(b64))
    except (binascii.Error, ValueError, TypeError, UnicodeEncodeError):
        raise _bad(f"{where} is not base64", provider, resp) from None


class OpenAIAdapter:
    """One call to an OpenAI-compatible Images endpoint (module doc)."""

    kind = "openai"

    def __init__(self, downloads: Downloads | None = None) -> None:
        self.downloads = downloads or Downloads()

    def build(self, call: CallRequest) -> httpx.Request:
        """The HTTP request of ``call`` (the key goes in the header and nowhere else)."""
        edit = call.resolved.mode == "edit"
        url = f"{call.base_url.rstrip('/')}/images/{'edits' if edit else 'generations'}"
        headers = {"accept": "text/event-stream" if call.body.get("stream") else "application/json"}
        if call.key is not None:
            headers["authorization"] = f"Bearer {call.key.reveal()}"
        if not edit:
            headers["content-type"] = "application/json"
            content = json.dumps(call.body, separators=(",", ":")).encode()
            return call.http.build_request("POST", url, headers=headers, content=content)
        part = "image" if len(call.inputs) == 1 else "image[]"
        files = [(part, (f.name, f.data, f.mime)) for f in call.inputs]
        if call.mask is not None:
            files.append(("mask", (call.mask.name, call.mask.data, call.mask.mime)))
        data = {k: _form_value(v) for k, v in call.body.items() if v is not None}
        return call.http.build_request("POST", url, headers=headers, data=data, files=files)

    async def call(self, call: CallRequest) -> CallOutput:
        provider = call.provider_id
        request = self.build(call)
        try:
            resp = await call.http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise error_from_transport(exc, provider, billed_post=True) from None
        call.clock.mark_first_byte()
        rid = request_id_of(resp.headers)
        try:
            if resp.status_code >= 400:
                raise error_from_openai(resp.status_code, await resp.aread(), resp.headers, provider)
            if resp.headers.get("content-type", "").startswith("text/event-stream"):
                return await self._stream(call, resp)
            raw = await resp.aread()
        except httpx.HTTPError as exc:
            raise error_from_transport(exc, provider, billed_post=True, request_id=rid) from None
        finally:
            await resp.aclose()
        try:
            body = json.loads(raw)
        except ValueError:
            raise _bad(f"response body is not JSON ({len(raw)} bytes)", provider, resp) from None
        return await self._images_response(call, resp, body)

    async def _images_response(self, call: CallRequest, resp: httpx.Response, body: Any) -> CallOutput:
        provider = call.provider_id
        if not isinstance(body, dict):
            raise _bad("response body is not a JSON object", provider, resp)
        if body.get("error"):
            raise error_from_openai(resp.status_code, body, resp.headers, provider)
        data = body.get("data")
        if not isinstance(data, list) or not data:
            raise _bad("response has no data[] images", provider, resp)
        images: list[RawImage | None] = [None] * len(data)
        downloads = []
        for index, item in enumerate(data):
            if not isinstance(item, Mapping):
                raise _bad(f"data[{index}] is not an object", provider, resp)
            if item.get("b64_json"):
                images[index] = _decode(item["b64_json"], f"data[{index}].b64_json", provider, resp)
            elif item.get("url"):
                downloads.append(
                    (index, download_image(call.http, item["url"], self.downloads, provider=provider))
                )
            else:
                raise _bad(f"data[{index}] has neither b64_json nor url", provider, resp)
        if downloads:
            fetched = await asyncio.gather(*(job for _, job in downloads))
            for (index, _), image in zip(downloads, fetched, strict=True):
                images[index] = image
        slim = dict(body)
        slim["data"] = [{k: v for k, v in item.items() if k not in ("b64_json", "url")} for item in data]
        return CallOutput(
            resp.status_code,
            resp.headers,
            [i for i in images if i is not None],
            slim,
            request_id=body.get("id") or request_id_of(resp.headers),
            usage=body.get("usage") if isinstance(body.get("usage"), Mapping) else None,
        )

    async def _stream(self, call: CallRequest, resp: httpx.Response) -> CallOutput:
        """Read the event stream to its end; the completed events carry the images."""
        provider = call.provider_id
        images: list[RawImage] = []
        final: dict[str, Any] = {}
        partials = 0
        async for event, data in sse_events(resp.aiter_lines()):
            if data.strip() == "[DONE]":
                break
            try:
                payload = json.loads(data)
            except ValueError:
                raise _bad(
                    f"stream event {event or ''} is not JSON".replace("  ", " "), provider, resp
                ) from None
            if not isinstance(payload, dict):
                continue
            if payload.get("error"):
                raise error_from_event(payload, resp.headers, provider, resp.status_code)
            kind = str(payload.get("type") or event or "")
            if kind.endswith("partial_image"):
                call.clock.mark_first_partial()
                partials += 1
            elif kind.endswith("completed"):
                if not payload.get("b64_json"):
                    raise _bad("completed event without b64_json", provider, resp)
                images.append(_decode(payload["b64_json"], "completed event b64_json", provider, resp))
                final = {k: v for k, v in payload.items() if k != "b64_json"}
        if not images:
            raise _bad("the stream ended before its completed event", provider, resp)
        slim = {k: final[k] for k in _ECHOED if k in final}
        slim["data"] = [{} for _ in images]
        if isinstance(final.get("usage"), Mapping):
            slim["usage"] = final["usage"]
        return CallOutput(
            resp.status_code,
            resp.headers,
            images,
            slim,
            request_id=request_id_of(resp.headers),
            usage=slim.get("usage"),
            partial_images=partials,
        )
