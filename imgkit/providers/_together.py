"""Together AI's image generation: the OpenAI-compatible ``POST {base}/images/generations``, with Together's fields.

The body is JSON for generations and edits alike (``model``, ``prompt``, ``width``, ``height``, ``steps``,
``n``, ``seed``, ``output_format``, and ``response_format`` ``base64``, which imgkit always asks for; an edit
input travels as a ``data:`` URI in ``image_url``). The answer's ``data[]`` items carry ``b64_json`` (or a
``url``, downloaded without credentials) beside a ``type``; errors use the OpenAI envelope. Together reports
no usage or cost: the bill comes from the catalog's price for the requested size.
"""

from __future__ import annotations

import json

import httpx

from imgkit.params import put_path
from imgkit.providers._http import CallRequest, input_field
from imgkit.providers._openai import OpenAIAdapter
from imgkit.providers._types import CallOutput

__all__ = ["TogetherAdapter"]


class TogetherAdapter(OpenAIAdapter):
    """One call to Together's images endpoint (module doc)."""

    kind = "together"

    def build(self, call: CallRequest) -> httpx.Request:
        body = dict(call.body)
        if call.inputs:
            put_path(body, input_field(call.resolved, "image_url"), call.inputs[0].data_uri())
        headers = {"accept": "application/json", "content-type": "application/json"}
        if call.key is not None:
            headers["authorization"] = f"Bearer {call.key.reveal()}"
        url = f"{call.base_url.rstrip('/')}/images/generations"
        content = json.dumps(body, separators=(",", ":")).encode()
        return call.http.build_request("POST", url, headers=headers, content=content)

    async def call(self, call: CallRequest) -> CallOutput:
        output = await super().call(call)
        output.body.setdefault("size", call.resolved.size)  # Together echoes no size: the one asked for
        return output
