"""The experiment runner's overhead over bare client calls, and its memory, against the simulator at zero latency.

One simulated provider runs in its own process (``time_scale=0``, no failures); the items are 20 prompts ×
``items / 20`` repeats of gpt-image-2 low 1024x1024 (a 25 kB PNG each). Two ways to send them:

* **bare**: :meth:`imgkit.providers.ImageClient.generate` driven by ``concurrency`` asyncio workers pulling
  from one iterator (the leanest scheduling): each item resolved, its attempts logged to a ``RequestLog``,
  its images stored, as one would write it without the runner;
* **runner**: :func:`imgkit.runs.runner.run_experiment` on a spec of the same items: plan and quotes, budget
  reservations (made by the client, per attempt), resume bookkeeping, the spec as run, the per-target summary
  table (read from the log).

Overhead, two ways (one process, imports done, bare and runner alternating ``--repeats`` times):

* **end to end**: runner − bare, CPU time of the process (every thread) and wall time; medians of the
  paired repeats. Honest but noisy on a shared machine: other load moves both by more than 5 %.
* **isolated**: the runner's own CPU time, measured by running it with a client that answers every item
  at once without any I/O, plus its summary table read from the real run's log; per item, and as a share of
  a bare call's CPU time. This is the figure the goal is judged on.

Memory: peak RSS above the RSS once imports are done, of runner runs of ``--small`` and ``--items`` items,
each in a fresh process.

Goals: isolated overhead under 5 % of the bare calls; the peak at ``--items`` within 10 % (or 16 MiB) of the
peak at ``--small`` (memory does not grow with the number of items).

    .venv/bin/python bench/bench_runner.py [--items 2000] [--small 500] [--concurrency 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

GOAL_OVERHEAD = 0.05
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


def _spec(url: str, items: int, concurrency: int, out: Path):
    from imgkit.runs.spec import parse_spec

    return parse_spec(
        {
            "name": "bench",
            "prompts": [{"id": f"p{i}", "text": f"a lighthouse at dusk, study {i}"} for i in range(PROMPTS)],
            "targets": [
                {"model": "gpt-image-2", "provider": "openai", "quality": "low", "size": "1024x1024"}
            ],
            "repeats": max(1, items // PROMPTS),
            "concurrency": concurrency,
            "retries": {"max_attempts": 1},
            "budget_usd": "1000",
            "simulate": {"url": url},
            "output_dir": str(out),
        }
    )


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mib() -> float:
    """This process's peak RSS (VmHWM). Not ``ru_maxrss``: Linux carries that over fork and exec, so a child
    would report its parent's peak whenever the parent had used more."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _measure(fn) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of ``fn()``."""
    cpu0, t0 = _cpu_s(), time.perf_counter()
    fn()
    return _cpu_s() - cpu0, time.perf_counter() - t0


async def _bare(spec, plan, catalog) -> int:
    from imgkit.providers import ImageClient, RateLimit, RetryPolicy
    from imgkit.records.images import ImageStore
    from imgkit.records.journal import RequestLog
    from imgkit.runs.runner import SIMULATED_KEY

    client = ImageClient(
        catalog,
        base_urls={"openai": f"{spec.simulator.url}/v1"},
        keys={"openai": SIMULATED_KEY},
        store=ImageStore(spec.output_dir / "images"),
        log=RequestLog(spec.output_dir / "log.jsonl"),
        retry=RetryPolicy(max_attempts=1),
        limits={"openai": RateLimit()},
    )
    items, ok = spec.items(), 0

    async def worker() -> None:
        nonlocal ok
        for item in items:
            labels = {"prompt_id": item.prompt.id, "target": item.target.label, "repeat": item.repeat}
            result = await client.generate(
                plan.resolve(item), item_id=item.item_id, labels=labels, raise_on_error=False
            )
            ok += result.ok

    await asyncio.gather(*(worker() for _ in range(spec.concurrency)))
    await client.aclose()
    client.log.close()
    return ok


class _InstantClient:
    """Answers every request at once with a canned successful result: no HTTP, no log, no image; it does
    the budget work the real client does for a run (reserve the attempt's quote, settle it)."""

    async def generate(self, resolved, budget=None, **kw):
        if budget is not None:
            (held,) = budget.reserve_all([Decimal("0.005")])
            budget.settle(held, Decimal("0.005"))
        record = {"actual_cost_usd": Decimal("0.005"), "estimated_cost_usd": None, "cost_method": "tokens"}
        return SimpleNamespace(ok=True, error=None, attempts=(record,), retries_refused=0)

    async def aclose(self) -> None:
        pass


