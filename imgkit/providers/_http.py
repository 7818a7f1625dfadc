"""HTTP plumbing shared by the adapters: the client's timeouts and pool, one call's inputs, image downloads."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from imgkit.catalog import Provider
from imgkit.errors import BadRequestError, ProviderTimeoutError, ProviderUnavailableError
from imgkit.keys import Secret, scrub
from imgkit.params import InputImage, ResolvedRequest
from imgkit.providers._errors import error_from_transport, malformed, request_id_of
from imgkit.providers._pool import ShardedTransport
from imgkit.providers._types import AttemptClock, RawImage

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_TIMEOUT",
    "CallRequest",
    "Downloads",
    "InputFile",
    "auth_headers",
    "decode_b64",
    "download_image",
    "input_field",
    "json_object",
    "make_http_client",
    "post_json",
    "same_origin",
    "submit_job",
]

#: image generation takes minutes: 5 s to connect, 300 s to read (API.md §6 rule 5)
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=300.0, write=60.0, pool=60.0)
#: room for 64+ concurrent requests with keep-alive
DEFAULT_LIMITS = httpx.Limits(max_connections=256, max_keepalive_connections=128, keepalive_expiry=30.0)
USER_AGENT = "imgkit/0.1 (python httpx)"
#: tries per image URL (transport errors and 5xx); the generation itself is never repeated for a download
DOWNLOAD_ATTEMPTS = 3


def make_http_client(
    timeout: httpx.Timeout = DEFAULT_TIMEOUT, limits: httpx.Limits = DEFAULT_LIMITS, **kw: Any
) -> httpx.AsyncClient:
    """The one ``httpx.AsyncClient`` an :class:`ImageClient` shares between all its calls.

    Its transport is a :class:`~imgkit.providers._pool.ShardedTransport` over ``limits`` (httpcore's single
    pool slows to about 50 requests/s at 64 in flight); pass ``transport=`` to use another one.
    """
    kw.setdefault("transport", ShardedTransport(limits=limits))
    return httpx.AsyncClient(timeout=timeout, limits=limits, headers={"user-agent": USER_AGENT}, **kw)


@dataclass(frozen=True)
class InputFile:
    """An input image's bytes for the wire (read once per request)."""

    name: str
    data: bytes = field(repr=False)
    mime: str

    @classmethod
    def from_input(cls, image: InputImage) -> InputFile:
        data = image.data if image.data is not None else image.path.read_bytes()  # type: ignore[union-attr]
        return cls(image.name, data, f"image/{image.format}")

    def data_uri(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode()}"


@dataclass(frozen=True)
class Downloads:
    """Limits for images returned as URLs: a byte cap and an overall timeout per image."""

    max_bytes: int = 64 * 1024 * 1024
    timeout_s: float = 120.0


@dataclass
class CallRequest:
    """Everything an adapter needs for one provider call."""

    http: httpx.AsyncClient
    provider: Provider
    base_url: str
    key: Secret | None
    resolved: ResolvedRequest
    body: dict[str, Any]
    inputs: tuple[InputFile, ...] = ()
    mask: InputFile | None = None
    clock: AttemptClock = field(default_factory=AttemptClock)

    @property
    def provider_id(self) -> str:
        return self.provider.id


def input_field(resolved: ResolvedRequest, default: str) -> str:
    """The body path edit inputs are sent at (the catalog's ``image`` rule, as resolve recorded it)."""
    return next((a.sent_as for a in resolved.actions if a.field == "input_images" and a.sent_as), default)


def auth_headers(provider: Provider, key: Secret | None) -> dict[str, str]:
    """The header that carries ``key`` by the provider's catalog ``auth`` (and nowhere else)."""
    if key is None:
        return {}
    scheme = provider.auth.scheme
    if scheme == "bearer":
        return {"authorization": f"Bearer {key.reveal()}"}
    if scheme == "key":
        return {"authorization": f"Key {key.reveal()}"}
    if scheme == "header":
        return {(provider.auth.header or "x-api-key").lower(): key.reveal()}
    return {}


async def post_json(
    call: CallRequest,
    url: str,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    *,
    billed: bool,
    first_byte: bool = True,
) -> tuple[httpx.Response, bytes]:
    """POST ``body`` as JSON and read the whole answer; its head marks the attempt's first byte when
    ``first_byte`` (not for a submit whose job is watched later). A transport failure is classified
    (``billed``: a request that may have run once sent)."""
    content = json.dumps(body, separators=(",", ":")).encode()
    all_headers = {"accept": "application/json", **headers, "content-type": "application/json"}
    request = call.http.build_request("POST", url, headers=all_headers, content=content)
    try:
        resp = await call.http.send(request, stream=True)
    except httpx.HTTPError as exc:
        raise error_from_transport(exc, call.provider_id, billed_post=billed) from None
    if first_byte:
        call.clock.mark_first_byte()
    try:
        raw = await resp.aread()
    except httpx.HTTPError as exc:
        rid = request_id_of(resp.headers)
        raise error_from_transport(exc, call.provider_id, billed_post=billed, request_id=rid) from None
    finally:
        await resp.aclose()
    return resp, raw


