"""The OpenAI Files and Batches APIs as the simulator serves them on its OpenAI root (``/v1``).

Routes (research note protocols.md §6; the official ``openai`` SDK's ``client.files`` and ``client.batches``)::

    POST   /v1/files                    multipart: purpose, file (filename), expires_after[anchor|seconds]
    GET    /v1/files                    ?purpose=&limit=&after=&order=   (cursor page)
    GET    /v1/files/{id}               the FileObject
    GET    /v1/files/{id}/content       the bytes (JSON Lines for batch input, output and error files)
    DELETE /v1/files/{id}
    POST   /v1/batches                  JSON: input_file_id, endpoint, completion_window "24h", metadata
    GET    /v1/batches                  ?limit=&after=   (cursor page, newest first)
    GET    /v1/batches/{id}
    POST   /v1/batches/{id}/cancel

A batch moves ``validating`` → ``in_progress`` → ``finalizing`` → ``completed`` on the simulated clock (every
duration below is multiplied by the server's ``time_scale``; at 0 a batch is done at its first retrieve), or
to ``failed`` (validation), ``expired`` (its window ran out) or ``cancelling`` → ``cancelled``. Its state is
computed from the clock when it is looked at, so a batch costs nothing while nobody asks about it.

Durations (assumed: OpenAI publishes only the 24-hour window, "often much sooner"):

* validating :data:`VALIDATING_S`; then every line runs once, through the same parser, usage rules, latency
  profiles and fault plan as an interactive request of its model (a line's draw is its run time);
* in progress :data:`QUEUE_S` plus the lines' run times divided by :data:`PARALLELISM`, the lines finishing
  one after another in a shuffled order (``request_counts`` grow as they do; the output file is not in input
  order, as OpenAI warns);
* finalizing :data:`FINALIZING_S` plus :data:`FINALIZING_PER_REQUEST_S` per line; cancelling
  :data:`CANCELLING_S`;
* the window: 24 hours (``completion_window``); a batch still running then expires. A batch given the
  ``expired`` fault (:class:`~imgkit.simulator.FaultPlan` ``batches=``) expires halfway through its run.

Files: output (``purpose: batch_output``) holds the lines that got a 200; the error file the others: lines
whose request failed (``response.status_code`` >= 400 and the error envelope) and lines that never ran
(``response: null`` and ``error.code`` ``batch_expired`` or ``batch_cancelled``). Output and error files
exist from the batch's end (``completed``, ``expired``, ``cancelled``); their bytes are rendered when
downloaded (images come from the image cache), so a batch of 50,000 images keeps no image in memory.
``request_counts.failed`` counts every line of the error file once the batch has ended (assumed).

Validation (the whole batch fails, ``errors.data[]`` with ``code``, ``line``, ``message``): a line that is not
JSON (``invalid_json_line``), a line without ``custom_id``, ``method``, ``url`` or ``body``
(``invalid_request``), a method other than POST (``invalid_method``), a url other than the batch's endpoint
(``url_mismatch``), a ``custom_id`` used twice (``duplicate_custom_id``), two models in one file
(``model_mismatch``), an empty file (``empty_file``), more than :data:`MAX_REQUESTS` lines
(``too_many_tasks``). A body the Images API would refuse is not a validation error: its line gets the 400.
"""

from __future__ import annotations

import bisect
import json
import math
import random
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from imgkit.catalog import Catalog
from imgkit.simulator._http import Exchange, ProtocolError, Request
from imgkit.simulator._images import ImageSpec, image_digest
from imgkit.simulator._openai import (
    ApiError,
    invalid_value,
    json_object,
    parse_image_request,
    require_bearer,
    response_body,
)
from imgkit.simulator._profiles import Draw, Profile

__all__ = [
    "BATCH_ENDPOINTS",
    "MAX_REQUESTS",
    "SERVED_ENDPOINTS",
    "BatchService",
    "SimulatedBatch",
    "StoredFile",
]