def _bare_run(url: str, items: int, concurrency: int, catalog) -> None:
    from imgkit.runs.plan import plan_run

    with tempfile.TemporaryDirectory(prefix="imgkit-bench-") as tmp:
        spec = _spec(url, items, concurrency, Path(tmp) / "run")
        spec.output_dir.mkdir()
        ok = asyncio.run(_bare(spec, plan_run(spec, catalog), catalog))
        assert ok == spec.n_items, f"{spec.n_items - ok} items failed"


def _runner_run(
    url: str, items: int, concurrency: int, catalog, keep: Path | None = None, client=None
) -> None:
    from imgkit.runs.runner import run_experiment

    with tempfile.TemporaryDirectory(prefix="imgkit-bench-") as tmp:
        out = keep or Path(tmp) / "run"
        summary = run_experiment(
            _spec(url, items, concurrency, out), catalog=catalog, progress=False, client=client
        )
        assert summary.ok == summary.items, summary.as_dict()


def child_timing(url: str, items: int, concurrency: int, repeats: int) -> dict:
    """End-to-end pairs (bare, runner) alternating in this process, then the isolated runner overhead."""
    from imgkit.catalog import load_catalog
    from imgkit.records.journal import RequestLog
    from imgkit.runs.plan import plan_run
    from imgkit.runs.runner import target_table

    catalog = load_catalog()
    _runner_run(url, 100, concurrency, catalog)  # warm up: imports, the simulator's image cache, pools
    pairs = []
    with tempfile.TemporaryDirectory(prefix="imgkit-bench-kept-") as kept:
        for r in range(repeats):
            bare = lambda: _bare_run(url, items, concurrency, catalog)  # noqa: E731
            last = Path(kept) / f"run{r}"
            runner = lambda last=last: _runner_run(url, items, concurrency, catalog, keep=last)  # noqa: E731
            if r % 2 == 0:
                b, rn = _measure(bare), _measure(runner)
            else:
                rn, b = _measure(runner), _measure(bare)
            pairs.append(
                {"bare_cpu_s": b[0], "bare_wall_s": b[1], "runner_cpu_s": rn[0], "runner_wall_s": rn[1]}
            )
        instant = [
            _measure(lambda: _runner_run(url, items, concurrency, catalog, client=_InstantClient()))[0]
            for _ in range(repeats)
        ]
        spec = _spec(url, items, concurrency, last)
        plan = plan_run(spec, catalog)
        table = [
            _measure(lambda: target_table(RequestLog(last / "log.jsonl"), plan))[0] for _ in range(repeats)
        ]
    return {"pairs": pairs, "instant_cpu_s": instant, "table_cpu_s": table}


def child_memory(mode: str, url: str, items: int, concurrency: int) -> dict:
    """One run in this fresh process: RSS once imports are done, and the peak RSS."""
    import imgkit.analysis.performance
    import imgkit.providers
    import imgkit.runs.runner  # noqa: F401  (imports are not part of the run)
    from imgkit.catalog import load_catalog

    catalog = load_catalog()
    base = _rss_mib()
    (_runner_run if mode == "runner" else _bare_run)(url, items, concurrency, catalog)
    return {"mode": mode, "items": items, "base_mib": base, "peak_mib": _peak_mib()}


