"""The Gemini API's Batch Mode and Files API on the simulator's Gemini root (``…/gemini``), as google-genai calls them.

**Files** (the resumable upload protocol google-genai's ``client.files.upload`` speaks): ``POST
/upload/v1beta/files`` with ``X-Goog-Upload-Protocol: resumable`` and ``X-Goog-Upload-Command: start`` (the
body ``{"file": {"displayName", "mimeType"}}``, the size in ``X-Goog-Upload-Header-Content-Length``) answers
an ``x-goog-upload-url``; ``POST`` there with ``upload, finalize`` and the bytes answers ``{"file": …}`` with
``x-goog-upload-status: final``. ``GET /v1beta/files/{id}``, ``GET /v1beta/files`` (``pageSize``,
``pageToken``), ``DELETE /v1beta/files/{id}`` and ``GET /v1beta/files/{id}:download?alt=media`` (the bytes).

**Batches**: ``POST /v1beta/models/{model}:batchGenerateContent`` with ``{"batch": {"displayName",
"inputConfig": {"requests": {"requests": [{"request", "metadata"}]}} | {"fileName": "files/…"}}}``; each
request is a ``GenerateContentRequest`` (a file's lines are ``{"key", "request"}``). It answers a long-running
operation ``{"name": "batches/…", "metadata": {"@type": …GenerateContentBatch, "model", "displayName",
"state", "batchStats", "createTime", "updateTime", "endTime", "output"}, "done", "response"}``; ``GET
/v1beta/batches/{id}``, ``GET /v1beta/batches`` (``{"operations": […], "nextPageToken"}``, newest first),
``POST /v1beta/batches/{id}:cancel`` and ``DELETE /v1beta/batches/{id}``. States: ``BATCH_STATE_PENDING``
(validating), ``BATCH_STATE_RUNNING``, then ``SUCCEEDED``, ``FAILED``, ``CANCELLED`` or ``EXPIRED``. Each
request runs through the simulator's generateContent (:mod:`imgkit.simulator._google`: usage per modality,
seeded images, the same fault plan and profiles); results come back in input order, inline
(``output.inlinedResponses.inlinedResponses``: ``{"response"}`` or ``{"error"}`` with the request's
``metadata``) for inline requests, else as a responses file (``output.responsesFile``; lines ``{"key",
"response"}`` or ``{"key", "error"}``).

Assumed (Google publishes no figure): the clock of the OpenAI batches (:mod:`imgkit.simulator._batches`:
validating, queue, parallelism), a 48-hour window (recalled from Google's Batch Mode guide, which
gives a 24-hour target turnaround; no stored copy states the expiry), and how requests that never ran are reported when a batch expires or is cancelled: an
error ``DEADLINE_EXCEEDED`` (504) or ``CANCELLED`` (499) in their place in the results.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from imgkit.simulator._batches import BatchService, LineResult, SimulatedBatch, StoredFile
from imgkit.simulator._google import GoogleError, GoogleProtocol, camel_keys
from imgkit.simulator._http import Exchange, ProtocolError, Request
from imgkit.simulator._images import ImageSpec, image_digest
from imgkit.simulator._wire import JSON_HEADER

__all__ = ["GeminiBatchService"]

#: a batch pending or running this long expires (assumed: no stored source states Gemini's expiry)
WINDOW_S = 48 * 3600.0
#: the Files API's limit per file (2 GB)
MAX_FILE_BYTES = 2 * 1024**3
#: inline requests: the whole create request under 20 MB (the Batch Mode guide)
MAX_INLINE_BYTES = 20 * 1024 * 1024
_BATCH_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentBatch"
_OUTPUT_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentBatchOutput"
_STATES = {
    "validating": "BATCH_STATE_PENDING",
    "in_progress": "BATCH_STATE_RUNNING",
    "finalizing": "BATCH_STATE_RUNNING",
    "cancelling": "BATCH_STATE_RUNNING",
    "completed": "BATCH_STATE_SUCCEEDED",
    "failed": "BATCH_STATE_FAILED",
    "cancelled": "BATCH_STATE_CANCELLED",
    "expired": "BATCH_STATE_EXPIRED",
}
_NEVER_RAN = {
    "expired": {
        "code": 504,
        "message": "The batch expired before this request ran.",
        "status": "DEADLINE_EXCEEDED",
    },
    "cancelled": {
        "code": 499,
        "message": "The batch was cancelled before this request ran.",
        "status": "CANCELLED",
    },
}
_ROUTE = re.compile(
    r"^/gemini/(?:(?P<upload>upload)/)?(?P<ver>v1beta|v1alpha|v1)/"
    r"(?:models/(?P<model>[^/:]+):batchGenerateContent|(?P<coll>files|batches)(?:/(?P<id>[^/:]+))?"
    r"(?::(?P<verb>download|cancel))?)$"
)


def is_gemini_batch_path(path: str) -> bool:
    """A path the Gemini batch service answers (the rest of ``/gemini`` is generateContent)."""
    return _ROUTE.match(path) is not None


def _time(wall: float) -> str:
    return dt.datetime.fromtimestamp(wall, dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass
class _Upload:
    """A resumable upload session, between its start and its finalize."""

    display_name: str | None
    mime_type: str
    size: int


@dataclass
class _GeminiFile:
    """What the batch service keeps besides a :class:`StoredFile`: the file's Gemini fields."""

    display_name: str | None
    mime_type: str
    source: str  # UPLOADED | GENERATED


