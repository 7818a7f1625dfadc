"""A small asyncio HTTP/1.1 server: keep-alive, Content-Length and chunked bodies, multipart parsing,
streamed (chunked) responses, and the deliberate misbehaviour the simulator needs (abort mid-response,
truncate a body, hold a request until the client gives up).

Chosen over ``http.server.ThreadingHTTPServer`` for throughput and because thousands of requests sleeping
through simulated latency cost a coroutine each, not a thread (``bench/bench_simulator.py`` compares them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["Exchange", "HttpServer", "Part", "ProtocolError", "Request", "parse_multipart"]

MAX_HEAD_BYTES = 1024 * 1024
MAX_BODY_BYTES = 1024 * 1024 * 1024  # 16 edit inputs of up to 50 MB each, with room to spare
_REASONS = {499: "Client Closed Request"}


class ProtocolError(Exception):
    """The request is not valid HTTP (or not a form the simulator can parse); answered with 400."""


@dataclass(frozen=True)
class Part:
    """One part of a multipart/form-data body."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes

    def text(self) -> str:
        return self.data.decode("utf-8")


@dataclass
class Request:
    method: str
    path: str  # percent-decoded, without the query
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    raw_target: str = ""
    _json: Any = field(default=None, repr=False)

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)

    def json(self) -> Any:
        """The body parsed as JSON (ProtocolError when it is not)."""
        if self._json is None:
            try:
                self._json = json.loads(self.body or b"null")
            except (ValueError, UnicodeDecodeError) as exc:
                raise ProtocolError(f"request body is not valid JSON: {exc}") from None
        return self._json

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def multipart(self) -> list[Part]:
        return parse_multipart(self.headers.get("content-type", ""), self.body)


def _header_params(value: str) -> tuple[str, dict[str, str]]:
    """``form-data; name="x"; filename="a.png"`` -> ("form-data", {"name": "x", "filename": "a.png"})."""
    head, *rest = value.split(";")
    params: dict[str, str] = {}
    for item in rest:
        key, sep, val = item.strip().partition("=")
        if sep:
            val = val.strip()
            if len(val) >= 2 and val[0] == val[-1] == '"':
                val = val[1:-1].replace('\\"', '"')
            params[key.strip().lower()] = val
    return head.strip().lower(), params


def parse_multipart(content_type: str, body: bytes) -> list[Part]:
    """Parse a multipart/form-data body into its parts, in order (repeated names kept)."""
    kind, params = _header_params(content_type)
    boundary = params.get("boundary")
    if kind != "multipart/form-data" or not boundary:
        raise ProtocolError("expected multipart/form-data with a boundary")
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise ProtocolError("multipart body is not terminated by its closing boundary")
    parts = []
    for chunk in chunks[1:-1]:
        if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
            raise ProtocolError("malformed multipart part")
        head, sep, data = chunk[2:-2].partition(b"\r\n\r\n")
        if not sep:
            raise ProtocolError("multipart part without a header block")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        _, disp = _header_params(headers.get("content-disposition", ""))
        if "name" not in disp:
            raise ProtocolError("multipart part without a name")
        parts.append(Part(disp["name"], disp.get("filename"), headers.get("content-type"), data))
    return parts


