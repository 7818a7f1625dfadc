"""Black Forest Labs' API (docs.bfl.ai) as the simulator serves it under ``/bfl`` (``https://api.bfl.ai``).

Routes (``{model}`` a BFL endpoint name: ``flux-2-pro``, ``flux-kontext-pro``, ``flux-pro-1.1``, ...)::

    POST /bfl/v1/{model}              submit: {"id", "polling_url", "cost", "input_mp", "output_mp"}
    GET  /bfl/v1/get_result?id=...    poll: {"id", "status", "result", "progress", "details", "preview"}
    GET  /bfl/v1/credits              {"credits": ...}

The same routes answer at the root (``/v1/flux-...``, ``/v1/get_result``) for BFL's ``blackforest`` PyPI client,
which drops any path prefix of its base URL. Every request needs ``x-key``. A task is ``Pending`` (with
``progress``) until its drawn latency has passed (or ``min_polls`` polls), then ``Ready`` with
``result.sample``, a URL of this server (BFL's expire after about ten minutes; these do not). ``cost`` is in
credits (1 credit = the catalog's ``credit.usd``): the catalog's price of the image, its megapixels counted
fractionally (BFL does not publish its rounding; the simulator's choice is the low end of imgkit's range).

Faults in BFL's shapes: ``rate_limit`` 429 with ``retry-after``; ``auth`` 403; ``unavailable`` 503;
``server_error`` a task that ends with status ``Error``; ``moderation`` a task that ends ``Content Moderated``
(its output withheld). A 25th active task of one key is a 429 too: BFL allows 24 at a time (the catalog's
concurrency). Validation errors are FastAPI's 422 ``{"detail": [{"loc", "msg", "type"}]}``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from imgkit.catalog import Catalog
from imgkit.simulator._http import Exchange, ProtocolError, Request
from imgkit.simulator._images import ImageSpec, image_digest
from imgkit.simulator._openai import ApiError
from imgkit.simulator._wire import (
    JSON_HEADER,
    JobBook,
    PolledJob,
    SizeRequestError,
    admit,
    dumps,
    input_from_wire,
    requested_size,
    served_models,
)

__all__ = ["BflError", "BflProtocol"]

_FORMATS = {"jpeg": "jpeg", "png": "png"}
_INPUT_FIELDS = ("input_image", *(f"input_image_{i}" for i in range(2, 9)))
_TOLERANCE_MAX = 6


class BflError(Exception):
    """An error answer: ``{"detail": "..."}`` or FastAPI's validation list."""

    def __init__(self, status: int, detail: str | list[dict[str, Any]], headers=()) -> None:
        super().__init__(str(detail))
        self.status, self.detail, self.headers = status, detail, tuple(headers)

    @classmethod
    def invalid(cls, field: str, msg: str, kind: str = "value_error") -> BflError:
        return cls(422, [{"loc": ["body", field], "msg": msg, "type": kind}])


def _mp(width: int, height: int) -> Decimal:
    return Decimal(width * height) / Decimal(1_000_000)


