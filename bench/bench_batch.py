"""imgkit's work per item of a run through the Batch API, against the interactive runner's, and its memory.

One simulated provider runs in its own process (``time_scale=0``: a batch is done at its first poll, every
interactive request answers at once, no failures); the items are 20 prompts × ``items / 20`` repeats of
gpt-image-2 low 1024x1024 (a 25 kB PNG each; the simulator renders 20 images and serves them from its cache).
The same items run two ways, alternating ``--repeats`` times in one process (imports done):

* **batch**: :func:`imgkit.runs.runner.run_experiment` with ``batch: true``: the items grouped, each line
  built and written to the input file, the file uploaded, the batch created and polled, the output file read
  line by line, each image decoded and stored, each answer billed at the batch price and logged, the
  ledger's records, the summary table;
* **interactive**: the same spec with ``batch: false``: one request per item through the client (quote,
  reservation, ``sent`` record, HTTP, image, bill, record), the summary table.

Figures: CPU time of the process (every thread) per item for each way, medians of the paired repeats, and
their ratio (goal: the batch path's work per item at most the interactive path's); wall time per item; the
share of the batch path's CPU spent building the input file (request contexts and lines, measured alone on the same
items). Memory: peak RSS above the RSS once imports are done, of batch runs of ``--small`` and ``--items``
items, each in a fresh process (goal: the peak at ``--items`` within 10 % or 16 MiB of the one at ``--small``).

    .venv/bin/python bench/bench_batch.py [--items 10000] [--small 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_RATIO = 1.0
GOAL_MEMORY_RATIO = 1.10
GOAL_MEMORY_SLACK_MIB = 16.0
PROMPTS = 20

SIMULATOR = """
import sys
from imgkit.simulator import SimulatorServer
sim = SimulatorServer(time_scale=0, apply_success_rate=False, record_limit=16).start()
print(sim.url, flush=True)
sys.stdin.read()
sim.stop()
"""


def _spec(url: str, items: int, out: Path, *, batch: bool):
    from imgkit.runs.spec import parse_spec

    return parse_spec(
        {
            "name": "bench",
            "prompts": [{"id": f"p{i}", "text": f"a lighthouse at dusk, study {i}"} for i in range(PROMPTS)],
            "targets": [
                {"model": "gpt-image-2", "provider": "openai", "quality": "low", "size": "1024x1024"}
            ],
            "repeats": max(1, items // PROMPTS),
            "concurrency": 8,
            "retries": {"max_attempts": 1},
            "budget_usd": "1000",
            "simulate": {"url": url},
            "output_dir": str(out),
            "batch": {"poll_s": 0.01, "max_poll_s": 0.05} if batch else False,
        }
    )


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mib() -> float:
    """This process's peak RSS (VmHWM; ``ru_maxrss`` carries a parent's peak over fork and exec)."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _measure(fn) -> tuple[float, float]:
    cpu0, t0 = _cpu_s(), time.perf_counter()
    fn()
    return _cpu_s() - cpu0, time.perf_counter() - t0


