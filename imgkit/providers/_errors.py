"""Provider answers and transport failures mapped onto the :class:`~imgkit.errors.ProviderError` classes.

Shapes understood (API.md §1.9, §2.5, §3.6): OpenAI's ``{"error": {message, type, param, code}}`` (also
LiteLLM's and the gateway's, whose codes are upper case), an error event inside an SSE stream, and fal's two
shapes, ``{"detail": [{loc, msg, type, ...}]}`` (model and validation errors) and ``{"detail": "...",
"error_type": "..."}`` (infrastructure errors). Every message carries the provider's request id and goes
through :func:`imgkit.keys.scrub`, so it never holds a key or a signed URL.

Each error says what the client needs to know (attributes declared by
:class:`~imgkit.errors.ProviderError`): ``may_be_billed`` (the request reached the provider and the bill is
unknown: a read timeout, a dropped or malformed response, a fal 422), ``billed_read_timeout`` (a read timeout
of an image POST, not retried by default) and ``simulated`` (the answer came from imgkit's simulator).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from imgkit.errors import (
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    MalformedResponseError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
)
from imgkit.keys import scrub
from imgkit.providers._retry import parse_retry_after, should_retry_header

__all__ = [
    "error_from_event",
    "error_from_fal",
    "error_from_openai",
    "error_from_transport",
    "malformed",
    "request_id_of",
]

_POLICY_CODES = {"moderation_blocked", "content_policy_violation", "content_filter"}
_TIMEOUT_TYPES = {"request_timeout", "startup_timeout", "runner_connection_timeout"}


def request_id_of(headers: Mapping[str, str]) -> str | None:
    return headers.get("x-request-id") or headers.get("x-fal-request-id") or headers.get("x-litellm-call-id")


def _simulated(headers: Mapping[str, str] | None) -> bool:
    """Whether an answer came from imgkit's simulator (it marks every response)."""
    return bool(headers) and headers.get("x-imgkit-simulated") == "true"


def _class_for(status: int | None, code: str, policy: bool) -> type[ProviderError]:
    if policy:
        return ContentPolicyError
    if status in (401, 403) or code in ("authentication_failed", "invalid_api_key"):
        return AuthenticationError
    if status == 429:
        return RateLimitError
    if status in (408, 504):
        return ProviderTimeoutError
    if status == 409 or (status is not None and status >= 500):
        return ProviderUnavailableError
    return BadRequestError


def _json(body: bytes | Mapping[str, Any] | None) -> Any:
    if body is None or isinstance(body, Mapping):
        return body
    try:
        return json.loads(body)
    except ValueError:
        return None


def _snippet(body: bytes | Mapping[str, Any] | None) -> str:
    if isinstance(body, (bytes, bytearray)):
        return body[:300].decode("utf-8", "replace").strip()
    return ""


def _build(
    cls: type[ProviderError],
    message: str,
    *,
    provider: str,
    status: int | None,
    headers: Mapping[str, str],
    code: str | None,
    request_id: str | None = None,
    may_be_billed: bool = False,
) -> ProviderError:
    retryable = None
    verdict = should_retry_header(headers)
    if verdict is not None and cls is not ContentPolicyError:
        retryable = verdict
    return cls(
        scrub(message),
        provider=provider,
        status=status,
        request_id=request_id or request_id_of(headers),
        code=code,
        retryable=retryable,
        retry_after_s=parse_retry_after(headers),
        may_be_billed=may_be_billed,
        simulated=_simulated(headers),
    )


def error_from_openai(
    status: int, body: bytes | Mapping[str, Any] | None, headers: Mapping[str, str], provider: str
) -> ProviderError:
    """An OpenAI-shaped error answer (OpenAI, the gateway, LiteLLM, other compatible servers)."""
    data = _json(body)
    err = data.get("error") if isinstance(data, Mapping) else None
    if isinstance(err, Mapping):
        message = str(err.get("message") or "error without a message")
        code = str(err.get("code")) if err.get("code") is not None else None
        kind = str(err.get("type") or "")
    else:
        message = (str(err) if err else "") or _snippet(body) or f"HTTP {status} without a body"
        code, kind = None, ""
    low_code = (code or "").lower()
    policy = low_code in _POLICY_CODES or "safety system" in message.lower()
    if kind and kind not in message and not policy:
        message = f"{message} ({kind})"
    cls = _class_for(status, low_code, policy)
    return _build(cls, message, provider=provider, status=status, headers=headers, code=code)


def error_from_event(
    payload: Mapping[str, Any], headers: Mapping[str, str], provider: str, status: int = 200
) -> ProviderError:
    """An error sent inside an SSE stream (any event whose data has a truthy ``error``)."""
    return error_from_openai(status, {"error": payload.get("error")}, headers, provider)


def error_from_fal(
    status: int, body: bytes | Mapping[str, Any] | None, headers: Mapping[str, str], provider: str
) -> ProviderError:
    """One of fal's two error shapes; a 5xx is not billed, a 422 may be."""
    data = _json(body)
    detail = data.get("detail") if isinstance(data, Mapping) else None
    error_type = (data.get("error_type") if isinstance(data, Mapping) else None) or headers.get(
        "x-fal-error-type"
    )
    policy = False
    if isinstance(detail, list) and detail:
        first = detail[0] if isinstance(detail[0], Mapping) else {}
        kind = str(first.get("type") or "")
        policy = kind == "content_policy_violation"
        loc = ".".join(str(p) for p in first.get("loc") or () if p != "body")
        message = f"{loc + ': ' if loc else ''}{first.get('msg') or 'validation error'}"
        code = kind or None
    else:
        message = str(detail) if detail else (_snippet(body) or f"HTTP {status}")
        code = error_type
    cls = _class_for(status, "", policy)
    if error_type in _TIMEOUT_TYPES:
        cls = ProviderTimeoutError
    elif error_type in ("client_cancelled", "client_disconnected"):
        cls = ProviderUnavailableError
    return _build(
        cls, message, provider=provider, status=status, headers=headers, code=code, may_be_billed=status < 500
    )


def error_from_transport(
    exc: httpx.HTTPError, provider: str, *, billed_post: bool, request_id: str | None = None
) -> ProviderError:
    """A failure below HTTP: timeouts, refused or dropped connections, truncated bodies."""
    what = type(exc).__name__
    detail = scrub(str(exc)) or what
    if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        return ProviderTimeoutError(f"{what}: {detail} (request not sent)", provider=provider)
    if isinstance(exc, httpx.TimeoutException):
        billed = isinstance(exc, httpx.ReadTimeout) and billed_post
        note = " (the request was sent and may have been billed)" if billed else ""
        return ProviderTimeoutError(
            f"{what}: {detail}{note}",
            provider=provider,
            request_id=request_id,
            may_be_billed=billed,
            billed_read_timeout=billed,
        )
    if isinstance(exc, httpx.ConnectError):
        return ProviderUnavailableError(f"connection failed: {detail}", provider=provider)
    return ProviderUnavailableError(
        f"connection dropped ({what}): {detail}",
        provider=provider,
        request_id=request_id,
        may_be_billed=billed_post,
    )


def malformed(
    message: str, *, provider: str, status: int | None, headers: Mapping[str, str], billed: bool = True
) -> ProviderError:
    """A 2xx answer that does not parse or lacks required fields.

    Not retried when ``billed``: the images were generated and paid for, and a new request pays again.
    """
    return MalformedResponseError(
        scrub(message),
        provider=provider,
        status=status,
        request_id=request_id_of(headers),
        retryable=not billed,
        may_be_billed=billed,
        simulated=_simulated(headers),
    )