#: the endpoints the SDK's ``batches.create`` accepts (openai 3.63.0 ``types/batch_create_params.py``)
BATCH_ENDPOINTS = (
    "/v1/responses",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/completions",
    "/v1/moderations",
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/videos",
)
#: the ones the simulator runs, and the Images mode of each
SERVED_ENDPOINTS = {"/v1/images/generations": "generate", "/v1/images/edits": "edit"}
#: requests per batch (OpenAI batch guide)
MAX_REQUESTS = 50_000
#: bytes of a batch input file (OpenAI batch guide)
MAX_BATCH_INPUT_BYTES = 200 * 1024 * 1024
#: bytes of one upload (Files API)
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
FILE_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
#: the completion window, seconds on the simulated clock
WINDOW_S = 24 * 3600.0
#: assumed durations on the simulated clock (module doc)
VALIDATING_S = 30.0
QUEUE_S = 60.0
PARALLELISM = 32
FINALIZING_S = 10.0
FINALIZING_PER_REQUEST_S = 0.01
CANCELLING_S = 30.0
#: batch statuses in which a batch is still running
LIVE = ("validating", "in_progress", "finalizing", "cancelling")
#: wire faults that cannot reach a client inside a batch: the line fails with a 500 instead
_WIRE_FAULTS = ("timeout", "drop", "malformed", "truncated")
_EXPIRED = {
    "code": "batch_expired",
    "message": "This request could not be executed before the completion window expired.",
}
_CANCELLED = {"code": "batch_cancelled", "message": "This request was cancelled before it could be executed."}
_JSON = ("content-type", "application/json")


class _Server(Protocol):
    """What the batch service uses of :class:`~imgkit.simulator.SimulatorServer`."""

    catalog: Catalog
    seed: int
    time_scale: float

    def _decide(
        self, provider: str, model: str, keys: Iterable[str]
    ) -> tuple[Profile, Draw, str | None, str | None]: ...

    def _new_id(self) -> str: ...

    async def _b64(self, spec: ImageSpec) -> str: ...

    def local_file_spec(self, url: str) -> ImageSpec | None: ...

    @property
    def faults(self) -> Any: ...

    @property
    def hang_s(self) -> float | None: ...


@dataclass
class StoredFile:
    """One file of the Files API: uploaded bytes, or the lines of a batch's output or error file."""

    id: str
    filename: str
    purpose: str
    created_at: int
    data: bytes | None = None
    lines: list[LineResult] | None = None  # an output or error file, rendered when downloaded
    expires_at: int | None = None
    size: int | None = None

    def as_object(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": self.size if self.size is not None else len(self.data or b""),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": self.expires_at,
            "status_details": None,
        }


@dataclass
class LineResult:
    """How one line of a batch ran: its answer without the images (rendered when the file is downloaded)."""

    custom_id: str
    line_id: str  # batch_req_...
    request_id: str
    status: int  # the HTTP status its request got
    body: dict[str, Any]  # the response body (``data`` filled in at download) or the error envelope
    images: tuple[ImageSpec, ...] = ()
    url_origin: str | None = None  # images as URLs of this server (response_format url), else base64
    done_s: float = 0.0  # real seconds after the batch went in_progress when the line finished
    never_ran: dict[str, Any] | None = None  # the error of a line that did not run (expired, cancelled)

    @property
    def ok(self) -> bool:
        return self.never_ran is None and self.status < 400


@dataclass
class SimulatedBatch:
    """One batch and the clock it moves on (real monotonic seconds; timestamps are Unix seconds)."""

    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, str] | None
    created_wall: float
    created_mono: float
    fault: str | None
    scale: float
    output_expires_after: dict[str, Any] | None = None
    status: str = "validating"
    model: str | None = None
    custom_ids: list[str] = field(default_factory=list)
    lines: list[LineResult] | None = None
    errors: list[dict[str, Any]] | None = None
    in_progress_mono: float | None = None
    run_end_mono: float = math.inf  # when in_progress would end (every line done; set when it begins)
    deadline_mono: float = math.inf  # when the window ends
    expires: bool = False  # the window ends before every line is done
    cut: int | None = None  # with ``expires``: how many lines (in the order they finish) are done by then
    done_s: list[float] = field(default_factory=list)  # each line's done_s, in order (non-decreasing)
    ok_before: list[int] = field(default_factory=list)  # successful lines among the first k, k = 0..n
    cancel_mono: float | None = None
    times: dict[str, float] = field(default_factory=dict)  # status -> mono time it began
    output_file_id: str | None = None
    error_file_id: str | None = None
    usage: dict[str, Any] | None = None

    def wall(self, mono: float) -> int:
        return int(self.created_wall + (mono - self.created_mono))

    def counts(self, now: float) -> dict[str, int]:
        total = len(self.custom_ids)
        if self.lines is None or self.status == "failed":
            return {"total": total, "completed": 0, "failed": 0}
        if self.status in ("completed", "expired", "cancelled"):
            ok = sum(1 for ln in self.lines if ln.ok)
            return {"total": total, "completed": ok, "failed": total - ok}
        done = self.done_by(min(now, self.cancel_mono or math.inf))
        ok = self.ok_before[done]
        return {"total": total, "completed": ok, "failed": done - ok}

    def done_by(self, mono: float) -> int:
        """How many lines are done at ``mono`` (they finish in list order)."""
        if self.in_progress_mono is None:
            return 0
        done = bisect.bisect_right(self.done_s, mono - self.in_progress_mono)
        return min(done, self.cut) if self.expires and self.cut is not None else done

    def as_object(self, now: float) -> dict[str, Any]:
        def at(status: str) -> int | None:
            return self.wall(self.times[status]) if status in self.times else None

        errors = {"object": "list", "data": self.errors} if self.errors else None
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "model": self.model,
            "errors": errors,
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.wall(self.created_mono),
            "in_progress_at": at("in_progress"),
            "expires_at": int(self.created_wall + WINDOW_S * self.scale) if self.scale else None,
            "finalizing_at": at("finalizing"),
            "completed_at": at("completed"),
            "failed_at": at("failed"),
            "expired_at": at("expired"),
            "cancelling_at": at("cancelling"),
            "cancelled_at": at("cancelled"),
            "request_counts": self.counts(now),
            "metadata": self.metadata,
            "usage": self.usage,
        }


