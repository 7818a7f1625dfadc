"""A stand-in for four image APIs, for building LiteLLM spend-log rows offline with LiteLLM's own proxy code.

One HTTP server on 127.0.0.1 that answers like four image APIs, so LiteLLM's own clients, cost calculators and
spend-log builder run unchanged against it:

* OpenAI   POST /v1/images/generations (JSON) and /v1/images/edits (multipart) -> data[].b64_json + usage
* Gemini   POST /v1beta/models/<m>:generateContent -> candidates[].content.parts[].inlineData + usageMetadata
* Imagen   POST /v1beta/models/<m>:predict -> predictions[].bytesBase64Encoded (no usage, like the real API)
* fal      POST /<anything else> (sync fal.run style) -> images[] {url, width, height, content_type}

Behaviour switches ride in the prompt so one server covers every case:
  [no-otd]     omit usage.output_tokens_details (OpenAI) -> LiteLLM bug class #31142
  [no-usage]   omit usage entirely
  [fail:429]   answer with that HTTP status and an OpenAI-style error body (any 4xx/5xx)
  [out:NNNN]   output image tokens to report (default: OpenAI 1024x1024 low=272 / medium=1056 / high=4160)
  [gw:0.0421]  answer like a gateway: add metadata {cost, cost_currency, provider} (the gateway's own charge)

Run: python fake_images_server.py PORT   (prints "ready PORT" once listening)
"""

from __future__ import annotations

import base64
import json
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# 1x1 transparent PNG: small rows, still a decodable image
PNG_1x1 = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()

OPENAI_OUT = {  # output image tokens by quality at 1024x1024 (gpt-image-1 family)
    "low": 272,
    "medium": 1056,
    "high": 4160,
    "auto": 1056,
    None: 1056,
}


def _switches(prompt: str) -> dict:
    s: dict = {"no_otd": "[no-otd]" in prompt, "no_usage": "[no-usage]" in prompt}
    m = re.search(r"\[fail:(\d{3})\]", prompt)
    s["fail"] = int(m.group(1)) if m else None
    m = re.search(r"\[out:(\d+)\]", prompt)
    s["out"] = int(m.group(1)) if m else None
    m = re.search(r"\[gw:([0-9.]+)\]", prompt)
    s["gw"] = m.group(1) if m else None
    return s