def _child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(items: int = 2000, small: int = 500, concurrency: int = 8, repeats: int = 3) -> dict:
    """Run the benchmark; returns the figures (and prints the table)."""
    sim = subprocess.Popen(
        [sys.executable, "-c", SIMULATOR], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    common = ["--concurrency", str(concurrency)]
    try:
        url = sim.stdout.readline().strip()
        timing = _child(
            "--child", "timing", "--url", url, "--items", str(items), "--repeats", str(repeats), *common
        )
        memory = {
            (mode, n): _child("--child", mode, "--url", url, "--items", str(n), *common)
            for mode, n in (("runner", small), ("runner", items), ("bare", items))
        }
    finally:
        sim.stdin.close()
        sim.wait(timeout=30)
    pairs = timing["pairs"]
    figures: dict = {"items": items, "small": small, "concurrency": concurrency, "repeats": repeats}
    for measure in ("cpu", "wall"):
        b = [p[f"bare_{measure}_s"] for p in pairs]
        r = [p[f"runner_{measure}_s"] for p in pairs]
        figures[f"bare_{measure}_s"] = statistics.median(b)
        figures[f"runner_{measure}_s"] = statistics.median(r)
        shares = [(rv - bv) / bv for bv, rv in zip(b, r, strict=True)]
        figures[f"end_to_end_{measure}_share"] = statistics.median(shares)
        figures[f"end_to_end_{measure}_share_range"] = (min(shares), max(shares))
    own_cpu_s = statistics.median(timing["instant_cpu_s"]) + statistics.median(timing["table_cpu_s"])
    figures["runner_own_cpu_us_per_item"] = own_cpu_s / items * 1e6
    figures["bare_cpu_us_per_item"] = figures["bare_cpu_s"] / items * 1e6
    figures["isolated_overhead_share"] = own_cpu_s / figures["bare_cpu_s"]
    peak = {k: v["peak_mib"] - v["base_mib"] for k, v in memory.items()}
    small_peak, big_peak = peak["runner", small], peak["runner", items]
    figures |= {
        "bare_items_per_s": items / figures["bare_wall_s"],
        "runner_items_per_s": items / figures["runner_wall_s"],
        "bare_peak_above_imports_mib": peak["bare", items],
        "runner_peak_above_imports_mib": {small: small_peak, items: big_peak},
        "goal_overhead_met": figures["isolated_overhead_share"] < GOAL_OVERHEAD,
        "goal_memory_met": big_peak
        <= max(small_peak * GOAL_MEMORY_RATIO, small_peak + GOAL_MEMORY_SLACK_MIB),
    }
    _print(figures)
    return figures


def _print(f: dict) -> None:
    items, small = f["items"], f["small"]
    peaks = f["runner_peak_above_imports_mib"]
    rows = [
        ("CPU time, median (s)", f"{f['bare_cpu_s']:.2f}", f"{f['runner_cpu_s']:.2f}"),
        ("wall time, median (s)", f"{f['bare_wall_s']:.2f}", f"{f['runner_wall_s']:.2f}"),
        ("items per second", f"{f['bare_items_per_s']:.0f}", f"{f['runner_items_per_s']:.0f}"),
        (
            f"peak RSS above imports, {items} items (MiB)",
            f"{f['bare_peak_above_imports_mib']:.1f}",
            f"{peaks[items]:.1f}",
        ),
        (f"peak RSS above imports, {small} items (MiB)", "", f"{peaks[small]:.1f}"),
    ]
    print(f"{items} items, concurrency {f['concurrency']}, {f['repeats']} repeats, simulator at zero latency")
    print(f"{'':46} {'bare client':>12} {'runner':>10}")
    for name, a, b in rows:
        print(f"{name:46} {a:>12} {b:>10}")
    lo, hi = f["end_to_end_cpu_share_range"]
    print(
        f"end to end, runner − bare: CPU {f['end_to_end_cpu_share']:+.1%} (repeats {lo:+.1%} … {hi:+.1%}), "
        f"wall {f['end_to_end_wall_share']:+.1%}"
    )
    print(
        f"isolated: the runner's own work {f['runner_own_cpu_us_per_item']:.0f} µs CPU per item vs "
        f"{f['bare_cpu_us_per_item']:.0f} µs per bare call = {f['isolated_overhead_share']:.1%} "
        f"(goal < {GOAL_OVERHEAD:.0%}): {'met' if f['goal_overhead_met'] else 'NOT met'}"
    )
    print(
        f"memory: peak {peaks[small]:.1f} MiB above imports at {small} items, {peaks[items]:.1f} MiB at "
        f"{items} (goal: within 10 % or 16 MiB): {'met' if f['goal_memory_met'] else 'NOT met'}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--small", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=("timing", "bare", "runner"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "timing":
        print(json.dumps(child_timing(args.url, args.items, args.concurrency, args.repeats)))
    elif args.child:
        print(json.dumps(child_memory(args.child, args.url, args.items, args.concurrency)))
    else:
        main(args.items, args.small, args.concurrency, args.repeats)