def _page(items: list[dict[str, Any]], after: str | None, limit: int) -> dict[str, Any]:
    """A cursor page (the SDK's ``SyncCursorPage``): the items after the one with id ``after``."""
    if after:
        ids = [it["id"] for it in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    data = items[:limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(items) > limit,
    }


def _limit(query: Mapping[str, str], default: int, high: int) -> int:
    raw = query.get("limit")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 1 <= value <= high:
        raise ApiError(
            400,
            f"Invalid 'limit': {raw!r}. Limit can range between 1 and {high}.",
            param="limit",
            code="invalid_value",
        )
    return value


def _not_found(kind: str, ident: str) -> ApiError:
    return ApiError(404, f"No such {kind} object: {ident}", kind="not_found", param="id")


class _BodyRequest(Request):
    """A batch line's body as the Images parser reads a request (a JSON body, already parsed)."""

    def __init__(self, path: str, body: Any) -> None:
        super().__init__("POST", path, {}, {"content-type": "application/json"}, b"", path, body)


class BatchService:
    """The Files and Batches APIs of one :class:`~imgkit.simulator.SimulatorServer` (module doc)."""

    #: the completion window (seconds, before the time scale)
    window_s = WINDOW_S

    def __init__(self, server: _Server) -> None:
        self.server = server
        self.files: OrderedDict[str, StoredFile] = OrderedDict()
        self.batches: OrderedDict[str, SimulatedBatch] = OrderedDict()

    def reset(self) -> None:
        self.files.clear()
        self.batches.clear()

    # --- routing ------------------------------------------------------------------------------------------

    async def handle(self, req: Request, ex: Exchange, rec: Any, origin: str) -> None:
        """Answer a request under ``/v1/files`` or ``/v1/batches`` (``rec``: its RecordedRequest)."""
        parts = [urllib.parse.unquote(p) for p in req.path.strip("/").split("/")[1:]]
        collection, rest = parts[0], parts[1:]
        rec.provider = "openai"
        rec.request_id = request_id = "req_" + self.server._new_id()[:32]
        headers = [("x-request-id", request_id), ("x-imgkit-simulated", "true")]
        try:
            require_bearer(req)
            if collection == "files":
                await self._files(req, ex, rec, rest, headers)
            else:
                await self._batches(req, ex, rec, rest, headers, origin)
        except ApiError as err:
            await ex.send(err.status, [_JSON, *headers, *err.headers], json.dumps(err.body()).encode())

    async def _send(self, ex: Exchange, headers: list[tuple[str, str]], body: Any, status: int = 200) -> None:
        await ex.send(status, [_JSON, *headers], json.dumps(body, separators=(",", ":")).encode())

    def _method(self, req: Request, *allowed: str) -> None:
        if req.method not in allowed:
            raise ApiError(
                405, f"Method {req.method} is not allowed on {req.path}.", code="method_not_allowed"
            )

    # --- files --------------------------------------------------------------------------------------------

    async def _files(
        self, req: Request, ex: Exchange, rec: Any, rest: list[str], headers: list[tuple[str, str]]
    ) -> None:
        if not rest:
            if req.method == "POST":
                rec.kind = "file_upload"
                await self._send(ex, headers, self.upload(req).as_object())
                return
            self._method(req, "GET")
            rec.kind = "file_list"
            files = [f for f in self.files.values() if f.purpose == req.query.get("purpose", f.purpose)]
            order = req.query.get("order", "desc")
            if order not in ("asc", "desc"):
                raise ApiError(400, f"Invalid 'order': {order!r}.", param="order", code="invalid_value")
            objects = [f.as_object() for f in (reversed(files) if order == "desc" else files)]
            for obj, listed in zip(objects, reversed(files) if order == "desc" else files, strict=True):
                if listed.size is None and listed.lines is not None:
                    obj["bytes"] = await self._size(listed)
            await self._send(
                ex, headers, _page(objects, req.query.get("after"), _limit(req.query, 10_000, 10_000))
            )
            return
        stored = self.files.get(rest[0])
        if stored is None:
            rec.kind = "file_retrieve"
            raise _not_found("File", rest[0])
        if rest[1:] == ["content"]:
            self._method(req, "GET")
            rec.kind = "file_content"
            await self._content(ex, headers, stored)
        elif len(rest) == 1 and req.method == "DELETE":
            rec.kind = "file_delete"
            del self.files[stored.id]
            await self._send(ex, headers, {"id": stored.id, "object": "file", "deleted": True})
        elif len(rest) == 1:
            self._method(req, "GET")
            rec.kind = "file_retrieve"
            obj = stored.as_object()
            if stored.lines is not None:
                obj["bytes"] = await self._size(stored)
            await self._send(ex, headers, obj)
        else:
            raise ApiError(404, f"Unknown request URL: {req.method} {req.path}.", kind="not_found")

    def upload(self, req: Request) -> StoredFile:
        """``POST /v1/files``: a multipart upload with ``purpose`` and ``file``."""
        if req.content_type != "multipart/form-data":
            raise ApiError(400, "Uploads take a multipart/form-data body.", code="invalid_request")
        try:
            parts = req.multipart()
        except ProtocolError as exc:
            raise ApiError(400, str(exc), code="invalid_request") from None
        fields = {p.name: p for p in parts}
        purpose = fields["purpose"].text() if "purpose" in fields else None
        if purpose is None:
            raise ApiError(
                400,
                "Missing required parameter: 'purpose'.",
                param="purpose",
                code="missing_required_parameter",
            )
        if purpose not in FILE_PURPOSES:
            raise invalid_value("purpose", purpose, FILE_PURPOSES)
        file = fields.get("file")
        if file is None or file.filename is None:
            raise ApiError(
                400, "Missing required parameter: 'file'.", param="file", code="missing_required_parameter"
            )
        if len(file.data) > MAX_UPLOAD_BYTES:
            raise ApiError(413, "File is larger than 512 MB.", param="file", code="file_too_large")
        if purpose == "batch" and not file.filename.endswith(".jsonl"):
            raise ApiError(
                400,
                f"Invalid file format for Batch API. Must be .jsonl, got {file.filename!r}.",
                param="file",
                code="invalid_file_format",
            )
        now = int(time.time())
        expires_at = None
        if "expires_after[seconds]" in fields:
            try:
                expires_at = now + int(fields["expires_after[seconds]"].text())
            except ValueError:
                raise ApiError(
                    400, "Invalid 'expires_after[seconds]'.", param="expires_after", code="invalid_value"
                ) from None
        stored = StoredFile(
            "file-" + self.server._new_id()[:24],
            file.filename,
            purpose,
            now,
            file.data,
            expires_at=expires_at,
        )
        self.files[stored.id] = stored
        return stored

    async def _render(self, stored: StoredFile) -> AsyncIterator[bytes]:
        """The file's bytes in pieces (an output or error file: its lines, images rendered as they go)."""
        if stored.lines is None:
            yield stored.data or b""
            return
        for line in stored.lines:
            yield await self._line_bytes(line)

    async def _line_bytes(self, line: LineResult) -> bytes:
        if line.never_ran is not None:
            obj: dict[str, Any] = {
                "id": line.line_id,
                "custom_id": line.custom_id,
                "response": None,
                "error": line.never_ran,
            }
            return json.dumps(obj, separators=(",", ":")).encode() + b"\n"
        body = line.body
        if line.images:
            if line.url_origin is not None:
                data = [{"url": f"{line.url_origin}/files/{s.file_name}"} for s in line.images]
            else:
                data = [{"b64_json": await self.server._b64(s)} for s in line.images]
            body = {**body, "data": [{**d, **extra} for d, extra in zip(data, body["data"], strict=True)]}
        obj = {
            "id": line.line_id,
            "custom_id": line.custom_id,
            "response": {"status_code": line.status, "request_id": line.request_id, "body": body},
            "error": None,
        }
        return json.dumps(obj, separators=(",", ":")).encode() + b"\n"

    async def _size(self, stored: StoredFile) -> int:
        if stored.size is None:
            size = 0
            async for piece in self._render(stored):
                size += len(piece)
            stored.size = size
        return stored.size

    async def _content(self, ex: Exchange, headers: list[tuple[str, str]], stored: StoredFile) -> None:
        kind = "application/octet-stream"
        if stored.lines is None:
            await ex.send(200, [("content-type", kind), *headers], stored.data or b"")
            return
        await ex.send_head(200, [("content-type", kind), *headers], None)
        chunk: list[bytes] = []
        size = 0
        async for piece in self._render(stored):
            chunk.append(piece)
            size += len(piece)
            if size >= 1 << 20:
                await ex.write(b"".join(chunk))
                chunk, size = [], 0
        if chunk:
            await ex.write(b"".join(chunk))
        await ex.end()

    # --- batches ------------------------------------------------------------------------------------------

    async def _batches(
        self,
        req: Request,
        ex: Exchange,
        rec: Any,
        rest: list[str],
        headers: list[tuple[str, str]],
        origin: str,
    ) -> None:
        now = time.monotonic()
        if not rest:
            if req.method == "POST":
                rec.kind = "batch_create"
                created = self.create(req)
                rec.model, rec.fault = created.model, created.fault
                if created.fault == "timeout":  # created, but its answer never comes
                    await ex.hold(self.server.hang_s)
                    return
                await self._send(ex, headers, created.as_object(now))
                return
            self._method(req, "GET")
            rec.kind = "batch_list"
            limit = _limit(req.query, 20, 100)
            objects = []
            for listed_batch in reversed(self.batches.values()):
                self.advance(listed_batch, now, origin)
                objects.append(listed_batch.as_object(now))
            await self._send(ex, headers, _page(objects, req.query.get("after"), limit))
            return
        batch = self.batches.get(rest[0])
        rec.kind = "batch_cancel" if rest[1:] == ["cancel"] else "batch_retrieve"
        if batch is None:
            raise _not_found("Batch", rest[0])
        self.advance(batch, now, origin)
        if rest[1:] == ["cancel"]:
            self._method(req, "POST")
            self.cancel(batch, now, origin)
        elif len(rest) == 1:
            self._method(req, "GET")
        else:
            raise ApiError(404, f"Unknown request URL: {req.method} {req.path}.", kind="not_found")
        await self._send(ex, headers, batch.as_object(now))

    def create(self, req: Request) -> SimulatedBatch:
        """``POST /v1/batches``: check the parameters and the input file, start validating."""
        body = json_object(req)
        for name in ("input_file_id", "endpoint", "completion_window"):
            if not isinstance(body.get(name), str):
                raise ApiError(
                    400,
                    f"Missing required parameter: '{name}'.",
                    param=name,
                    code="missing_required_parameter",
                )
        unknown = set(body) - {
            "input_file_id",
            "endpoint",
            "completion_window",
            "metadata",
            "output_expires_after",
        }
        if unknown:
            name = sorted(unknown)[0]
            raise ApiError(400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")
        if body["completion_window"] != "24h":
            raise invalid_value("completion_window", body["completion_window"], ("24h",))
        endpoint = body["endpoint"]
        if endpoint not in BATCH_ENDPOINTS:
            raise invalid_value("endpoint", endpoint, BATCH_ENDPOINTS)
        if endpoint not in SERVED_ENDPOINTS:
            raise ApiError(
                400,
                f"The simulator runs batches of {' and '.join(SERVED_ENDPOINTS)} only, not {endpoint}.",
                param="endpoint",
                code="invalid_value",
            )
        metadata = body.get("metadata")
        if metadata is not None:
            ok = isinstance(metadata, dict) and len(metadata) <= 16
            ok = ok and all(
                isinstance(k, str) and len(k) <= 64 and isinstance(v, str) and len(v) <= 512
                for k, v in metadata.items()
            )
            if not ok:
                raise ApiError(
                    400,
                    "Invalid 'metadata': up to 16 pairs, keys of up to 64 characters and string values of "
                    "up to 512 characters.",
                    param="metadata",
                    code="invalid_value",
                )
        stored = self.files.get(body["input_file_id"])
        if stored is None:
            raise _not_found("File", body["input_file_id"])
        if stored.purpose != "batch":
            raise ApiError(
                400,
                f"File {stored.id} has purpose {stored.purpose!r}; a batch input file needs purpose 'batch'.",
                param="input_file_id",
                code="invalid_value",
            )
        if len(stored.data or b"") > MAX_BATCH_INPUT_BYTES:
            raise ApiError(
                400,
                "The batch input file is larger than 200 MB.",
                param="input_file_id",
                code="file_too_large",
            )
        now_wall, now = time.time(), time.monotonic()
        batch = SimulatedBatch(
            "batch_" + self.server._new_id()[:32],
            stored.id,
            endpoint,
            "24h",
            dict(metadata) if metadata is not None else None,
            now_wall,
            now,
            self.server.faults.next_batch_fault(),
            self.server.time_scale,
            body.get("output_expires_after"),
        )
        batch.times["validating"] = now
        batch.custom_ids, batch.model = _peek_lines(stored.data or b"")
        self.batches[batch.id] = batch
        return batch

    def cancel(self, batch: SimulatedBatch, now: float, origin: str) -> None:
        if batch.status not in ("validating", "in_progress", "finalizing"):
            raise ApiError(
                400,
                f"Cannot cancel a batch with status '{batch.status}'.",
                param="batch_id",
                code="invalid_request",
            )
        batch.cancel_mono = now
        batch.status = "cancelling"
        batch.times["cancelling"] = now
        self.advance(batch, now, origin)

    # --- the clock ----------------------------------------------------------------------------------------

    def advance(self, batch: SimulatedBatch, now: float, origin: str) -> None:
        """Bring ``batch`` to where the clock says it is (module doc); files are made when it ends."""
        scale = batch.scale
        if batch.status == "validating":
            end = batch.created_mono + VALIDATING_S * scale
            if now < end:
                return
            self._validate(batch, end, origin)
        if batch.status == "in_progress":
            if batch.expires and now >= batch.deadline_mono:
                self._end(batch, "expired", batch.deadline_mono, _EXPIRED)
                return
            if now < batch.run_end_mono:
                return
            batch.status = "finalizing"
            batch.times["finalizing"] = batch.run_end_mono
        if batch.status == "finalizing":
            end = (
                batch.run_end_mono
                + (FINALIZING_S + FINALIZING_PER_REQUEST_S * len(batch.lines or ())) * scale
            )
            if now >= end:
                self._end(batch, "completed", end, None)
            return
        if batch.status == "cancelling":
            end = (now if batch.cancel_mono is None else batch.cancel_mono) + CANCELLING_S * scale
            if now >= end:
                self._end(batch, "cancelled", end, _CANCELLED)

    def _validate(self, batch: SimulatedBatch, at: float, origin: str) -> None:
        stored = self.files.get(batch.input_file_id)
        data = stored.data if stored is not None else b""
        errors = self._validation_errors(data or b"", batch)
        if not errors and batch.fault == "failed":
            errors = [
                {
                    "code": "token_limit_exceeded",
                    "line": None,
                    "message": f"Enqueued token limit reached for {batch.model} in organization org-simulated. "
                    "Limit: 2,000,000 enqueued tokens. Please try again once some in_progress batches have "
                    "been completed. (simulated)",
                    "param": None,
                }
            ]
        if errors:
            batch.errors = errors
            batch.lines = []
            batch.status = "failed"
            batch.times["failed"] = at
            return
        if batch.status == "cancelling":
            return
        batch.lines = self._run_lines(batch, data or b"", origin)
        batch.status = "in_progress"
        batch.in_progress_mono = at
        batch.times["in_progress"] = at
        batch.done_s = [ln.done_s for ln in batch.lines]
        batch.ok_before = [0]
        for ln in batch.lines:
            batch.ok_before.append(batch.ok_before[-1] + ln.ok)
        run_s = batch.done_s[-1] if batch.done_s else 0.0
        batch.run_end_mono = at + run_s
        window_end = batch.created_mono + self.window_s * batch.scale
        if batch.fault == "expired":  # the window ends once half the lines are done
            batch.cut = len(batch.lines) // 2
            batch.deadline_mono = at + (batch.done_s[batch.cut - 1] if batch.cut else 0.0)
            batch.expires = True
        elif window_end < batch.run_end_mono:
            batch.deadline_mono = window_end
            batch.cut = bisect.bisect_right(batch.done_s, window_end - at)
            batch.expires = True

    def _run_lines(self, batch: SimulatedBatch, data: bytes, origin: str) -> list[LineResult]:
        """Run every line once (module doc): its answer and when, after ``in_progress``, it is done."""
        server = self.server
        results: list[LineResult] = []
        run_ms: list[float] = []
        created = int(time.time())
        for raw in data.splitlines():
            if not raw.strip():
                continue
            line = json.loads(raw)
            result, total_ms = self._run_line(line, batch, created, origin)
            results.append(result)
            run_ms.append(total_ms)
        rng = random.Random(f"{server.seed}|{batch.id}")
        order = list(range(len(results)))
        rng.shuffle(order)  # the output is not in input order
        elapsed = QUEUE_S
        for index in order:
            elapsed += run_ms[index] / 1000.0 / PARALLELISM
            results[index].done_s = elapsed * batch.scale
        return [results[i] for i in order]

    def _validation_errors(self, data: bytes, batch: SimulatedBatch) -> list[dict[str, Any]]:
        return _validation_errors(data, batch.endpoint)

    def _run_line(
        self, line: dict[str, Any], batch: SimulatedBatch, created: int, origin: str
    ) -> tuple[LineResult, float]:
        server = self.server
        mode = SERVED_ENDPOINTS[batch.endpoint]
        ident = server._new_id()
        custom_id, body = str(line["custom_id"]), line["body"]
        line_id, request_id = "batch_req_" + ident[:32], "req_" + ident[32:64]

        def error(err: ApiError, ms: float) -> tuple[LineResult, float]:
            return LineResult(custom_id, line_id, request_id, err.status, err.body()), ms

        try:
            if not isinstance(body, dict):
                raise ApiError(400, "The request body must be a JSON object.", code="invalid_json")
            if body.get("stream"):
                raise ApiError(
                    400, "Streaming is not supported in the Batch API.", param="stream", code="invalid_value"
                )
            job = parse_image_request(
                _BodyRequest(line["url"], body),
                mode,
                catalog=server.catalog,
                local_file_spec=server.local_file_spec,
            )
        except ApiError as err:
            return error(err, 0.0)
        _, draw, fault, _ = server._decide("openai", job.model.id, (job.model.id, job.model_id))
        if fault in _WIRE_FAULTS:
            fault = "server_error"
        if fault is not None:
            return error(_line_fault(fault, job.model.id), draw.ttfb_ms)
        digest = image_digest(server.seed, job.prompt, (job.model.id, "openai", job.quality or "", job.size))
        specs = tuple(job.spec(digest, i) for i in range(job.n))
        extras: list[dict[str, Any]] = [{}] * job.n
        if job.model.id == "dall-e-3":
            extras = [{"revised_prompt": job.prompt} for _ in range(job.n)]
        answer = response_body(job, [dict(e) for e in extras], created)
        url = origin if job.response_format == "url" else None
        return LineResult(custom_id, line_id, request_id, 200, answer, specs, url), draw.total_ms

    def _end(self, batch: SimulatedBatch, status: str, at: float, never_ran: dict[str, str] | None) -> None:
        """The batch ends: lines not done by ``at`` never ran; the output and error files are made."""
        lines = batch.lines or []
        if never_ran is not None and batch.in_progress_mono is not None:
            for ln in lines[batch.done_by(min(at, batch.cancel_mono or math.inf)) :]:
                ln.never_ran = dict(never_ran)
        elif never_ran is not None:  # cancelled before anything ran
            lines = batch.lines = [
                LineResult(
                    cid, "batch_req_" + self.server._new_id()[:32], "", 0, {}, never_ran=dict(never_ran)
                )
                for cid in batch.custom_ids
            ]
        batch.status = status
        batch.times[status] = at
        created = batch.wall(at)
        ok = [ln for ln in lines if ln.ok]
        failed = [ln for ln in lines if not ln.ok]
        for kind, chosen in (("output", ok), ("error", failed)):
            if not chosen:
                continue
            stored = StoredFile(
                "file-" + self.server._new_id()[:24],
                f"batch_{batch.id.removeprefix('batch_')}_{kind}.jsonl",
                "batch_output",
                created,
                lines=chosen,
            )
            self.files[stored.id] = stored
            setattr(batch, f"{kind}_file_id", stored.id)
        batch.usage = _batch_usage(ok)

    # --- what tests read ----------------------------------------------------------------------------------

    def items(self) -> dict[str, list[str]]:
        """Every batch's id and the ``custom_id`` of each of its lines, oldest batch first."""
        return {b.id: list(b.custom_ids) for b in self.batches.values()}


def _line_fault(fault: str, model: str) -> ApiError:
    """The error a line gets for an injected fault, in the Images API's shape."""
    if fault == "rate_limit":
        return ApiError(
            429,
            f"Rate limit reached for {model} on images per minute (IPM).",
            kind="rate_limit",
            type="requests",
            code="rate_limit_exceeded",
        )
    if fault == "moderation":
        return ApiError(
            400,
            "Your request was rejected by the safety system. If you believe this is an error, contact us at "
            "help.openai.com and include the request ID. safety_violations=[violence].",
            kind="moderation",
            type="image_generation_user_error",
            code="moderation_blocked",
        )
    if fault == "auth":
        return ApiError(401, "Incorrect API key provided.", kind="auth", code="invalid_api_key")
    if fault == "unavailable":
        return ApiError(
            503, "The server is overloaded or not ready yet.", kind="unavailable", type="server_error"
        )
    return ApiError(
        500,
        "The server had an error while processing your request. Sorry about that!",
        kind="server_error",
        type="server_error",
    )


def _peek_lines(data: bytes) -> tuple[list[str], str | None]:
    """The ``custom_id`` of every line that has one, and the first line's model (before validation)."""
    ids: list[str] = []
    model = None
    for raw in data.splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, dict) and "custom_id" in line:
            ids.append(str(line["custom_id"]))
            body = line.get("body")
            if model is None and isinstance(body, dict) and isinstance(body.get("model"), str):
                model = body["model"]
    return ids, model


def _validation_errors(data: bytes, endpoint: str) -> list[dict[str, Any]]:
    """Why the input file cannot run as a batch of ``endpoint`` (empty when it can): module doc."""
    errors: list[dict[str, Any]] = []

    def fail(code: str, line: int | None, message: str, param: str | None = None) -> None:
        errors.append({"code": code, "line": line, "message": message, "param": param})

    seen: set[str] = set()
    models: set[str] = set()
    count = 0
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        count += 1
        try:
            line = json.loads(raw)
        except ValueError:
            fail("invalid_json_line", number, "This line is not parseable as valid JSON.")
            continue
        missing = [
            k for k in ("custom_id", "method", "url", "body") if not isinstance(line, dict) or k not in line
        ]
        if missing:
            fail("invalid_request", number, f"Missing required parameter: '{missing[0]}'.", missing[0])
            continue
        if line["method"] != "POST":
            fail("invalid_method", number, f"Invalid method {line['method']!r}: only POST is supported.")
        if line["url"] != endpoint:
            fail(
                "url_mismatch",
                number,
                f"The provided URL {line['url']!r} does not match the batch's endpoint {endpoint!r}.",
                "url",
            )
        custom_id = str(line["custom_id"])
        if custom_id in seen:
            fail("duplicate_custom_id", number, f"The custom_id {custom_id!r} is used more than once.")
        seen.add(custom_id)
        body = line["body"]
        if isinstance(body, dict) and isinstance(body.get("model"), str):
            models.add(body["model"])
            if len(models) > 1:
                fail(
                    "model_mismatch",
                    number,
                    f"Every request of a batch must use the same model; this line uses {body['model']!r}.",
                    "body.model",
                )
        if len(errors) >= 100:
            break
    if count == 0 and not errors:
        fail("empty_file", None, "The batch input file is empty.")
    if count > MAX_REQUESTS:
        fail("too_many_tasks", None, f"The batch holds {count} requests; at most {MAX_REQUESTS} are allowed.")
    return errors


def _batch_usage(lines: list[LineResult]) -> dict[str, Any]:
    """The batch's ``usage``: the sums of its successful lines' usage."""
    sums = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
    for ln in lines:
        usage = ln.body.get("usage") or {}
        for key in sums:
            sums[key] += int(usage.get(key) or 0)
    return {
        **sums,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0},
    }
