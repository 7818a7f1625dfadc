"""Performance table over large request logs: imgkit (lazy polars) vs the same computation in pandas.

(a) ``--rows`` synthetic requests (default 10,000,000; plus their retry attempts) held in memory:
    ``performance_table`` by provider × model against pandas groupby + quantiles + Wilson on the same data
    (money as exact pyarrow decimals in both), medians over ``--repeats``; the results must agree
    (counts and costs exactly, percentiles and intervals to 1e-9), after one untimed run of each, the timed runs
    alternating. Goal: under 2 s and at least 5x faster.
(b) ``--huge``: ``--huge-rows`` requests (default 100,000,000) written chunk by chunk as hive-partitioned
    Parquet under a temporary directory, then analysed by ``scan_log`` + ``performance_table`` (lazy,
    streaming) in a fresh child process whose peak RSS (``VmHWM``) is reported against the
    machine's 24 GiB. The files are deleted afterwards (unless ``--keep``).

    .venv/bin/python bench/bench_performance.py [--rows 10000000] [--repeats 5] [--huge] [--huge-rows N]
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from imgkit.analysis.percentiles import percentile_column
from imgkit.analysis.performance import TABLE_PERCENTILES, performance_table
from imgkit.analysis.synthetic import synthetic_log
from imgkit.money import MONEY_SCALE
from imgkit.records.parquet import export_parquet
from imgkit.records.scan import scan_log
from imgkit.stats import Z_95

GOAL_SECONDS = 2.0
GOAL_SPEEDUP = 5.0
MEMORY_LIMIT_GIB = 24.0
KEYS = ["provider", "model"]
_COLUMNS = [
    *KEYS,
    "final",
    "outcome",
    "latency_ms",
    "ttfb_ms",
    "images_count",
    "n",
    "actual_cost_usd",
    "provenance",
]


def pandas_performance_table(df: pd.DataFrame) -> pd.DataFrame:
    """The baseline: the same table as a careful pandas user writes it (one groupby over all attempts, one
    over the successes' time columns; quantiles, Wilson interval and exact decimal costs)."""
    ok = df["final"] & (df["outcome"] == "ok")
    attempts = df[[*KEYS, "final", "actual_cost_usd", "provenance"]].assign(
        _success=ok,
        _cost_unknown=df["actual_cost_usd"].isna(),
        _delivered=df["images_count"].fillna(df["n"]).where(ok, 0),
    )
    out = attempts.groupby(KEYS, sort=True).agg(
        requests=("final", "sum"),
        attempts=("final", "size"),
        successes=("_success", "sum"),
        images=("_delivered", "sum"),
        _cost_sum=("actual_cost_usd", "sum"),
        cost_unknown_attempts=("_cost_unknown", "sum"),
        provenance=("provenance", lambda s: "+".join(sorted(s.dropna().unique()))),
    )
    times = df.loc[ok, [*KEYS, "latency_ms", "ttfb_ms"]].groupby(KEYS, sort=True)
    latency = times["latency_ms"].quantile([0.5, 0.95, 0.99]).unstack()
    ttfb = times["ttfb_ms"].quantile([0.5, 0.95]).unstack()
    for q, name in ((0.5, "latency_p50_ms"), (0.95, "latency_p95_ms"), (0.99, "latency_p99_ms")):
        out[name] = latency[q]
    for q, name in ((0.5, "ttfb_p50_ms"), (0.95, "ttfb_p95_ms")):
        out[name] = ttfb[q]
    n = out["requests"].astype(float).where(out["requests"] > 0)
    p = out["successes"] / n
    denom = 1 + Z_95**2 / n
    centre = (p + Z_95**2 / (2 * n)) / denom
    half = Z_95 * np.sqrt(p * (1 - p) / n + Z_95**2 / (4 * n * n)) / denom
    out["success_rate"] = p
    out["success_ci_low"], out["success_ci_high"] = (centre - half).clip(0, 1), (centre + half).clip(0, 1)
    out["retries_per_success"] = (out["attempts"] - out["requests"]) / out["successes"].where(
        out["successes"] > 0
    )
    quantum = Decimal(1).scaleb(-MONEY_SCALE)
    out["cost_per_image_usd"] = [
        (Decimal(str(total)) / images).quantize(quantum, ROUND_HALF_EVEN) if unknown == 0 and images else None
        for total, images, unknown in zip(
            out["_cost_sum"], out["images"], out["cost_unknown_attempts"], strict=True
        )
    ]
    return out.drop(columns="_cost_sum").reset_index()


def to_pandas(frame: pl.DataFrame) -> pd.DataFrame:
    """The columns the table reads, as pandas holds them: numpy floats, pandas strings, pyarrow decimals."""
    money = frame.select("actual_cost_usd").to_pandas(use_pyarrow_extension_array=True)
    df = frame.select(c for c in _COLUMNS if c != "actual_cost_usd").to_pandas()
    df["actual_cost_usd"] = money["actual_cost_usd"]
    return df


def mismatches(ours: pl.DataFrame, theirs: pd.DataFrame) -> list[str]:
    """Columns where the two tables disagree (exact for counts and money, 1e-9 relative for floats)."""
    bad = []
    theirs = theirs.sort_values(KEYS).reset_index(drop=True)
    for column in ours.columns:
        if column not in theirs:
            continue
        a, b = ours[column].to_list(), theirs[column].tolist()
        if ours[column].dtype == pl.Float64:
            same = np.allclose(np.array(a, float), np.array(b, float), rtol=1e-9, atol=0, equal_nan=True)
        else:
            same = [None if x is None else x for x in a] == [None if pd.isna(x) else x for x in b]
        if not same:
            bad.append(column)
    return bad


def run_in_memory(rows: int, repeats: int, seed: int) -> dict:
    t0 = time.perf_counter()
    frame = synthetic_log(rows, seed)
    generate_s = time.perf_counter() - t0
    pdf = to_pandas(frame)
    # one untimed full-size run of each first: thread pools, expression caches and both allocators' pools
    # reach their steady state, so no timed run pays for first-touch page faults the others do not
    performance_table(frame.lazy(), by=KEYS)
    pandas_performance_table(pdf)
    polars_runs, pandas_runs = [], []
    for _ in range(repeats):  # alternating, each run after a garbage collection: neither pays for the other
        gc.collect()
        t0 = time.perf_counter()
        ours = performance_table(frame.lazy(), by=KEYS)
        polars_runs.append(time.perf_counter() - t0)
        gc.collect()
        t0 = time.perf_counter()
        theirs = pandas_performance_table(pdf)
        pandas_runs.append(time.perf_counter() - t0)
    polars_s, pandas_s = statistics.median(polars_runs), statistics.median(pandas_runs)
    bad = mismatches(ours, theirs)
    return {
        "requests": rows,
        "attempts": frame.height,
        "generate_s": generate_s,
        "polars_s": polars_s,
        "polars_runs_s": polars_runs,
        "pandas_s": pandas_s,
        "pandas_runs_s": pandas_runs,
        "speedup": pandas_s / polars_s,
        "mismatched_columns": bad,
        "table": ours,
        "goal_time_met": polars_s < GOAL_SECONDS,
        "goal_speedup_met": pandas_s / polars_s >= GOAL_SPEEDUP,
    }


def write_huge(
    out_dir: Path, rows: int, chunks: int, seed: int, partition_by: tuple[str, ...] = ("provider",)
) -> dict:
    """``rows`` requests as hive-partitioned Parquet (by ``partition_by``: canonical columns or ``date``),
    one synthetic chunk at a time (bounded memory)."""
    t0 = time.perf_counter()
    per_chunk = -(-rows // chunks)
    written = 0
    for k in range(chunks):
        size = min(per_chunk, rows - written)
        if size <= 0:
            break
        chunk = synthetic_log(size, seed + k, run_id=f"huge-{k:03d}")
        export_parquet(chunk, out_dir, partition_by=partition_by, file_stem=f"chunk-{k:03d}")
        written += size
        del chunk
        print(
            f"  chunk {k + 1}/{chunks}: {written:,} requests written ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    files = list(out_dir.rglob("*.parquet"))
    return {
        "write_s": time.perf_counter() - t0,
        "files": len(files),
        "bytes_on_disk": sum(f.stat().st_size for f in files),
    }


#: the table's percentiles: (column, time column, percentile)
_PERCENTILES = [(percentile_column(m, q), m, q) for m, wanted in TABLE_PERCENTILES.items() for q in wanted]
_PERCENTILE_COLUMNS = [column for column, _, _ in _PERCENTILES]


def _peak_rss_gib() -> float:
    """This process's peak RSS (VmHWM). Not ``ru_maxrss``: Linux carries that over fork and exec, so a child
    would report its parent's peak (the in-memory part's 10M-request frames)."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 2**20


def analyse_child(log_dir: str) -> dict:
    """In a fresh process: scan + table over the partitioned log; wall time and this process's peak RSS."""
    t0 = time.perf_counter()
    table = performance_table(scan_log(log_dir), by=KEYS)
    wall_s = time.perf_counter() - t0
    return {
        "wall_s": wall_s,
        "peak_rss_gib": _peak_rss_gib(),
        "requests": int(table["requests"].sum()),
        "attempts": int(table["attempts"].sum()),
        "rows": table.select(*KEYS, "requests", "success_rate", "latency_p50_ms", "latency_p95_ms").rows(),
        "percentiles": table.select(*KEYS, *_PERCENTILE_COLUMNS).rows(),
    }


def baseline_child(log_dir: str) -> dict:
    """The baseline of (b), in a fresh process: polars' own grouped quantiles (linear) on the streaming
    engine over the same scan, the percentiles alone."""
    t0 = time.perf_counter()
    ok = scan_log(log_dir).filter(pl.col("final") & (pl.col("outcome") == "ok"))
    table = (
        ok.group_by(KEYS)
        .agg(pl.col(metric).quantile(q / 100, "linear").alias(name) for name, metric, q in _PERCENTILES)
        .sort(KEYS)
        .collect(engine="streaming")
    )
    return {
        "wall_s": time.perf_counter() - t0,
        "peak_rss_gib": _peak_rss_gib(),
        "percentiles": table.select(*KEYS, *_PERCENTILE_COLUMNS).rows(),
    }


def _child(mode: str, log_dir: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, mode, str(log_dir)], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_huge(rows: int, chunks: int, seed: int, tmp: str | None, keep: bool) -> dict:
    base = Path(tempfile.mkdtemp(prefix="imgkit-bench-perf-", dir=tmp))
    try:
        log_dir = base / "log"
        figures = write_huge(log_dir, rows, chunks, seed)
        figures.update(_child("--analyse-child", log_dir))
        figures["log_dir"] = str(log_dir)
        figures["goal_memory_met"] = figures["peak_rss_gib"] < MEMORY_LIMIT_GIB
        figures["requests_expected"] = rows
        theirs = _child("--baseline-child", log_dir)
        ours = {tuple(r[: len(KEYS)]): r[len(KEYS) :] for r in figures["percentiles"]}
        figures["baseline"] = {
            **theirs,
            "max_relative_difference": max(
                abs(a - b) / abs(b)
                for r in theirs["percentiles"]
                for a, b in zip(ours[tuple(r[: len(KEYS)])], r[len(KEYS) :], strict=True)
            ),
        }
        return figures
    finally:
        if not keep:
            shutil.rmtree(base, ignore_errors=True)


def main(
    rows: int = 10_000_000,
    repeats: int = 5,
    seed: int = 0,
    huge: bool = False,
    huge_rows: int = 100_000_000,
    chunks: int = 20,
    tmp: str | None = None,
    keep: bool = False,
) -> dict:
    """Run (a), and (b) when ``huge`` (first: this process is still small while (b)'s children run, so the
    machine's memory is theirs); return the figures."""
    result = {}
    if huge:
        result["huge"] = run_huge(huge_rows, chunks, seed, tmp, keep)
    result["in_memory"] = run_in_memory(rows, repeats, seed)
    return result


def _print(result: dict) -> None:
    a = result["in_memory"]
    print(
        f"(a) performance table by provider x model: {a['requests']:,} requests, {a['attempts']:,} attempts"
    )
    print(f"    (synthetic log generated in {a['generate_s']:.1f} s)")
    print(f"{'path':<40}{'median s':>10}   runs")
    for name, key in (
        ("imgkit performance_table (polars)", "polars"),
        ("pandas groupby + quantile + Wilson", "pandas"),
    ):
        runs = ", ".join(f"{t:.3f}" for t in a[f"{key}_runs_s"])
        print(f"{name:<40}{a[f'{key}_s']:>10.3f}   {runs}")
    agree = "yes" if not a["mismatched_columns"] else f"NO ({', '.join(a['mismatched_columns'])})"
    print(f"speed-up: {a['speedup']:.1f}x   results agree: {agree}")
    print(
        f"goal < {GOAL_SECONDS:g} s: {'met' if a['goal_time_met'] else 'NOT met'}; "
        f">= {GOAL_SPEEDUP:g}x: {'met' if a['goal_speedup_met'] else 'NOT met'}"
    )
    with pl.Config(tbl_cols=-1, tbl_width_chars=200, float_precision=4):
        print(
            a["table"].select(
                *KEYS,
                "requests",
                "success_rate",
                "latency_p50_ms",
                "latency_p95_ms",
                "ttfb_p50_ms",
                "cost_per_image_usd",
            )
        )
    if "huge" in result:
        b = result["huge"]
        print(f"\n(b) {b['requests']:,} requests ({b['attempts']:,} attempts) as hive-partitioned Parquet")
        print(
            f"    written in {b['write_s']:.0f} s: {b['files']} files, {b['bytes_on_disk'] / 2**30:.2f} GiB on disk"
        )
        print(f"    scan_log + performance_table (lazy, streaming), fresh process: {b['wall_s']:.1f} s")
        print(
            f"    peak RSS {b['peak_rss_gib']:.2f} GiB of {MEMORY_LIMIT_GIB:g} GiB: goal {'met' if b['goal_memory_met'] else 'NOT met'}"
        )
        print(f"    all requests counted: {'yes' if b['requests'] == b['requests_expected'] else 'NO'}")
        for row in b["rows"]:
            print(
                f"    {row[0]:<8}{row[1]:<18}{row[2]:>14,}  success {row[3]:.4f}  p50 {row[4]:,.0f} ms  p95 {row[5]:,.0f} ms"
            )
        c = b["baseline"]
        print(
            f"    baseline, polars group_by quantile (streaming engine), fresh process: {c['wall_s']:.1f} s, "
            f"peak RSS {c['peak_rss_gib']:.2f} GiB; ratio {c['wall_s'] / b['wall_s']:.1f}x time, "
            f"{c['peak_rss_gib'] / b['peak_rss_gib']:.1f}x memory; percentiles differ by at most "
            f"{c['max_relative_difference']:.1e} (relative)"
        )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="requests for (a)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--huge", action="store_true", help="also run (b): 100M requests through partitioned Parquet"
    )
    ap.add_argument("--huge-rows", type=int, default=100_000_000)
    ap.add_argument("--chunks", type=int, default=20, help="chunks (files per provider) for (b)")
    ap.add_argument("--tmp", help="where (b) writes its Parquet (default: the system temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep (b)'s Parquet files")
    ap.add_argument("--analyse-child", metavar="DIR", help=argparse.SUPPRESS)
    ap.add_argument("--baseline-child", metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.analyse_child:
        print(json.dumps(analyse_child(args.analyse_child)))
    elif args.baseline_child:
        print(json.dumps(baseline_child(args.baseline_child)))
    else:
        _print(
            main(
                args.rows,
                args.repeats,
                args.seed,
                args.huge,
                args.huge_rows,
                args.chunks,
                args.tmp,
                args.keep,
            )
        )
