"""Batch APIs: many image requests in one file, answered within a window at the batch price.

:class:`OpenAIBatchAPI` speaks OpenAI's Files and Batches APIs (research note protocols.md §6): one JSON Lines
file per batch (``custom_id`` = the item id, ``method`` POST, ``url`` the Images endpoint, ``body`` the
resolved request body; edits use the JSON edit body, ``images: [{"image_url": "data:…"}]``, since a line
cannot carry multipart), uploaded with ``purpose=batch``, a batch created on it (``completion_window: 24h``,
``metadata`` naming the run and the batch key), polled, then its output and error files read line by line.
:class:`GeminiBatchAPI` speaks the Gemini API's Batch Mode the same way (its class doc): ``{"key",
"request"}`` lines uploaded through the Files API, ``models/{model}:batchGenerateContent``, the operation
``batches/{id}``, the responses file; :func:`batch_api_class` picks the API by the provider's catalog adapter.

:class:`BatchStatus` is a batch as imgkit sees it, whatever the provider: its state (OpenAI's names:
``validating``, ``in_progress``, ``finalizing``, ``completed``, ``failed``, ``expired``, ``cancelling``,
``cancelled``), request counts, times and result files. :class:`BatchAnswer` is one line of a result file.

:class:`BatchClient` turns items into lines and answers into what the interactive client produces for a
request: images stored by sha256, one attempt record with usage and the exact cost at the batch price
(:func:`imgkit.pricing.bill_response` ``batch=True``), errors classified like interactive failures
(:func:`~imgkit.providers.error_from_openai`, or Google's shapes; a line that never ran because the window ended is a
:class:`~imgkit.errors.BatchExpiredError`, one of a cancelled batch ``cancelled``; neither is billed).

Crash safety is the caller's (:mod:`imgkit.runs.batch`): uploads are named ``imgkit-<run>-<key>.jsonl`` and
batches carry ``metadata`` ``{"imgkit_run": run, "imgkit_batch": key}``, so :meth:`OpenAIBatchAPI.find_upload`
and :meth:`OpenAIBatchAPI.find` recognise what an earlier process created before it could write it down.
"""

from __future__ import annotations

import asyncio
import binascii
import datetime as dt
import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from imgkit.catalog import Provider
from imgkit.errors import (
    BatchExpiredError,
    ImgkitError,
    InvalidParameterError,
    MalformedResponseError,
    PricingError,
    ProviderError,
    RateLimitError,
)
from imgkit.keys import Secret
from imgkit.params import ResolvedRequest
from imgkit.pricing import Cost, bill_response
from imgkit.providers._errors import (
    error_from_google,
    error_from_openai,
    error_from_transport,
    malformed,
    request_id_of,
)
from imgkit.providers._google import candidates_output, with_inline_inputs
from imgkit.providers._http import InputFile, auth_headers, decode_b64, download_image
from imgkit.providers._retry import RetryPolicy
from imgkit.providers._types import CallOutput, RawImage, Timings
from imgkit.records.schema import OUTCOME_CANCELLED

__all__ = [
    "BATCH_STATES",
    "ENDED_STATES",
    "LIVE_STATES",
    "BatchAnswer",
    "BatchClient",
    "BatchLimits",
    "BatchOutcome",
    "BatchStatus",
    "GeminiBatchAPI",
    "OpenAIBatchAPI",
    "batch_api_class",
    "batch_endpoint",
    "gemini_batch_answer",
    "gemini_batch_status",
]

BATCH_STATES = (
    "validating",
    "in_progress",
    "finalizing",
    "completed",
    "failed",
    "expired",
    "cancelling",
    "cancelled",
)
#: states of a batch still running (it may yet bill)
LIVE_STATES = frozenset({"validating", "in_progress", "finalizing", "cancelling"})
#: states of a batch that has ended (its result files, if any, are final)
ENDED_STATES = frozenset({"completed", "failed", "expired", "cancelled"})
#: error codes of a batch's validation that say "not now" rather than "not this file"
_RETRYABLE_VALIDATION = frozenset({"token_limit_exceeded", "rate_limit_exceeded"})
_ENDPOINTS = {"generate": "/v1/images/generations", "edit": "/v1/images/edits"}
NEWLINE = b"\n"


