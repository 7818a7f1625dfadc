"""The OpenAI Images protocol as the simulator serves it: request parsing and validation per model, the
echoed values, ``usage`` from the catalog's token tables, the JSON response and the stream events.

Flavours: ``openai`` (``/v1``) is strict like the real API (unknown fields, sizes, qualities and ``n`` are
400s in OpenAI's error envelope); ``gateway`` (``/lumenfall/v1``) is the seed gateway: provider-prefixed model
ids, ``url`` by default, unknown fields passed through, a WxH size the model lacks converted to the nearest
supported one (the catalog's ``unsupported_size``), its own error codes, and ``id`` + ``metadata.cost``.

Deterministic choices where the real service decides (documented assumptions):

* ``quality=auto`` resolves to ``medium``; ``background=auto`` to ``opaque``;
* ``size=auto`` resolves to the model's supported size nearest in aspect ratio to the first input image
  (edits), else to 1024x1024 (or the model's default size);
* prompt text tokens are ``ceil(characters / 4)`` (:func:`imgkit.pricing.count_prompt_tokens`); input image
  tokens follow the published tile rule (:func:`imgkit.pricing.input_image_tokens`) on the real uploaded
  sizes, with the ``input_fidelity=high`` extra where it applies (always for gpt-image-2);
* with ``n > 1`` every image is billed as a separate call, input included (PRICING.md §4.3, CF-1381388), so
  input tokens are multiplied by ``n``; each partial image adds the table's 100 output tokens;
* ``stream=true`` with ``n > 1`` is refused (the API leaves it unspecified).
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from imgkit.catalog import Catalog, Model, parse_ratio, parse_wxh
from imgkit.params import nearest_supported_size, size_limit_problems
from imgkit.pricing import count_prompt_tokens, input_image_tokens, output_image_tokens
from imgkit.simulator._http import ProtocolError, Request
from imgkit.simulator._images import ImageSpec

__all__ = [
    "ApiError",
    "ImageJob",
    "InputImage",
    "invalid_value",
    "json_object",
    "parse_image_request",
    "require_bearer",
    "response_body",
    "stream_event",
    "usage_of",
]

QUALITY_AUTO = "medium"
BACKGROUND_AUTO = "opaque"
MAX_INPUT_BYTES = 50 * 1024 * 1024
_COMMON = {
    "prompt",
    "model",
    "n",
    "quality",
    "response_format",
    "output_format",
    "output_compression",
    "stream",
    "partial_images",
    "size",
    "background",
    "user",
    "safety_identifier",
    "moderation",
}
ALLOWED_FIELDS = {
    "generate": _COMMON | {"style"},
    "edit": _COMMON | {"image", "image[]", "images", "mask", "input_fidelity"},
}
_PIL_TO_FORMAT = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}

#: the gateway's error codes (API.md §3.6) by error kind
GATEWAY_ERROR_CODES = {
    "invalid": "INVALID_REQUEST",
    "moderation": "CONTENT_POLICY_VIOLATION",
    "auth": "AUTHENTICATION_FAILED",
    "not_found": "MODEL_NOT_FOUND",
    "rate_limit": "RATE_LIMITED",  # assumed: the gateway documents no 429 code (it fails over upstream 429s)
    "server_error": "INTERNAL_ERROR",
    "unavailable": "ALL_PROVIDERS_EXHAUSTED",
}


class ApiError(Exception):
    """An error answer. ``kind`` (invalid, auth, not_found, moderation, rate_limit, server_error,
    unavailable) lets each flavour pick its own code; ``extra`` adds keys to the error object."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid",
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.type = status, message, kind, type
        self.param, self.code, self.headers, self.extra = param, code, tuple(headers), dict(extra or {})

    def body(self, gateway: bool = False) -> dict[str, Any]:
        if gateway:
            return {
                "error": {"message": self.message, "type": self.type, "code": GATEWAY_ERROR_CODES[self.kind]}
            }
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
                **self.extra,
            }
        }


def require_bearer(req: Request) -> None:
    """A 401 in OpenAI's words unless the request carries ``Authorization: Bearer <something>``."""
    auth = req.header("authorization")
    if not auth.lower().startswith("bearer ") or not auth[7:].strip():
        raise ApiError(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            kind="auth",
        )