class BflProtocol:
    """The ``/bfl`` routes (and the root aliases) of a :class:`~imgkit.simulator.SimulatorServer` (module doc)."""

    def __init__(self, server: Any, catalog: Catalog) -> None:
        self.server = server
        self.provider = catalog.providers["bfl"]
        self.models = {}
        for name, served in served_models(catalog, ["bfl"]).items():
            self.models[name] = served
            for path in served.offering.endpoint.values():
                self.models.setdefault(path.removeprefix("/v1/"), served)
        self.limit = self.provider.rate_limits.concurrency or 24
        self.jobs = JobBook()

    async def _send(self, ex: Exchange, status: int, body: Any, headers=()) -> None:
        await ex.send(status, [JSON_HEADER, ("x-imgkit-simulated", "true"), *headers], dumps(body))

    async def handle(self, req: Request, ex: Exchange, rec: Any) -> None:
        rec.provider = "bfl"
        prefix = "/bfl" if req.path.startswith("/bfl/") else ""
        path = req.path[len(prefix) :]
        try:
            key = req.header("x-key").strip()
            if not key:
                raise BflError(403, "Not authenticated")
            if path == "/v1/get_result" and req.method == "GET":
                rec.kind = "bfl_result"
                await self._result(req, ex, rec, key)
            elif path == "/v1/credits" and req.method == "GET":
                rec.kind = "bfl_credits"
                await self._send(ex, 200, {"credits": Decimal("10000")})
            elif path.startswith("/v1/") and req.method == "POST":
                rec.kind = "bfl_submit"
                await self._submit(req, ex, rec, key, prefix, path[len("/v1/") :].strip("/"))
            else:
                raise BflError(404, "Not Found")
        except BflError as err:
            await self._send(ex, err.status, {"detail": err.detail}, err.headers)

    def _input(self, served, body: Mapping[str, Any]) -> dict[str, Any]:
        prompt = body.get("prompt")
        inputs = []
        for field in _INPUT_FIELDS:
            if body.get(field) is None:
                continue
            try:
                image = input_from_wire(body[field], field, self.server.local_file_spec)
            except ApiError:
                image = None
            if image is None:
                raise BflError.invalid(
                    field,
                    "could not read the image (the simulator reads base64, data: URIs and its own URLs)",
                )
            inputs.append(image)
        if inputs and "edit" not in served.offering.modes:
            raise BflError.invalid("input_image", "this endpoint takes no input image")
        most = served.offering.max_input_images or served.model.max_input_images
        if len(inputs) > max(most, 0) and inputs:
            raise BflError.invalid(_INPUT_FIELDS[len(inputs) - 1], f"at most {most} input images")
        if (not isinstance(prompt, str) or not prompt.strip()) and not inputs:
            raise BflError.invalid("prompt", "Field required", "missing")
        try:
            width, height = requested_size(served.model, served.rules.get("size"), body)
        except SizeRequestError as exc:
            raise BflError.invalid(exc.field, f"{exc.value!r} is not supported: {exc.allowed}") from None
        fmt = body.get("output_format", "jpeg")
        if fmt not in _FORMATS:
            raise BflError.invalid("output_format", "Input should be 'jpeg' or 'png'", "enum")
        tolerance = body.get("safety_tolerance", 2)
        if (
            isinstance(tolerance, bool)
            or not isinstance(tolerance, int)
            or not 0 <= tolerance <= _TOLERANCE_MAX
        ):
            raise BflError.invalid(
                "safety_tolerance", f"Input should be an integer from 0 to {_TOLERANCE_MAX}"
            )
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise BflError.invalid("seed", "Input should be a valid integer", "int_type")
        return {
            "prompt": prompt or "",
            "width": width,
            "height": height,
            "fmt": _FORMATS[fmt],
            "seed": seed,
            "inputs": [(i.width, i.height) for i in inputs],
        }

    def _active(self, key: str, now: float) -> int:
        return sum(
            1
            for job in self.jobs.values()
            if job.data["key"] == key
            and job.phase(now, self.server.min_polls) != "done"
            and not job.data.get("read")
        )

    async def _submit(self, req: Request, ex: Exchange, rec: Any, key: str, prefix: str, name: str) -> None:
        server = self.server
        served = self.models.get(name)
        if served is None:
            raise BflError(404, "Not Found")
        try:
            body = req.json()
        except ProtocolError:
            raise BflError(
                422, [{"loc": ["body"], "msg": "JSON decode error", "type": "json_invalid"}]
            ) from None
        if not isinstance(body, Mapping):
            raise BflError(
                422, [{"loc": ["body"], "msg": "Input should be a valid dictionary", "type": "dict_type"}]
            )
        task = self._input(served, body)
        admitted = await admit(server, ex, rec, "bfl", served, name)
        if admitted is None:
            return
        headers, draw, fault = admitted
        now = time.monotonic()
        if fault == "rate_limit" or self._active(key, now) >= self.limit:
            raise BflError(
                429,
                f"You have reached the maximum number of active tasks ({self.limit}). Wait for a task to finish.",
                [*headers, *server._retry_after_headers()],
            )
        if fault == "auth":
            raise BflError(403, "Invalid API key", headers)
        if fault == "unavailable":
            await server._sleep(draw.ttfb_ms)
            raise BflError(503, "Service temporarily unavailable", headers)
        task_id = str(uuid.UUID(server._new_id()[:32]))
        rec.request_id = task_id
        job = PolledJob(
            task_id,
            served,
            now,
            draw.total_ms * server.time_scale / 1000.0,
            draw,
            fault,
            {**task, "key": key, "created": time.time()},
        )
        self.jobs.add(job)
        output_mp, input_mp = (
            _mp(task["width"], task["height"]),
            sum((_mp(w, h) for w, h in task["inputs"]), Decimal(0)),
        )
        quote = served.quote(task["width"], task["height"], 1, task["inputs"])
        usd = None if quote is None else (quote.total_usd if quote.total_usd is not None else quote.low_usd)
        credit = self.provider.credit.usd if self.provider.credit else Decimal("0.01")
        answer: dict[str, Any] = {
            "id": task_id,
            "polling_url": f"{server._origin(req)}{prefix}/v1/get_result?id={task_id}",
        }
        if usd is not None:
            answer["cost"] = (usd / credit).normalize()
        answer.update(
            input_mp=input_mp.quantize(Decimal("0.0001"), ROUND_HALF_UP).normalize(),
            output_mp=output_mp.quantize(Decimal("0.0001"), ROUND_HALF_UP).normalize(),
        )
        payload = dumps(answer)
        if fault == "malformed":
            payload = payload[: len(payload) // 3] + b"<html>502 Bad Gateway</html>"
        await ex.send(200, [JSON_HEADER, ("x-imgkit-simulated", "true"), *headers], payload)

    async def _result(self, req: Request, ex: Exchange, rec: Any, key: str) -> None:
        server = self.server
        task_id = req.query.get("id", "")
        job = self.jobs.get(task_id)
        if job is None or job.data["key"] != key:
            await self._send(
                ex,
                200,
                {
                    "id": task_id,
                    "status": "Task not found",
                    "result": None,
                    "progress": None,
                    "details": None,
                    "preview": None,
                },
            )
            return
        rec.model, rec.request_id, rec.fault = job.served.model.id, task_id, job.fault
        job.polls += 1
        now = time.monotonic()
        phase = job.phase(now, server.min_polls)
        data = job.data
        body: dict[str, Any] = {
            "id": task_id,
            "status": "Pending",
            "result": None,
            "progress": None,
            "details": None,
            "preview": None,
        }
        if phase != "done":
            elapsed = now - job.submitted_s
            body["progress"] = round(min(0.99, elapsed / job.total_s), 2) if job.total_s > 0 else 0.5
        elif job.fault == "moderation":
            body.update(
                status="Content Moderated", details={"Moderation Reasons": ["simulated content filter"]}
            )
            data["read"] = True
        elif job.fault == "server_error":
            body.update(status="Error", details={"error": "Generation failed on the simulated worker"})
            data["read"] = True
        else:
            seed = data["seed"] if data["seed"] is not None else server.seed
            digest = image_digest(
                seed, data["prompt"], (job.served.model.id, "bfl", "", f"{data['width']}x{data['height']}")
            )
            spec = ImageSpec(digest, 0, data["width"], data["height"], data["fmt"])
            duration = round(job.draw.total_ms / 1000.0, 6)
            body.update(
                status="Ready",
                result={
                    "sample": f"{server._origin(req)}/files/{spec.file_name}",
                    "prompt": data["prompt"],
                    "seed": seed if data["seed"] is not None else int(digest[:8], 16),
                    "start_time": data["created"],
                    "end_time": data["created"] + duration,
                    "duration": duration,
                },
            )
            data["read"] = True
        payload = dumps(body)
        if job.fault == "truncated" and body["status"] == "Ready":
            await ex.send_head(200, [JSON_HEADER, ("x-imgkit-simulated", "true")], len(payload))
            await ex.write(payload[: len(payload) // 2])
            await ex.close_after_flush()
            return
        await ex.send(200, [JSON_HEADER, ("x-imgkit-simulated", "true")], payload)