class GeminiBatchService(BatchService):
    """Batch Mode and the Files API of the simulated Gemini API (module doc)."""

    window_s = WINDOW_S

    def __init__(self, server: Any, google: GoogleProtocol) -> None:
        super().__init__(server)
        self.google = google
        self.uploads: dict[str, _Upload] = {}
        self.gemini_files: dict[str, _GeminiFile] = {}
        self.inline: dict[str, bool] = {}  # batch id -> its requests came inline
        self.display: dict[str, str | None] = {}  # batch id -> display name

    def reset(self) -> None:
        super().reset()
        self.uploads.clear()
        self.gemini_files.clear()
        self.inline.clear()
        self.display.clear()

    # --- routing ------------------------------------------------------------------------------------------

    async def handle(self, req: Request, ex: Exchange, rec: Any, origin: str) -> None:
        server = self.server
        rec.provider = "gemini-api"
        rec.request_id = request_id = server._new_id()[:24]
        headers = [("x-imgkit-simulated", "true"), ("x-request-id", request_id)]
        m = _ROUTE.match(req.path)
        try:
            if m is None:
                raise GoogleError(404, f"Method not found: {req.method} {req.path}.")
            if not (m.group("upload") and "upload_id" in req.query):  # an upload URL carries its authority
                self.google._authenticate(req, vertex=False, project=False)
            if m.group("upload"):
                await self._upload(req, ex, rec, headers, origin)
            elif m.group("model"):
                rec.kind = "batch_create"
                batch = self.create_gemini(req, m.group("model"))
                rec.model, rec.fault = batch.model, batch.fault
                if batch.fault == "timeout":  # created, but its answer never comes
                    await ex.hold(server.hang_s)
                    return
                await self._send_json(ex, headers, await self._operation(batch, time.monotonic(), origin))
            elif m.group("coll") == "files":
                await self._gemini_files(req, ex, rec, m.group("id", "verb"), headers)
            else:
                await self._gemini_batches(req, ex, rec, m.group("id", "verb"), headers, origin)
        except GoogleError as err:
            await ex.send(err.code, [JSON_HEADER, *headers, *err.headers], json.dumps(err.body()).encode())

    async def _send_json(self, ex: Exchange, headers: list[tuple[str, str]], body: Any) -> None:
        await ex.send(200, [JSON_HEADER, *headers], json.dumps(body, separators=(",", ":")).encode())

    @staticmethod
    def _page(items: list[Any], req: Request, default: int) -> tuple[list[Any], str | None]:
        try:
            size = int(req.query.get("pageSize") or default)
            start = int(req.query.get("pageToken") or 0)
        except ValueError:
            raise GoogleError(400, "Invalid pageSize or pageToken.") from None
        size = max(1, min(size, 1000))
        chunk = items[start : start + size]
        return chunk, (str(start + size) if start + size < len(items) else None)

    # --- files --------------------------------------------------------------------------------------------

    async def _upload(
        self, req: Request, ex: Exchange, rec: Any, headers: list[tuple[str, str]], origin: str
    ) -> None:
        if req.method != "POST":
            raise GoogleError(400, f"Method not allowed: {req.method} {req.path}.")
        command = req.header("x-goog-upload-command").replace(" ", "")
        session = req.query.get("upload_id")
        if session is None:
            rec.kind = "file_upload_start"
            if req.header("x-goog-upload-protocol") != "resumable" or command != "start":
                raise GoogleError(
                    400, "The simulator takes resumable uploads only (X-Goog-Upload-Command: start)."
                )
            try:
                body = req.json() or {}
            except ProtocolError as exc:
                raise GoogleError(400, f"Invalid JSON payload received. {exc}") from None
            file = body.get("file") if isinstance(body, dict) else None
            file = camel_keys(file) if isinstance(file, dict) else {}
            try:
                size = int(req.header("x-goog-upload-header-content-length") or file.get("sizeBytes") or -1)
            except ValueError:
                size = -1
            if not 0 <= size <= MAX_FILE_BYTES:
                raise GoogleError(
                    400, "X-Goog-Upload-Header-Content-Length: a size from 0 to 2 GB is required."
                )
            mime = req.header("x-goog-upload-header-content-type") or file.get("mimeType") or ""
            upload_id = self.server._new_id()[:32]
            self.uploads[upload_id] = _Upload(file.get("displayName"), mime, size)
            url = f"{origin}/gemini/upload/v1beta/files?upload_id={upload_id}&upload_protocol=resumable"
            await ex.send(
                200,
                [JSON_HEADER, *headers, ("x-goog-upload-url", url), ("x-goog-upload-status", "active")],
                b"{}",
            )
            return
        rec.kind = "file_upload"
        pending = self.uploads.get(session)
        if pending is None:
            raise GoogleError(404, f"No upload session {session}.")
        if command != "upload,finalize" or req.header("x-goog-upload-offset", "0") != "0":
            raise GoogleError(400, "The simulator takes the whole file in one 'upload, finalize' request.")
        if len(req.body) != pending.size:
            raise GoogleError(
                400, f"The upload holds {len(req.body)} bytes, not the {pending.size} announced."
            )
        del self.uploads[session]
        ident = "f" + self.server._new_id()[:15].lower()
        stored = StoredFile(ident, pending.display_name or ident, "batch", int(time.time()), req.body)
        self.files[ident] = stored
        self.gemini_files[ident] = _GeminiFile(pending.display_name, pending.mime_type, "UPLOADED")
        await ex.send(
            200,
            [JSON_HEADER, *headers, ("x-goog-upload-status", "final")],
            json.dumps({"file": await self._file_object(stored, origin=None)}).encode(),
        )

    async def _file_object(self, stored: StoredFile, origin: str | None) -> dict[str, Any]:
        meta = self.gemini_files.get(stored.id) or _GeminiFile(None, "application/jsonl", "GENERATED")
        size = len(stored.data or b"") if stored.lines is None else await self._size(stored)
        obj: dict[str, Any] = {
            "name": f"files/{stored.id}",
            "mimeType": meta.mime_type,
            "sizeBytes": str(size),
            "createTime": _time(stored.created_at),
            "updateTime": _time(stored.created_at),
            "expirationTime": _time(stored.created_at + 48 * 3600),
            "state": "ACTIVE",
            "source": meta.source,
        }
        if meta.display_name:
            obj["displayName"] = meta.display_name
        if meta.source == "GENERATED" and origin is not None:
            obj["downloadUri"] = f"{origin}/gemini/v1beta/files/{stored.id}:download?alt=media"
        return obj

    async def _gemini_files(
        self, req: Request, ex: Exchange, rec: Any, target: tuple[Any, ...], headers: list[tuple[str, str]]
    ) -> None:
        ident, verb = target
        if ident is None:
            if req.method != "GET":
                raise GoogleError(400, f"Method not allowed: {req.method} {req.path}.")
            rec.kind = "file_list"
            files = list(reversed([f for f in self.files.values() if f.id in self.gemini_files]))
            chunk, token = self._page(files, req, 10)
            out: dict[str, Any] = {"files": [await self._file_object(f, None) for f in chunk]}
            if token:
                out["nextPageToken"] = token
            await self._send_json(ex, headers, out)
            return
        stored = self.files.get(ident)
        if stored is None or ident not in self.gemini_files:
            rec.kind = "file_get"
            raise GoogleError(
                403, f"You do not have permission to access the File {ident} or it may not exist."
            )
        if verb == "download":
            rec.kind = "file_download"
            await self._content(ex, headers, stored)
        elif req.method == "DELETE":
            rec.kind = "file_delete"
            del self.files[ident], self.gemini_files[ident]
            await self._send_json(ex, headers, {})
        elif req.method == "GET" and verb is None:
            rec.kind = "file_get"
            await self._send_json(ex, headers, await self._file_object(stored, None))
        else:
            raise GoogleError(400, f"Method not allowed: {req.method} {req.path}.")

    # --- batches ------------------------------------------------------------------------------------------

    def create_gemini(self, req: Request, model: str) -> SimulatedBatch:
        """``models/{model}:batchGenerateContent``: check the batch, keep its requests as lines, validate."""
        if req.method != "POST":
            raise GoogleError(400, f"Method not allowed: {req.method} {req.path}.")
        served = self.google.models["gemini-api"].get(model)
        if served is None or served.offering.provider_model_id.startswith("imagen"):
            raise GoogleError(
                404,
                f"models/{model} is not found for API version v1beta, or is not supported for batchGenerateContent.",
            )
        try:
            body = req.json()
        except ProtocolError as exc:
            raise GoogleError(400, f"Invalid JSON payload received. {exc}") from None
        batch_obj = body.get("batch") if isinstance(body, dict) else None
        if not isinstance(batch_obj, dict):
            raise GoogleError(400, "* BatchGenerateContentRequest.batch: batch is required")
        config = batch_obj.get("inputConfig") or batch_obj.get("input_config")
        if not isinstance(config, dict):
            raise GoogleError(400, "* GenerateContentBatch.input_config: input_config is required")
        inline = config.get("requests")
        file_name = config.get("fileName") or config.get("file_name")
        if (inline is None) == (file_name is None):
            raise GoogleError(400, "* InputConfig: exactly one of requests and file_name is required")
        stored: StoredFile | None
        if inline is not None:
            requests = inline.get("requests") if isinstance(inline, dict) else None
            if not isinstance(requests, list) or not requests:
                raise GoogleError(400, "* InputConfig.requests.requests: at least one request is required")
            if len(req.body) > MAX_INLINE_BYTES:
                raise GoogleError(400, "Inline batch requests must total under 20 MB; use an input file.")
            lines = []
            for i, item in enumerate(requests):
                meta = item.get("metadata") if isinstance(item, dict) else None
                key = str((meta or {}).get("key", i)) if isinstance(meta, dict) else str(i)
                request = item.get("request") if isinstance(item, dict) else None
                lines.append(json.dumps({"key": key, "request": request, "metadata": meta}).encode())
            stored = StoredFile(
                "inline-" + self.server._new_id()[:16], "inline", "batch", int(time.time()), b"\n".join(lines)
            )
            self.files[stored.id] = stored
        else:
            ident = str(file_name).removeprefix("files/")
            stored = self.files.get(ident)
            if stored is None or ident not in self.gemini_files or stored.lines is not None:
                raise GoogleError(404, f"File {file_name} is not found.")
        now_wall, now = time.time(), time.monotonic()
        batch = SimulatedBatch(
            self.server._new_id()[:24].lower(),
            stored.id,
            f"models/{model}:batchGenerateContent",
            "48h",
            None,
            now_wall,
            now,
            self.server.faults.next_batch_fault(),
            self.server.time_scale,
        )
        batch.times["validating"] = now
        batch.model = model
        batch.custom_ids = [
            json.loads(raw)["key"] for raw in (stored.data or b"").splitlines() if raw.strip()
        ]
        self.batches[batch.id] = batch
        self.inline[batch.id] = inline is not None
        self.display[batch.id] = batch_obj.get("displayName") or batch_obj.get("display_name")
        return batch

    async def _gemini_batches(
        self,
        req: Request,
        ex: Exchange,
        rec: Any,
        target: tuple[Any, ...],
        headers: list[tuple[str, str]],
        origin: str,
    ) -> None:
        ident, verb = target  # the batch id and the verb after it (cancel), from the route
        now = time.monotonic()
        if ident is None:
            if req.method != "GET":
                raise GoogleError(400, f"Method not allowed: {req.method} {req.path}.")
            rec.kind = "batch_list"
            batches = list(reversed(self.batches.values()))
            chunk, token = self._page(batches, req, 10)
            out: dict[str, Any] = {"operations": []}
            for batch in chunk:
                self.advance(batch, now, origin)
                out["operations"].append(await self._operation(batch, now, origin))
            if token:
                out["nextPageToken"] = token
            await self._send_json(ex, headers, out)
            return
        batch = self.batches.get(ident)
        rec.kind = {"cancel": "batch_cancel"}.get(
            verb or "", "batch_delete" if req.method == "DELETE" else "batch_get"
        )
        if batch is None:
            raise GoogleError(404, f"Batch batches/{ident} is not found.")
        self.advance(batch, now, origin)
        if verb == "cancel" and req.method == "POST":
            if batch.status in ("validating", "in_progress", "finalizing"):
                self.cancel(batch, now, origin)
            elif batch.status != "cancelling":
                raise GoogleError(
                    400, f"Batch batches/{ident} has ended ({_STATES[batch.status]}): it cannot be cancelled."
                )
            await self._send_json(ex, headers, {})
        elif verb is None and req.method == "DELETE":
            del self.batches[ident]
            await self._send_json(ex, headers, {})
        elif verb is None and req.method == "GET":
            await self._send_json(ex, headers, await self._operation(batch, now, origin))
        else:
            raise GoogleError(400, f"Method not allowed: {req.method} {req.path}.")

    async def _operation(self, batch: SimulatedBatch, now: float, origin: str) -> dict[str, Any]:
        counts = batch.counts(now)
        total, ok, failed = counts["total"], counts["completed"], counts["failed"]
        ended = batch.status in ("completed", "failed", "cancelled", "expired")
        meta: dict[str, Any] = {
            "@type": _BATCH_TYPE,
            "model": f"models/{batch.model}",
            "displayName": self.display.get(batch.id) or "",
            "name": f"batches/{batch.id}",
            "createTime": _time(batch.created_wall),
            "updateTime": _time(batch.wall(max(batch.times.values()))),
            "batchStats": {
                "requestCount": str(total),
                "successfulRequestCount": str(ok),
                "failedRequestCount": str(failed),
                "pendingRequestCount": str(total - ok - failed),
            },
            "state": _STATES[batch.status],
        }
        op: dict[str, Any] = {"name": f"batches/{batch.id}", "metadata": meta, "done": ended}
        if ended:
            meta["endTime"] = _time(batch.wall(batch.times[batch.status]))
            if batch.status == "failed":
                message = "; ".join(str(e.get("message")) for e in batch.errors or ()) or "the batch failed"
                op["error"] = {"code": 3, "message": message}
            elif batch.output_file_id is not None:
                if self.inline.get(batch.id):
                    stored = self.files[batch.output_file_id]
                    responses = [await self._inline_response(ln) for ln in stored.lines or ()]
                    output: dict[str, Any] = {"inlinedResponses": {"inlinedResponses": responses}}
                else:
                    output = {"responsesFile": f"files/{batch.output_file_id}"}
                meta["output"] = output
                op["response"] = {"@type": _OUTPUT_TYPE, **output}
        return op

    # --- running requests ---------------------------------------------------------------------------------

    def _validation_errors(self, data: bytes, batch: SimulatedBatch) -> list[dict[str, Any]]:
        errors = []
        for number, raw in enumerate(data.splitlines(), 1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                errors.append({"message": f"line {number} is not valid JSON"})
                continue
            if not isinstance(line, dict) or not isinstance(line.get("request"), dict):
                errors.append({"message": f"line {number}: a request object is required"})
        if not errors and batch.fault == "failed":
            errors.append({"message": f"Batch quota exceeded for {batch.model}. (simulated)"})
        return errors

    def _run_line(
        self, line: dict[str, Any], batch: SimulatedBatch, created: int, origin: str
    ) -> tuple[LineResult, float]:
        server, google = self.server, self.google
        key = str(line["key"])
        request_id = server._new_id()[:24]
        served = google.models["gemini-api"][batch.model or ""]
        try:
            job = google._gemini(served, camel_keys(line["request"]))
        except GoogleError as err:
            return self._error_line(key, request_id, err, line), 0.0
        _, draw, fault, _ = server._decide(
            "gemini-api", served.model.id, (served.model.id, batch.model or served.model.id)
        )
        if fault in ("timeout", "drop", "malformed", "truncated"):
            fault = "server_error"
        refused = google._fault_error(fault, served, False, False)
        if refused is not None:
            return self._error_line(key, request_id, refused, line), draw.ttfb_ms
        if fault == "moderation":
            body = google._blocked(served, job, request_id)
            return LineResult(key, json.dumps(line.get("metadata")), request_id, 200, body), draw.total_ms
        digest = image_digest(
            server.seed, job["prompt"], (served.model.id, "gemini-api", "", f"{job['width']}x{job['height']}")
        )
        image_tokens = google._image_tokens(served, job["width"], job["height"]) if job["image"] else 0
        spec = ImageSpec(digest, 0, job["width"], job["height"], "png")
        body = {
            "candidates": [{"content": {"role": "model", "parts": []}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": google._usage(served, job, image_tokens),
            "modelVersion": batch.model,
            "responseId": request_id,
        }
        images = (spec,) if job["image"] else ()
        metadata = json.dumps(line.get("metadata"))
        return LineResult(key, metadata, request_id, 200, body, images), draw.total_ms

    @staticmethod
    def _error_line(key: str, request_id: str, err: GoogleError, line: dict[str, Any]) -> LineResult:
        return LineResult(key, json.dumps(line.get("metadata")), request_id, err.code, err.body())

    def _end(self, batch: SimulatedBatch, status: str, at: float, never_ran: dict[str, str] | None) -> None:
        """The batch ends: every line, in input order, in one responses file (those not done never ran)."""
        reason = _NEVER_RAN.get(status)
        lines = batch.lines or []
        if reason is not None and batch.in_progress_mono is not None:
            for ln in lines[batch.done_by(min(at, batch.cancel_mono or float("inf"))) :]:
                ln.never_ran = dict(reason)
        elif reason is not None:  # cancelled before anything ran
            lines = batch.lines = [
                LineResult(cid, "null", "", 0, {}, never_ran=dict(reason)) for cid in batch.custom_ids
            ]
        batch.status = status
        batch.times[status] = at
        if status == "failed":
            return
        order = {cid: i for i, cid in enumerate(batch.custom_ids)}
        ordered = sorted(lines, key=lambda ln: order.get(ln.custom_id, len(order)))
        ident = "batch-" + self.server._new_id()[:12].lower()
        self.files[ident] = StoredFile(
            ident, f"{batch.id}-responses", "batch_output", batch.wall(at), lines=ordered
        )
        self.gemini_files[ident] = _GeminiFile(None, "application/jsonl", "GENERATED")
        batch.output_file_id = ident

    async def _response(self, line: LineResult) -> tuple[str, Any]:
        """``("response", body)`` or ``("error", status)`` of one line, its image rendered."""
        if line.never_ran is not None:
            return "error", line.never_ran
        if line.status >= 400:
            return "error", line.body.get("error", line.body)
        body = line.body
        if line.images:
            parts = [
                {"inlineData": {"mimeType": "image/png", "data": await self.server._b64(s)}}
                for s in line.images
            ]
            first = body["candidates"][0]
            body = {**body, "candidates": [{**first, "content": {**first["content"], "parts": parts}}]}
        return "response", body

    async def _inline_response(self, line: LineResult) -> dict[str, Any]:
        kind, value = await self._response(line)
        out: dict[str, Any] = {kind: value}
        metadata = json.loads(line.line_id) if line.line_id else None
        if metadata:
            out["metadata"] = metadata
        return out

    async def _line_bytes(self, line: LineResult) -> bytes:
        kind, value = await self._response(line)
        return json.dumps({"key": line.custom_id, kind: value}, separators=(",", ":")).encode() + b"\n"
