"""Google's image protocols as the simulator serves them under ``/gemini``: the Gemini API and Vertex AI.

Routes (``{m}`` a model as the provider names it: ``gemini-3-pro-image``, a preview id, ``imagen-4.0-generate-001``)::

    POST /gemini/{v1|v1beta|v1alpha}/models/{m}:{generateContent|streamGenerateContent|predict}     Gemini API
    POST /gemini/{v1|v1beta1}/publishers/google/models/{m}:{...}                                    Vertex express
    POST /gemini/{v1|v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{m}:{...}         Vertex

``http://HOST:PORT/gemini`` is what google-genai takes as its base URL in both modes (it adds the version
itself: ``v1`` with an API key, ``v1beta1`` for Vertex). The Gemini API and Vertex express take the key in
``x-goog-api-key`` (or ``?key=``), a Vertex project path a bearer token.

``generateContent`` answers one candidate whose parts are the image (``inlineData``, PNG) and nothing else
(no text part, no thinking tokens: an assumption, so a bill equals the token quote), with ``usageMetadata``
per modality: the prompt's text tokens (``ceil(characters / 4)``), each input image's tokens (the offering's
``input_image_tokens_per_image``, else 258, Gemini's published count for a small image), and the image
tokens of the model's table for the tier produced. ``:predict`` (Imagen) answers ``sampleCount`` (default 4)
base64 ``predictions``. Field names are read in lowerCamelCase or snake_case, as Google's JSON mapping
accepts both (google-genai 3.6 sends ``inlineData.mime_type``).

Faults in Google's shapes: ``rate_limit`` 429 ``RESOURCE_EXHAUSTED`` whose ``RetryInfo`` says how long to wait (no
``Retry-After`` header, as Google's own answers); ``auth`` 400 ``API_KEY_INVALID`` (the Gemini API's answer to a wrong key; Vertex project paths
401 ``UNAUTHENTICATED``); ``server_error`` 500 ``INTERNAL``; ``unavailable`` 503 ``UNAVAILABLE``;
``moderation`` an HTTP 200 whose prompt is blocked (``promptFeedback.blockReason``) or whose candidate ends
``IMAGE_SAFETY`` without an image (alternating), and for Imagen the 400 ``INVALID_ARGUMENT`` of a prompt the
safety filter refused.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from imgkit.catalog import Catalog
from imgkit.errors import UnknownPriceError
from imgkit.params import size_parts
from imgkit.pricing import count_prompt_tokens
from imgkit.simulator._http import Exchange, ProtocolError, Request
from imgkit.simulator._images import ImageSpec, image_digest
from imgkit.simulator._openai import ApiError, InputImage, decode_image
from imgkit.simulator._wire import (
    JSON_HEADER,
    Served,
    SizeRequestError,
    Verbatim,
    admit,
    dumps,
    requested_size,
    send_timed,
    served_models,
)

__all__ = ["GoogleError", "GoogleProtocol"]

_ROUTE = re.compile(
    r"^/gemini/(?P<ver>v1|v1beta|v1alpha|v1beta1)/"
    r"(?:projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/)?"
    r"(?P<scope>publishers/(?P<publisher>[^/]+)/models|models)/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)$"
)
_METHODS = {"generateContent", "streamGenerateContent", "predict"}
#: tokens of one input image where the catalog gives none (Gemini's count for an image up to 384 px a side)
DEFAULT_INPUT_IMAGE_TOKENS = 258
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_GENERATION_CONFIG = {
    "responseModalities",
    "imageConfig",
    "seed",
    "temperature",
    "topP",
    "topK",
    "candidateCount",
    "maxOutputTokens",
    "stopSequences",
    "thinkingConfig",
    "responseMimeType",
    "mediaResolution",
    "presencePenalty",
    "frequencyPenalty",
}
_IMAGE_CONFIG = {"aspectRatio", "imageSize", "personGeneration", "imageOutputOptions", "prominentPeople"}
_IMAGEN_PARAMETERS = {
    "sampleCount",
    "aspectRatio",
    "sampleImageSize",
    "negativePrompt",
    "guidanceScale",
    "seed",
    "safetySetting",
    "personGeneration",
    "includeSafetyAttributes",
    "includeRaiReason",
    "language",
    "outputOptions",
    "addWatermark",
    "enhancePrompt",
    "storageUri",
}
_IMAGEN_MIME = {"image/png": "png", "image/jpeg": "jpeg"}


class GoogleError(Exception):
    """An error answer in Google's shape: ``{"error": {"code", "message", "status", "details"}}``."""

    def __init__(
        self, code: int, message: str, details: list[dict[str, Any]] | None = None, headers=()
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.details, self.headers = code, message, details or [], tuple(headers)

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message, "status": _STATUS_NAMES[self.code]}
        if self.details:
            err["details"] = self.details
        return {"error": err}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def camel_keys(value: Any) -> Any:
    """Every mapping key in lowerCamelCase (``mime_type`` -> ``mimeType``), as Google's JSON parser reads
    both spellings."""
    if isinstance(value, Mapping):
        return {_camel(str(k)): camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel_keys(v) for v in value]
    return value


