"""imgkit's provider client vs each vendor's official async SDK, same simulated server, same run.

The simulator runs in its own process at zero simulated latency, answering a GPT Image generation
(gpt-image-2, low, 1024x1024) with ``b64_json`` (about 25 kB of JSON). Four figures:

* **throughput** at ``--concurrency`` requests in flight: imgkit's ``ImageClient.generate`` (decoding each
  image, storing it by sha256 on disk, costing it, and appending every attempt to an fsync'd request log)
  against ``AsyncOpenAI.images.generate`` (parsing the response into its pydantic model, nothing else) and,
  for reference, the SDK followed by the same decode-and-write-to-disk work. Medians over ``--repeats``,
  the two clients alternating.
* **client overhead** per request: sequential requests, imgkit's ``generate`` wall time minus a bare
  ``httpx`` POST-and-read of the same request on the same server (interleaved); p50 of the differences.
* **memory** over ``--memory-requests`` requests at the same concurrency (images to disk, results dropped):
  resident set size sampled at the start (after warm-up), the middle and the end.

* **throughput per protocol** (``--protocols``), each against its vendor's official async client on the same
  simulator: the Gemini API (``google-genai``'s ``client.aio.models.generate_content``, gemini-3.1-flash-image
  at 1K: one PNG inline), Together (``AsyncTogether.images.generate`` with base64), Replicate
  (``replicate.Client.async_run`` in synchronous mode, output read from its ``data:`` URI), fal
  (``fal_client.AsyncClient.subscribe`` on the queue; imgkit also downloads the image the SDK leaves as a
  URL) and Black Forest Labs, which has no official SDK: a bare ``httpx`` submit, poll and download. imgkit
  decodes, hashes, stores, costs and logs every image besides.

Goals: throughput ratio imgkit / SDK >= 1.0 (every protocol), overhead p50 < 2 ms, RSS growth start -> end
< 16 MiB.

    .venv/bin/python bench/bench_client.py [--requests 2000] [--concurrency 64] [--repeats 3]
                                           [--overhead-requests 300] [--memory-requests 10000]
                                           [--protocols gemini,together,replicate,fal,bfl]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import fal_client
import fal_client.client
import httpx
import openai
import replicate
import together
from google import genai

from imgkit.catalog import load_catalog
from imgkit.params import ImageRequest, resolve
from imgkit.providers import ImageClient, Polling, RateLimit
from imgkit.simulator import simulated_base_urls

GOAL_RATIO = 1.0
GOAL_OVERHEAD_MS = 2.0
GOAL_RSS_GROWTH_MIB = 16.0
KEY = "sk-bench-client-0001"
REQUEST = ImageRequest("gpt-image-2", "a lighthouse at dusk", quality="low", size="1024x1024")
SIMULATOR = """
import sys
from imgkit.simulator import SimulatorServer
sim = SimulatorServer(time_scale=0, apply_success_rate=False, record_limit=16).start()
print(sim.port, flush=True)
sys.stdin.read()
sim.stop()
"""


class Simulator:
    """The simulated provider in a child process (so that it does not share this process's GIL)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SIMULATOR], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self.root = f"http://127.0.0.1:{int(self.proc.stdout.readline())}"
        self.base_url = f"{self.root}/v1"

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def _settle() -> None:
    """Collect garbage and flush dirty pages (the SDK + write client leaves 50 MB of them) before a run."""
    gc.collect()
    os.sync()
    time.sleep(0.5)


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def _pool(requests: int, concurrency: int, one) -> float:
    """Requests per second with ``concurrency`` workers sharing ``requests`` calls of ``one()``."""
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await one()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return requests / (time.perf_counter() - start)


def _imgkit_client(base_url: str, root: Path, concurrency: int) -> ImageClient:
    return ImageClient(
        base_urls={"openai": base_url},
        keys={"openai": KEY},
        store=root / "images",
        log=root / "log.jsonl",
        limits={"openai": RateLimit(concurrency=concurrency)},
    )


async def _throughput(base_url: str, requests: int, concurrency: int, repeats: int, root: Path) -> dict:
    resolved = resolve(REQUEST)
    imgkit = _imgkit_client(base_url, root, concurrency)
    sdk = openai.AsyncOpenAI(base_url=base_url, api_key=KEY, max_retries=0)
    sdk_dir = root / "sdk"
    sdk_dir.mkdir()
    body = {"model": "gpt-image-2", "prompt": REQUEST.prompt, "quality": "low", "size": "1024x1024"}

    async def one_imgkit() -> None:
        await imgkit.generate(resolved)

    async def one_sdk() -> None:
        await sdk.images.generate(**body)

    async def one_sdk_to_disk() -> None:
        response = await sdk.images.generate(**body)
        data = base64.b64decode(response.data[0].b64_json)
        path = sdk_dir / f"{hashlib.sha256(data).hexdigest()}.png"
        await asyncio.to_thread(path.write_bytes, data)

    runs: dict[str, list[float]] = {"imgkit": [], "openai SDK": [], "openai SDK + decode + write": []}
    for fn in (one_imgkit, one_sdk, one_sdk_to_disk):  # warm-up: connections, imports, caches
        await _pool(2 * concurrency, concurrency, fn)
    for repeat in range(repeats):
        order = [
            ("imgkit", one_imgkit),
            ("openai SDK", one_sdk),
            ("openai SDK + decode + write", one_sdk_to_disk),
        ]
        for label, fn in order if repeat % 2 == 0 else order[::-1]:
            _settle()  # each client starts from the same state, whatever the previous one left behind
            runs[label].append(await _pool(requests, concurrency, fn))
    await imgkit.aclose()
    await sdk.close()
    imgkit.log.close()
    return {label: statistics.median(values) for label, values in runs.items()} | {"runs": runs}


async def _overhead(base_url: str, requests: int, root: Path) -> dict:
    """Sequential requests: imgkit's generate minus a bare httpx POST-and-read, interleaved."""
    resolved = resolve(REQUEST)
    imgkit = _imgkit_client(base_url, root, 1)
    bare = httpx.AsyncClient(timeout=60)
    body = dict(resolved.body)
    headers = {"authorization": f"Bearer {KEY}"}
    url = f"{base_url}/images/generations"
    imgkit_ms, bare_ms = [], []
    for i in range(requests + 20):
        t0 = time.perf_counter()
        resp = await bare.post(url, json=body, headers=headers)
        resp.read()
        t1 = time.perf_counter()
        await imgkit.generate(resolved)
        t2 = time.perf_counter()
        if i >= 20:  # warm-up
            bare_ms.append((t1 - t0) * 1000)
            imgkit_ms.append((t2 - t1) * 1000)
    await imgkit.aclose()
    await bare.aclose()
    imgkit.log.close()
    diffs = sorted(a - b for a, b in zip(imgkit_ms, bare_ms, strict=True))
    return {
        "imgkit_p50_ms": statistics.median(imgkit_ms),
        "bare_httpx_p50_ms": statistics.median(bare_ms),
        "overhead_p50_ms": statistics.median(diffs),
        "overhead_p90_ms": diffs[int(0.9 * len(diffs))],
    }


async def _memory(base_url: str, requests: int, concurrency: int, root: Path) -> dict:
    resolved = resolve(REQUEST)
    imgkit = _imgkit_client(base_url, root, concurrency)
    await _pool(4 * concurrency, concurrency, lambda: imgkit.generate(resolved))  # warm-up
    samples = []
    for _ in range(2):
        gc.collect()
        samples.append(rss_mib())
        await _pool(requests // 2, concurrency, lambda: imgkit.generate(resolved))
    gc.collect()
    samples.append(rss_mib())
    await imgkit.aclose()
    imgkit.log.close()
    lines = (root / "log.jsonl").read_bytes().count(b"\n")
    return {"rss_mib": samples, "growth_mib": samples[-1] - samples[0], "logged_attempts": lines}


PROTOCOLS = ("gemini", "together", "replicate", "fal", "bfl")
PROMPT = "a lighthouse at dusk"
#: per protocol: the imgkit request, and the baseline (its vendor's async SDK, or bare httpx for BFL)
PROTOCOL_REQUESTS = {
    "gemini": ImageRequest("gemini-3.1-flash-image", PROMPT, provider="gemini-api", size="1024x1024"),
    "together": ImageRequest("flux-1-schnell", PROMPT, provider="together", size="1024x1024"),
    "replicate": ImageRequest("flux-1-schnell", PROMPT, provider="replicate", size="1024x1024"),
    "fal": ImageRequest("flux-1-schnell", PROMPT, provider="fal", size="1024x1024"),
    "bfl": ImageRequest("flux-2-klein-4b", PROMPT, provider="bfl", size="1024x1024"),
}
BASELINES = {
    "gemini": "google-genai (client.aio)",
    "together": "together (AsyncTogether)",
    "replicate": "replicate (async_run)",
    "fal": "fal-client (AsyncClient)",
    "bfl": "bare httpx (no official SDK)",
}


def _baseline(protocol: str, sim: Simulator):
    """An async callable making one request with the vendor's own client, and a closer."""
    if protocol == "gemini":
        client = genai.Client(api_key=KEY, http_options={"base_url": f"{sim.root}/gemini"})
        config = {
            "response_modalities": ["TEXT", "IMAGE"],
            "image_config": {"aspect_ratio": "1:1", "image_size": "1K"},
        }

        async def one() -> None:
            await client.aio.models.generate_content(
                model="gemini-3.1-flash-image", contents=PROMPT, config=config
            )

        return one, client.aio.aclose
    if protocol == "together":
        client = together.AsyncTogether(api_key=KEY, base_url=f"{sim.root}/together", max_retries=0)

        async def one() -> None:
            await client.images.generate(
                model="black-forest-labs/FLUX.1-schnell",
                prompt=PROMPT,
                width=1024,
                height=1024,
                response_format="base64",
            )

        return one, client.close
    if protocol == "replicate":
        client = replicate.Client(api_token=KEY, base_url=f"{sim.root}/replicate")

        async def one() -> None:
            output = await client.async_run("black-forest-labs/flux-schnell", input={"prompt": PROMPT})
            await output[0].aread()

        return one, _nothing
    if protocol == "fal":
        fal_client.client.QUEUE_URL_FORMAT = f"{sim.root}/fal/"  # fal-client builds https URLs only
        client = fal_client.AsyncClient(key="bench:0001")

        async def one() -> None:
            await client.subscribe(
                "fal-ai/flux/schnell", {"prompt": PROMPT, "image_size": "square_hd"}, client_timeout=60
            )

        return one, _nothing
    http = httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=256))
    headers = {"x-key": KEY}

    async def one() -> None:  # BFL's documented protocol: submit, poll, download
        task = (
            await http.post(f"{sim.root}/bfl/v1/flux-2-klein-4b", json={"prompt": PROMPT}, headers=headers)
        ).json()
        while (result := (await http.get(task["polling_url"], headers=headers)).json())[
            "status"
        ] == "Pending":
            await asyncio.sleep(0.01)
        (await http.get(result["result"]["sample"])).raise_for_status()

    return one, http.aclose


