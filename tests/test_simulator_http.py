"""The simulator's HTTP/1.1 layer on raw sockets: malformed heads and lengths, non-HTTP bytes (a TLS client),
heads and bodies that never finish, pipelining and ``Expect: 100-continue``.

Every refusal is an HTTP answer followed by a close, never a dropped connection, a hang or an unhandled
exception in the server.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import time

import pytest

from imgkit.errors import InvalidParameterError
from imgkit.simulator import SimulatorServer

CLIENT_TIMEOUT_S = 5.0  # a test that waits this long has met a hang


def connect(sim) -> socket.socket:
    sock = socket.create_connection((sim.host, sim.port), timeout=CLIENT_TIMEOUT_S)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a socket.timeout means it never closed)."""
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out


def exchange(sim, raw: bytes) -> bytes:
    with connect(sim) as sock:
        sock.sendall(raw)
        return read_all(sock)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def head_and_body(response: bytes) -> tuple[dict[str, str], bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}, body


@pytest.fixture
def no_unhandled_errors(caplog):
    """Fails the test when asyncio logged an unhandled exception of a connection handler."""
    caplog.set_level(logging.ERROR, logger="asyncio")
    yield
    assert not [r for r in caplog.records if "Unhandled exception" in r.getMessage()]


def assert_refused(response: bytes, status: int, phrase: str) -> None:
    assert status_of(response) == status, response[:200]
    headers, body = head_and_body(response)
    assert headers["connection"] == "close"
    assert int(headers["content-length"]) == len(body)  # the whole answer arrived, then the close
    assert phrase in json.loads(body)["error"]["message"]


GENERATION = json.dumps({"model": "gpt-image-1-mini", "prompt": "x", "quality": "low"}).encode()


def generation_head(*lines: str) -> bytes:
    """The head of an authorised generation request (body ``GENERATION``) with these extra header lines."""
    extra = "".join(f"{line}\r\n" for line in lines)
    return (
        "POST /v1/images/generations HTTP/1.1\r\nHost: sim\r\nAuthorization: Bearer sk-test-0001\r\n"
        f"Content-Type: application/json\r\n{extra}\r\n"
    ).encode()


GOOD_GET = b"GET /files/nothing.png HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize(
    ("raw", "phrase"),
    [
        (
            b"POST /v1/images/generations HTTP/1.1\r\nHost: sim\r\nContent-Length: abc\r\n\r\n{}",
            "Content-Length",
        ),
        (
            b"POST /v1/images/generations HTTP/1.1\r\nHost: sim\r\nContent-Length: -5\r\n\r\n{}",
            "Content-Length",
        ),
        (
            b"POST /v1/images/generations HTTP/1.1\r\nHost: sim\r\nContent-Length: 2\r\n"
            b"Content-Length: 3\r\n\r\n{}",
            "Content-Length",
        ),
        (
            b"POST /v1/images/generations HTTP/1.1\r\nHost: sim\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"zz\r\n{}\r\n0\r\n\r\n",
            "chunk",
        ),
        (b"GET / HTTP/1.1\r\nHost: sim\r\nbad header line\r\n\r\n", "header"),
        (b"GET / HTTP/1.1\r\n\r\n", "Host"),
        (b"NOT-HTTP\r\n\r\n", "request line"),
    ],
)
def test_malformed_requests_are_a_400_and_a_close(simulator, no_unhandled_errors, raw, phrase):
    assert_refused(exchange(simulator, raw), 400, phrase)
    assert status_of(exchange(simulator, GOOD_GET)) == 404  # the server goes on serving


def test_a_valid_chunked_body_is_read(simulator):
    body = GENERATION
    raw = (
        generation_head("Transfer-Encoding: chunked", "Connection: close")
        + f"{10:x}\r\n".encode()
        + body[:10]
        + f"\r\n{len(body) - 10:x};ext=1\r\n".encode()
        + body[10:]
        + b"\r\n0\r\n\r\n"
    )
    response = exchange(simulator, raw)
    assert status_of(response) == 200
    assert json.loads(head_and_body(response)[1])["size"] == "1024x1024"


