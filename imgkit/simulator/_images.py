"""Deterministic, cheap, real images: a two-colour gradient with a few blocks, all chosen by a digest.

The digest (:func:`image_digest`) has two halves: the first comes from the server seed and the prompt and
picks the gradient (the scene every target shares for a prompt); the second also comes from the target
(model, provider, quality, size) and picks the blocks, so two targets draw recognisably different pictures
of the same prompt, as real models do. ``index`` (the image's position in the response) moves the blocks,
and ``stage`` (a partial image of a stream) shows fewer of them. A transparent background keeps
the gradient's pixels at alpha 0. Encoded files are cached (LRU by bytes), and a file name carries every
parameter, so ``/files/<name>`` is served by re-rendering: the server keeps no per-request image state.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from PIL import Image

__all__ = ["CONTENT_TYPES", "ImageCache", "ImageSpec", "image_digest", "render_image"]

CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
_PIL_FORMAT = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
_NAME = re.compile(r"^([0-9a-f]{32})-(\d+)-(\d+)x(\d+)-([ot])-(\d+)-(\d+)\.(png|jpeg|webp)$")
#: blocks drawn on a final image; partial stage s of a stream draws s + 1 of them
_BLOCKS = 4
#: largest edge rendered (gpt-image-2 allows 3840)
MAX_EDGE = 16384


def image_digest(seed: int, prompt: str, target: tuple[str, ...] = ()) -> str:
    """32 hex digits naming the images ``target`` draws for ``prompt`` on a server seeded with ``seed``.

    The first 16 depend on the seed and the prompt only (the shared scene), the last 16 on the target too
    (``(model, provider, quality, "WxH")``: what a voter compares). Deterministic: the same request on a
    server with the same seed draws the same picture.
    """
    scene = hashlib.sha256(f"{seed}\x00{prompt}".encode()).hexdigest()[:16]
    detail = hashlib.sha256("\x00".join((scene, *target)).encode()).hexdigest()[:16]
    return scene + detail


@dataclass(frozen=True)
class ImageSpec:
    """Everything that determines one image file."""

    digest: str
    index: int
    width: int
    height: int
    fmt: str = "png"  # png | jpeg | webp
    transparent: bool = False
    compression: int = 100  # jpeg/webp quality, as OpenAI's output_compression
    stage: int = _BLOCKS  # < _BLOCKS for partial images

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.fmt]

    @property
    def file_name(self) -> str:
        t = "t" if self.transparent else "o"
        return (
            f"{self.digest}-{self.index}-{self.width}x{self.height}-{t}-{self.compression}-{self.stage}"
            f".{self.fmt}"
        )

    @classmethod
    def from_file_name(cls, name: str) -> ImageSpec | None:
        m = _NAME.match(name)
        if not m:
            return None
        digest, index, w, h, t, comp, stage, fmt = m.groups()
        spec = cls(digest, int(index), int(w), int(h), fmt, t == "t", int(comp), int(stage))
        return spec if spec.valid() else None

    def valid(self) -> bool:
        return (
            0 < self.width <= MAX_EDGE
            and 0 < self.height <= MAX_EDGE
            and 0 <= self.compression <= 100
            and 0 <= self.stage <= _BLOCKS
            and self.fmt in CONTENT_TYPES
            and not (self.transparent and self.fmt == "jpeg")
        )


def _pixels(spec: ImageSpec) -> np.ndarray:
    index = spec.index.to_bytes(4, "big")
    scene = hashlib.sha256(bytes.fromhex(spec.digest[:16]) + index).digest()  # the prompt's gradient
    rnd = hashlib.sha256(bytes.fromhex(spec.digest) + index).digest()  # the target's blocks
    w, h = spec.width, spec.height
    c0, c1 = np.frombuffer(scene[0:3], np.uint8), np.frombuffer(scene[3:6], np.uint8)
    ramp = np.linspace(0.0, 1.0, w, dtype=np.float32)[:, None]
    row = (c0 * (1 - ramp) + c1 * ramp).astype(np.uint8)
    channels = 4 if spec.transparent else 3
    pixels = np.empty((h, w, channels), np.uint8)
    pixels[:, :, :3] = row[None, :, :]
    if spec.transparent:
        pixels[:, :, 3] = 0
    palette = hashlib.sha256(rnd).digest()
    for b in range(min(spec.stage + 1, _BLOCKS)):
        x0, y0, bw, bh = (rnd[8 + 4 * b + i] / 255 for i in range(4))
        left, top = int(x0 * w * 0.7), int(y0 * h * 0.7)
        right, bottom = left + max(1, int((0.1 + bw * 0.2) * w)), top + max(1, int((0.1 + bh * 0.2) * h))
        colour = np.frombuffer(palette[3 * b : 3 * b + 3], np.uint8)
        pixels[top:bottom, left:right, :3] = colour
        if spec.transparent:
            pixels[top:bottom, left:right, 3] = 255
    return pixels


def render_image(spec: ImageSpec) -> bytes:
    """Encode the image of ``spec`` (a real, decodable file of exactly ``width`` x ``height``)."""
    pixels = _pixels(spec)
    image = Image.fromarray(pixels, "RGBA" if spec.transparent else "RGB")
    out = io.BytesIO()
    if spec.fmt == "png":
        image.save(out, "PNG", compress_level=1)
    elif spec.fmt == "jpeg":
        image.save(out, "JPEG", quality=max(1, min(95, spec.compression)))
    else:
        image.save(out, "WEBP", quality=spec.compression, method=0)
    return out.getvalue()


class ImageCache:
    """Encoded images (and their base64 text) by spec, least recently used evicted beyond ``max_bytes``."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[ImageSpec, tuple[bytes, str | None]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _get(self, spec: ImageSpec) -> tuple[bytes, str | None] | None:
        with self._lock:
            item = self._items.get(spec)
            if item is not None:
                self._items.move_to_end(spec)
                self.hits += 1
            return item

    def _put(self, spec: ImageSpec, data: bytes, b64: str | None) -> None:
        with self._lock:
            old = self._items.pop(spec, None)
            if old is not None:
                self._bytes -= len(old[0]) + len(old[1] or "")
            self._items[spec] = (data, b64)
            self._bytes += len(data) + len(b64 or "")
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _, (d, b) = self._items.popitem(last=False)
                self._bytes -= len(d) + len(b or "")

    def cached(self, spec: ImageSpec) -> bool:
        with self._lock:
            return spec in self._items

    def file(self, spec: ImageSpec) -> bytes:
        item = self._get(spec)
        if item is not None:
            return item[0]
        self.misses += 1
        data = render_image(spec)
        self._put(spec, data, None)
        return data

    def b64(self, spec: ImageSpec) -> str:
        item = self._get(spec)
        if item is not None and item[1] is not None:
            return item[1]
        data = item[0] if item is not None else render_image(spec)
        if item is None:
            self.misses += 1
        text = base64.b64encode(data).decode("ascii")
        self._put(spec, data, text)
        return text