def batch_endpoint(resolved: ResolvedRequest) -> str:
    """The Batch API ``endpoint`` of a resolved request: OpenAI's Images path (each line's ``url`` too), or the
    Gemini API's ``models/{model}:batchGenerateContent``."""
    if resolved.provider.adapter == "gemini":
        return resolved.endpoint.lstrip("/").replace(":generateContent", ":batchGenerateContent")
    return _ENDPOINTS[resolved.mode]


@dataclass(frozen=True)
class BatchLimits:
    """What one batch may hold: requests and input-file bytes (OpenAI: 50,000 and 200 MB)."""

    max_requests: int = 50_000
    max_bytes: int = 200 * 1024 * 1024


def _time(value: Any) -> dt.datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return dt.datetime.fromtimestamp(value, dt.UTC)
    return None


@dataclass(frozen=True)
class BatchStatus:
    """A batch as imgkit sees it (module doc); ``raw`` is the provider's object."""

    id: str
    state: str
    total: int = 0
    completed: int = 0
    failed: int = 0
    created_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: tuple[str, ...] = ()
    error_codes: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    @property
    def ended(self) -> bool:
        return self.state in ENDED_STATES

    def describe(self) -> str:
        """One phrase for a progress line: ``in_progress 12/40 (1 failed)``."""
        if self.state in ("in_progress", "finalizing", "cancelling") and self.total:
            failed = f" ({self.failed} failed)" if self.failed else ""
            return f"{self.state} {self.completed + self.failed}/{self.total}{failed}"
        return self.state

    @classmethod
    def from_openai(cls, obj: Mapping[str, Any]) -> BatchStatus:
        counts = obj.get("request_counts") or {}
        state = str(obj.get("status") or "")
        errors = ((obj.get("errors") or {}).get("data")) or []
        ended = next(
            (
                _time(obj.get(f"{s}_at"))
                for s in ("completed", "failed", "expired", "cancelled")
                if obj.get(f"{s}_at")
            ),
            None,
        )
        return cls(
            id=str(obj.get("id")),
            state=state,
            total=int(counts.get("total") or 0),
            completed=int(counts.get("completed") or 0),
            failed=int(counts.get("failed") or 0),
            created_at=_time(obj.get("created_at")),
            ended_at=ended,
            output_file_id=obj.get("output_file_id"),
            error_file_id=obj.get("error_file_id"),
            errors=tuple(
                f"{e.get('code')}: {e.get('message')}" + (f" (line {e['line']})" if e.get("line") else "")
                for e in errors
                if isinstance(e, Mapping)
            ),
            error_codes=tuple(str(e.get("code")) for e in errors if isinstance(e, Mapping)),
            metadata=dict(obj.get("metadata") or {}),
            raw=dict(obj),
        )


@dataclass(frozen=True)
class BatchAnswer:
    """One line of a batch's output or error file."""

    custom_id: str
    status: int | None  # the HTTP status its request got; None: it never ran
    body: Mapping[str, Any] | None  # the response body, or the error envelope
    error: Mapping[str, Any] | None  # why it never ran (code, message)
    request_id: str | None = None

    @classmethod
    def from_openai(cls, line: Mapping[str, Any]) -> BatchAnswer:
        response = line.get("response")
        if isinstance(response, Mapping):
            body = response.get("body")
            return cls(
                str(line.get("custom_id")),
                int(response.get("status_code") or 0),
                body if isinstance(body, Mapping) else None,
                line.get("error") if isinstance(line.get("error"), Mapping) else None,
                response.get("request_id"),
            )
        error = line.get("error")
        return cls(str(line.get("custom_id")), None, None, error if isinstance(error, Mapping) else {})