def _text_tokens(prompt: str) -> int:
    return max(1, (len(prompt) + 3) // 4)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):  # quiet
        pass

    def _send(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.send_header("x-request-id", f"req_{time.time_ns():x}")
        self.end_headers()
        self.wfile.write(raw)

    def _fail(self, code: int) -> None:
        kind = {
            429: "rate_limit_exceeded",
            400: "moderation_blocked",
            500: "server_error",
            503: "server_error",
        }
        self._send(
            code,
            {
                "error": {
                    "message": f"simulated {code}",
                    "type": kind.get(code, "server_error"),
                    "param": None,
                    "code": kind.get(code, "server_error"),
                }
            },
        )

    def _body(self) -> tuple[dict, bytes]:
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n) if n else b""
        ctype = self.headers.get("content-type", "")
        if "json" in ctype:
            return json.loads(raw or b"{}"), raw
        if "multipart/form-data" in ctype:
            # minimal multipart parse: text fields only
            boundary = ctype.split("boundary=")[1].encode()
            out: dict = {}
            for part in raw.split(b"--" + boundary):
                m = re.search(
                    rb'name="([^"]+)"(?:; filename="[^"]*")?\r\n(?:[^\r\n]+\r\n)*\r\n(.*)\r\n$', part, re.S
                )
                if m and b"filename=" not in part.split(b"\r\n\r\n")[0]:
                    out[m.group(1).decode()] = m.group(2).decode(errors="replace")
                elif m:
                    out.setdefault("_files", 0)
                    out["_files"] += 1
            return out, raw
        return {}, raw

    def do_POST(self):
        body, _ = self._body()
        path = self.path.split("?")[0]
        if path.endswith("/images/generations") or path.endswith("/images/edits"):
            return self._openai(body, edit=path.endswith("/edits"))
        if path.endswith(":generateContent"):
            return self._gemini(body, path)
        if path.endswith(":predict"):
            return self._imagen(body)
        return self._fal(body, path)

    # -- OpenAI images ----------------------------------------------------------------------------------------
    def _openai(self, body: dict, edit: bool) -> None:
        prompt = str(body.get("prompt", ""))
        s = _switches(prompt)
        if s["fail"]:
            return self._fail(s["fail"])
        time.sleep(0.02)
        n = int(body.get("n") or 1)
        quality = body.get("quality") or "auto"
        size = body.get("size") or "1024x1024"
        out_img = s["out"] if s["out"] is not None else OPENAI_OUT.get(quality, 1056)
        text_in = _text_tokens(prompt)
        image_in = 323 * int(body.get("_files", 1)) if edit else 0
        resp: dict = {
            "created": int(time.time()),
            "background": "opaque",
            "output_format": "png",
            "quality": "medium" if quality == "auto" else quality,
            "size": "1024x1024" if size == "auto" else size,
            "data": [{"b64_json": PNG_1x1} for _ in range(n)],
        }
        if not s["no_usage"]:
            usage: dict = {
                "input_tokens": text_in + image_in,
                "input_tokens_details": {"text_tokens": text_in, "image_tokens": image_in},
                "output_tokens": out_img * n,
                "total_tokens": text_in + image_in + out_img * n,
            }
            if not s["no_otd"]:
                usage["output_tokens_details"] = {"image_tokens": out_img * n, "text_tokens": 0}
            resp["usage"] = usage
        if s["gw"]:
            resp["metadata"] = {
                "cost": float(s["gw"]),
                "cost_currency": "USD",
                "provider": "fal",
                "provider_name": "fal.ai",
                "request_id": f"lf_{time.time_ns():x}",
            }
        self._send(200, resp)

    # -- Gemini generateContent (image models) -----------------------------------------------------------------
    def _gemini(self, body: dict, path: str) -> None:
        prompt = " ".join(
            p.get("text", "")
            for c in body.get("contents", [])
            for p in c.get("parts", [])
            if isinstance(p, dict)
        )
        s = _switches(prompt)
        if s["fail"]:
            return self._fail(s["fail"])
        model = path.rsplit("/", 1)[-1].split(":")[0]
        out_img = s["out"] if s["out"] is not None else (1290 if "2.5" in model else 1120)
        text_in = _text_tokens(prompt)
        thoughts = 0 if "2.5" in model else 300
        self._send(
            200,
            {
                "candidates": [
                    {
                        "content": {
                            "role": "model",
                            "parts": [{"inlineData": {"mimeType": "image/png", "data": PNG_1x1}}],
                        },
                        "finishReason": "STOP",
                        "index": 0,
                    }
                ],
                "usageMetadata": {
                    "promptTokenCount": text_in,
                    "candidatesTokenCount": out_img,
                    "totalTokenCount": text_in + out_img + thoughts,
                    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": text_in}],
                    "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": out_img}],
                    **({"thoughtsTokenCount": thoughts} if thoughts else {}),
                },
                "modelVersion": model,
                "responseId": f"resp_{time.time_ns():x}",
            },
        )

    # -- Imagen :predict (no usage block, like the real API) -------------------------------------------------
    def _imagen(self, body: dict) -> None:
        inst = (body.get("instances") or [{}])[0]
        s = _switches(str(inst.get("prompt", "")))
        if s["fail"]:
            return self._fail(s["fail"])
        n = int((body.get("parameters") or {}).get("sampleCount") or 1)
        self._send(
            200, {"predictions": [{"bytesBase64Encoded": PNG_1x1, "mimeType": "image/png"} for _ in range(n)]}
        )

    # -- fal sync ----------------------------------------------------------------------------------------------
    def _fal(self, body: dict, path: str) -> None:
        s = _switches(str(body.get("prompt", "")))
        if s["fail"]:
            return self._fail(s["fail"])
        size = body.get("image_size")
        if isinstance(size, dict):
            w, h = int(size.get("width", 1024)), int(size.get("height", 768))
        else:
            w, h = {"square_hd": (1024, 1024), "landscape_16_9": (1024, 576)}.get(size, (1024, 768))
        n = int(body.get("num_images") or 1)
        self._send(
            200,
            {
                "images": [
                    {
                        "url": f"http://127.0.0.1/fal/{time.time_ns():x}.png",
                        "width": w,
                        "height": h,
                        "content_type": "image/png",
                    }
                    for _ in range(n)
                ],
                "timings": {"inference": 1.23},
                "seed": 42,
                "has_nsfw_concepts": [False] * n,
                "prompt": body.get("prompt", ""),
            },
        )


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"ready {srv.server_address[1]}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