def json_object(req: Request) -> dict[str, Any]:
    """The request's JSON body, which must be an object (a 400 ``invalid_json`` otherwise)."""
    try:
        fields = req.json()
    except ProtocolError as exc:
        raise ApiError(400, str(exc), code="invalid_json") from None
    if not isinstance(fields, dict):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_json")
    return fields


def invalid_value(param: str, value: Any, allowed: Sequence[Any] | str) -> ApiError:
    shown = allowed if isinstance(allowed, str) else ", ".join(repr(a) for a in allowed)
    return ApiError(
        400,
        f"Invalid value: {value!r} for '{param}'. Supported values are: {shown}.",
        param=param,
        code="invalid_value",
    )


@dataclass(frozen=True)
class InputImage:
    width: int
    height: int
    fmt: str


@dataclass(frozen=True)
class ImageJob:
    """A validated image request with every value resolved (what the response echoes)."""

    mode: str  # generate | edit
    model: Model
    model_id: str  # as the client sent it
    provider: str  # who serves it (the gateway's metadata.provider)
    prompt: str
    n: int
    width: int
    height: int
    size: str
    quality: str | None
    output_format: str
    background: str | None
    compression: int
    response_format: str  # b64_json | url
    stream: bool
    partial_images: int
    inputs: tuple[InputImage, ...] = ()
    fidelity: str | None = None
    style: str | None = None

    @property
    def gpt_image(self) -> bool:
        return self.model.family == "gpt-image"

    def spec(self, digest: str, index: int, stage: int = 4) -> ImageSpec:
        lossy = self.output_format in ("jpeg", "webp")
        return ImageSpec(
            digest,
            index,
            self.width,
            self.height,
            self.output_format,
            self.background == "transparent",
            self.compression if lossy else 100,
            stage,
        )


# --- field access -------------------------------------------------------------------------------------------


def _present(fields: Mapping[str, Any], name: str) -> bool:
    return fields.get(name) is not None


