"""The fal.ai queue protocol as the simulator serves it: endpoints from the catalog, input validation in
fal's 422 shape, infrastructure errors in fal's string-``detail`` shape, and queued jobs whose status moves
IN_QUEUE -> IN_PROGRESS -> COMPLETED with simulated time (or, for tests, with the number of polls).

Like the real queue, a submit is accepted whatever the input; validation and model failures surface when
the job completes (status ``COMPLETED`` with ``error`` / ``error_type``, and an HTTP error from the result
URL). The result shape follows the endpoint family (API.md §2.3): FLUX endpoints return ``images``, ``seed``,
``has_nsfw_concepts``, ``timings`` and ``prompt``; gpt-image endpoints return ``images`` only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from imgkit.catalog import Catalog, FieldRule, Model, parse_wxh
from imgkit.params import size_limit_problems
from imgkit.simulator._images import ImageSpec
from imgkit.simulator._openai import QUALITY_AUTO, ApiError, InputImage, auto_size, image_from_url
from imgkit.simulator._wire import SizeRequestError, requested_size

__all__ = [
    "FAL_IMAGE_SIZE_PRESETS",
    "FalEndpoint",
    "FalError",
    "FalInput",
    "FalJob",
    "fal_endpoints",
    "parse_fal_input",
]

#: fal's image_size presets (fal-ai/fal projects/fal/src/fal/toolkit/image/image.py)
FAL_IMAGE_SIZE_PRESETS = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
#: HTTP status of each infrastructure error type (fal docs, "Request Error Types")
FAL_ERROR_STATUS = {
    "request_timeout": 504,
    "startup_timeout": 504,
    "runner_scheduling_failure": 503,
    "runner_connection_timeout": 503,
    "runner_disconnected": 503,
    "runner_connection_refused": 503,
    "runner_connection_error": 503,
    "runner_incomplete_response": 502,
    "runner_server_error": 500,
    "internal_error": 500,
    "client_disconnected": 499,
    "client_cancelled": 499,
    "bad_request": 400,
}
_CUSTOM_EDGE_MAX = 14142


class FalError(Exception):
    """A fal error answer: a ``detail`` list (model/validation errors) or string (infrastructure errors)."""

    def __init__(
        self,
        status: int,
        detail: str | list[dict[str, Any]],
        *,
        error_type: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(detail if isinstance(detail, str) else detail[0]["msg"])
        self.status, self.detail, self.error_type, self.headers = status, detail, error_type, tuple(headers)

    @classmethod
    def infrastructure(cls, error_type: str, detail: str) -> FalError:
        return cls(
            FAL_ERROR_STATUS[error_type],
            detail,
            error_type=error_type,
            headers=[("x-fal-error-type", error_type)],
        )

    @classmethod
    def validation(
        cls,
        loc: Sequence[Any],
        msg: str,
        type: str,
        value: Any = None,
        ctx: Mapping[str, Any] | None = None,
        status: int = 422,
    ) -> FalError:
        item = {
            "loc": ["body", *loc],
            "msg": msg,
            "type": type,
            "url": f"https://docs.fal.ai/errors#{type}",
            "input": value,
            "ctx": dict(ctx or {}),
        }
        return cls(status, [item], headers=[("x-fal-retryable", "false")])

    @property
    def message(self) -> str:
        return str(self)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"detail": self.detail}
        if self.error_type:
            out["error_type"] = self.error_type
        return out


@dataclass(frozen=True)
class FalEndpoint:
    endpoint_id: str  # e.g. fal-ai/flux/dev
    model: Model  # as fal serves it (the offering's size rules)
    mode: str
    n_max: int
    max_inputs: int
    size_rule: FieldRule | None = None  # the catalog's size rule: image_size, or aspect_ratio and resolution

    @property
    def app(self) -> str:
        """``owner/alias``: status and result URLs drop the endpoint's subpath."""
        return "/".join(self.endpoint_id.split("/")[:2])