class Exchange:
    """The response side of one request: send at once, or head then body/chunks, or misbehave on purpose."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, keep_alive: bool) -> None:
        self._reader, self._writer = reader, writer
        self.keep_alive = keep_alive
        self.status: int | None = None
        self.on_status: Callable[[int], None] | None = None  # told before the head is written
        self.head_sent = False
        self.finished = False
        self._chunked = False

    @property
    def client_gone(self) -> bool:
        return self._writer.transport.is_closing()

    def _head(
        self, status: int, headers: Sequence[tuple[str, str]], extra: Sequence[tuple[str, str]]
    ) -> bytes:
        self.status = status
        if self.on_status is not None:
            self.on_status(status)
        reason = _REASONS.get(status) or HTTPStatus(status).phrase
        lines = [f"HTTP/1.1 {status} {reason}"]
        lines += [f"{k}: {v}" for k, v in headers]
        lines += [f"{k}: {v}" for k, v in extra]
        if not self.keep_alive:
            lines.append("connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _write(self, data: bytes) -> None:
        if self.client_gone:
            raise ConnectionResetError("client went away")
        self._writer.write(data)
        if self._writer.transport.get_write_buffer_size() > 256 * 1024:
            await self._writer.drain()

    async def send(self, status: int, headers: Sequence[tuple[str, str]], body: bytes) -> None:
        """A complete response with a Content-Length."""
        await self._write(self._head(status, headers, [("content-length", str(len(body)))]) + body)
        self.head_sent = self.finished = True

    async def send_head(
        self, status: int, headers: Sequence[tuple[str, str]], content_length: int | None
    ) -> None:
        """The status line and headers only: a body of ``content_length`` bytes, or chunks if ``None``."""
        self._chunked = content_length is None
        extra = (
            [("transfer-encoding", "chunked")] if self._chunked else [("content-length", str(content_length))]
        )
        await self._write(self._head(status, headers, extra))
        self.head_sent = True

    async def write(self, data: bytes) -> None:
        """Body bytes after :meth:`send_head` (framed as one chunk when chunked)."""
        if self._chunked:
            data = f"{len(data):x}\r\n".encode() + data + b"\r\n"
        await self._write(data)

    async def end(self) -> None:
        if self._chunked:
            await self._write(b"0\r\n\r\n")
        await self._writer.drain()
        self.finished = True

    async def write_raw(self, data: bytes) -> None:
        """Bytes exactly as given (to break framing on purpose)."""
        await self._write(data)
        await self._writer.drain()

    def abort(self) -> None:
        """Reset the connection now (no further bytes)."""
        self.keep_alive = False
        self.finished = True
        self._writer.transport.abort()

    async def close_after_flush(self) -> None:
        """Close the connection once what was written is sent (a truncated body ends here)."""
        self.keep_alive = False
        self.finished = True
        with contextlib.suppress(ConnectionError):
            await self._writer.drain()
        self._writer.close()

    async def hold(self, seconds: float | None) -> None:
        """Answer nothing until the client disconnects or ``seconds`` pass, then close."""
        self.keep_alive = False
        self.finished = True
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(seconds):
                while await self._reader.read(65536):
                    pass
        self._writer.close()


Handler = Callable[[Request, Exchange], Awaitable[None]]


class HttpServer:
    """Serve ``handler`` on ``host:port`` (port 0 = any free port) until :meth:`stop`."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        self.handler, self.host, self.port = handler, host, port
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(
            self._connection, self.host, self.port, limit=MAX_HEAD_BYTES, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while True:
                try:
                    request = await _read_request(reader, writer)
                except ProtocolError as exc:
                    body = json.dumps(
                        {
                            "error": {
                                "message": str(exc),
                                "type": "invalid_request_error",
                                "param": None,
                                "code": None,
                            }
                        }
                    ).encode()
                    exchange = Exchange(reader, writer, keep_alive=False)
                    await exchange.send(400, [("content-type", "application/json")], body)
                    break
                if request is None:
                    break
                keep_alive = request.headers.get("connection", "").lower() != "close"
                exchange = Exchange(reader, writer, keep_alive)
                await self.handler(request, exchange)
                if not exchange.finished:
                    await exchange.send(500, [("content-type", "text/plain")], b"handler sent no response")
                if not exchange.keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:  # server stopping: end quietly (asyncio reports cancelled handlers)
            writer.transport.abort()
        finally:
            if task is not None:
                self._tasks.discard(task)
            if not writer.transport.is_closing():
                writer.close()


async def _read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise ProtocolError("connection closed inside the request head") from None
        return None
    except asyncio.LimitOverrunError:
        raise ProtocolError(f"request head larger than {MAX_HEAD_BYTES} bytes") from None
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ")
    except ValueError:
        raise ProtocolError(f"bad request line {lines[0][:100]!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"bad header line {line[:100]!r}")
        name = name.strip().lower()
        headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    else:
        length = int(headers.get("content-length", "0") or 0)
        if length > MAX_BODY_BYTES:
            raise ProtocolError(f"request body larger than {MAX_BODY_BYTES} bytes")
        body = await reader.readexactly(length) if length else b""
    parts = urlsplit(target)
    if version == "HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive":
        headers["connection"] = "close"
    return Request(method.upper(), unquote(parts.path), dict(parse_qsl(parts.query)), headers, body, target)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    out = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return bytes(out)
        out += await reader.readexactly(size)
        await reader.readexactly(2)
        if len(out) > MAX_BODY_BYTES:
            raise ProtocolError(f"request body larger than {MAX_BODY_BYTES} bytes")