async def submit_job(
    call: CallRequest,
    body: Mapping[str, Any],
    error_from: Any,
    *,
    headers: Mapping[str, str] | None = None,
) -> tuple[httpx.Response, dict[str, Any]]:
    """POST a job (a Replicate prediction, a BFL task) to ``{base}/{endpoint}`` with the key; the answer as a
    JSON object, an error answer raised through ``error_from``. Its head is not the attempt's first byte (the
    job is watched after), and a connection lost once it was sent may have started a billed job."""
    url = f"{call.base_url.rstrip('/')}/{call.resolved.endpoint.lstrip('/')}"
    all_headers = {**auth_headers(call.provider, call.key), **(headers or {})}
    resp, raw = await post_json(call, url, body, all_headers, billed=True, first_byte=False)
    if resp.status_code >= 400:
        raise error_from(resp.status_code, raw, resp.headers, call.provider_id)
    return resp, json_object(raw, resp, call.provider_id, "submit answer")


def json_object(
    raw: bytes, resp: httpx.Response, provider: str, what: str = "response body"
) -> dict[str, Any]:
    """``raw`` parsed as a JSON object; a malformed-response error (may be billed) when it is not one."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise malformed(
            f"{what} is not a JSON object ({len(raw)} bytes)",
            provider=provider,
            status=resp.status_code,
            headers=resp.headers,
        )
    return body


def same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def decode_b64(text: str | bytes) -> bytes:
    """Base64 (standard alphabet, padding optional) to bytes; ``binascii.Error`` when it is not base64."""
    if isinstance(text, str):
        text = text.encode("ascii")
    missing = -len(text) % 4
    return binascii.a2b_base64(text + b"=" * missing if missing else text, strict_mode=False)


async def download_image(
    http: httpx.AsyncClient,
    url: str,
    limits: Downloads,
    *,
    provider: str,
    width: int | None = None,
    height: int | None = None,
) -> RawImage:
    """Fetch an image URL (or decode a ``data:`` URI) without credentials, within the byte cap and timeout."""
    if url.startswith("data:"):
        header, sep, payload = url.partition(",")
        if not sep or ";base64" not in header:
            raise malformed("image data: URI is not base64", provider=provider, status=200, headers={})
        try:
            data = decode_b64(payload)
        except (binascii.Error, ValueError):
            raise malformed(
                "image data: URI is not valid base64", provider=provider, status=200, headers={}
            ) from None
        return RawImage(data, width, height)
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise malformed(
            f"image URL scheme {scheme!r} is not http(s)", provider=provider, status=200, headers={}
        )
    shown = scrub(url)
    for attempt in range(DOWNLOAD_ATTEMPTS):
        try:
            return RawImage(await _fetch(http, url, shown, limits, provider), width, height)
        except (ProviderUnavailableError, ProviderTimeoutError) as exc:
            if attempt + 1 < DOWNLOAD_ATTEMPTS:
                await asyncio.sleep(0.2 * 2**attempt)
                continue
            # the image was generated (and paid for): a new generation is not the cure
            exc.retryable, exc.may_be_billed = False, True
            raise
    raise AssertionError("unreachable")


async def _fetch(http: httpx.AsyncClient, url: str, shown: str, limits: Downloads, provider: str) -> bytes:
    try:
        async with asyncio.timeout(limits.timeout_s):
            async with http.stream("GET", url) as resp:
                if resp.status_code >= 400:
                    cls = ProviderUnavailableError if resp.status_code >= 500 else BadRequestError
                    raise cls(
                        f"image download {shown} failed",
                        provider=provider,
                        status=resp.status_code,
                        may_be_billed=True,
                    )
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > limits.max_bytes:
                    raise _too_large(shown, int(declared), limits, provider)
                chunks, total = [], 0
                async for chunk in resp.aiter_bytes():
                    total += len(chunk)
                    if total > limits.max_bytes:
                        raise _too_large(shown, total, limits, provider)
                    chunks.append(chunk)
                return b"".join(chunks)
    except TimeoutError:
        raise ProviderTimeoutError(
            f"image download {shown} took longer than {limits.timeout_s:g} s", provider=provider
        ) from None
    except httpx.HTTPError as exc:
        raise error_from_transport(exc, provider, billed_post=False) from None


def _too_large(shown: str, size: int, limits: Downloads, provider: str):
    return malformed(
        f"image {shown} is larger than the download cap ({size:,} > {limits.max_bytes:,} bytes)",
        provider=provider,
        status=200,
        headers={},
    )
