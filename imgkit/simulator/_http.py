"""A small asyncio HTTP/1.1 server: keep-alive, Content-Length and chunked bodies, multipart parsing,
streamed (chunked) responses, and the deliberate misbehaviour the simulator needs (abort mid-response,
truncate a body, hold a request until the client gives up).

Requests are parsed by ``h11`` (heads and bodies: malformed lengths, chunk sizes or request lines are a 400
and a close, a head that does not arrive in time a 408); responses are written by hand, since the faults the
simulator injects (a head cut mid-line, a body shorter than its Content-Length) are what h11 refuses to send.

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
from typing import Any, overload
from urllib.parse import parse_qsl, unquote, urlsplit

import h11

__all__ = ["Exchange", "HttpServer", "Part", "ProtocolError", "Request", "parse_multipart"]

MAX_HEAD_BYTES = 1024 * 1024
MAX_BODY_BYTES = 1024 * 1024 * 1024  # 16 edit inputs of up to 50 MB each, with room to spare
DEFAULT_HEAD_TIMEOUT_S = 10.0
DEFAULT_IDLE_TIMEOUT_S = 75.0
LINGER_S = 1.0  # how long a refused connection is read (and dropped) before it is closed
_REASONS = {**{s.value: s.phrase for s in HTTPStatus}, 499: "Client Closed Request"}  # looked up per response


class ProtocolError(Exception):
    """The request is not valid HTTP (or not a form the simulator can parse); answered with ``status``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


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
        reason = _REASONS.get(status) or HTTPStatus(status).phrase  # an unknown status still fails loudly
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
    """Serve ``handler`` on ``host:port`` (port 0 = any free port) until :meth:`stop`.

    ``head_timeout_s``: a request head must arrive whole within this time of its first byte, and a body must
    not stall longer (else 408 and a close; a client that never finishes its head, or a TLS client waiting
    for a handshake, is refused instead of held). ``idle_timeout_s``: an idle connection (no request
    begun) is closed after this long (nginx's keep-alive default, 75 s; clients drop theirs sooner).
    """

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        head_timeout_s: float = DEFAULT_HEAD_TIMEOUT_S,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
    ) -> None:
        self.handler, self.host, self.port = handler, host, port
        self.head_timeout_s, self.idle_timeout_s = head_timeout_s, idle_timeout_s
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
        requests = _RequestReader(reader, writer, self.head_timeout_s, self.idle_timeout_s)
        try:
            while True:
                try:
                    request = await requests.next()
                except ProtocolError as exc:
                    await _refuse(reader, writer, exc)
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


async def _refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, exc: ProtocolError) -> None:
    """Answer a request that is not valid HTTP with its status and close, after a short lingering read.

    Closing a socket with unread bytes makes the kernel send a reset, which can destroy the answer before the
    client reads it; so the write side is shut first and what the client still sends is read and dropped.
    """
    body = json.dumps(
        {"error": {"message": str(exc), "type": "invalid_request_error", "param": None, "code": None}}
    ).encode()
    exchange = Exchange(reader, writer, keep_alive=False)
    with contextlib.suppress(ConnectionError, RuntimeError):
        await exchange.send(exc.status, [("content-type", "application/json")], body)
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(LINGER_S):
                while await reader.read(65536):
                    pass


class _RequestReader:
    """The requests of one connection, parsed by h11 (request line, headers, Content-Length or chunked body).

    h11 parses; it does not send: responses are written by :class:`Exchange`, so each request gets a fresh
    ``h11.Connection`` fed with the bytes that followed the previous request (pipelining keeps working).
    """

    __slots__ = ("_head_timeout_s", "_idle_timeout_s", "_leftover", "_reader", "_writer")

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        head_timeout_s: float,
        idle_timeout_s: float,
    ) -> None:
        self._reader, self._writer = reader, writer
        self._head_timeout_s, self._idle_timeout_s = head_timeout_s, idle_timeout_s
        self._leftover = b""

    async def next(self) -> Request | None:
        """The next request; ``None`` when the client closed (or idled out) between requests."""
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        loop = asyncio.get_running_loop()
        data: bytes | None = self._leftover
        if not data:  # idle until the first byte of a request (asking h11 first would only say NEED_DATA)
            data = await self._read(loop.time() + self._idle_timeout_s, None)
            if data is None:
                return None
        deadline = loop.time() + self._head_timeout_s
        conn.receive_data(data)
        while True:
            event = _next_event(conn)
            if event is h11.NEED_DATA:
                conn.receive_data(await self._read(deadline, "request head"))
            elif type(event) is h11.Request:
                break
            else:  # ConnectionClosed before any byte of a request
                return None
        headers: dict[str, str] = {}
        for raw_name, raw_value in event.headers:
            name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        # h11 has validated the framing: a Content-Length body ends after that many bytes of Data (h11's
        # EndOfMessage would consume nothing more), a chunked one at h11's EndOfMessage
        length = None if "transfer-encoding" in headers else int(headers.get("content-length") or 0)
        if length is not None and length > MAX_BODY_BYTES:
            raise ProtocolError(f"request body larger than {MAX_BODY_BYTES} bytes", status=413)
        if conn.they_are_waiting_for_100_continue:
            self._writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = await self._body(conn, loop, length) if length != 0 else b""
        self._leftover = conn.trailing_data[0]
        target = event.target.decode("latin-1")
        if event.http_version == b"1.0" and headers.get("connection", "").lower() != "keep-alive":
            headers["connection"] = "close"
        parts = urlsplit(target)
        return Request(
            event.method.decode("ascii").upper(),
            unquote(parts.path),
            dict(parse_qsl(parts.query)),
            headers,
            body,
            target,
        )

    async def _body(self, conn: h11.Connection, loop: asyncio.AbstractEventLoop, length: int | None) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            event = _next_event(conn)
            if type(event) is h11.Data:
                parts.append(event.data)
                size += len(event.data)
                if size > MAX_BODY_BYTES:
                    raise ProtocolError(f"request body larger than {MAX_BODY_BYTES} bytes", status=413)
                if size == length:
                    return parts[0] if len(parts) == 1 else b"".join(parts)
            elif type(event) is h11.EndOfMessage:
                return b"".join(parts)
            else:  # NEED_DATA: the body must keep arriving (an upload may be long, but not stall)
                conn.receive_data(await self._read(loop.time() + self._head_timeout_s, "request body"))

    @overload
    async def _read(self, deadline: float, waiting_for: str) -> bytes: ...
    @overload
    async def _read(self, deadline: float, waiting_for: None) -> bytes | None: ...
    async def _read(self, deadline: float, waiting_for: str | None) -> bytes | None:
        """Bytes from the socket (``b""`` at EOF) by ``deadline``; past it ``None`` when idle, else a 408."""
        try:
            async with asyncio.timeout_at(deadline):
                return await self._reader.read(65536)
        except TimeoutError:
            if waiting_for is None:
                return None
            raise ProtocolError(
                f"{waiting_for} not received within {self._head_timeout_s:g} s", status=408
            ) from None


def _next_event(conn: h11.Connection) -> Any:
    try:
        return conn.next_event()
    except h11.RemoteProtocolError as exc:
        raise ProtocolError(f"malformed HTTP request: {exc}", status=exc.error_status_hint) from None