class OpenAIBatchAPI:
    """OpenAI's Files and Batches APIs at ``base_url`` (``…/v1``), with ``key`` (module doc).

    Reads (retrieve, list, file content) are retried on retryable errors by ``retry``; writes (upload, create,
    cancel) are not: their caller recovers through :meth:`find_upload` and :meth:`find` instead.
    """

    kind = "openai"
    limits = BatchLimits()
    #: the field of a result line that names its request
    key_field = "custom_id"

    def __init__(
        self,
        http: httpx.AsyncClient,
        provider: Provider,
        base_url: str,
        key: Secret | None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.http, self.provider, self.key = http, provider, key
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy(max_attempts=5)

    # --- lines --------------------------------------------------------------------------------------------

    @classmethod
    def encode_line(
        cls,
        custom_id: str,
        resolved: ResolvedRequest,
        body: Mapping[str, Any],
        inputs: tuple[InputFile, ...] = (),
        mask: InputFile | None = None,
        data_uris: Mapping[str, str] | None = None,
    ) -> bytes:
        """One line of the input file; edit inputs as ``data:`` URLs (``data_uris``: name -> data URL, made
        once per image for a whole file; without it each is encoded here)."""
        uri: Callable[[InputFile], str] = (
            (lambda f: data_uris[f.name]) if data_uris is not None else InputFile.data_uri
        )
        line = cls._line(custom_id, resolved, dict(body), inputs, mask, uri)
        return json.dumps(line, separators=(",", ":"), ensure_ascii=False).encode() + NEWLINE

    @staticmethod
    def _line(
        custom_id: str,
        resolved: ResolvedRequest,
        payload: dict[str, Any],
        inputs: tuple[InputFile, ...],
        mask: InputFile | None,
        uri: Callable[[InputFile], str],
    ) -> dict[str, Any]:
        """``custom_id``, ``method``, ``url`` and ``body``; edits carry their images in the JSON edit body."""
        if resolved.mode == "edit":
            payload["images"] = [{"image_url": uri(f)} for f in inputs]
            if mask is not None:
                payload["mask"] = {"image_url": uri(mask)}
        return {"custom_id": custom_id, "method": "POST", "url": batch_endpoint(resolved), "body": payload}

    # --- HTTP ---------------------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {"accept": "application/json"}
        if self.key is not None:
            headers["authorization"] = f"Bearer {self.key.reveal()}"
        return headers

    async def _call(
        self,
        method: str,
        path: str,
        *,
        read: bool,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
        **kw: Any,
    ) -> httpx.Response:
        """One request to ``path`` under the base URL (or ``url``; reads retried, module doc); an error answer
        raises its ProviderError."""
        attempt = 0
        while True:
            attempt += 1
            try:
                resp = await self.http.request(
                    method,
                    url or f"{self.base_url}{path}",
                    headers={**self._headers(), **(headers or {})},
                    **kw,
                )
                if resp.status_code < 400:
                    return resp
                error = self._error(resp.status_code, resp.content, resp.headers)
            except httpx.HTTPError as exc:
                error = error_from_transport(exc, self.provider.id, billed_post=not read)
            if not read or not self.retry.should_retry(error, attempt):
                raise error
            await asyncio.sleep(self.retry.delay_s(attempt - 1, error.retry_after_s))

    def _error(self, status: int, body: Any, headers: Mapping[str, str]) -> ProviderError:
        return error_from_openai(status, body, headers, self.provider.id)

    async def _json(self, method: str, path: str, *, read: bool, **kw: Any) -> dict[str, Any]:
        resp = await self._call(method, path, read=read, **kw)
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise self._malformed(f"{method} {path}: the answer is not a JSON object", resp)
        return body

    def _malformed(self, message: str, resp: httpx.Response) -> ProviderError:
        """An answer of the batch API that does not parse (nothing was billed for reading it)."""
        return malformed(
            message, provider=self.provider.id, status=resp.status_code, headers=resp.headers, billed=False
        )

    async def upload(self, path: Path, filename: str) -> str:
        """Upload a JSON Lines file with ``purpose=batch``; its file id."""
        with path.open("rb") as fh:
            obj = await self._json(
                "POST",
                "/files",
                read=False,
                data={"purpose": "batch"},
                files={"file": (filename, fh, "application/jsonl")},
            )
        return str(obj["id"])

    async def find_upload(self, filename: str, size: int | None = None) -> str | None:
        """The id of an uploaded batch file named ``filename`` (of ``size`` bytes when given), if any."""
        after: str | None = None
        while True:
            params = {"purpose": "batch", "limit": "10000", **({"after": after} if after else {})}
            page = await self._json("GET", "/files", read=True, params=params)
            for obj in page.get("data") or []:
                if obj.get("filename") == filename and (size is None or obj.get("bytes") == size):
                    return str(obj["id"])
            data = page.get("data") or []
            if not page.get("has_more") or not data:
                return None
            after = str(data[-1]["id"])

    async def create(self, file_id: str, endpoint: str, metadata: Mapping[str, str]) -> BatchStatus:
        obj = await self._json(
            "POST",
            "/batches",
            read=False,
            json={
                "input_file_id": file_id,
                "endpoint": endpoint,
                "completion_window": "24h",
                "metadata": dict(metadata),
            },
        )
        return BatchStatus.from_openai(obj)

    async def retrieve(self, batch_id: str) -> BatchStatus:
        return BatchStatus.from_openai(await self._json("GET", f"/batches/{batch_id}", read=True))

    async def cancel(self, batch_id: str) -> BatchStatus:
        return BatchStatus.from_openai(await self._json("POST", f"/batches/{batch_id}/cancel", read=False))

    async def find(self, metadata: Mapping[str, str], since: dt.datetime | None = None) -> BatchStatus | None:
        """The newest batch whose metadata holds every pair of ``metadata`` (listing newest first, back to
        ``since`` minus an hour of clock skew), or ``None``."""
        floor = since - dt.timedelta(hours=1) if since is not None else None
        after: str | None = None
        while True:
            params = {"limit": "100", **({"after": after} if after else {})}
            page = await self._json("GET", "/batches", read=True, params=params)
            data = page.get("data") or []
            for obj in data:
                meta = obj.get("metadata") or {}
                if all(meta.get(k) == v for k, v in metadata.items()):
                    return BatchStatus.from_openai(obj)
            oldest = _time(data[-1].get("created_at")) if data else None
            if not page.get("has_more") or not data or (floor and oldest and oldest < floor):
                return None
            after = str(data[-1]["id"])

    async def answers(self, status: BatchStatus) -> AsyncIterator[tuple[BatchAnswer, Mapping[str, str]]]:
        """Every line of the batch's output file, then of its error file, parsed as it arrives (a file of
        any size in constant memory), with the download's response headers."""
        for file_id in (status.output_file_id, status.error_file_id):
            if not file_id:
                continue
            async for line, headers in self._lines(file_id):
                yield BatchAnswer.from_openai(line), headers

    def _content_url(self, file_id: str) -> str:
        return f"{self.base_url}/files/{file_id}/content"

    async def _lines(self, file_id: str) -> AsyncIterator[tuple[dict[str, Any], Mapping[str, str]]]:
        """The parsed lines of one file; a download that breaks off is read again (retry policy), skipping
        the lines already yielded (a result file never changes)."""
        url = self._content_url(file_id)
        yielded = attempt = 0
        while True:
            attempt += 1
            number = 0
            try:
                async with self.http.stream("GET", url, headers=self._headers()) as resp:
                    if resp.status_code >= 400:
                        raise self._error(resp.status_code, await resp.aread(), resp.headers)
                    async for text in resp.aiter_lines():
                        if not text.strip():
                            continue
                        number += 1
                        if number <= yielded:
                            continue
                        try:
                            line = json.loads(text)
                        except ValueError:
                            line = None
                        if not isinstance(line, dict) or self.key_field not in line:
                            raise self._malformed(
                                f"line {number} of batch file {file_id} is not a JSON object with a "
                                f"{self.key_field}",
                                resp,
                            )
                        yielded = number
                        yield line, resp.headers
                    return
            except httpx.HTTPError as exc:
                error = error_from_transport(exc, self.provider.id, billed_post=False)
            except ProviderError as exc:
                if isinstance(exc, MalformedResponseError):
                    raise
                error = exc
            if not self.retry.should_retry(error, attempt):
                raise error
            await asyncio.sleep(self.retry.delay_s(attempt - 1, error.retry_after_s))


#: Gemini Batch Mode states as imgkit names them (OpenAI's names: :data:`BATCH_STATES`)
_GEMINI_STATES = {
    "BATCH_STATE_PENDING": "validating",
    "BATCH_STATE_RUNNING": "in_progress",
    "BATCH_STATE_SUCCEEDED": "completed",
    "BATCH_STATE_FAILED": "failed",
    "BATCH_STATE_CANCELLED": "cancelled",
    "BATCH_STATE_EXPIRED": "expired",
}
#: a result's error status that says its request never ran: the batch expired, or was cancelled
_GEMINI_NEVER_RAN = {"DEADLINE_EXCEEDED": "batch_expired", "CANCELLED": "batch_cancelled"}


def _rfc3339(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _count_of(stats: Mapping[str, Any], name: str) -> int:
    try:
        return int(stats.get(name) or 0)  # int64 counts come as strings
    except (TypeError, ValueError):
        return 0


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def gemini_batch_status(op: Mapping[str, Any]) -> BatchStatus:
    """A Gemini batch operation (``batches/{id}``: its ``GenerateContentBatch`` metadata) as imgkit's status."""
    meta: Mapping[str, Any] = _mapping(op.get("metadata"))
    stats: Mapping[str, Any] = _mapping(meta.get("batchStats"))
    output: Mapping[str, Any] = _mapping(meta.get("output") or op.get("response"))
    error: Mapping[str, Any] | None = op["error"] if isinstance(op.get("error"), Mapping) else None
    state = _GEMINI_STATES.get(str(meta.get("state") or ""), str(meta.get("state") or "").lower())
    return BatchStatus(
        id=str(op.get("name")),
        state=state,
        total=_count_of(stats, "requestCount"),
        completed=_count_of(stats, "successfulRequestCount"),
        failed=_count_of(stats, "failedRequestCount"),
        created_at=_rfc3339(meta.get("createTime")),
        ended_at=_rfc3339(meta.get("endTime")),
        output_file_id=output.get("responsesFile"),
        errors=(str(error.get("message")),) if error else (),
        error_codes=(str(error.get("status") or error.get("code")),) if error else (),
        metadata={"display_name": str(meta.get("displayName") or "")},
        raw=dict(op),
    )


def gemini_batch_answer(line: Mapping[str, Any], key: str | None = None) -> BatchAnswer:
    """One result of a Gemini batch (``{"key", "response"}`` or ``{"key", "error"}``; inline results carry the
    key in their ``metadata``): an error whose status says the request never ran has no status of its own."""
    key = key if key is not None else str(line.get("key"))
    error = line.get("error")
    if isinstance(error, Mapping):
        never = _GEMINI_NEVER_RAN.get(str(error.get("status")))
        if never is not None:
            return BatchAnswer(key, None, None, {"code": never, "message": str(error.get("message") or "")})
        code = error.get("code")
        status = code if isinstance(code, int) and not isinstance(code, bool) and code >= 400 else 500
        return BatchAnswer(key, status, {"error": dict(error)}, None)
    response = line.get("response")
    return BatchAnswer(key, 200, response if isinstance(response, Mapping) else None, None)


class GeminiBatchAPI(OpenAIBatchAPI):
    """The Gemini API's Batch Mode and Files API at ``base_url`` (``…/v1beta``), with ``key``.

    Each batch is a JSON Lines file (``{"key": item id, "request": the GenerateContentRequest}``, edit inputs
    as ``inlineData`` parts) uploaded through the Files API's resumable protocol (display name
    ``imgkit-<run>-<key>.jsonl``), a batch created on it by ``models/{model}:batchGenerateContent`` (display
    name ``imgkit <run> <key>``: :meth:`find` recognises it), its operation ``batches/{id}`` polled, then its
    responses file read line by line (or its inline responses). Google publishes no request cap per batch; an
    input file may hold 2 GB (the Files API's limit).
    """

    kind = "gemini"
    limits = BatchLimits(max_requests=50_000, max_bytes=2 * 1024**3)
    key_field = "key"

    @staticmethod
    def _line(
        custom_id: str, resolved: ResolvedRequest, payload: dict[str, Any], inputs, mask, uri
    ) -> dict[str, Any]:
        """The item id as ``key``, the request with its edit inputs as ``inlineData`` parts."""
        return {"key": custom_id, "request": with_inline_inputs(payload, inputs, uri)}

    @staticmethod
    def display_name(metadata: Mapping[str, str]) -> str:
        """The batch's display name that carries ``metadata`` (``imgkit <run> <key>``)."""
        return " ".join(("imgkit", *metadata.values()))

    @property
    def root(self) -> str:
        """The API's root: the base URL without its version (uploads go to ``{root}/upload/{version}``)."""
        head, _, version = self.base_url.rpartition("/")
        return head if version.startswith("v1") else self.base_url

    @property
    def version(self) -> str:
        tail = self.base_url.rpartition("/")[2]
        return tail if tail.startswith("v1") else "v1beta"

    def _headers(self) -> dict[str, str]:
        return {"accept": "application/json", **auth_headers(self.provider, self.key)}

    def _error(self, status: int, body: Any, headers: Mapping[str, str]) -> ProviderError:
        return error_from_google(status, body, headers, self.provider.id)

    def _content_url(self, file_id: str) -> str:
        return f"{self.base_url}/{file_id}:download?alt=media"

    async def upload(self, path: Path, filename: str) -> str:
        """The Files API's resumable upload: start (size, type, display name), then upload and finalize."""
        size = path.stat().st_size
        start = await self._call(
            "POST",
            "",
            read=False,
            url=f"{self.root}/upload/{self.version}/files",
            headers={
                "x-goog-upload-protocol": "resumable",
                "x-goog-upload-command": "start",
                "x-goog-upload-header-content-length": str(size),
                "x-goog-upload-header-content-type": "application/jsonl",
            },
            json={"file": {"displayName": filename, "mimeType": "application/jsonl"}},
        )
        url = start.headers.get("x-goog-upload-url")
        if not url:
            raise self._malformed("the upload's start answered no x-goog-upload-url", start)
        done = await self._call(
            "POST",
            "",
            read=False,
            url=url,
            headers={"x-goog-upload-command": "upload, finalize", "x-goog-upload-offset": "0"},
            content=path.read_bytes(),
        )
        try:
            file = done.json()["file"]
            return str(file["name"])
        except (ValueError, KeyError, TypeError):
            raise self._malformed("the upload's finalize answered no file", done) from None

    async def find_upload(self, filename: str, size: int | None = None) -> str | None:
        token: str | None = None
        while True:
            params = {"pageSize": "100", **({"pageToken": token} if token else {})}
            page = await self._json("GET", "/files", read=True, params=params)
            for obj in page.get("files") or []:
                if obj.get("displayName") == filename and (
                    size is None or str(obj.get("sizeBytes")) == str(size)
                ):
                    return str(obj["name"])
            token = page.get("nextPageToken")
            if not token:
                return None

    async def create(self, file_id: str, endpoint: str, metadata: Mapping[str, str]) -> BatchStatus:
        body = {"batch": {"displayName": self.display_name(metadata), "inputConfig": {"fileName": file_id}}}
        return gemini_batch_status(await self._json("POST", f"/{endpoint}", read=False, json=body))

    async def retrieve(self, batch_id: str) -> BatchStatus:
        return gemini_batch_status(await self._json("GET", f"/{batch_id}", read=True))

    async def cancel(self, batch_id: str) -> BatchStatus:
        await self._call("POST", f"/{batch_id}:cancel", read=False)
        return await self.retrieve(batch_id)

    async def find(self, metadata: Mapping[str, str], since: dt.datetime | None = None) -> BatchStatus | None:
        """The newest batch whose display name carries ``metadata`` (listing newest first, back to ``since``
        minus an hour of clock skew), or ``None``."""
        name = self.display_name(metadata)
        floor = since - dt.timedelta(hours=1) if since is not None else None
        token: str | None = None
        while True:
            params = {"pageSize": "100", **({"pageToken": token} if token else {})}
            page = await self._json("GET", "/batches", read=True, params=params)
            ops = [gemini_batch_status(op) for op in page.get("operations") or [] if isinstance(op, Mapping)]
            for status in ops:
                if status.metadata.get("display_name") == name:
                    return status
            token = page.get("nextPageToken")
            oldest = ops[-1].created_at if ops else None
            if not token or (floor and oldest and oldest < floor):
                return None

    async def answers(self, status: BatchStatus) -> AsyncIterator[tuple[BatchAnswer, Mapping[str, str]]]:
        """Every result: the responses file's lines as they arrive, else the inline responses."""
        if status.output_file_id:
            async for line, headers in self._lines(status.output_file_id):
                yield gemini_batch_answer(line), headers
            return
        meta = status.raw.get("metadata") or {}
        inline = ((meta.get("output") or {}).get("inlinedResponses") or {}).get("inlinedResponses") or []
        for index, item in enumerate(inline):
            key = str(((item.get("metadata") or {}).get("key")) if isinstance(item, Mapping) else index)
            yield gemini_batch_answer(item if isinstance(item, Mapping) else {}, key), {}


@dataclass
class BatchOutcome:
    """One batched request answered: the attempt record, its images, bill and error (``None``: ok)."""

    record: dict[str, Any]
    cost: Cost
    error: ProviderError | None

    @property
    def ok(self) -> bool:
        return self.error is None


class _Span:
    """A finished attempt's times, as the client's record builder reads an attempt clock."""

    __slots__ = ("_timings",)

    def __init__(self, started_at: dt.datetime, ended_at: dt.datetime) -> None:
        self._timings = Timings(started_at, None, None, max(ended_at, started_at))

    def timings(self) -> Timings:
        return self._timings

    @property
    def started_at(self) -> dt.datetime:
        return self._timings.started_at


#: the batch API of each catalog adapter that has one imgkit speaks
BATCH_APIS: dict[str, type[OpenAIBatchAPI]] = {"openai": OpenAIBatchAPI, "gemini": GeminiBatchAPI}


def batch_api_class(provider: Provider) -> type[OpenAIBatchAPI]:
    """The batch API class of ``provider``'s adapter (``InvalidParameterError`` when it has none)."""
    cls = BATCH_APIS.get(provider.adapter)
    if cls is None:
        raise InvalidParameterError(
            "batch",
            True,
            "providers with a Batch API imgkit speaks: OpenAI's, the Gemini API's",
            context=provider.id,
        )
    return cls


@dataclass(frozen=True)
class _Answered:
    """A batch result's status and headers, where the interactive parsers read a response's."""

    status_code: int
    headers: Mapping[str, str]


class BatchClient:
    """Items into batch lines, batch answers into stored images and attempt records (module doc).

    ``images``: the :class:`~imgkit.providers.ImageClient` whose keys, base URLs, store, catalog and HTTP
    client are used, and whose record builder writes the same columns as an interactive attempt.
    """

    def __init__(self, images: Any) -> None:
        self.images = images

    def api(self, provider: Provider) -> OpenAIBatchAPI:
        """The batch API of ``provider`` (its key read now, at call time)."""
        return batch_api_class(provider)(
            self.images.http_client(), provider, self.images.base_url(provider), self.images.keys(provider)
        )

    def simulated(self, provider: Provider) -> bool:
        return self.images.is_simulated(self.images.base_url(provider))

    def prepare(self, resolved: ResolvedRequest, *, item_id: str, run_id: str, labels: Mapping[str, Any]):
        """What every record of one batched request shares (the client's request context)."""
        return self.images.prepare(resolved, item_id=item_id, run_id=run_id, labels=labels)

    def line(self, ctx: Any, data_uris: Mapping[str, str] | None = None) -> bytes:
        """The input-file line of a prepared request."""
        return batch_api_class(ctx.provider).encode_line(
            ctx.item_id, ctx.resolved, ctx.resolved.body, ctx.inputs, ctx.mask, data_uris
        )

    async def outcome(
        self,
        ctx: Any,
        answer: BatchAnswer,
        *,
        batch_id: str,
        attempt: int,
        started_at: dt.datetime,
        ended_at: dt.datetime,
        quoted: Any,
        headers: Mapping[str, str],
    ) -> BatchOutcome:
        """Store the images of one answer and build its attempt record (bill at the batch price)."""
        provider = ctx.provider.id
        span = _Span(started_at, ended_at)
        output: CallOutput | None = None
        images: list[Any] = []
        error: ProviderError | None = None
        self.images.note_simulated(ctx.base_url, headers)
        line_headers = {"x-imgkit-simulated": headers.get("x-imgkit-simulated", "")}
        if answer.request_id:
            line_headers["x-request-id"] = answer.request_id
        if answer.status is None:
            code = str((answer.error or {}).get("code") or "")
            message = str((answer.error or {}).get("message") or "the request never ran")
            if code == "batch_cancelled":
                error = ProviderError(message, provider=provider, code=code, simulated=_sim(headers))
            else:
                error = BatchExpiredError(
                    message, provider=provider, code=code or None, simulated=_sim(headers)
                )
        elif answer.status >= 400 or answer.body is None:
            mapper = error_from_google if ctx.provider.adapter == "gemini" else error_from_openai
            error = mapper(answer.status, answer.body, line_headers, provider)
        else:
            try:
                if ctx.provider.adapter == "gemini":
                    output = candidates_output(provider, _Answered(answer.status, line_headers), answer.body)
                else:
                    output = await self._output(ctx, answer, headers)
                images = await self.images.store_output(output, ctx.resolved)
            except ProviderError as exc:
                error, output = exc, None
            except InvalidParameterError as exc:
                error = malformed(
                    f"the provider's image is unusable: {exc}",
                    provider=provider,
                    status=answer.status,
                    headers=headers,
                )
                output = None
        cost = self._cost(ctx, output, error, span.started_at)
        record = self.images.attempt_record(
            ctx,
            ctx.item_id,
            attempt,
            True,
            span,
            ctx.resolved.body,
            ctx.resolved.n,
            output,
            images,
            error,
            cost,
            quoted,
        )
        record["batch_id"] = batch_id
        if (
            answer.status is None
            and answer.error is not None
            and str(answer.error.get("code")) == "batch_cancelled"
        ):
            record["outcome"] = OUTCOME_CANCELLED
        return BatchOutcome(record, cost, error)

    async def _output(self, ctx: Any, answer: BatchAnswer, headers: Mapping[str, str]) -> CallOutput:
        body = answer.body or {}
        provider = ctx.provider.id
        bad = dict(provider=provider, status=answer.status, headers=headers)
        data = body.get("data")
        if not isinstance(data, list) or not data:
            raise malformed("the batch answer has no data[] images", **bad)
        images: list[RawImage] = []
        for index, item in enumerate(data):
            if not isinstance(item, Mapping):
                raise malformed(f"data[{index}] is not an object", **bad)
            if item.get("b64_json"):
                try:
                    images.append(RawImage(decode_b64(item["b64_json"])))
                except (binascii.Error, ValueError, TypeError, UnicodeEncodeError):
                    raise malformed(f"data[{index}].b64_json is not base64", **bad) from None
            elif item.get("url"):
                images.append(
                    await download_image(
                        self.images.http_client(), item["url"], self.images.downloads, provider=provider
                    )
                )
            else:
                raise malformed(f"data[{index}] has neither b64_json nor url", **bad)
        slim = dict(body)
        slim["data"] = [{k: v for k, v in i.items() if k not in ("b64_json", "url")} for i in data]
        usage = body.get("usage")
        return CallOutput(
            answer.status or 200,
            headers,
            images,
            slim,
            request_id=answer.request_id or request_id_of(headers),
            usage=usage if isinstance(usage, Mapping) else None,
        )

    def error_outcome(
        self,
        ctx: Any,
        error: ProviderError,
        *,
        batch_id: str | None,
        attempt: int,
        started_at: dt.datetime,
        ended_at: dt.datetime,
        quoted: Any,
        billed_unknown: bool = False,
    ) -> BatchOutcome:
        """The attempt record of a batched request that got no answer of its own: its batch failed
        validation or was never created (not billed), or its batch ended without naming it
        (``billed_unknown``: its bill is unknown, its quote counts)."""
        if billed_unknown:
            cost = Cost(None, None, None, "unknown", (), (), f"{error.error_class}: no answer for it")
        else:
            zero = Decimal(0)
            cost = Cost(zero, zero, zero, "not_billed", (), (f"{error.error_class}: nothing ran",))
        record = self.images.attempt_record(
            ctx,
            ctx.item_id,
            attempt,
            True,
            _Span(started_at, ended_at),
            ctx.resolved.body,
            ctx.resolved.n,
            None,
            [],
            error,
            cost,
            quoted,
        )
        record["batch_id"] = batch_id
        return BatchOutcome(record, cost, error)

    def _cost(
        self, ctx: Any, output: CallOutput | None, error: ProviderError | None, on: dt.datetime
    ) -> Cost:
        if error is not None or output is None:
            if error is not None and error.may_be_billed:
                return Cost(
                    None, None, None, "unknown", (), (), f"{error.error_class}: it may have been billed"
                )
            note = "never ran: not billed" if error is not None and error.status is None else "not billed"
            zero = Decimal(0)
            return Cost(
                zero, zero, zero, "not_billed", (), (f"{error.error_class if error else 'error'}: {note}",)
            )
        try:
            return bill_response(output.body, ctx.priced, on=on, batch=True)
        except PricingError as exc:
            return Cost(None, None, None, "unknown", (), (), str(exc))
        except ImgkitError as exc:  # a price schedule the catalog lacks on that day
            return Cost(None, None, None, "unknown", (), (), str(exc))

    @staticmethod
    def validation_error(status: BatchStatus, provider: str) -> ProviderError:
        """The error of every request of a batch that failed validation: retryable when the provider said
        "not now" (an enqueued-token limit), else a bad request."""
        message = "; ".join(status.errors) or f"batch {status.id} failed validation"
        if set(status.error_codes) & _RETRYABLE_VALIDATION:
            return RateLimitError(
                f"batch {status.id}: {message}", provider=provider, code=status.error_codes[0]
            )
        return error_from_openai(
            400,
            {
                "error": {
                    "message": f"batch {status.id}: {message}",
                    "code": (status.error_codes or (None,))[0],
                }
            },
            {},
            provider,
        )


def _sim(headers: Mapping[str, str]) -> bool:
    return headers.get("x-imgkit-simulated") == "true"
