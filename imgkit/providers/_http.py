"""HTTP plumbing shared by the adapters: the client's timeouts and pool, one call's inputs, image downloads."""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from imgkit.catalog import Provider
from imgkit.errors import BadRequestError, ProviderTimeoutError, ProviderUnavailableError
from imgkit.keys import Secret, scrub
from imgkit.params import InputImage, ResolvedRequest
from imgkit.providers._errors import error_from_transport, malformed
from imgkit.providers._pool import ShardedTransport
from imgkit.providers._types import AttemptClock, RawImage

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_TIMEOUT",
    "CallRequest",
    "Downloads",
    "InputFile",
    "decode_b64",
    "download_image",
    "make_http_client",
    "same_origin",
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
