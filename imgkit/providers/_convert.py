"""Local emulation of output formats: what a provider cannot produce, Pillow converts after download."""

from __future__ import annotations

import io
from typing import cast

from PIL import Image

from imgkit.errors import InvalidParameterError

__all__ = ["TRANSPARENT_FORMATS", "convert_image"]

#: formats that keep an alpha channel (a transparent background needs one of them)
TRANSPARENT_FORMATS = ("png", "webp")
_PILLOW_NAMES = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "gif": "GIF", "avif": "AVIF"}


def convert_image(data: bytes, fmt: str, compression: int | None = None, *, keep_alpha: bool = True) -> bytes:
    """Re-encode ``data`` as ``fmt``; ``compression`` 0–100 is the lossy quality (OpenAI's default is 100).

    JPEG has no alpha: a transparent image is refused when ``keep_alpha``, else flattened onto white.
    """
    fmt = {"jpg": "jpeg"}.get(fmt.lower(), fmt.lower())
    if fmt not in _PILLOW_NAMES:
        raise InvalidParameterError("output_format", fmt, sorted(_PILLOW_NAMES))
    with Image.open(io.BytesIO(data)) as opened:
        opened.load()
        im: Image.Image = opened
        has_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
        if fmt not in TRANSPARENT_FORMATS and fmt != "gif" and has_alpha:
            if keep_alpha and _uses_alpha(im):
                raise InvalidParameterError(
                    "output_format", fmt, TRANSPARENT_FORMATS, hint="the image is transparent"
                )
            rgba = im.convert("RGBA")
            im = Image.new("RGB", rgba.size, (255, 255, 255))
            im.paste(rgba, mask=rgba.getchannel("A"))
        elif fmt == "jpeg" and im.mode != "RGB":
            im = im.convert("RGB")
        out = io.BytesIO()
        options: dict = {}
        if fmt in ("jpeg", "webp", "avif"):
            options["quality"] = 100 if compression is None else int(compression)
        im.save(out, _PILLOW_NAMES[fmt], **options)
    return out.getvalue()


def _uses_alpha(im: Image.Image) -> bool:
    alpha = im.convert("RGBA").getchannel("A")
    low, _high = cast("tuple[int, int]", alpha.getextrema())  # one band ("L"): (min, max), not one per band
    return low < 255