def _run(url: str, items: int, catalog, *, batch: bool) -> None:
    from imgkit.runs.runner import run_experiment

    with tempfile.TemporaryDirectory(prefix="imgkit-bench-batch-") as tmp:
        spec = _spec(url, items, Path(tmp) / "run", batch=batch)
        summary = run_experiment(spec, catalog=catalog, progress=False)
        assert summary.ok == summary.items, summary.as_dict()
        if batch:
            assert summary.batches_created == -(-items // 50_000), summary.as_dict()


def _build_only(url: str, items: int, catalog) -> float:
    """CPU seconds of building the input file alone (:meth:`imgkit.runs.batch.BatchRun.write_input`): the
    items' request contexts and lines, written to disk."""
    import asyncio

    from imgkit.money import Budget
    from imgkit.providers import ImageClient
    from imgkit.records.batches import LedgerBatch
    from imgkit.records.rundir import RunDirectory
    from imgkit.runs.batch import BatchRun
    from imgkit.runs.plan import plan_run

    with tempfile.TemporaryDirectory(prefix="imgkit-bench-batch-") as tmp:
        spec = _spec(url, items, Path(tmp) / "run", batch=True)
        spec.output_dir.mkdir()
        rundir = RunDirectory(spec.output_dir)
        plan = plan_run(spec, catalog)
        ids = {item.item_id: item for item in spec.items()}
        run = BatchRun(
            spec=spec,
            plan=plan,
            catalog=catalog,
            images=ImageClient(catalog, keys={"openai": "sk-bench"}, store=rundir.image_store()),
            journal=rundir.journal(),
            ledger=rundir.batch_ledger(),
            budget=Budget(None),
            run_id="bench",
            run_dir=rundir,
            items_by_id=ids,
            progress=lambda *a, **k: None,
            stopping=lambda: False,
        )
        entry = LedgerBatch(
            "b0001", "openai", "gpt-image-2", "/v1/images/generations", 1, "in.jsonl", tuple(ids), (), None
        )

        async def build() -> float:
            run.client.images.http_client()  # made once per run, before any batch: not part of the build
            return _measure(lambda: run.write_input(entry))[0]

        return asyncio.run(build())


def child_timing(url: str, items: int, repeats: int) -> dict:
    from imgkit.catalog import load_catalog

    catalog = load_catalog()
    _run(url, 100, catalog, batch=True)  # warm up: imports, the simulator's image cache, pools
    _run(url, 100, catalog, batch=False)
    pairs = []
    for r in range(repeats):
        runs = [("batch", True), ("interactive", False)]
        if r % 2:
            runs.reverse()
        measured = {name: _measure(lambda b=b: _run(url, items, catalog, batch=b)) for name, b in runs}
        pairs.append({f"{k}_{m}_s": v[i] for k, v in measured.items() for i, m in enumerate(("cpu", "wall"))})
    build = [_build_only(url, items, catalog) for _ in range(repeats)]
    return {"pairs": pairs, "build_cpu_s": build}


def child_memory(url: str, items: int) -> dict:
    import imgkit.providers
    import imgkit.runs.batch
    import imgkit.runs.runner  # noqa: F401  (imports are not part of the run)
    from imgkit.catalog import load_catalog

    catalog = load_catalog()
    base = _rss_mib()
    _run(url, items, catalog, batch=True)
    return {"items": items, "base_mib": base, "peak_mib": _peak_mib()}


def _child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(items: int = 10_000, small: int = 1000, repeats: int = 3) -> dict:
    """Run the benchmark; returns the figures (and prints them)."""
    sim = subprocess.Popen(
        [sys.executable, "-c", SIMULATOR], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        url = sim.stdout.readline().strip()
        timing = _child("--child", "timing", "--url", url, "--items", str(items), "--repeats", str(repeats))
        memory = {n: _child("--child", "memory", "--url", url, "--items", str(n)) for n in (small, items)}
    finally:
        sim.stdin.close()
        sim.wait(timeout=30)
    pairs = timing["pairs"]
    f: dict = {"items": items, "small": small, "repeats": repeats}
    for way in ("batch", "interactive"):
        for m in ("cpu", "wall"):
            f[f"{way}_{m}_us_per_item"] = statistics.median(p[f"{way}_{m}_s"] for p in pairs) / items * 1e6
    ratios = [p["batch_cpu_s"] / p["interactive_cpu_s"] for p in pairs]
    f["cpu_ratio"] = statistics.median(ratios)
    f["cpu_ratio_range"] = (min(ratios), max(ratios))
    f["build_cpu_us_per_item"] = statistics.median(timing["build_cpu_s"]) / items * 1e6
    peaks = {n: m["peak_mib"] - m["base_mib"] for n, m in memory.items()}
    f["batch_peak_above_imports_mib"] = peaks
    f["goal_work_met"] = f["cpu_ratio"] <= GOAL_RATIO
    f["goal_memory_met"] = peaks[items] <= max(
        peaks[small] * GOAL_MEMORY_RATIO, peaks[small] + GOAL_MEMORY_SLACK_MIB
    )
    _print(f)
    return f


def _print(f: dict) -> None:
    items, small = f["items"], f["small"]
    peaks = f["batch_peak_above_imports_mib"]
    print(f"{items} items, {f['repeats']} repeats, simulator at zero latency (its own process)")
    print(f"{'':36} {'batch':>10} {'interactive':>12}")
    for name, key in (("CPU per item (µs)", "cpu"), ("wall per item (µs)", "wall")):
        a, b = f[f"batch_{key}_us_per_item"], f[f"interactive_{key}_us_per_item"]
        print(f"{name:36} {a:>10.0f} {b:>12.0f}")
    lo, hi = f["cpu_ratio_range"]
    print(
        f"batch / interactive CPU per item: {f['cpu_ratio']:.2f} (repeats {lo:.2f} … {hi:.2f}; goal at most "
        f"{GOAL_RATIO:.2f}): {'met' if f['goal_work_met'] else 'NOT met'}"
    )
    print(
        f"of which building the input file (request contexts, lines): {f['build_cpu_us_per_item']:.0f} µs per item; "
        "the rest is upload, polls, parsing the output, storing, billing and logging, the summary"
    )
    print(
        f"memory: peak {peaks[small]:.1f} MiB above imports at {small} items, {peaks[items]:.1f} MiB at {items} "
        f"(goal: within 10 % or 16 MiB): {'met' if f['goal_memory_met'] else 'NOT met'}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=("timing", "memory"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "timing":
        print(json.dumps(child_timing(args.url, args.items, args.repeats)))
    elif args.child == "memory":
        print(json.dumps(child_memory(args.url, args.items)))
    else:
        main(args.items, args.small, args.repeats)