def _int(fields: Mapping[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    raw = fields.get(name)
    if raw is None:
        return default
    try:
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ValueError
        value = int(raw)
    except (TypeError, ValueError):
        raise ApiError(
            400,
            f"Invalid type for '{name}': expected an integer, but got {raw!r}.",
            param=name,
            code="invalid_type",
        ) from None
    if not lo <= value <= hi:
        raise ApiError(
            400,
            f"Invalid '{name}': integer {value} is not between {lo} and {hi}.",
            param=name,
            code="integer_above_max_value" if value > hi else "integer_below_min_value",
        )
    return value


def _bool(fields: Mapping[str, Any], name: str) -> bool:
    raw = fields.get(name)
    if raw is None or isinstance(raw, bool):
        return bool(raw)
    text = str(raw).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0", ""):
        return False
    raise ApiError(
        400,
        f"Invalid type for '{name}': expected a boolean, but got {raw!r}.",
        param=name,
        code="invalid_type",
    )


def _choice(fields: Mapping[str, Any], name: str, allowed: Sequence[str], default: str | None) -> str | None:
    raw = fields.get(name)
    if raw is None:
        return default
    if raw not in allowed:
        raise invalid_value(name, raw, allowed)
    return str(raw)


def decode_image(data: bytes, label: str) -> InputImage:
    if len(data) > MAX_INPUT_BYTES:
        raise ApiError(400, f"{label} is larger than 50 MB.", param="image", code="image_too_large")
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = _PIL_TO_FORMAT.get(im.format or "")
            size = im.size
    except (UnidentifiedImageError, OSError, ValueError):
        fmt = None
    if fmt is None:
        raise ApiError(
            400,
            f"Invalid image file or mode for {label}: expected png, jpeg or webp.",
            param="image",
            code="invalid_image_format",
        )
    return InputImage(size[0], size[1], fmt)


def image_from_url(url: str, label: str, local_file_spec) -> InputImage | None:
    """Decode a base64 ``data:`` URL, or look up a URL this simulator serves; ``None`` when it is neither.

    ``ApiError`` when a data URL holds something that is not a png, jpeg or webp image.
    """
    if url.startswith("data:"):
        _, sep, payload = url.partition(";base64,")
        try:
            data = base64.b64decode(payload, validate=True) if sep else None
        except binascii.Error:
            data = None
        return decode_image(data, label) if data is not None else None
    spec = local_file_spec(url)
    return InputImage(spec.width, spec.height, spec.fmt) if spec is not None else None


def _image_from_ref(ref: Any, label: str, local_file_spec) -> InputImage:
    """An ``ImageRefParam`` of the JSON edit body: a ``data:`` URL or a URL served by this simulator."""
    if not isinstance(ref, Mapping) or len(ref) != 1 or not ({"image_url", "file_id"} & set(ref)):
        raise ApiError(
            400,
            f"{label} must be an object with exactly one of 'image_url' or 'file_id'.",
            param="images",
            code="invalid_value",
        )
    if "file_id" in ref:
        raise ApiError(
            400,
            f"{label}: file ids are not known to the simulator; send a data: URL.",
            param="images",
            code="invalid_value",
        )
    url = str(ref["image_url"])
    image = image_from_url(url, label, local_file_spec)
    if image is None:
        raise ApiError(
            400,
            f"{label}: the simulator reads base64 data: URLs and its own file URLs only, not {url[:80]!r}.",
            param="images",
            code="invalid_image_url",
        )
    return image


def _read_fields(
    req: Request, mode: str, local_file_spec
) -> tuple[dict[str, Any], list[InputImage], InputImage | None]:
    """The request's fields, its input images and its mask, from JSON or multipart."""
    if req.content_type == "multipart/form-data":
        if mode != "edit":
            raise ApiError(400, "Generations take a JSON body.", code="invalid_request")
        fields: dict[str, Any] = {}
        images: list[InputImage] = []
        mask = None
        for part in req.multipart():
            if part.name in ("image", "image[]") and part.filename is not None:
                images.append(decode_image(part.data, f"image {len(images) + 1}"))
            elif part.name in ("mask", "mask[]") and part.filename is not None:
                mask = decode_image(part.data, "mask")
            else:
                fields[part.name] = part.text()
        fields["__multipart__"] = True
        return fields, images, mask
    fields = json_object(req)
    images, mask = [], None
    if mode == "edit":
        if isinstance(fields.get("image"), str):
            raise ApiError(
                400,
                "'image' must be provided as a multipart file upload.",
                param="image",
                code="invalid_value",
            )
        refs = fields.get("images") or []
        if not isinstance(refs, list):
            raise ApiError(400, "'images' must be an array.", param="images", code="invalid_type")
        images = [_image_from_ref(r, f"images[{i}]", local_file_spec) for i, r in enumerate(refs)]
        if fields.get("mask") is not None:
            mask = _image_from_ref(fields["mask"], "mask", local_file_spec)
    return fields, images, mask


# --- models and sizes ---------------------------------------------------------------------------------------


def _find_model(catalog: Catalog, model_id: str, gateway: bool) -> tuple[Model, str]:
    """The catalog model for a model id as sent, and the provider serving it."""
    prefix, slash, slug = model_id.partition("/")
    if not slash:
        prefix, slug = "", model_id
    model = catalog.models.get(slug)
    if model is None:
        for (provider, mid), off in catalog.offerings.items():
            if off.provider_model_id == slug and (not prefix or provider == prefix):
                model = catalog.models[mid]
                break
    if gateway:
        serving = [p for p in (catalog.providers_for(model.id) if model else []) if p != "lumenfall"]
        provider = prefix or (serving[0] if serving else "lumenfall")
        if model is None or (prefix and (prefix, model.id) not in catalog.offerings):
            raise ApiError(
                404, f"Model '{model_id}' not found.", kind="not_found", code="model_not_found", param="model"
            )
        return model, provider
    if model is None or prefix or ("openai", model.id) not in catalog.offerings:
        raise ApiError(
            404,
            f"The model `{model_id}` does not exist or you do not have access to it.",
            kind="not_found",
            code="model_not_found",
            param="model",
        )
    return model, "openai"


def _candidate_sizes(model: Model) -> list[str]:
    rules = model.sizes
    if rules.fixed:
        return list(rules.fixed)
    sizes = [s for tiers in rules.aspect_ratios.values() for s in tiers.values()]
    return sizes or [rules.default]


def auto_size(model: Model, inputs: Sequence[InputImage]) -> str:
    """``size=auto``: the supported size nearest in aspect ratio to the first input image, else the square."""
    candidates = _candidate_sizes(model)
    if not inputs:
        return "1024x1024" if "1024x1024" in candidates else candidates[0]
    target = math.log(inputs[0].width / inputs[0].height)

    def distance(size: str) -> float:
        w, h = parse_wxh(size)
        return abs(math.log(w / h) - target)

    return min(candidates, key=distance)


def size_problems(model: Model, w: int, h: int) -> list[str]:
    """Why ``w`` x ``h`` is not a size of ``model`` (empty when it is)."""
    if model.sizes.fixed is not None:
        return [] if f"{w}x{h}" in model.sizes.fixed else ["not one of the model's sizes"]
    return size_limit_problems(model.sizes, w, h)


def _check_flexible(model: Model, w: int, h: int, size: str) -> None:
    """400 naming the limits a size breaks on a flexible-size model (the limits of :mod:`imgkit.params`)."""
    problems = size_limit_problems(model.sizes, w, h)
    if problems:
        raise invalid_value("size", size, f"WIDTHxHEIGHT with {'; '.join(problems)} (for {model.id})")


def resolve_size(
    model: Model, raw: Any, inputs: Sequence[InputImage], gateway: bool, convert_unsupported: bool = False
) -> tuple[int, int, str]:
    """The output size of ``size``; an unsupported WxH is a 400, or (``convert_unsupported``: a gateway that
    documents it) the nearest supported size."""
    size = str(raw)
    rules = model.sizes
    if size == "auto":
        if not rules.auto:
            raise invalid_value("size", size, _candidate_sizes(model))
        size = auto_size(model, inputs)
    elif gateway and ":" in size:
        try:
            parse_ratio(size)
        except ValueError:
            raise invalid_value("size", size, "WxH or W:H") from None
        tiers = rules.aspect_ratios.get(size)
        if not tiers:
            raise invalid_value("size", size, sorted(rules.aspect_ratios))
        size = tiers.get(rules.default_resolution or "", next(iter(tiers.values())))
    try:
        w, h = parse_wxh(size)
    except ValueError:
        raise invalid_value("size", size, _candidate_sizes(model)) from None
    if convert_unsupported:
        w, h = nearest_supported_size(model, w, h) if size_problems(model, w, h) else (w, h)
        return w, h, f"{w}x{h}"
    if rules.fixed:
        if size not in rules.fixed:
            raise invalid_value("size", size, [*rules.fixed, *(("auto",) if rules.auto else ())])
    else:
        _check_flexible(model, w, h, size)
    return w, h, f"{w}x{h}"


# --- the request --------------------------------------------------------------------------------------------


def parse_image_request(
    req: Request, mode: str, *, catalog: Catalog, gateway: bool = False, local_file_spec=lambda url: None
) -> ImageJob:
    """Validate a generation or edit request; ``ApiError`` (400/404) names the field, value and what is allowed.

    ``local_file_spec(url)`` maps a URL served by this simulator to its ImageSpec (JSON edits may refer to it).
    """
    fields, inputs, mask = _read_fields(req, mode, local_file_spec)
    multipart = bool(fields.pop("__multipart__", False))
    if not gateway:
        for name in fields:
            if name not in ALLOWED_FIELDS[mode]:
                raise ApiError(400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")
    if not isinstance(fields.get("prompt"), str) or not fields["prompt"]:
        raise ApiError(
            400, "Missing required parameter: 'prompt'.", param="prompt", code="missing_required_parameter"
        )
    prompt = fields["prompt"]
    gpt_specific = {
        "output_format",
        "output_compression",
        "background",
        "moderation",
        "stream",
        "partial_images",
    }
    default_model = (
        "gpt-image-1.5" if mode == "edit" or any(_present(fields, f) for f in gpt_specific) else "dall-e-2"
    )
    model_id = str(fields.get("model") or default_model)
    model, provider = _find_model(catalog, model_id, gateway)
    if mode not in model.modes:
        raise invalid_value("model", model_id, [m.id for m in catalog.models.values() if mode in m.modes])
    limit = 1000 if gateway else model.prompt_max_chars
    if limit and len(prompt) > limit:
        raise ApiError(
            400,
            f"Invalid 'prompt': string too long. Expected a string with maximum length {limit}, "
            f"but got a string with length {len(prompt)} instead.",
            param="prompt",
            code="string_above_max_length",
        )
    offering = catalog.offerings.get((provider if gateway else "openai", model.id))
    n_max = (offering.n_max if offering and offering.n_max else None) or model.n_max
    n = _int(fields, "n", 1, 1, 10 if gateway else n_max)
    # inputs
    if mode == "edit":
        max_inputs = offering.max_input_images if offering and offering.max_input_images else None
        max_inputs = max_inputs or model.max_input_images
        if not inputs:
            raise ApiError(
                400, "Missing required parameter: 'image'.", param="image", code="missing_required_parameter"
            )
        if len(inputs) > max_inputs:
            raise invalid_value(
                "image", f"{len(inputs)} images", f"at most {max_inputs} images for {model.id}"
            )
        if model.id == "dall-e-2" and (inputs[0].fmt != "png" or inputs[0].width != inputs[0].height):
            raise ApiError(
                400, "dall-e-2 edits take one square PNG image.", param="image", code="invalid_value"
            )
        if mask is not None and (
            mask.fmt != "png" or (mask.width, mask.height) != (inputs[0].width, inputs[0].height)
        ):
            raise ApiError(
                400,
                "Invalid mask image format - mask must be a PNG of the same size as the (first) "
                f"image ({inputs[0].width}x{inputs[0].height}), got {mask.fmt} "
                f"{mask.width}x{mask.height}.",
                param="mask",
                code="invalid_value",
            )
    # quality
    qualities = [*model.qualities, *(("auto",) if model.quality_auto else ())]
    raw_quality = fields.get("quality")
    if gateway and model.family == "gpt-image" and raw_quality in ("hd", "standard"):
        raw_quality = {"hd": "high", "standard": "medium"}[raw_quality]
    quality: str | None = None
    if qualities:
        quality = _choice(
            {"quality": raw_quality}, "quality", qualities, model.default_quality or qualities[0]
        )
        quality = QUALITY_AUTO if quality == "auto" and QUALITY_AUTO in model.qualities else quality
    elif raw_quality is not None and not gateway:
        raise invalid_value("quality", raw_quality, "no quality parameter for this model")
    # size
    raw_size = fields.get("size")
    if raw_size is None and gateway and fields.get("aspect_ratio"):
        raw_size = fields["aspect_ratio"]
    if raw_size is None:
        raw_size = (
            "1024x1024"
            if mode == "edit" and multipart and model.family == "gpt-image"
            else model.sizes.default
        )
    gateway_provider = catalog.providers.get("lumenfall")
    converts = gateway and gateway_provider is not None and gateway_provider.unsupported_size == "nearest"
    width, height, size = resolve_size(model, raw_size, inputs, gateway, converts)
    # format, background, compression
    formats = ("png", "jpeg", "webp") if gateway else model.output_formats
    default_format = "png" if "png" in model.output_formats else model.output_formats[0]
    output_format = _choice(fields, "output_format", formats, default_format) or default_format
    if not gateway and not model.output_compression and _present(fields, "output_compression"):
        raise invalid_value(
            "output_compression", fields["output_compression"], f"not supported by {model.id}"
        )
    compression = _int(fields, "output_compression", 100, 0, 100)
    background: str | None = None
    if model.backgrounds:
        background = _choice(fields, "background", model.backgrounds, "auto")
        background = BACKGROUND_AUTO if background == "auto" else background
        if background == "transparent" and output_format not in ("png", "webp"):
            raise ApiError(
                400,
                f"Transparent background requires output_format png or webp, got {output_format!r}.",
                param="background",
                code="invalid_value",
            )
    elif _present(fields, "background") and not gateway:
        raise invalid_value("background", fields["background"], f"not supported by {model.id}")
    # delivery
    default_rf = "url" if gateway or model.family == "dall-e" else "b64_json"
    response_format = _choice(fields, "response_format", ("url", "b64_json"), default_rf) or default_rf
    stream = _bool(fields, "stream")
    partial_images = _int(fields, "partial_images", 0, 0, 3)
    if stream and not model.streaming:
        raise invalid_value("stream", True, f"false ({model.id} does not stream)")
    if partial_images > model.partial_images_max and (stream or not gateway):
        raise invalid_value("partial_images", partial_images, f"0..{model.partial_images_max} for {model.id}")
    if stream and n > 1:
        raise invalid_value("n", n, "1 when stream is true (streaming several images is not specified)")
    _choice(fields, "moderation", ("low", "auto"), "auto")
    style = None
    if _present(fields, "style"):
        if model.id != "dall-e-3" and not gateway:
            raise invalid_value("style", fields["style"], "only for dall-e-3")
        style = _choice(fields, "style", ("vivid", "natural"), "vivid")
    fidelity = None
    if mode == "edit":
        raw = _choice(fields, "input_fidelity", model.input_fidelity or ("low",), None)
        fidelity = "high" if model.always_high_fidelity else (raw or "low")
    return ImageJob(
        mode,
        model,
        model_id,
        provider,
        prompt,
        n,
        width,
        height,
        size,
        quality,
        output_format,
        background,
        compression,
        response_format,
        stream,
        partial_images if stream else 0,
        tuple(inputs),
        fidelity,
        style,
    )


# --- usage and bodies ----------------------------------------------------------------------------------------


def usage_of(job: ImageJob) -> dict[str, Any] | None:
    """``usage`` of a GPT Image response (module doc for the rules); ``None`` for models that send none."""
    found = output_image_tokens(job.model, job.quality, job.size)
    tokens = job.model.output_tokens
    if found is None or tokens is None or not job.gpt_image:
        return None
    per_image = found[0]
    text = count_prompt_tokens(job.prompt)
    image_in = sum(input_image_tokens(job.model, i.width, i.height, job.fidelity) for i in job.inputs)
    output = job.n * per_image + tokens.partial_image * job.partial_images
    inputs = job.n * (text + image_in)
    return {
        "input_tokens": inputs,
        "output_tokens": output,
        "total_tokens": inputs + output,
        "input_tokens_details": {"text_tokens": job.n * text, "image_tokens": job.n * image_in},
        "output_tokens_details": {"image_tokens": output, "text_tokens": 0},
    }


def response_body(job: ImageJob, data: list[dict[str, Any]], created: int) -> dict[str, Any]:
    """The ``ImagesResponse`` JSON (echoed values for GPT Image models, ``revised_prompt`` for dall-e-3)."""
    if job.model.id == "dall-e-3":
        for item in data:
            item["revised_prompt"] = job.prompt
    body: dict[str, Any] = {"created": created, "data": data}
    if job.gpt_image:
        body.update(
            background=job.background, output_format=job.output_format, size=job.size, quality=job.quality
        )
        usage = usage_of(job)
        if usage is not None:
            body["usage"] = usage
    elif job.model.family != "dall-e":  # other models behind the gateway
        body.update(size=job.size, output_format=job.output_format)
    return body


def stream_event(job: ImageJob, b64: str, created: int, partial_index: int | None = None) -> dict[str, Any]:
    """One SSE payload: a partial image (``partial_index`` given) or the completed image with ``usage``."""
    prefix = "image_edit" if job.mode == "edit" else "image_generation"
    event: dict[str, Any] = {
        "type": f"{prefix}.{'partial_image' if partial_index is not None else 'completed'}",
        "b64_json": b64,
        "created_at": created,
        "size": job.size,
        "quality": job.quality,
        "background": job.background,
        "output_format": job.output_format,
    }
    if partial_index is not None:
        event["partial_image_index"] = partial_index
    else:
        usage = usage_of(job) or {}
        event["usage"] = {k: v for k, v in usage.items() if k != "output_tokens_details"}
    return event
