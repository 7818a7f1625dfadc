"""Reading imgkit's journal (``log.jsonl``) checked line by line vs the unchecked reader it replaced.

``--lines`` attempt records (default 500,000, about 1.1 GB with their ``sent`` records; each as the client writes it: prompt and
parameters JSON, image list, request id, and before it the ``sent`` record announcing it) are written with
:func:`imgkit.records.journal.encode_record`. Timed, the
medians of ``--repeats`` alternating runs after one untimed run of each:

* checked: ``scan_log`` (every line checked by :func:`imgkit.records.journal.scan_journal`: one streaming pass of
  polars' reader, a byte scan for money written as a number, times converted from text), then the work of
  ``imgkit perf``: ``performance_table`` by provider × model and ``log_summary``;
* baseline: the same work on the reader before issue 12 (polars' ndjson reader with the canonical schema,
  times parsed by the reader, money cast from text, ``sent`` records left out; a bad line surfaced as a
  polars error without a line);
* the way to an error: a bad line at 90 % of the file, until the ``SpecError`` naming it.

The tables must be equal. Goal: the checked path within 10 % of the baseline's time.

    .venv/bin/python bench/bench_journal.py [--lines 500000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import polars as pl

from imgkit.analysis.performance import log_summary, performance_table
from imgkit.errors import SpecError
from imgkit.money import MONEY
from imgkit.records.journal import encode_record
from imgkit.records.scan import scan_log
from imgkit.records.schema import LOG_SCHEMA, OUTCOME_SENT

GOAL_RATIO = 1.10


def write_journal(path: Path, lines: int) -> int:
    """``lines`` attempt records in the shapes the client writes (a tenth of them failed and retried), each
    after its ``sent`` record (``ImageClient._announcement``)."""
    start = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    providers = [("openai", "gpt-image-1-mini"), ("openai", "gpt-image-1.5"), ("fal", "flux-1-schnell")]
    with path.open("wb") as fh:
        for k in range(lines):
            provider, model = providers[k % 3]
            ok = k % 10 != 0
            began = start + dt.timedelta(seconds=k)
            prompt = f"A red fox in fresh snow, photo {k}, soft morning light, telephoto lens"
            request = {  # the columns a sent record and its outcome record share
                "run_id": "bench",
                "item_id": f"{k // 2:016x}",
                "prompt_id": f"p{k % 100}",
                "target": f"{model}/{provider}/low/1024x1024",
                "repeat": 0,
                "attempt": 1 + (k % 2),
                "provider": provider,
                "model": model,
                "provider_model_id": model,
                "mode": "generate",
                "quality": "low",
                "size": "1024x1024",
                "width": 1024,
                "height": 1024,
                "n": 1,
                "started_at": began,
                "estimated_cost_usd": Decimal("0.005"),
            }
            fh.write(encode_record({**request, "final": False, "outcome": OUTCOME_SENT}))
            fh.write(
                encode_record(
                    {
                        **request,
                        "final": ok,
                        "first_byte_at": began + dt.timedelta(milliseconds=900 + k % 500),
                        "ended_at": began + dt.timedelta(milliseconds=9000 + (k * 7919) % 20000),
                        "latency_ms": 9000.0 + (k * 7919) % 20000,
                        "ttfb_ms": 900.0 + k % 500,
                        "outcome": "ok" if ok else "rate_limit",
                        "http_status": 200 if ok else 429,
                        "streamed": False,
                        "partial_images": 0,
                        "requested_params": {"model": model, "prompt": prompt, "size": "1024x1024", "n": 1},
                        "resolved_params": {
                            "model": model,
                            "prompt": prompt,
                            "size": "1024x1024",
                            "quality": "low",
                        },
                        "request_id": f"req_{k:032x}",
                        "output_image_tokens": 272 if ok else None,
                        "actual_cost_usd": Decimal("0.005") if ok else Decimal(0),
                        "cost_method": "per_image_table" if ok else "not_billed",
                        "images_count": 1 if ok else 0,
                        "images": [{"sha256": f"{k:064x}", "width": 1024, "height": 1024, "format": "png"}]
                        if ok
                        else [],
                        "error_message": None if ok else "[openai HTTP 429] Rate limit reached",
                        "provenance": "measured",
                    }
                )
            )
    return path.stat().st_size


def unchecked_scan(path: Path) -> pl.LazyFrame:
    """The reader before issue 12: polars' ndjson reader in the canonical schema, money cast from text, the
    ``sent`` records left out (as ``scan_log`` leaves them out)."""
    stored = {name: (pl.String if dtype == MONEY else dtype) for name, dtype in LOG_SCHEMA.items()}
    money = [name for name, dtype in LOG_SCHEMA.items() if dtype == MONEY]
    lf = pl.scan_ndjson(path, schema=stored).with_columns(pl.col(money).cast(MONEY))
    return lf.filter(pl.col("outcome").ne_missing(OUTCOME_SENT))


def perf(lf: pl.LazyFrame) -> pl.DataFrame:
    table = performance_table(lf, by=["provider", "model"])
    log_summary(lf)
    return table


def timed(work) -> tuple[float, float, object]:
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    result = work()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main(lines: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.jsonl"
        size = write_journal(path, lines)
        runs = {"checked": lambda: perf(scan_log(path)), "baseline": lambda: perf(unchecked_scan(path))}
        results = {name: work() for name, work in runs.items()}  # untimed: warm caches, compare
        assert results["checked"].equals(results["baseline"]), "the checked reader changed the table"
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
        for _ in range(repeats):
            for name, work in runs.items():
                wall, cpu, _ = timed(work)
                times[name].append((wall, cpu))
        bad = path.with_name("bad.jsonl")
        data = path.read_bytes().split(b"\n")
        at = int(len(data) * 0.9)
        data[at] = b'{"run_id": "bench", "item_id": "x", "attempt": 1, "outcome": "ok", "latency_ms": "slow"}'
        bad.write_bytes(b"\n".join(data))
        wall, cpu, error = timed(lambda: _error(bad))
    medians = {
        n: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t)) for n, t in times.items()
    }
    ratio = medians["checked"][0] / medians["baseline"][0]
    print(
        f"journal: {lines:,} attempts ({2 * lines:,} lines with their sent records), {size / 2**20:,.0f} MiB; "
        f"medians of {repeats} alternating runs"
    )
    for name, (w, c) in medians.items():
        print(f"  {name:9s} scan + performance_table + log_summary: {w:.2f} s wall, {c:.2f} s CPU")
    verdict = "met" if ratio <= GOAL_RATIO else "NOT met"
    print(f"  checked / baseline: {ratio:.2f}x wall (goal <= {GOAL_RATIO:.2f}x: {verdict}); tables equal")
    print(f"  a bad line at line {at + 1:,}: refused in {wall:.2f} s wall, {cpu:.2f} s CPU: {error}")


def _error(path: Path) -> str:
    try:
        scan_log(path)
    except SpecError as exc:
        return f"{exc.key_path}: {exc.problem}"
    raise AssertionError("the bad line was not found")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=500_000, help="attempt records (each after its sent record)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    main(args.lines, args.repeats)
