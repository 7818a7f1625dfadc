"""Throughput of the simulated provider's asyncio server vs a stdlib ``ThreadingHTTPServer``, same run.

Both servers run in their own process at zero simulated latency; a minimal asyncio HTTP/1.1 client in this
process keeps ``--concurrency`` keep-alive connections busy. The baseline is ``http.server.ThreadingHTTPServer`` speaking
HTTP/1.1 with keep-alive and answering every request with the **precomputed** bytes the simulator returns
for the same request: it does no parsing, validation, usage or image work, so it is an upper bound for a
threaded server. Two workloads: a GPT Image generation answered with ``b64_json`` (a 1024x1024 PNG, about
25 kB of JSON) and with ``url`` (a small body).

Goal: the simulator serves at least as many requests per second as the baseline (ratio >= 1.0).

    .venv/bin/python bench/bench_simulator.py [--requests 4000] [--concurrency 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time

import httpx

GOAL_RATIO = 1.0
HEADERS = {"Authorization": "Bearer sk-bench"}
WORKLOADS = {
    "b64_json": {"model": "gpt-image-2", "prompt": "a lighthouse at dusk", "quality": "low"},
    "url": {
        "model": "gpt-image-2",
        "prompt": "a lighthouse at dusk",
        "quality": "low",
        "response_format": "url",
    },
}

SIMULATOR = """
import sys
from imgkit.simulator import SimulatorServer
sim = SimulatorServer(time_scale=0, apply_success_rate=False, record_limit=16).start()
print(sim.port, flush=True)
sys.stdin.read()
sim.stop()
"""

BASELINE = """
import sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
body = sys.stdin.buffer.readline().strip()
body = bytes.fromhex(body.decode())

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.request_queue_size = 1024
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()
"""


class ServerProcess:
    """A server script in a child process; it prints its port, and stops when its stdin closes."""

    def __init__(self, script: str, first_line: bytes = b"") -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        if first_line:
            self.proc.stdin.write(first_line + b"\n")
            self.proc.stdin.flush()
        self.port = int(self.proc.stdout.readline())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/images/generations"

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def _request_bytes(port: int, body: dict) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"POST /v1/images/generations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: {HEADERS['Authorization']}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


async def _connection(port: int, request: bytes, count: int, latencies: list[float]) -> None:
    """One keep-alive connection sending ``count`` requests one after the other."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(count):
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.split(b"\r\n")[0].decode())
            length = next(
                int(line.split(b":")[1])
                for line in head.lower().split(b"\r\n")
                if line.startswith(b"content-length:")
            )
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - t0) * 1000)
    finally:
        writer.close()


async def _drive(port: int, body: dict, requests: int, concurrency: int) -> tuple[float, list[float]]:
    """Requests per second and per-request latencies (ms): ``concurrency`` connections share ``requests``.

    A minimal asyncio client rather than httpx, so that the client is not the bottleneck (an
    ``httpx.AsyncClient`` tops out near 300 requests/s on a 2-core machine with the server beside it).
    """
    request = _request_bytes(port, body)
    latencies: list[float] = []
    await asyncio.gather(*(_connection(port, request, 2, latencies) for _ in range(concurrency)))  # warm-up
    latencies.clear()
    per_connection = max(1, requests // concurrency)
    start = time.perf_counter()
    await asyncio.gather(*(_connection(port, request, per_connection, latencies) for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - start), latencies


def main(requests: int = 4000, concurrency: int = 64, repeats: int = 3) -> dict:
    """Run the comparison; returns per-workload figures and whether the goal was met."""
    results: dict = {"requests": requests, "concurrency": concurrency, "repeats": repeats, "workloads": {}}
    simulator = ServerProcess(SIMULATOR)
    try:
        for name, body in WORKLOADS.items():
            reference = httpx.post(simulator.url, json=body, headers=HEADERS).content
            baseline = ServerProcess(BASELINE, reference.hex().encode())
            try:
                rows = {}
                for label, server in (("simulator (asyncio)", simulator), ("ThreadingHTTPServer", baseline)):
                    runs = [
                        asyncio.run(_drive(server.port, body, requests, concurrency)) for _ in range(repeats)
                    ]
                    rps = statistics.median(r[0] for r in runs)
                    lat = sorted(x for r in runs for x in r[1])
                    rows[label] = {
                        "rps": rps,
                        "p50_ms": lat[len(lat) // 2],
                        "p99_ms": lat[int(len(lat) * 0.99)],
                    }
            finally:
                baseline.close()
            ratio = rows["simulator (asyncio)"]["rps"] / rows["ThreadingHTTPServer"]["rps"]
            results["workloads"][name] = {"body_bytes": len(reference), "servers": rows, "ratio": ratio}
    finally:
        simulator.close()
    results["goal_ratio"] = GOAL_RATIO
    results["goal_met"] = all(w["ratio"] >= GOAL_RATIO for w in results["workloads"].values())
    return results


def _print(results: dict) -> None:
    print(
        f"{results['requests']} requests x {results['repeats']} repeats, concurrency {results['concurrency']}, "
        "zero simulated latency (medians of repeats)"
    )
    print(f"{'workload':<10} {'server':<22} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for name, w in results["workloads"].items():
        for label, row in w["servers"].items():
            print(f"{name:<10} {label:<22} {row['rps']:>8.0f} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f}")
        print(f"{name:<10} {'ratio simulator/base':<22} {w['ratio']:>8.2f}   (body {w['body_bytes']} bytes)")
    verdict = "met" if results["goal_met"] else "NOT met"
    print(
        f"goal: simulator >= {results['goal_ratio']:.1f}x the threaded baseline on every workload: {verdict}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    _print(main(args.requests, args.concurrency, args.repeats))
