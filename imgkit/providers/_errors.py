"""Provider answers and transport failures mapped onto the :class:`~imgkit.errors.ProviderError` classes.

Shapes understood (API.md §1.9, §2.5, §3.6): OpenAI's ``{"error": {message, type, param, code}}`` (also
LiteLLM's, the gateway's, whose codes are upper case, and Together's), an error event inside an SSE stream,
fal's two shapes, ``{"detail": [{loc, msg, type, ...}]}`` (model and validation errors) and ``{"detail": "...",
"error_type": "..."}`` (infrastructure errors), Google's ``{"error": {code, message, status, details}}``,
Replicate's problem details and Black Forest Labs' ``detail``. Every message carries the provider's request id and goes
through :func:`imgkit.keys.scrub`, so it never holds a key or a signed URL.

Each error says what the client needs to know (attributes declared by
:class:`~imgkit.errors.ProviderError`): ``may_be_billed`` (the request reached the provider and the bill is
unknown: a read timeout, a dropped or malformed response, a fal 422), ``billed_read_timeout`` (a read timeout
of an image POST, not retried by default) and ``simulated`` (the answer came from imgkit's simulator).
"""

from __future__ import annotations

import json
import re
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
    "error_from_bfl",
    "error_from_event",
    "error_from_fal",
    "error_from_google",
    "error_from_openai",
    "error_from_replicate",
    "error_from_transport",
    "job_error",
    "malformed",
    "request_id_of",
]

_POLICY_CODES = {"moderation_blocked", "content_policy_violation", "content_filter"}
_TIMEOUT_TYPES = {"request_timeout", "startup_timeout", "runner_connection_timeout"}


def request_id_of(headers: Mapping[str, str]) -> str | None:
    return headers.get("x-request-id") or headers.get("x-fal-request-id") or headers.get("x-litellm-call-id")


def _simulated(headers: Mapping[str, str] | None) -> bool:
    """Whether an answer came from imgkit's simulator (it marks every response)."""
    return headers is not None and headers.get("x-imgkit-simulated") == "true"


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


def _validation(detail: list[Any]) -> tuple[str, str | None]:
    """The first item of a FastAPI-style ``detail`` list as ``"field: message"`` and its ``type``."""
    first = detail[0] if isinstance(detail[0], Mapping) else {}
    loc = ".".join(str(p) for p in first.get("loc") or () if p != "body")
    return f"{loc + ': ' if loc else ''}{first.get('msg') or 'validation error'}", str(
        first.get("type") or ""
    ) or None


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


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
    retry_after_s: float | None = None,
) -> ProviderError:
    """The error of class ``cls``; the retry hint is the headers', else ``retry_after_s`` (from the body)."""
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
        retry_after_s=_first(parse_retry_after(headers), retry_after_s),
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
        message, code = _validation(detail)
        policy = code == "content_policy_violation"
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


#: words of a Google 400 that is a safety refusal (Imagen's "Responsible AI" answers carry support codes)
_GOOGLE_POLICY = re.compile(r"responsible ai|safety|support codes|prohibited|blocked", re.IGNORECASE)
#: ErrorInfo reasons of a Google 400 that is about the key
_GOOGLE_KEY_REASONS = {"API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED"}


def _google_retry_delay(details: Any) -> float | None:
    """The delay of a ``google.rpc.RetryInfo`` detail (``"2s"``, ``"1.5s"``), in seconds."""
    for item in details if isinstance(details, list) else ():
        if isinstance(item, Mapping) and str(item.get("@type", "")).endswith("google.rpc.RetryInfo"):
            delay = str(item.get("retryDelay") or "")
            try:
                return float(delay.removesuffix("s")) if delay.endswith("s") else None
            except ValueError:
                return None
    return None


