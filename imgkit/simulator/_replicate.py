"""Replicate's predictions API as the simulator serves it under ``/replicate`` (the value replicate-python takes as
``base_url``; it adds ``/v1/...`` itself).

Routes::

    POST /replicate/v1/models/{owner}/{name}/predictions     create (official models)
    POST /replicate/v1/predictions                            create by version (``{"version": ...}``)
    GET  /replicate/v1/predictions/{id}                       the prediction
    POST /replicate/v1/predictions/{id}/cancel                cancel
    GET  /replicate/v1/models/{owner}/{name}[/versions/{v}]   the model and its version (``run("o/n:v")`` reads it)

A prediction is ``starting`` while queued, ``processing`` while it runs and ``succeeded`` once the drawn
latency has passed (or after ``min_polls`` polls). With ``Prefer: wait[=N]`` the create holds up to N
seconds (60 at most) and answers the finished prediction with its outputs as ``data:`` URIs (what Replicate's
synchronous mode returns, and what replicate-python turns into ``FileOutput`` over plain HTTP); a prediction
not done by then is answered ``starting``, as replicate-python expects, and is polled. Without ``wait`` the
outputs are URLs this server serves (``/files/...``). Every prediction carries ``id``, ``model``, ``version``
(``hidden``, as official models report) and ``status``, the fields replicate-python requires; a succeeded one
has ``metrics.predict_time`` (the drawn running time, in simulated seconds).

Inputs are read through the offering's catalog rules (``input.aspect_ratio`` and ``input.megapixels``, or
``input.width``/``height``); ``num_outputs``, ``output_format`` (``webp`` by default, ``jpg``, ``png``) and
``output_quality`` are checked; other inputs are ignored as a model that does not declare them would.
Errors are problem details (``type``, ``title``, ``status``, ``detail``): 401 without a token, 404 unknown
model or prediction, 422 invalid input; faults: 429 ``Request was throttled`` with ``retry-after``, 500,
503, and ``moderation`` as a ``failed`` prediction whose error says NSFW content was detected.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import re
import time
from collections.abc import Mapping
from typing import Any

from imgkit.catalog import Catalog
from imgkit.simulator._http import Exchange, ProtocolError, Request
from imgkit.simulator._images import ImageSpec, image_digest
from imgkit.simulator._openai import ApiError
from imgkit.simulator._profiles import Draw
from imgkit.simulator._wire import (
    QUEUE_SHARE,
    JobBook,
    PolledJob,
    Served,
    SizeRequestError,
    Verbatim,
    admit,
    dumps,
    input_from_wire,
    requested_size,
    send_timed,
    served_models,
)

__all__ = ["ReplicateError", "ReplicateProtocol"]

_PROBLEM = ("content-type", "application/problem+json")
_JSON = ("content-type", "application/json")
_MODEL = re.compile(r"^/replicate/v1/models/(?P<owner>[^/]+)/(?P<name>[^/]+)(?P<rest>/.*)?$")
_PREDICTION = re.compile(r"^/replicate/v1/predictions/(?P<id>[a-z0-9]+)(?P<cancel>/cancel)?/?$")
#: Replicate's synchronous mode holds a request at most this long (seconds)
MAX_WAIT_S = 60.0
_FORMATS = {"webp": "webp", "jpg": "jpeg", "png": "png"}
_NSFW = "NSFW content detected. Try running it again, or try a different prompt."


class ReplicateError(Exception):
    """A problem-details answer (RFC 7807), the shape replicate-python reads into ``ReplicateError``."""

    def __init__(self, status: int, title: str, detail: str, *, fields=(), headers=()) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.fields, self.headers = list(fields), tuple(headers)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.fields:
            out["invalid_fields"] = self.fields
        return out


def _invalid(field: str, description: str, kind: str = "value_error") -> ReplicateError:
    return ReplicateError(
        422,
        "Input validation failed",
        f"- {field}: {description}\n",
        fields=[{"type": kind, "field": field, "description": description}],
    )


def version_id(model: str) -> str:
    """The simulated version id of an ``owner/name`` model (deterministic, 64 hex digits like Replicate's)."""
    return hashlib.sha256(f"imgkit-simulated-version:{model}".encode()).hexdigest()


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ReplicateProtocol:
    """The ``/replicate`` routes of a :class:`~imgkit.simulator.SimulatorServer` (module doc)."""

    def __init__(self, server: Any, catalog: Catalog) -> None:
        self.server = server
        self.models = {
            name: served
            for name, served in served_models(catalog, ["replicate"]).items()
            if "/" in name  # owner/name ids only
        }
        self.versions = {version_id(name): name for name in self.models}
        self.jobs = JobBook()

    async def _send(self, ex: Exchange, status: int, body: Any, headers=(), problem: bool = False) -> None:
        await ex.send(
            status, [_PROBLEM if problem else _JSON, ("x-imgkit-simulated", "true"), *headers], dumps(body)
        )

    async def handle(self, req: Request, ex: Exchange, rec: Any) -> None:
        rec.provider = "replicate"
        try:
            auth = req.header("authorization")
            scheme, _, token = auth.partition(" ")
            if scheme.lower() not in ("bearer", "token") or not token.strip():
                raise ReplicateError(401, "Unauthenticated", "You did not pass an authentication token")
            path = req.path
            m = _MODEL.match(path)
            p = _PREDICTION.match(path)
            if m and m.group("rest") in ("/predictions", "/predictions/") and req.method == "POST":
                rec.kind = "replicate_create"
                await self._create(req, ex, rec, f"{m.group('owner')}/{m.group('name')}")
            elif path.rstrip("/") == "/replicate/v1/predictions" and req.method == "POST":
                rec.kind = "replicate_create"
                version = self._body(req).get("version")
                name = self.versions.get(str(version).rpartition(":")[2]) or str(version).partition(":")[0]
                await self._create(req, ex, rec, name)
            elif p and req.method == ("POST" if p.group("cancel") else "GET"):
                rec.kind = "replicate_cancel" if p.group("cancel") else "replicate_get"
                await self._prediction(req, ex, rec, p.group("id"), bool(p.group("cancel")))
            elif m and req.method == "GET":
                rec.kind = "replicate_model"
                await self._model(req, ex, f"{m.group('owner')}/{m.group('name')}", m.group("rest") or "")
            else:
                raise ReplicateError(
                    404, "Not found", f"The requested resource {req.method} {path} was not found"
                )
        except ReplicateError as err:
            await self._send(ex, err.status, err.body(), err.headers, problem=True)

    def _body(self, req: Request) -> Mapping[str, Any]:
        try:
            body = req.json()
        except ProtocolError:
            raise ReplicateError(400, "Invalid JSON", "The request body is not valid JSON") from None
        if not isinstance(body, Mapping):
            raise ReplicateError(400, "Invalid JSON", "The request body must be a JSON object")
        return body

    def _served(self, name: str) -> Served:
        served = self.models.get(name)
        if served is None:
            raise ReplicateError(404, "Model not found", f"The requested model {name} was not found")
        return served

    async def _model(self, req: Request, ex: Exchange, name: str, rest: str) -> None:
        served = self._served(name)
        version = {
            "id": version_id(name),
            "created_at": "2026-01-01T00:00:00.000000Z",
            "cog_version": "0.16.0",
            "openapi_schema": {
                "components": {
                    "schemas": {"Output": {"type": "array", "items": {"type": "string", "format": "uri"}}}
                }
            },
        }
        if rest.strip("/") == "":
            owner, _, model = name.partition("/")
            body: dict[str, Any] = {
                "url": f"https://replicate.com/{name}",
                "owner": owner,
                "name": model,
                "description": served.model.name,
                "visibility": "public",
                "github_url": None,
                "paper_url": None,
                "license_url": None,
                "run_count": 0,
                "cover_image_url": None,
                "default_example": None,
                "latest_version": version,
            }
        elif rest.strip("/") == f"versions/{version['id']}":
            body = version
        else:
            raise ReplicateError(404, "Not found", f"The requested resource {req.path} was not found")
        await self._send(ex, 200, body)

    def _input(self, served: Served, body: Mapping[str, Any]) -> dict[str, Any]:
        inp = body.get("input")
        if not isinstance(inp, Mapping):
            raise _invalid("input", "input is required and must be an object", "required")
        prompt = inp.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise _invalid("input.prompt", "prompt is required", "required")
        try:
            width, height = requested_size(served.model, served.rules.get("size"), body)
        except SizeRequestError as exc:
            raise _invalid(exc.field, f"{exc.value!r} is not one of: {exc.allowed}", "enum") from None
        most = served.offering.n_max or served.model.n_max
        n = inp.get("num_outputs", 1)
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= most:
            raise _invalid("input.num_outputs", f"Must be an integer from 1 to {most}")
        fmt = inp.get("output_format", "webp")
        if fmt not in _FORMATS:
            raise _invalid(
                "input.output_format", f"output_format must be one of: {', '.join(_FORMATS)}", "enum"
            )
        quality = inp.get("output_quality", 80)
        if isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= 100:
            raise _invalid("input.output_quality", "Must be an integer from 0 to 100")
        seed = inp.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise _invalid("input.seed", "Must be an integer", "type_error")
        inputs = []
        rule = served.rules.get("image")
        field = (rule.to or "input.image").partition(".")[2] if rule is not None else "image"
        raw = inp.get(field)
        for i, value in enumerate(raw if isinstance(raw, list) else [raw] if raw is not None else []):
            try:
                image = input_from_wire(value, f"input.{field}", self.server.local_file_spec)
            except ApiError:
                image = None
            if image is None:
                raise _invalid(
                    f"input.{field}",
                    "could not read the image (the simulator reads data: URIs, base64 and its own URLs)",
                )
            inputs.append(image)
            if i + 1 > (served.offering.max_input_images or served.model.max_input_images or 1):
                raise _invalid(f"input.{field}", "too many input images")
        return {
            "input": dict(inp),
            "prompt": prompt,
            "width": width,
            "height": height,
            "n": n,
            "fmt": _FORMATS[fmt],
            "quality": quality,
            "seed": seed,
            "single": (served.offering.n_max or served.model.n_max) == 1,
        }

    async def _create(self, req: Request, ex: Exchange, rec: Any, name: str) -> None:
        server = self.server
        served = self._served(name)
        job_input = self._input(served, self._body(req))
        admitted = await admit(server, ex, rec, "replicate", served, name)
        if admitted is None:
            return
        headers, draw, fault = admitted
        if fault == "rate_limit":
            retry = server._retry_after_headers()
            raise ReplicateError(
                429,
                "Request was throttled",
                f"Request was throttled. Your rate limit resets in ~{retry[0][1]}s.",
                headers=[*headers, *retry],
            )
        if fault == "auth":
            raise ReplicateError(401, "Unauthenticated", "Invalid token.", headers=headers)
        if fault in ("server_error", "unavailable"):
            await server._sleep(draw.ttfb_ms)
            status = 500 if fault == "server_error" else 503
            raise ReplicateError(
                status,
                "Internal Server Error" if status == 500 else "Service Unavailable",
                "Something went wrong on Replicate's side. Please try again.",
                headers=headers,
            )
        pid = self._new_id()
        rec.request_id = pid
        total_s = draw.total_ms * server.time_scale / 1000.0
        job = PolledJob(pid, served, time.monotonic(), total_s, draw, fault, {**job_input, "model": name})
        job.data["created"] = time.time()
        self.jobs.add(job)
        prefer = req.header("prefer").strip().lower()
        if prefer.startswith("wait"):
            wait_s = MAX_WAIT_S
            if prefer.startswith("wait="):
                try:
                    wait_s = min(MAX_WAIT_S, max(1.0, float(prefer[5:])))
                except ValueError:
                    raise ReplicateError(
                        400, "Invalid Prefer header", "Prefer: wait=N takes a number of seconds"
                    ) from None
            await self._hold(job, wait_s)
            done = job.phase(time.monotonic(), server.min_polls) == "done"
            body = await self._prediction_body(req, job, data_uris=True, final=done)
        else:
            body = await self._prediction_body(req, job, data_uris=False, final=False)
        payload = dumps(body)
        await send_timed(
            server,
            ex,
            201,
            [_JSON, ("x-imgkit-simulated", "true"), ("x-request-id", pid), *headers],
            payload,
            _instant(draw),
            fault,
        )

    async def _hold(self, job: PolledJob, wait_s: float) -> None:
        """Wait for the job within the synchronous window (polls do not advance a held job)."""
        remaining = job.submitted_s + job.total_s - time.monotonic()
        if self.server.min_polls or remaining <= 0:
            return
        await asyncio.sleep(min(remaining, wait_s))

    def _new_id(self) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        raw = int(self.server._new_id(), 16)
        return "".join(alphabet[(raw >> (5 * i)) % 36] for i in range(26))

    async def _prediction(self, req: Request, ex: Exchange, rec: Any, pid: str, cancel: bool) -> None:
        job = self.jobs.get(pid)
        if job is None:
            raise ReplicateError(404, "Not found", f"Prediction {pid} was not found")
        rec.model, rec.request_id, rec.fault = job.served.model.id, pid, job.fault
        now = time.monotonic()
        if cancel:
            if job.phase(now, self.server.min_polls) != "done":
                job.cancelled = True
                job.data["completed"] = time.time()
        else:
            job.polls += 1
        body = await self._prediction_body(req, job, data_uris=False, final=True)
        await self._send(ex, 200, body, [("x-request-id", pid)])

    async def _prediction_body(
        self, req: Request, job: PolledJob, *, data_uris: bool, final: bool
    ) -> dict[str, Any]:
        server = self.server
        origin = server._origin(req)
        phase = job.phase(time.monotonic(), server.min_polls) if final else "queued"
        data = job.data
        status = {"queued": "starting", "running": "processing"}.get(phase, "succeeded")
        if job.cancelled:
            status = "canceled"
        elif status == "succeeded" and job.fault == "moderation":
            status = "failed"
        output: Any = None
        if status == "succeeded":
            digest = image_digest(
                data["seed"] if data["seed"] is not None else server.seed,
                data["prompt"],
                (job.served.model.id, "replicate", "", f"{data['width']}x{data['height']}"),
            )
            urls: list[str | Verbatim] = []
            for index in range(data["n"]):
                spec = ImageSpec(
                    digest,
                    index,
                    data["width"],
                    data["height"],
                    data["fmt"],
                    False,
                    data["quality"] if data["fmt"] != "png" else 100,
                )
                if data_uris:
                    urls.append(Verbatim(f"data:{spec.content_type};base64,{await server._b64(spec)}"))
                else:
                    urls.append(f"{origin}/files/{spec.file_name}")
            output = urls[0] if data["single"] else urls
            data.setdefault("completed", time.time())
        started = None if status == "starting" else data["created"] + job.total_s * QUEUE_SHARE
        predict_s = round(job.draw.total_ms * (1 - QUEUE_SHARE) / 1000.0, 6)
        base = f"{origin}/replicate/v1/predictions/{job.id}"
        return {
            "id": job.id,
            "model": data["model"],
            "version": "hidden",
            "input": data["input"],
            "logs": "" if status == "starting" else "Running the simulated model\n",
            "output": output,
            "data_removed": False,
            "error": _NSFW if status == "failed" else None,
            "status": status,
            "created_at": _iso(data["created"]),
            "started_at": _iso(started),
            "completed_at": _iso(data.get("completed"))
            if status in ("succeeded", "failed", "canceled")
            else None,
            "urls": {"get": base, "cancel": f"{base}/cancel", "web": f"https://replicate.com/p/{job.id}"},
            "metrics": {"predict_time": predict_s, "total_time": round(job.draw.total_ms / 1000.0, 6)}
            if status in ("succeeded", "failed")
            else {},
        }


def _instant(draw: Draw) -> Draw:
    """A create's answer leaves at once: the prediction's time is spent queued and running (or held)."""
    return Draw(0.0, 0.0, draw.fails, draw.failure_kind)
