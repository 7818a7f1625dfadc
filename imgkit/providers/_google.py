"""Google's image protocols: the Gemini API (``x-goog-api-key``) and Vertex AI (a bearer token), one wire format.

``POST {base}/{endpoint}`` where the endpoint is ``models/{model}:generateContent`` (Gemini API) or
``{model}:generateContent`` (Vertex: the base URL names the project and location), or ``:predict`` for Imagen.

**generateContent**: the resolved body (``contents[0].parts[0].text``, ``generationConfig`` with
``responseModalities`` and ``imageConfig``), edit inputs appended to the first content's parts as
``inlineData``. One candidate; its ``inlineData`` image parts are the images. ``usageMetadata`` becomes the
log's usage per modality: prompt text and image tokens, output image tokens, output text tokens plus
thinking tokens (billed at the text-output rate), so the bill is the exact token cost. A safety block comes
back as HTTP 200: ``promptFeedback.blockReason``, or a candidate whose ``finishReason`` is a safety reason
and that holds no image: a :class:`~imgkit.errors.ContentPolicyError` (its input tokens may be billed).
A candidate without an image for another reason (``NO_IMAGE``, ``OTHER``, text only) is a malformed answer,
not retried (it was billed).

**predict** (Imagen): ``instances[0].prompt`` and ``parameters`` (``sampleCount``, ``aspectRatio``,
``sampleImageSize``, ...); ``predictions[].bytesBase64Encoded`` are the images; entries with only a
``raiFilteredReason`` are images the safety filter withheld (not delivered, not billed); an answer with none
left is a content-policy error. Billing is per image from the catalog.

Errors are Google's envelope (:func:`~imgkit.providers._errors.error_from_google`). Vertex: the base URL's
``{project}`` and ``{location}`` come from ``GOOGLE_CLOUD_PROJECT`` and ``GOOGLE_CLOUD_LOCATION`` (default
``global``: host ``aiplatform.googleapis.com``; ``us``/``eu``: ``aiplatform.{loc}.rep.googleapis.com``).
"""

from __future__ import annotations

import binascii
import copy
import os
from collections.abc import Mapping
from typing import Any

from imgkit.errors import ContentPolicyError, MissingKeyError, ProviderError
from imgkit.providers._errors import error_from_google, job_error, malformed, request_id_of
from imgkit.providers._http import CallRequest, auth_headers, decode_b64, json_object, post_json
from imgkit.providers._types import CallOutput, RawImage

__all__ = [
    "GeminiAdapter",
    "VertexAdapter",
    "candidates_output",
    "gemini_usage",
    "vertex_base_url",
    "with_inline_inputs",
]

#: finish reasons of a candidate withheld for safety (google-genai 3.6's ``FinishReason``)
POLICY_FINISH = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "MODEL_ARMOR",
    }
)
DEFAULT_VERTEX_LOCATION = "global"