def error_from_google(
    status: int, body: bytes | Mapping[str, Any] | None, headers: Mapping[str, str], provider: str
) -> ProviderError:
    """Google's ``{"error": {code, message, status, details}}`` (Gemini API, Vertex AI): a 400 about safety
    is a content-policy refusal, one about the key (``ErrorInfo.reason``) an authentication error; a
    ``RetryInfo`` delay is the retry hint when no ``Retry-After`` header is sent."""
    data = _json(body)
    err = data.get("error") if isinstance(data, Mapping) else None
    if isinstance(err, Mapping):
        message = str(err.get("message") or "error without a message")
        code = str(err.get("status")) if err.get("status") else None
        details = err.get("details")
    else:
        message, code, details = _snippet(body) or f"HTTP {status} without a body", None, None
    reasons = {
        str(d.get("reason"))
        for d in (details if isinstance(details, list) else ())
        if isinstance(d, Mapping) and d.get("reason")
    }
    key_problem = bool(reasons & _GOOGLE_KEY_REASONS)
    policy = status == 400 and not key_problem and bool(_GOOGLE_POLICY.search(message))
    cls = AuthenticationError if key_problem else _class_for(status, "", policy)
    return _build(
        cls,
        message,
        provider=provider,
        status=status,
        headers=headers,
        code=next(iter(reasons & _GOOGLE_KEY_REASONS), None) or code,
        retry_after_s=_google_retry_delay(details),
    )


def error_from_replicate(
    status: int, body: bytes | Mapping[str, Any] | None, headers: Mapping[str, str], provider: str
) -> ProviderError:
    """Replicate's problem details (``type``, ``title``, ``status``, ``detail``, and ``invalid_fields`` of a 422)."""
    data = _json(body)
    if isinstance(data, Mapping) and (data.get("detail") or data.get("title")):
        message = str(data.get("detail") or data.get("title")).strip()
        fields = data.get("invalid_fields")
        if isinstance(fields, list) and fields and isinstance(fields[0], Mapping):
            message = f"{fields[0].get('field')}: {fields[0].get('description')}"
        code = str(data.get("title")) if data.get("title") else None
    else:
        message, code = _snippet(body) or f"HTTP {status} without a body", None
    cls = _class_for(status, "", False)
    return _build(cls, message, provider=provider, status=status, headers=headers, code=code)


def error_from_bfl(
    status: int, body: bytes | Mapping[str, Any] | None, headers: Mapping[str, str], provider: str
) -> ProviderError:
    """Black Forest Labs' errors: ``{"detail": "..."}``, FastAPI's 422 ``{"detail": [{loc, msg, type}]}``, or
    ``{"error", "message", "retry_after"}``; 402 is insufficient credits (not retried)."""
    data = _json(body)
    detail = data.get("detail") if isinstance(data, Mapping) else None
    retry_after = None
    if isinstance(detail, list) and detail:
        message, code = _validation(detail)
    elif isinstance(data, Mapping) and (detail or data.get("message") or data.get("error")):
        message = str(detail or data.get("message") or data.get("error"))
        code = str(data["error"]) if isinstance(data.get("error"), str) and data.get("message") else None
        hint = data.get("retry_after")
        if isinstance(hint, int | float) and not isinstance(hint, bool):
            retry_after = float(hint)
    else:
        message, code = _snippet(body) or f"HTTP {status} without a body", None
    if status == 402:
        code = code or "insufficient_credits"
    cls = _class_for(status, "", False)
    return _build(
        cls,
        message,
        provider=provider,
        status=status,
        headers=headers,
        code=code,
        retry_after_s=retry_after,
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


def job_error(
    cls: type[ProviderError],
    message: str,
    *,
    provider: str,
    resp: httpx.Response,
    job_id: str | None,
    code: str | None,
    may_be_billed: bool = True,
    retryable: bool | None = None,
) -> ProviderError:
    """An error a provider reports inside a successful answer (a failed prediction or task, a safety block
    in an HTTP 200): the job's id, its status and whether it may have been billed."""
    return cls(
        scrub(message),
        provider=provider,
        status=resp.status_code,
        request_id=job_id or None,
        code=code,
        retryable=retryable,
        may_be_billed=may_be_billed,
        simulated=_simulated(resp.headers),
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