def fal_endpoints(catalog: Catalog) -> dict[str, FalEndpoint]:
    """Every fal endpoint of the catalog by endpoint id."""
    out = {}
    for (provider, model_id), off in catalog.offerings.items():
        if catalog.providers[provider].adapter != "fal":
            continue
        model = catalog.offered_model(model_id, provider)
        rule = off.fields.get("size") or catalog.providers[provider].fields.get("size")
        for mode, endpoint_id in (off.endpoint or {off.modes[0]: off.provider_model_id}).items():
            out[endpoint_id] = FalEndpoint(
                endpoint_id,
                model,
                mode,
                off.n_max or model.n_max,
                off.max_input_images or model.max_input_images,
                rule,
            )
    return out


@dataclass(frozen=True)
class FalInput:
    prompt: str
    width: int
    height: int
    n: int
    fmt: str
    transparent: bool
    seed: int | None
    sync_mode: bool
    inputs: tuple[InputImage, ...] = ()


def _as_int(body: Mapping[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    raw = body.get(name)
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise FalError.validation([name], "value is not a valid integer", "int_type", raw)
    if raw < lo:
        raise FalError.validation(
            [name],
            f"ensure this value is greater than or equal to {lo}",
            "greater_than_equal",
            raw,
            {"ge": lo},
        )
    if raw > hi:
        raise FalError.validation(
            [name], f"ensure this value is less than or equal to {hi}", "less_than_equal", raw, {"le": hi}
        )
    return raw


def expected_text(allowed: Sequence[Any]) -> str:
    """pydantic's wording of the allowed literals: ``'a', 'b' or 'c'``."""
    quoted = [repr(a) for a in allowed]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _enum(body: Mapping[str, Any], name: str, allowed: Sequence[str], default: str) -> str:
    raw = body.get(name, default)
    if raw not in allowed:
        expected = expected_text(allowed)
        raise FalError.validation([name], f"Input should be {expected}", "enum", raw, {"expected": expected})
    return raw


def _image_size(ep: FalEndpoint, raw: Any, inputs: Sequence[InputImage]) -> tuple[int, int]:
    """The output size for fal's ``image_size``, or a 422 about ``image_size`` in fal's own terms.

    gpt-image endpoints with fixed sizes take only their literals (``auto`` and the OpenAI size strings);
    other endpoints take a preset name or ``{width, height}`` (and ``auto`` where the model has it), within
    the model's limits.
    """
    model, rules = ep.model, ep.model.sizes
    gpt = model.family == "gpt-image"
    if gpt and rules.fixed is not None:
        allowed = [*(["auto"] if rules.auto else []), *rules.fixed]
        if not isinstance(raw, str) or raw not in allowed:
            expected = expected_text(allowed)
            raise FalError.validation(
                ["image_size"], f"Input should be {expected}", "enum", raw, {"expected": expected}
            )
        return parse_wxh(auto_size(model, inputs) if raw == "auto" else raw)
    if gpt and rules.auto and raw == "auto":
        return parse_wxh(auto_size(model, inputs))
    if isinstance(raw, str) and raw in FAL_IMAGE_SIZE_PRESETS:
        w, h = FAL_IMAGE_SIZE_PRESETS[raw]
    elif isinstance(raw, Mapping) and set(raw) == {"width", "height"}:
        w, h = raw["width"], raw["height"]
        if not all(
            isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= _CUSTOM_EDGE_MAX for v in (w, h)
        ):
            raise FalError.validation(
                ["image_size"],
                f"width and height should be integers from 1 to {_CUSTOM_EDGE_MAX}",
                "value_error",
                raw,
                {"ge": 1, "le": _CUSTOM_EDGE_MAX},
            )
    else:
        presets = expected_text([*(["auto"] if gpt and rules.auto else []), *FAL_IMAGE_SIZE_PRESETS])
        raise FalError.validation(
            ["image_size"],
            f"Input should be {presets} or an object with width and height",
            "value_error",
            raw,
            {"expected": presets},
        )
    problems = size_limit_problems(rules, w, h) if rules.fixed is None else []
    if problems:
        raise FalError.validation(
            ["image_size"],
            f"image_size {w}x{h} is not supported by {ep.endpoint_id}: {'; '.join(problems)}",
            "value_error",
            raw,
            {"width": w, "height": h},
        )
    return w, h


def _input_image(url: Any, i: int, local_file_spec: Callable[[str], ImageSpec | None]) -> InputImage:
    try:
        image = image_from_url(url, f"image_urls[{i}]", local_file_spec) if isinstance(url, str) else None
    except ApiError:
        image = None
    if image is None:
        raise FalError.validation(
            ["image_urls", i],
            "Failed to download the file (the simulator reads data: "
            "URIs of png, jpeg or webp images and its own file URLs only)",
            "file_download_error",
            url,
        )
    return image


def parse_fal_input(
    ep: FalEndpoint, body: Any, local_file_spec: Callable[[str], ImageSpec | None]
) -> FalInput:
    """Validate an endpoint's input; ``FalError`` 422 with a ``detail`` list names the field."""
    if not isinstance(body, Mapping):
        raise FalError.validation([], "Input should be a valid dictionary", "dict_type", body)
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise FalError.validation(["prompt"], "Field required", "missing", prompt)
    inputs: tuple[InputImage, ...] = ()
    if ep.mode == "edit":
        urls = body.get("image_urls")
        if not isinstance(urls, list) or not urls:
            raise FalError.validation(["image_urls"], "Field required", "missing", urls)
        if len(urls) > ep.max_inputs:
            raise FalError.validation(
                ["image_urls"],
                f"List should have at most {ep.max_inputs} items",
                "too_long",
                len(urls),
                {"max_length": ep.max_inputs},
            )
        inputs = tuple(_input_image(u, i, local_file_spec) for i, u in enumerate(urls))
    model = ep.model
    gpt = model.family == "gpt-image"
    default_size = "auto" if gpt else "landscape_4_3"
    targets = ep.size_rule.targets if ep.size_rule is not None else {}
    if {"aspect_ratio", "resolution"} & set(targets) and not {"image_size", "size"} & set(targets):
        # endpoints sized by aspect_ratio and resolution (nano-banana, FLUX1.1 [pro] ultra)
        try:
            width, height = requested_size(model, ep.size_rule, body)
        except SizeRequestError as exc:
            expected = exc.allowed
            raise FalError.validation(
                [exc.field], f"Input should be {expected}", "enum", exc.value, {"expected": expected}
            ) from None
    else:
        width, height = _image_size(ep, body.get("image_size", default_size), inputs)
    n = _as_int(body, "num_images", 1, 1, ep.n_max)
    default_fmt = "png" if gpt else "jpeg"
    if default_fmt not in model.output_formats:
        default_fmt = model.output_formats[0]
    fmt = _enum(body, "output_format", model.output_formats, default_fmt)
    transparent = False
    if model.backgrounds:
        transparent = _enum(body, "background", model.backgrounds, "auto") == "transparent"
        if transparent and fmt == "jpeg":
            raise FalError.validation(
                ["background"], "transparent background needs png or webp", "value_error", "transparent"
            )
    if model.qualities:
        _enum(body, "quality", [*model.qualities, "auto"], QUALITY_AUTO)
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise FalError.validation(["seed"], "value is not a valid integer", "int_type", seed)
    return FalInput(prompt, width, height, n, fmt, transparent, seed, bool(body.get("sync_mode")), inputs)


@dataclass
class FalJob:
    """One queued request: when it starts and ends (monotonic seconds), and how it ends."""

    request_id: str
    endpoint: FalEndpoint
    body: Any
    submitted_s: float
    queue_s: float
    total_s: float
    fault: str | None = None  # job-level fault decided at submit
    polls: int = 0
    cancelled: bool = False
    outcome: FalInput | FalError | None = field(default=None, repr=False)

    def urls(self, fal_base: str) -> dict[str, str]:
        base = f"{fal_base}/{self.endpoint.app}/requests/{self.request_id}"
        return {"response_url": base, "status_url": f"{base}/status", "cancel_url": f"{base}/cancel"}

    def phase(self, now_s: float, min_polls: int = 0) -> str:
        """IN_QUEUE, IN_PROGRESS or COMPLETED at ``now_s`` (and after ``polls`` status polls)."""
        if self.cancelled:
            return "COMPLETED"
        if self.polls < min_polls:
            return "IN_QUEUE" if self.polls <= 1 else "IN_PROGRESS"
        elapsed = now_s - self.submitted_s
        if elapsed < self.queue_s:
            return "IN_QUEUE"
        if elapsed < self.total_s:
            return "IN_PROGRESS"
        return "COMPLETED"