def _modalities(details: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in details if isinstance(details, list) else ():
        if isinstance(item, Mapping):
            count = item.get("tokenCount")
            if isinstance(count, int) and not isinstance(count, bool):
                kind = str(item.get("modality") or "TEXT")
                out[kind] = out.get(kind, 0) + count
    return out


def _count(meta: Mapping[str, Any], name: str) -> int:
    value = meta.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def gemini_usage(meta: Mapping[str, Any]) -> dict[str, Any]:
    """``usageMetadata`` as the log's usage (OpenAI's shape): prompt text and image tokens, output image
    tokens, and output text tokens with the thinking tokens (billed at the text-output rate).

    Modalities other than text and image (audio, video, documents) count as text. Without per-modality
    details the prompt is text and the candidates are image tokens (the higher rate: never under-billed).
    """
    prompt_total = _count(meta, "promptTokenCount")
    prompt = _modalities(meta.get("promptTokensDetails"))
    image_in = prompt.get("IMAGE", 0)
    text_in = (sum(prompt.values()) - image_in) if prompt else prompt_total
    text_in += max(0, prompt_total - text_in - image_in)
    output = _modalities(meta.get("candidatesTokensDetails"))
    candidates = _count(meta, "candidatesTokenCount")
    image_out = output.get("IMAGE", 0) if output else candidates
    text_out = (sum(output.values()) - output.get("IMAGE", 0)) if output else 0
    text_out += max(0, candidates - image_out - text_out) + _count(meta, "thoughtsTokenCount")
    return {
        "input_tokens": text_in + image_in,
        "input_tokens_details": {"text_tokens": text_in, "image_tokens": image_in},
        "output_tokens": image_out + text_out,
        "output_tokens_details": {"image_tokens": image_out, "text_tokens": text_out},
        "total_tokens": text_in + image_in + image_out + text_out,
    }


def vertex_base_url(template: str, env: Mapping[str, str] | None = None) -> str:
    """The catalog's Vertex base URL with ``{project}`` and ``{location}`` filled from the environment
    (``GOOGLE_CLOUD_PROJECT``, ``GOOGLE_CLOUD_LOCATION``); a URL without placeholders is returned as is."""
    if "{" not in template:
        return template
    env = os.environ if env is None else env
    project = (env.get("GOOGLE_CLOUD_PROJECT") or "").strip()
    location = (env.get("GOOGLE_CLOUD_LOCATION") or DEFAULT_VERTEX_LOCATION).strip()
    if not project:
        raise MissingKeyError(
            "Vertex AI needs a Google Cloud project: set GOOGLE_CLOUD_PROJECT (and GOOGLE_CLOUD_LOCATION, "
            f"default {DEFAULT_VERTEX_LOCATION}) in the environment",
            provider="vertex-ai",
        )
    url = template.replace("{project}", project).replace("{location}", location)
    if location == "global":
        url = url.replace("://global-aiplatform.", "://aiplatform.")
    elif location in ("us", "eu"):
        url = url.replace(f"://{location}-aiplatform.", f"://aiplatform.{location}.rep.")
    return url


def _image(data: Any, where: str, provider: str, resp) -> RawImage:
    try:
        return RawImage(decode_b64(data or ""))
    except (binascii.Error, ValueError, TypeError, UnicodeEncodeError):
        raise malformed(
            f"{where} is not base64", provider=provider, status=resp.status_code, headers=resp.headers
        ) from None


def candidates_output(provider: str, resp: Any, body: Mapping[str, Any]) -> CallOutput:
    """A generateContent answer (``resp``: its status and headers) as the call's output (module doc): the
    candidate's images and the usage; a safety block raises a content-policy error, no image a malformed one."""
    usage_metadata = body.get("usageMetadata")
    meta: Mapping[str, Any] = usage_metadata if isinstance(usage_metadata, Mapping) else {}
    rid = str(body.get("responseId") or "") or request_id_of(resp.headers)
    feedback = body.get("promptFeedback")
    if isinstance(feedback, Mapping) and feedback.get("blockReason"):
        raise _blocked(
            provider,
            resp,
            f"prompt blocked: {feedback['blockReason']}",
            str(feedback["blockReason"]),
            rid,
            meta,
        )
    candidates = body.get("candidates")
    first = candidates[0] if isinstance(candidates, list) and candidates else {}
    if not isinstance(first, Mapping):
        raise malformed(
            "candidates[0] is not an object",
            provider=provider,
            status=resp.status_code,
            headers=resp.headers,
        )
    parts = (first.get("content") or {}).get("parts") if isinstance(first.get("content"), Mapping) else None
    images: list[RawImage] = []
    for index, part in enumerate(parts if isinstance(parts, list) else ()):
        inline = part.get("inlineData") or part.get("inline_data") if isinstance(part, Mapping) else None
        if not isinstance(inline, Mapping):
            continue
        mime = str(inline.get("mimeType") or inline.get("mime_type") or "")
        if not mime.startswith("image/"):
            continue
        where = f"candidates[0].content.parts[{index}].inlineData.data"
        images.append(_image(inline.get("data"), where, provider, resp))
    finish = str(first.get("finishReason") or "")
    if not images:
        if finish in POLICY_FINISH:
            raise _blocked(provider, resp, f"image withheld: finishReason {finish}", finish, rid, meta)
        raise malformed(
            f"the model returned no image (finishReason {finish or 'missing'})",
            provider=provider,
            status=resp.status_code,
            headers=resp.headers,
        )
    usage = gemini_usage(meta) if meta else None
    slim: dict[str, Any] = {"data": [{} for _ in images], "finish_reason": finish or None}
    if usage is not None:
        slim["usage"] = usage
    if body.get("modelVersion"):
        slim["model_version"] = body["modelVersion"]
    return CallOutput(resp.status_code, resp.headers, images, slim, request_id=rid or None, usage=usage)


def _blocked(
    provider: str, resp: Any, message: str, code: str, rid: str | None, meta: Mapping[str, Any]
) -> ProviderError:
    billed = _count(meta, "promptTokenCount") > 0
    note = " (its input tokens may be billed)" if billed else ""
    return job_error(
        ContentPolicyError,
        f"{message}{note}",
        provider=provider,
        resp=resp,
        job_id=rid,
        code=code,
        may_be_billed=billed,
    )


def with_inline_inputs(body: dict[str, Any], inputs: tuple[Any, ...], uri: Any = None) -> dict[str, Any]:
    """``body`` with edit inputs appended to the first content's parts as ``inlineData`` (a copy); ``uri``:
    an input's ``data:`` URL (default: encoded now)."""
    if not inputs:
        return body
    body = copy.deepcopy(body)
    contents = body.setdefault("contents", [{"parts": []}])
    parts = contents[0].setdefault("parts", [])
    for f in inputs:
        data = (uri(f) if uri is not None else f.data_uri()).partition(",")[2]
        parts.append({"inlineData": {"mimeType": f.mime, "data": data}})
    return body


class GeminiAdapter:
    """One generateContent or predict call to the Gemini API (module doc)."""

    kind = "gemini"

    def url(self, call: CallRequest) -> str:
        return f"{call.base_url.rstrip('/')}/{call.resolved.endpoint.lstrip('/')}"

    def body(self, call: CallRequest) -> dict[str, Any]:
        """The resolved body, edit inputs appended to the first content's parts as ``inlineData``."""
        return with_inline_inputs(call.body, call.inputs)

    async def call(self, call: CallRequest) -> CallOutput:
        provider = call.provider_id
        headers = auth_headers(call.provider, call.key)
        resp, raw = await post_json(call, self.url(call), self.body(call), headers, billed=True)
        if resp.status_code != 200:
            raise error_from_google(resp.status_code, raw, resp.headers, provider)
        body = json_object(raw, resp, provider)
        if call.resolved.endpoint.endswith(":predict"):
            return self._predictions(call, resp, body)
        return candidates_output(call.provider_id, resp, body)

    def _predictions(self, call: CallRequest, resp, body: Mapping[str, Any]) -> CallOutput:
        provider = call.provider_id
        predictions = body.get("predictions") or []
        if not isinstance(predictions, list):
            raise malformed(
                "predictions is not a list", provider=provider, status=resp.status_code, headers=resp.headers
            )
        images, filtered = [], []
        for index, item in enumerate(predictions):
            if not isinstance(item, Mapping) or item.get("contentType") == "Positive Prompt":
                continue
            if item.get("bytesBase64Encoded"):
                where = f"predictions[{index}].bytesBase64Encoded"
                images.append(_image(item["bytesBase64Encoded"], where, provider, resp))
            elif item.get("raiFilteredReason"):
                filtered.append(str(item["raiFilteredReason"]))
        rid = request_id_of(resp.headers)
        if not images:
            why = filtered[0] if filtered else "the answer holds no image"
            raise job_error(
                ContentPolicyError,
                f"every image was withheld by the safety filter: {why}",
                provider=provider,
                resp=resp,
                job_id=rid,
                code="RAI_FILTERED",
                may_be_billed=False,
            )
        slim = {"data": [{} for _ in images], "size": call.resolved.size, "filtered": len(filtered)}
        return CallOutput(resp.status_code, resp.headers, images, slim, request_id=rid)


class VertexAdapter(GeminiAdapter):
    """The same calls on Vertex AI: a bearer token, the project and location in the URL (module doc)."""

    kind = "vertex"
