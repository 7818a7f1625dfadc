"""Small file helpers: whole-file writes that a reader or a crash never sees half done; UTF-8 text reads
whose decoding errors name the line and column."""

from __future__ import annotations

import csv
import io
import os
import secrets
from pathlib import Path
from typing import Protocol


class FileErrorType(Protocol):
    """An error class built from (file, where in it, problem): ``SpecError``, ``CatalogError``."""

    def __call__(self, file: str, key_path: str, problem: str) -> Exception: ...


def text_position(data: bytes | str, offset: int) -> str:
    """``"line L, column C"`` (both 1-based) of ``offset`` (a byte or character index) in ``data``."""
    if isinstance(data, bytes):
        line_start, breaks = data.rfind(b"\n", 0, offset) + 1, data.count(b"\n", 0, offset)
    else:
        line_start, breaks = data.rfind("\n", 0, offset) + 1, data.count("\n", 0, offset)
    return f"line {breaks + 1}, column {offset - line_start + 1}"


def decode_utf8(data: bytes, file: str, error: FileErrorType) -> str:
    """``data`` as text (a leading byte-order mark dropped); anything but UTF-8 is ``error`` naming where."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise error(file, "line 1, column 1", "UTF-16 text; allowed: UTF-8 (save the file as UTF-8)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1].hex()
        raise error(
            file,
            text_position(data, exc.start),
            f"byte 0x{bad} is not UTF-8 text; allowed: UTF-8 (save the file as UTF-8)",
        ) from None


def read_utf8(path: str | Path, error: FileErrorType) -> str:
    """The text of the file at ``path``; unreadable or not UTF-8 is ``error(path, where, problem)``."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise error(str(path), "", f"cannot read: {exc.strerror or exc}") from None
    return decode_utf8(data, str(path), error)


def write_atomically(path: str | Path, data: str | bytes, *, fsync: bool = False, mode: int = 0o644) -> Path:
    """Write ``data`` (text as UTF-8) to a temporary file beside ``path``, then rename it over ``path``.

    The rename is atomic on POSIX: readers see the old file or the new one, never a part (a report index
    served while a scheduled run rewrites it, a run summary read during a run). ``fsync`` also flushes the
    bytes to disk before the rename, so a power loss cannot leave an empty file under the new name.
    Concurrent writers each use their own temporary file; the last rename wins.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
        if fsync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, path)
    return path


def first_ragged_csv_row(text: str, separator: str = ",") -> tuple[int, int, int] | None:
    """(line, fields, header fields) of the first CSV row whose field count differs from the header's.

    A Python pass, for the way to an error: it says where a fast reader that failed could not.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    width = len(next(reader, []))
    for row in reader:
        if row and len(row) != width:
            return reader.line_num, len(row), width
    return None