async def _nothing() -> None:
    return None


async def _protocol_throughput(
    protocol: str, sim: Simulator, requests: int, concurrency: int, repeats: int, root: Path
) -> dict:
    catalog = load_catalog()
    resolved = resolve(PROTOCOL_REQUESTS[protocol], catalog)
    imgkit = ImageClient(
        catalog,
        base_urls=simulated_base_urls(sim.root, catalog),
        keys={pid: KEY for pid in catalog.providers},
        store=root / "images",
        log=root / "log.jsonl",
        limits={pid: RateLimit(concurrency=concurrency) for pid in catalog.providers},
        polling=Polling(poll_interval_s=0.01),
        fal_polling=Polling(poll_interval_s=0.01),
    )
    baseline, close = _baseline(protocol, sim)

    async def one_imgkit() -> None:
        await imgkit.generate(resolved)

    runs: dict[str, list[float]] = {"imgkit": [], "SDK": []}
    for fn in (one_imgkit, baseline):  # warm-up
        await _pool(2 * concurrency, concurrency, fn)
    for repeat in range(repeats):
        order = [("imgkit", one_imgkit), ("SDK", baseline)]
        for label, fn in order if repeat % 2 == 0 else order[::-1]:
            _settle()
            runs[label].append(await _pool(requests, concurrency, fn))
    await imgkit.aclose()
    await close()
    imgkit.log.close()
    rps = {label: statistics.median(values) for label, values in runs.items()}
    return {"baseline": BASELINES[protocol], **rps, "ratio": rps["imgkit"] / rps["SDK"], "runs": runs}


