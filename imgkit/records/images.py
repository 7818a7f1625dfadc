"""Images on disk, addressed by content: ``<root>/ab/cdef….png`` where ``abcdef…`` is the sha256 of the bytes.

The request log holds references (sha256, path, width, height, bytes, format), never blobs. Writes are
atomic (a temporary file in the same directory, fsync'd, then renamed), so a reader or a crash never sees a
half-written image; storing the same bytes twice writes once.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from imgkit._files import write_atomically
from imgkit.errors import InvalidParameterError

__all__ = ["EXTENSIONS", "ImageStore", "StoredImage", "default_image_root", "sniff_image"]

#: file extension per format (Pillow's format names, lower case)
EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp", "gif": "gif", "avif": "avif"}


@dataclass(frozen=True)
class StoredImage:
    """One image on disk: its sha256, path, pixel size, byte size and format (``png``, ``jpeg``, ``webp`` …)."""

    sha256: str
    path: Path
    width: int
    height: int
    bytes: int
    format: str

    def as_dict(self) -> dict[str, Any]:
        """The JSON form kept in the request log's ``images`` column."""
        return {
            "sha256": self.sha256,
            "path": str(self.path),
            "width": self.width,
            "height": self.height,
            "bytes": self.bytes,
            "format": self.format,
        }

    def read_bytes(self) -> builtins.bytes:  # the field ``bytes`` (a size) shadows the type here
        return self.path.read_bytes()


def default_image_root() -> Path:
    """``$IMGKIT_HOME/images`` when ``IMGKIT_HOME`` is set, else ``~/.local/share/imgkit/images``."""
    home = os.environ.get("IMGKIT_HOME")
    if home:
        return Path(home) / "images"
    return Path.home() / ".local" / "share" / "imgkit" / "images"


def sniff_image(data: bytes) -> tuple[str, int, int]:
    """``(format, width, height)`` from the image header (no pixel is decoded); refuses non-images."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt, (w, h) = (im.format or "").lower(), im.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise InvalidParameterError(
            "image", f"<{len(data)} bytes>", "PNG, JPEG, WebP, GIF or AVIF bytes", hint=str(exc)
        ) from None
    if fmt not in EXTENSIONS:
        raise InvalidParameterError("image", fmt or "unknown format", sorted(EXTENSIONS))
    return fmt, w, h


class ImageStore:
    """A content-addressed image directory (module doc). ``fsync=False`` trades power-loss safety for speed."""

    def __init__(self, root: str | Path | None = None, *, fsync: bool = True) -> None:
        self.root = Path(root) if root is not None else default_image_root()
        self.fsync = fsync

    def path_for(self, sha256: str, fmt: str) -> Path:
        return self.root / sha256[:2] / f"{sha256[2:]}.{EXTENSIONS.get(fmt, fmt)}"

    def put(self, data: bytes, fmt: str | None = None) -> StoredImage:
        """Store ``data`` (format and size read from its header; ``fmt``, if given, must agree)."""
        actual, width, height = sniff_image(data)
        if fmt is not None and {"jpg": "jpeg"}.get(fmt.lower(), fmt.lower()) != actual:
            raise InvalidParameterError("image", f"{actual} bytes", f"{fmt} bytes, as declared")
        sha = hashlib.sha256(data).hexdigest()
        path = self.path_for(sha, actual)
        try:
            present = path.stat().st_size == len(data)
        except FileNotFoundError:
            present = False
        if not present:
            write_atomically(path, data, fsync=self.fsync)
        return StoredImage(sha, path, width, height, len(data), actual)

    def __contains__(self, sha256: object) -> bool:
        if not isinstance(sha256, str) or len(sha256) != 64:
            return False
        folder = self.root / sha256[:2]
        return any(folder.glob(f"{sha256[2:]}.*")) if folder.is_dir() else False
