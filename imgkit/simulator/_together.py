"""Together AI's image generation as the simulator serves it under ``/together`` (the value the ``together`` SDK
takes as ``base_url``; it adds ``/v1/images/generations`` itself).

``POST /together/v1/images/generations`` with Together's own fields: ``model`` (Together's id, e.g.
``black-forest-labs/FLUX.1-schnell``), ``prompt``, ``width`` and ``height`` (the model's limits), ``n``,
``steps``, ``seed``, ``output_format`` (``jpeg`` by default, ``png``) and ``response_format`` (``url`` by
default, or ``base64``: not OpenAI's ``b64_json``, which is refused). The answer is
``{"id", "model", "object": "list", "data": [{"index", "type": "b64_json"|"url", "b64_json"|"url",
"timings": {"inference"}}]}``; Together reports no usage or cost. Errors use the OpenAI-style envelope
``{"error": {"message", "type", "param", "code"}}``: 401 ``invalid_api_key``, 400/422 invalid fields, 429
``rate_limit_exceeded`` with ``retry-after``, 500, 503, and (an assumption: the wording is not published) a
422 ``content_policy_violation`` for a safety-checker block.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from imgkit.catalog import Catalog
from imgkit.simulator._http import Exchange, ProtocolError, Request
from imgkit.simulator._images import ImageSpec, image_digest
from imgkit.simulator._openai import ApiError
from imgkit.simulator._wire import (
    JSON_HEADER,
    SizeRequestError,
    Verbatim,
    admit,
    dumps,
    input_from_wire,
    requested_size,
    send_timed,
    served_models,
)

__all__ = ["TogetherProtocol"]

_FORMATS = {"jpeg": "jpeg", "png": "png"}


def _error(
    status: int, message: str, *, type: str = "invalid_request_error", param=None, code=None, headers=()
):
    err = ApiError(status, message, type=type, param=param, code=code, headers=headers)
    return err


class TogetherProtocol:
    """The ``/together`` routes of a :class:`~imgkit.simulator.SimulatorServer` (module doc)."""

    def __init__(self, server: Any, catalog: Catalog) -> None:
        self.server = server
        self.models = {k: v for k, v in served_models(catalog, ["together"]).items() if "/" in k}

    async def handle(self, req: Request, ex: Exchange, rec: Any) -> None:
        server = self.server
        rec.provider = "together"
        rec.request_id = request_id = server._new_id()[:16] + "-SIM"
        headers = [("x-imgkit-simulated", "true"), ("x-request-id", request_id)]
        try:
            if req.path.rstrip("/") != "/together/v1/images/generations" or req.method != "POST":
                raise _error(404, f"Unknown path {req.method} {req.path}", code="not_found")
            rec.kind = "generate"
            auth = req.header("authorization")
            if not auth.lower().startswith("bearer ") or not auth[7:].strip():
                raise _error(
                    401,
                    "Invalid API key provided. You can find your API key at "
                    "https://api.together.xyz/settings/api-keys.",
                    code="invalid_api_key",
                )
            job = self._parse(req)
        except ApiError as err:
            await ex.send(err.status, [JSON_HEADER, *headers, *err.headers], dumps(err.body()))
            return
        served = job["served"]
        admitted = await admit(server, ex, rec, "together", served, job["model"])
        if admitted is None:
            return
        profile_header, draw, fault = admitted
        headers += profile_header
        fault_error = self._fault_error(fault)
        if fault_error is not None:
            if fault != "rate_limit":
                await server._sleep(draw.ttfb_ms)
            await ex.send(
                fault_error.status, [JSON_HEADER, *headers, *fault_error.headers], dumps(fault_error.body())
            )
            return
        digest = image_digest(
            job["seed"] if job["seed"] is not None else server.seed,
            job["prompt"],
            (served.model.id, "together", "", f"{job['width']}x{job['height']}"),
        )
        inference_s = round(draw.total_ms / 1000.0, 6)
        data = []
        for index in range(job["n"]):
            spec = ImageSpec(digest, index, job["width"], job["height"], job["fmt"])
            item: dict[str, Any] = {"index": index}
            if job["base64"]:
                item.update(type="b64_json", b64_json=Verbatim(await server._b64(spec)))
            else:
                item.update(type="url", url=f"{server._origin(req)}/files/{spec.file_name}")
            item["timings"] = {"inference": inference_s}
            data.append(item)
        body = {
            "id": request_id,
            "model": job["model"],
            "object": "list",
            "created": int(time.time()),
            "data": data,
        }
        await send_timed(server, ex, 200, [JSON_HEADER, *headers], dumps(body), draw, fault)

    def _fault_error(self, fault: str | None) -> ApiError | None:
        if fault == "rate_limit":
            return _error(
                429,
                "You have been rate limited. Please slow down your requests.",
                type="rate_limit",
                code="rate_limit_exceeded",
                headers=self.server._retry_after_headers(),
            )
        if fault == "auth":
            return _error(401, "Invalid API key provided.", code="invalid_api_key")
        if fault == "server_error":
            return _error(500, "Internal server error", type="server_error")
        if fault == "unavailable":
            return _error(
                503,
                "The server is overloaded or not ready yet.",
                type="server_error",
                code="service_unavailable",
            )
        if fault == "moderation":
            return _error(
                422,
                "Your request was flagged by the safety checker: NSFW content detected.",
                code="content_policy_violation",
            )
        return None

    def _parse(self, req: Request) -> dict[str, Any]:
        try:
            body = req.json()
        except ProtocolError:
            raise _error(400, "Request body is not valid JSON") from None
        if not isinstance(body, Mapping):
            raise _error(400, "Request body must be a JSON object")
        model = body.get("model")
        served = self.models.get(str(model))
        if served is None:
            raise _error(
                404,
                f"Unable to access model {model}. Please visit https://api.together.ai/models to view the list of supported models.",
                param="model",
                code="model_not_available",
            )
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise _error(400, "prompt is required", param="prompt")
        try:
            width, height = requested_size(served.model, served.rules.get("size"), body)
        except SizeRequestError as exc:
            raise _error(
                422, f"{exc.field}: {exc.value} is not allowed ({exc.allowed})", param=exc.field
            ) from None
        most = served.offering.n_max or served.model.n_max
        n = body.get("n", 1)
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= most:
            raise _error(422, f"n must be an integer from 1 to {most}", param="n")
        steps = body.get("steps")
        if steps is not None and (
            isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 50
        ):
            raise _error(422, "steps must be an integer from 1 to 50", param="steps")
        fmt = body.get("output_format", "jpeg")
        if fmt not in _FORMATS:
            raise _error(422, "output_format must be one of jpeg, png", param="output_format")
        response_format = body.get("response_format", "url")
        if response_format not in ("base64", "url"):
            raise _error(422, "response_format must be one of base64, url", param="response_format")
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise _error(422, "seed must be an integer", param="seed")
        if body.get("image_url") is not None:
            try:
                image = input_from_wire(body["image_url"], "image_url", self.server.local_file_spec)
            except ApiError:
                image = None
            if image is None:
                raise _error(
                    422,
                    "image_url could not be read (the simulator reads data: URIs and its own URLs)",
                    param="image_url",
                )
        return {
            "served": served,
            "model": str(model),
            "prompt": prompt,
            "width": width,
            "height": height,
            "n": n,
            "fmt": _FORMATS[fmt],
            "base64": response_format == "base64",
            "seed": seed,
        }