def main(
    requests: int = 2000,
    concurrency: int = 64,
    repeats: int = 3,
    overhead_requests: int = 300,
    memory_requests: int = 10_000,
    protocols: tuple[str, ...] = PROTOCOLS,
) -> dict:
    """Run the measurements; returns the figures and whether each goal was met."""
    sim = Simulator()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            for name in ("throughput", "overhead", "memory", *protocols):
                (root / name).mkdir()
            by_protocol = {
                p: asyncio.run(_protocol_throughput(p, sim, requests, concurrency, repeats, root / p))
                for p in protocols
            }
            throughput = asyncio.run(
                _throughput(sim.base_url, requests, concurrency, repeats, root / "throughput")
            )
            overhead = asyncio.run(_overhead(sim.base_url, overhead_requests, root / "overhead"))
            memory = asyncio.run(_memory(sim.base_url, memory_requests, concurrency, root / "memory"))
    finally:
        sim.close()
    ratio = throughput["imgkit"] / throughput["openai SDK"]
    return {
        "requests": requests,
        "concurrency": concurrency,
        "repeats": repeats,
        "throughput_rps": {k: v for k, v in throughput.items() if k != "runs"},
        "ratio": ratio,
        "ratio_vs_sdk_to_disk": throughput["imgkit"] / throughput["openai SDK + decode + write"],
        "overhead": overhead,
        "memory": memory,
        "protocols": {p: {k: v for k, v in r.items() if k != "runs"} for p, r in by_protocol.items()},
        "goals": {
            **{f"{p}: ratio >= {GOAL_RATIO}": r["ratio"] >= GOAL_RATIO for p, r in by_protocol.items()},
            f"ratio >= {GOAL_RATIO}": ratio >= GOAL_RATIO,
            f"overhead p50 < {GOAL_OVERHEAD_MS} ms": overhead["overhead_p50_ms"] < GOAL_OVERHEAD_MS,
            f"RSS growth < {GOAL_RSS_GROWTH_MIB:g} MiB over {memory_requests} requests": memory["growth_mib"]
            < GOAL_RSS_GROWTH_MIB,
        },
    }