def test_tls_bytes_are_answered_with_a_400_and_a_close(simulator, no_unhandled_errors):
    # the first bytes of a TLS 1.2 ClientHello record
    hello = bytes.fromhex("16030100a5010000a10303") + bytes(32) + b"\x00\x00\x02\x00\x2f\x01\x00"
    assert_refused(exchange(simulator, hello), 400, "request line")


def test_a_tls_client_is_refused_at_once_instead_of_hanging(simulator):
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    started = time.monotonic()
    with connect(simulator) as sock, pytest.raises(ssl.SSLError):
        context.wrap_socket(sock, server_hostname="localhost")  # the handshake fails on the plain answer
    assert time.monotonic() - started < CLIENT_TIMEOUT_S / 2


@pytest.mark.parametrize(
    "stalls",
    [
        [b"GET /files/x.png HTTP/1.1\r\nHost: sim\r\n"],  # the head never ends
        [b"G", b"E", b"T", b" ", b"/", b"f", b"i", b"l", b"e", b"s"],  # one byte at a time (slowloris)
    ],
)
def test_a_head_that_does_not_arrive_in_time_is_a_408_and_a_close(
    simulator_factory, no_unhandled_errors, stalls
):
    sim = simulator_factory(head_timeout_s=0.3)
    started = time.monotonic()
    with connect(sim) as sock:
        for piece in stalls:
            sock.sendall(piece)
            time.sleep(0.05)
        response = read_all(sock)
    assert_refused(response, 408, "request head not received within 0.3 s")
    assert time.monotonic() - started < 2.0


def test_a_stalled_body_is_a_408_and_a_close(simulator_factory, no_unhandled_errors):
    sim = simulator_factory(head_timeout_s=0.3)
    raw = b'POST /v1/images/generations HTTP/1.1\r\nHost: sim\r\nContent-Length: 100\r\n\r\n{"prompt"'
    assert_refused(exchange(sim, raw), 408, "request body not received within 0.3 s")


def test_a_head_growing_past_the_limit_is_a_431(simulator, no_unhandled_errors):
    raw = b"GET / HTTP/1.1\r\nHost: sim\r\nX-Big: " + b"a" * (1024 * 1024 + 10)  # 1 MiB, still unfinished
    with connect(simulator) as sock:
        try:
            sock.sendall(raw)
        except OSError:  # the server may answer and close before reading it all
            pass
        response = read_all(sock)
    assert status_of(response) == 431


def test_an_idle_connection_is_closed_quietly(simulator_factory):
    sim = simulator_factory(idle_timeout_s=0.2)
    with connect(sim) as sock:
        assert read_all(sock) == b""  # closed without an answer: no request was begun
    with connect(sim) as sock:  # between requests too
        sock.sendall(GOOD_GET.replace(b"Connection: close", b"Connection: keep-alive"))
        first = sock.recv(65536)
        assert status_of(first) == 404
        assert read_all(sock) == b""


def test_pipelined_requests_are_answered_in_order(simulator):
    raw = (
        b"GET /files/a.png HTTP/1.1\r\nHost: sim\r\n\r\n"
        b"POST /nowhere HTTP/1.1\r\nHost: sim\r\nContent-Length: 2\r\n\r\n{}"
        b"GET /files/b.png HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n\r\n"
    )
    response = exchange(simulator, raw)
    assert response.count(b"HTTP/1.1 404") == 3
    assert [r.path for r in simulator.requests] == ["/files/a.png", "/nowhere", "/files/b.png"]


def test_expect_100_continue_gets_its_interim_answer(simulator):
    head = generation_head("Expect: 100-continue", "Connection: close", f"Content-Length: {len(GENERATION)}")
    with connect(simulator) as sock:
        sock.sendall(head)
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(GENERATION)
        assert status_of(read_all(sock)) == 200


@pytest.mark.parametrize("name", ["head_timeout_s", "idle_timeout_s"])
def test_timeouts_must_be_positive(name):
    with pytest.raises(InvalidParameterError) as err:
        SimulatorServer(**{name: 0})
    assert err.value.field == name