def _unknown(names: set[str], allowed: set[str], where: str) -> None:
    extra = sorted(names - allowed)
    if extra:
        raise GoogleError(
            400,
            f"Invalid JSON payload received. Unknown name \"{extra[0]}\" at '{where}': Cannot find field.",
        )


def _inline_image(part: Mapping[str, Any], label: str) -> InputImage:
    data = part.get("data")
    try:  # Google's bytes fields take either base64 alphabet (google-genai sends the URL-safe one)
        text = data.replace("-", "+").replace("_", "/") if isinstance(data, str) else None
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True) if text else None
    except (binascii.Error, ValueError):
        raw = None
    if raw is None:
        raise GoogleError(400, f"Invalid value at '{label}.data' (TYPE_BYTES), Base64 decoding failed")
    try:
        return decode_image(raw, label)
    except ApiError:
        raise GoogleError(
            400, f"Unable to process input image {label}: not a PNG, JPEG or WebP image."
        ) from None


class GoogleProtocol:
    """The ``/gemini`` routes of a :class:`~imgkit.simulator.SimulatorServer` (module doc)."""

    def __init__(self, server: Any, catalog: Catalog) -> None:
        self.server = server
        self.models = {
            "gemini-api": served_models(catalog, ["gemini-api"]),
            "vertex-ai": served_models(catalog, ["vertex-ai"]),
        }
        self._blocks = 0

    async def _send_error(self, ex: Exchange, err: GoogleError, headers) -> None:
        await ex.send(err.code, [JSON_HEADER, *headers, *err.headers], dumps(err.body()))

    async def handle(self, req: Request, ex: Exchange, rec: Any) -> None:
        server = self.server
        rec.request_id = request_id = server._new_id()[:24]
        headers = [("x-imgkit-simulated", "true"), ("x-request-id", request_id)]
        m = _ROUTE.match(req.path)
        try:
            if m is None or req.method != "POST" or m.group("method") not in _METHODS:
                raise GoogleError(404, f"Method not found: {req.method} {req.path}.")
            vertex = m.group("scope") != "models"
            versions = ("v1", "v1beta1") if vertex else ("v1", "v1beta", "v1alpha")
            if m.group("ver") not in versions or (vertex and m.group("publisher") != "google"):
                raise GoogleError(404, f"Method not found: {req.method} {req.path}.")
            provider = "vertex-ai" if vertex else "gemini-api"
            rec.provider = provider
            rec.kind = m.group("method")
            self._authenticate(req, vertex, m.group("project") is not None)
            served = self.models[provider].get(m.group("model"))
            predict = m.group("method") == "predict"
            if served is None or predict != served.offering.provider_model_id.startswith("imagen"):
                raise GoogleError(
                    404,
                    f"models/{m.group('model')} is not found for API version {m.group('ver')}, or is not "
                    f"supported for {m.group('method')}. Call ListModels to see the list of available models "
                    "and their supported methods.",
                )
            try:
                body = camel_keys(req.json())
            except ProtocolError as exc:
                raise GoogleError(400, f"Invalid JSON payload received. {exc}") from None
            if not isinstance(body, Mapping):
                raise GoogleError(400, "Invalid JSON payload received. Expected an object.")
            job = self._imagen(served, body) if predict else self._gemini(served, body)
        except GoogleError as err:
            await self._send_error(ex, err, headers)
            return
        admitted = await admit(server, ex, rec, provider, served, m.group("model"))
        if admitted is None:
            return
        profile_header, draw, fault = admitted
        headers += profile_header
        fault_error = self._fault_error(fault, served, predict, m.group("project") is not None)
        if fault_error is not None:
            if fault != "rate_limit":
                await server._sleep(draw.ttfb_ms)
            await self._send_error(ex, fault_error, headers)
            return
        digest = image_digest(
            server.seed, job["prompt"], (served.model.id, provider, "", f"{job['width']}x{job['height']}")
        )
        if predict:
            answer = await self._imagen_answer(served, job, digest)
        elif fault == "moderation":
            answer = self._blocked(served, job, request_id)
        else:
            answer = await self._gemini_answer(served, job, digest, request_id, m.group("model"))
        if m.group("method") == "streamGenerateContent":
            await self._stream(ex, headers, answer, draw, fault)
            return
        body = dumps(answer)
        await send_timed(server, ex, 200, [JSON_HEADER, *headers], body, draw, fault)

    def _authenticate(self, req: Request, vertex: bool, project: bool) -> None:
        if project:
            auth = req.header("authorization")
            if not auth.lower().startswith("bearer ") or not auth[7:].strip():
                raise GoogleError(
                    401,
                    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
                    "cookie or other valid authentication credential. See "
                    "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                )
            return
        if req.header("x-goog-api-key").strip() or req.query.get("key", "").strip():
            return
        if vertex:
            raise GoogleError(401, "API keys are not supported by this API. Expected OAuth2 access token.")
        raise GoogleError(
            403,
            "Method doesn't allow unregistered callers (callers without established identity). Please use "
            "API Key or other form of API consumer identity to call this API.",
        )

    def _fault_error(
        self, fault: str | None, served: Served, predict: bool, project: bool
    ) -> GoogleError | None:
        server = self.server
        if fault == "rate_limit":  # Google says when to retry in the body (RetryInfo), not in a header
            delay_ms = float(server._retry_after_headers()[1][1])
            return GoogleError(
                429,
                "Resource has been exhausted (e.g. check quota).",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": f"{delay_ms / 1000:g}s",
                    },
                    {
                        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                        "violations": [{"quotaMetric": "generate_content_requests", "quotaId": "PerMinute"}],
                    },
                ],
            )
        if fault == "auth":
            if project:
                return GoogleError(401, "Request had invalid authentication credentials.")
            return GoogleError(
                400,
                "API key not valid. Please pass a valid API key.",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                    }
                ],
            )
        if fault == "server_error":
            return GoogleError(
                500,
                "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
            )
        if fault == "unavailable":
            return GoogleError(503, "The model is overloaded. Please try again later.")
        if fault == "moderation" and predict:
            return GoogleError(
                400,
                "Image generation failed with the following error: The prompt could not be submitted. This "
                "prompt contains sensitive words that violate Google's Responsible AI practices. Try "
                "rephrasing the prompt. If you think this was an error, send feedback. Support codes: 42876398",
            )
        return None

    # --- generateContent ------------------------------------------------------------------------------------

    def _gemini(self, served: Served, body: Mapping[str, Any]) -> dict[str, Any]:
        _unknown(
            set(body),
            {
                "contents",
                "generationConfig",
                "safetySettings",
                "systemInstruction",
                "tools",
                "toolConfig",
                "cachedContent",
                "labels",
            },
            "generate_content_request",
        )
        contents = body.get("contents")
        if isinstance(contents, Mapping):
            contents = [contents]
        if not isinstance(contents, list) or not contents:
            raise GoogleError(400, "* GenerateContentRequest.contents: contents is not specified")
        texts, inputs = [], []
        for c, content in enumerate(contents):
            parts = content.get("parts") if isinstance(content, Mapping) else None
            if not isinstance(parts, list) or not parts:
                raise GoogleError(
                    400, f"* GenerateContentRequest.contents[{c}].parts: contents.parts must not be empty."
                )
            for p, part in enumerate(parts):
                if not isinstance(part, Mapping):
                    raise GoogleError(400, f"Invalid value at 'contents[{c}].parts[{p}]': expected an object")
                if isinstance(part.get("text"), str):
                    texts.append(part["text"])
                elif isinstance(part.get("inlineData"), Mapping):
                    inputs.append(_inline_image(part["inlineData"], f"contents[{c}].parts[{p}].inline_data"))
                else:
                    raise GoogleError(
                        400, f"contents[{c}].parts[{p}]: the simulator reads text and inlineData parts only"
                    )
        prompt = "\n".join(texts)
        if not prompt.strip() and not inputs:
            raise GoogleError(400, "* GenerateContentRequest.contents: contents is not specified")
        if inputs and "edit" not in served.offering.modes:
            raise GoogleError(400, f"{served.offering.provider_model_id} does not take input images.")
        most = served.offering.max_input_images or served.model.max_input_images
        if len(inputs) > most:
            raise GoogleError(400, f"Too many input images: {len(inputs)} (at most {most}).")
        config = body.get("generationConfig") or {}
        if not isinstance(config, Mapping):
            raise GoogleError(400, "Invalid value at 'generation_config': expected an object")
        _unknown(set(config), _GENERATION_CONFIG, "generation_config")
        image_config = config.get("imageConfig") or {}
        if not isinstance(image_config, Mapping):
            raise GoogleError(400, "Invalid value at 'generation_config.image_config': expected an object")
        _unknown(set(image_config), _IMAGE_CONFIG, "generation_config.image_config")
        modalities = config.get("responseModalities") or ["TEXT", "IMAGE"]
        if not isinstance(modalities, list) or not set(modalities) <= {"TEXT", "IMAGE"}:
            raise GoogleError(
                400, f"Invalid value at 'generation_config.response_modalities': {modalities!r}"
            )
        width, height = self._size(served, body)
        return {
            "prompt": prompt,
            "inputs": inputs,
            "width": width,
            "height": height,
            "image": "IMAGE" in modalities,
        }

    def _size(self, served: Served, body: Mapping[str, Any]) -> tuple[int, int]:
        try:
            return requested_size(served.model, served.rules.get("size"), body)
        except SizeRequestError as exc:
            field = exc.field.split(".")[-1]
            raise GoogleError(
                400,
                f"Unsupported {field} {exc.value!r} for {served.offering.provider_model_id}; supported: {exc.allowed}",
            ) from None

    def _usage(self, served: Served, job: Mapping[str, Any], image_tokens: int) -> dict[str, Any]:
        try:
            per_input = served.offering.price_on().input_image_tokens_per_image
        except UnknownPriceError:
            per_input = None
        per_input = per_input or DEFAULT_INPUT_IMAGE_TOKENS
        text_in = count_prompt_tokens(job["prompt"])
        image_in = per_input * len(job["inputs"])
        prompt = [{"modality": "TEXT", "tokenCount": text_in}]
        if image_in:
            prompt.append({"modality": "IMAGE", "tokenCount": image_in})
        usage: dict[str, Any] = {
            "promptTokenCount": text_in + image_in,
            "promptTokensDetails": prompt,
            "totalTokenCount": text_in + image_in + image_tokens,
        }
        if image_tokens:
            usage["candidatesTokenCount"] = image_tokens
            usage["candidatesTokensDetails"] = [{"modality": "IMAGE", "tokenCount": image_tokens}]
        return usage

    def _image_tokens(self, served: Served, width: int, height: int) -> int:
        tokens = served.model.output_tokens
        if tokens is None or not tokens.per_resolution:
            return 0
        _, tier = size_parts(served.model, width, height)
        return tokens.per_resolution.get(tier or "", next(iter(tokens.per_resolution.values())))

    async def _gemini_answer(
        self, served: Served, job: Mapping[str, Any], digest: str, request_id: str, asked: str
    ) -> dict[str, Any]:
        parts: list[dict[str, Any]] = []
        image_tokens = 0
        if job["image"]:
            spec = ImageSpec(digest, 0, job["width"], job["height"], "png")
            parts.append(
                {"inlineData": {"mimeType": "image/png", "data": Verbatim(await self.server._b64(spec))}}
            )
            image_tokens = self._image_tokens(served, job["width"], job["height"])
        else:
            parts.append({"text": "The simulated model answers with images only."})
        return {
            "candidates": [
                {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": self._usage(served, job, image_tokens),
            "modelVersion": asked,
            "responseId": request_id,
        }

    def _blocked(self, served: Served, job: Mapping[str, Any], request_id: str) -> dict[str, Any]:
        """A safety block, the way the API reports one: HTTP 200, the prompt blocked or the image withheld."""
        self._blocks += 1
        usage = self._usage(served, job, 0)
        if self._blocks % 2:
            return {
                "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                "usageMetadata": usage,
                "responseId": request_id,
            }
        return {
            "candidates": [{"finishReason": "IMAGE_SAFETY", "index": 0}],
            "usageMetadata": usage,
            "responseId": request_id,
        }

    async def _stream(self, ex: Exchange, headers, answer: Mapping[str, Any], draw, fault) -> None:
        """``streamGenerateContent?alt=sse``: the whole answer as one event."""
        payload = b"data: " + dumps(answer) + b"\r\n\r\n"
        await send_timed(
            self.server, ex, 200, [("content-type", "text/event-stream"), *headers], payload, draw, fault
        )

    # --- Imagen :predict ------------------------------------------------------------------------------------

    def _imagen(self, served: Served, body: Mapping[str, Any]) -> dict[str, Any]:
        _unknown(set(body), {"instances", "parameters", "labels"}, "predict_request")
        instances = body.get("instances")
        if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], Mapping):
            raise GoogleError(400, "instances must hold exactly one instance with a prompt.")
        prompt = instances[0].get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise GoogleError(400, "The prompt is empty. Please provide a prompt.")
        params = body.get("parameters") or {}
        if not isinstance(params, Mapping):
            raise GoogleError(400, "Invalid value at 'parameters': expected an object")
        _unknown(set(params), _IMAGEN_PARAMETERS, "parameters")
        most = served.offering.n_max or served.model.n_max
        count = params.get("sampleCount", most)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= most:
            raise GoogleError(400, f"sampleCount must be an integer between 1 and {most}, got {count!r}.")
        if params.get("storageUri"):
            raise GoogleError(400, "The simulator returns images inline; storageUri is not served.")
        mime = (params.get("outputOptions") or {}).get("mimeType", "image/png")
        if mime not in _IMAGEN_MIME:
            raise GoogleError(
                400, f"Unsupported outputOptions.mimeType {mime!r}; supported: image/png, image/jpeg"
            )
        person = params.get("personGeneration")
        if person is not None and str(person).upper() not in ("DONT_ALLOW", "ALLOW_ADULT", "ALLOW_ALL"):
            raise GoogleError(400, f"Unsupported personGeneration {person!r}.")
        width, height = self._size(served, body)
        return {
            "prompt": prompt,
            "inputs": [],
            "width": width,
            "height": height,
            "n": count,
            "fmt": _IMAGEN_MIME[mime],
        }

    async def _imagen_answer(self, served: Served, job: Mapping[str, Any], digest: str) -> dict[str, Any]:
        predictions = []
        for index in range(job["n"]):
            spec = ImageSpec(digest, index, job["width"], job["height"], job["fmt"])
            predictions.append(
                {"bytesBase64Encoded": Verbatim(await self.server._b64(spec)), "mimeType": spec.content_type}
            )
        return {"predictions": predictions}