def _print(r: dict) -> None:
    print(
        f"{r['requests']} requests x {r['repeats']} repeats at concurrency {r['concurrency']}, simulator at zero "
        "latency in its own process (medians of repeats)"
    )
    print(f"{'client':<30} {'req/s':>8}")
    for label, rps in r["throughput_rps"].items():
        print(f"{label:<30} {rps:>8.0f}")
    print(
        f"{'ratio imgkit / SDK':<30} {r['ratio']:>8.2f}   (vs SDK + decode + write: {r['ratio_vs_sdk_to_disk']:.2f})"
    )
    o = r["overhead"]
    print(
        f"overhead per request (sequential): p50 {o['overhead_p50_ms']:.2f} ms, p90 {o['overhead_p90_ms']:.2f} ms "
        f"(imgkit p50 {o['imgkit_p50_ms']:.2f} ms, bare httpx p50 {o['bare_httpx_p50_ms']:.2f} ms)"
    )
    m = r["memory"]
    start, middle, end = m["rss_mib"]
    print(
        f"RSS over {m['logged_attempts']} logged requests: start {start:.1f} MiB, middle {middle:.1f} MiB, "
        f"end {end:.1f} MiB (growth {m['growth_mib']:+.1f} MiB)"
    )
    if r["protocols"]:
        print(f"\n{'protocol':<10} {'baseline':<30} {'imgkit req/s':>12} {'SDK req/s':>10} {'ratio':>6}")
        for protocol, p in r["protocols"].items():
            print(
                f"{protocol:<10} {p['baseline']:<30} {p['imgkit']:>12.0f} {p['SDK']:>10.0f} {p['ratio']:>6.2f}"
            )
    for goal, met in r["goals"].items():
        print(f"goal {goal}: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--overhead-requests", type=int, default=300)
    parser.add_argument("--memory-requests", type=int, default=10_000)
    parser.add_argument(
        "--protocols",
        default=",".join(PROTOCOLS),
        help=f"comma-separated, of {','.join(PROTOCOLS)} (or none)",
    )
    args = parser.parse_args()
    chosen = tuple(p for p in args.protocols.split(",") if p and p != "none")
    unknown = [p for p in chosen if p not in PROTOCOLS]
    if unknown:
        parser.error(f"--protocols: unknown {', '.join(unknown)}; allowed: {', '.join(PROTOCOLS)}")
    _print(
        main(
            args.requests,
            args.concurrency,
            args.repeats,
            args.overhead_requests,
            args.memory_requests,
            chosen,
        )
    )
