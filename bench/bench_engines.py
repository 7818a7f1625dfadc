"""The performance table on each engine: polars (imgkit's default), DuckDB and Spark local[2], against a plain
DuckDB query and pandas, on the same files; every mode in a fresh process (wall time, CPU time, peak memory),
every result compared with polars'.

(a) ``--rows`` synthetic requests (default 10,000,000, plus their retries) written as ONE Parquet file: the
    file an analyst would point DuckDB at. Modes: ``polars`` (``imgkit.performance_table(scan_log(path))``),
    ``duckdb`` and ``spark`` (``imgkit.analysis.engines.performance_table``, histogram selection: bit for bit),
    ``duckdb-aggregate`` (the same through DuckDB's own ``quantile_cont``), ``duckdb-plain`` (**the named
    baseline**: the hand-written DuckDB query an analyst would reach for instead: count, success rate,
    ``quantile_cont`` of latency and TTFB over final successes, cost sums, nothing else) and ``pandas``
    (read + groupby + quantile + Wilson, where pandas still fits). Each child runs ``--repeats`` times; the
    figure is the median of the runs after the first (the first is reported as cold).
(b) ``--huge-rows`` requests (default 100,000,000) written chunk by chunk as hive-partitioned Parquet by UTC
    day (``date=2026-01-05/``; bench_performance's generator), then analysed by polars, DuckDB and Spark
    local[2], each once in a fresh process; ratios against polars.

Goal (issue 17): the default engine at least as fast as the plain DuckDB query on the one-file log, and
within its memory. Ratios are printed against that baseline (>1: slower than the baseline). Spark's peak
memory is the JVM's (VmHWM of the driver process) plus the Python driver's.

    .venv/bin/python bench/bench_engines.py [--rows 10000000] [--huge-rows 100000000] [--no-huge]
        [--modes polars,duckdb,duckdb-aggregate,duckdb-plain,spark,pandas] [--repeats 3] [--tmp DIR] [--keep]

Timings on a shared machine are noise: run it on a quiet one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_performance import KEYS, pandas_performance_table, to_pandas, write_huge

MODES = ("polars", "duckdb", "duckdb-aggregate", "duckdb-plain", "spark", "pandas")
HUGE_MODES = ("polars", "duckdb", "spark")
BASELINE = "duckdb-plain"
SPARK_DRIVER_MEMORY = os.environ.get("IMGKIT_BENCH_SPARK_MEMORY", "4g")

#: the issue's plain DuckDB query (what an analyst writes instead of calling imgkit)
PLAIN_DUCKDB = """
SELECT provider, model,
       count(*) FILTER (WHERE final) AS requests,
       count(*) FILTER (WHERE final AND outcome = 'ok') / count(*) FILTER (WHERE final) AS success_rate,
       quantile_cont(latency_ms, 0.5) FILTER (WHERE final AND outcome = 'ok') AS latency_p50_ms,
       quantile_cont(latency_ms, 0.95) FILTER (WHERE final AND outcome = 'ok') AS latency_p95_ms,
       quantile_cont(latency_ms, 0.99) FILTER (WHERE final AND outcome = 'ok') AS latency_p99_ms,
       quantile_cont(ttfb_ms, 0.5) FILTER (WHERE final AND outcome = 'ok') AS ttfb_p50_ms,
       quantile_cont(ttfb_ms, 0.95) FILTER (WHERE final AND outcome = 'ok') AS ttfb_p95_ms,
       sum(actual_cost_usd) AS total_cost_usd
FROM read_parquet({files})
GROUP BY provider, model
ORDER BY provider, model
"""


# --- children: one mode, fresh process ---------------------------------------------------------------------


def _vmhwm_gib(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 2**20


def _jsonable(rows: list[dict]) -> list[dict]:
    out = []
    for row in rows:
        out.append(
            {
                k: str(v) if isinstance(v, Decimal) else v.isoformat() if hasattr(v, "isoformat") else v
                for k, v in row.items()
            }
        )
    return out


def _runner(mode: str, path: str):
    """A function that computes the table of ``path`` in ``mode`` and returns its rows (plus what to stop)."""
    if mode == "polars":
        from imgkit import performance_table, scan_log

        return (lambda: performance_table(scan_log(path)).to_dicts()), None
    if mode in ("duckdb", "duckdb-aggregate"):
        from imgkit.analysis.engines import performance_table

        strategy = "aggregate" if mode == "duckdb-aggregate" else "histogram"
        return (lambda: performance_table(path, "duckdb", percentiles=strategy).to_dicts()), None
    if mode == "duckdb-plain":
        import duckdb

        con = duckdb.connect()
        files = [str(f) for f in sorted(Path(path).rglob("*.parquet"))] if Path(path).is_dir() else path

        def plain() -> list[dict]:
            rel = con.execute(PLAIN_DUCKDB.format(files=repr(files)))
            names = [d[0] for d in rel.description]
            return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]

        return plain, None
    if mode == "spark":
        from imgkit.analysis.engines import performance_table, spark_session

        spark = spark_session("local[2]", {"spark.driver.memory": SPARK_DRIVER_MEMORY})
        return (lambda: performance_table(path, "spark", connection=spark).to_dicts()), spark
    if mode == "pandas":
        import polars as pl
        from bench_performance import _COLUMNS

        def with_pandas() -> list[dict]:
            df = pandas_performance_table(to_pandas(pl.read_parquet(path, columns=_COLUMNS)))
            rows = df.to_dict("records")
            return [
                {k: (None if v != v else v) if isinstance(v, float) else v for k, v in r.items()}
                for r in rows
            ]

        return with_pandas, None
    raise SystemExit(f"unknown mode {mode}; allowed: {', '.join(MODES)}")


def child(mode: str, path: str, repeats: int) -> dict:
    t0 = time.perf_counter()
    run, spark = _runner(mode, path)
    setup_s = time.perf_counter() - t0
    walls, cpus, rows = [], [], []
    for _ in range(repeats):
        c0, t0 = os.times(), time.perf_counter()
        rows = run()
        walls.append(time.perf_counter() - t0)
        c1 = os.times()
        cpus.append(c1.user - c0.user + c1.system - c0.system)
    jvm_gib = 0.0
    if spark is not None:
        jvm_gib = _vmhwm_gib(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
        spark.stop()
    warm = walls[1:] or walls
    return {
        "mode": mode,
        "setup_s": setup_s,
        "cold_s": walls[0],
        "wall_s": statistics.median(warm),
        "runs_s": walls,
        "cpu_s": statistics.median(cpus[1:] or cpus),  # this process only (not Spark's JVM)
        "peak_gib": _vmhwm_gib() + jvm_gib,
        "jvm_gib": jvm_gib,
        "rows": _jsonable(rows),
        "maxrss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def _child(mode: str, path: Path, repeats: int) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path), "--repeats", str(repeats)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        return {"mode": mode, "error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- comparing ------------------------------------------------------------------------------------------


def differences(got: list[dict], want: list[dict], rel: float = 1e-9) -> tuple[list[str], float]:
    """Columns where ``got`` differs from ``want`` (the shared columns: floats within ``rel``, counts and
    money exactly), and the largest relative difference of a float."""
    bad: set[str] = set()
    worst = 0.0
    key = lambda r: tuple("" if r[k] is None else str(r[k]) for k in KEYS)  # noqa: E731
    got_by, want_by = {key(r): r for r in got}, {key(r): r for r in want}
    if got_by.keys() != want_by.keys():
        return ["groups"], float("inf")
    for k, w in want_by.items():
        g = got_by[k]
        for name in w.keys() & g.keys():
            a, b = g[name], w[name]
            if isinstance(b, float) or isinstance(a, float):
                if a is None or b is None:
                    if a is not b:
                        bad.add(name)
                    continue
                d = abs(float(a) - float(b)) / abs(float(b)) if b else abs(float(a))
                worst = max(worst, d)
                if d > rel:
                    bad.add(name)
            elif name.endswith("_usd"):
                if (a is None) != (b is None) or (a is not None and Decimal(str(a)) != Decimal(str(b))):
                    bad.add(name)
            elif a != b and not (isinstance(a, int) and isinstance(b, int) and int(a) == int(b)):
                bad.add(name)
    return sorted(bad), worst


# --- parts --------------------------------------------------------------------------------------------


def one_file(rows: int, modes: list[str], repeats: int, base: Path, seed: int) -> dict:
    from imgkit.analysis.synthetic import synthetic_log

    path = base / "log.parquet"
    t0 = time.perf_counter()
    frame = synthetic_log(rows, seed)
    frame.write_parquet(path)
    attempts = frame.height
    del frame
    written_s = time.perf_counter() - t0
    results = {m: _child(m, path, repeats) for m in modes}
    return {
        "requests": rows,
        "attempts": attempts,
        "write_s": written_s,
        "bytes": path.stat().st_size,
        "modes": results,
    }


def huge(rows: int, modes: list[str], base: Path, chunks: int, seed: int) -> dict:
    log_dir = base / "huge"
    figures = write_huge(log_dir, rows, chunks, seed, partition_by=("date",))
    figures["requests"] = rows
    figures["modes"] = {m: _child(m, log_dir, 1) for m in modes}
    return figures


def _report(title: str, part: dict, baseline: str | None) -> None:
    modes = part["modes"]
    reference = modes.get("polars")
    base = modes.get(baseline) if baseline else None
    print(f"\n{title}")
    head = f"{'mode':<18}{'wall s':>9}{'cold s':>9}{'CPU s':>8}{'peak GiB':>10}"
    head += (
        f"{'vs ' + baseline + ' time':>22}{'memory':>8}" if base else f"{'vs polars time':>16}{'memory':>8}"
    )
    print(head + "   results vs polars")
    ratio_to = base if base and "error" not in base else reference
    for mode, r in modes.items():
        if "error" in r:
            print(f"{mode:<18} failed: {r['error']}")
            continue
        line = f"{mode:<18}{r['wall_s']:>9.2f}{r['cold_s']:>9.2f}{r['cpu_s']:>8.2f}{r['peak_gib']:>10.2f}"
        if ratio_to and "error" not in ratio_to:
            line += f"{r['wall_s'] / ratio_to['wall_s']:>22.2f}{r['peak_gib'] / ratio_to['peak_gib']:>8.2f}"
        if reference and "error" not in reference and mode != "polars":
            bad, worst = differences(r["rows"], reference["rows"])
            line += "   identical" if worst == 0 and not bad else f"   max rel {worst:.1e}"
            if bad:
                line += f", DIFFER in {', '.join(bad)}"
        print(line)
    if base and reference and "error" not in base and "error" not in reference:
        met = reference["wall_s"] <= base["wall_s"] and reference["peak_gib"] <= base["peak_gib"]
        print(
            f"goal (polars at least as fast as {baseline} and within its memory): {'met' if met else 'NOT met'} "
            f"({reference['wall_s'] / base['wall_s']:.2f}x time, {reference['peak_gib'] / base['peak_gib']:.2f}x memory)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="requests for (a), one Parquet file")
    ap.add_argument("--huge-rows", type=int, default=100_000_000, help="requests for (b), partitioned by day")
    ap.add_argument("--no-huge", action="store_true", help="skip (b)")
    ap.add_argument("--modes", default=",".join(MODES), help="modes of (a)")
    ap.add_argument("--huge-modes", default=",".join(HUGE_MODES), help="modes of (b)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per mode in (a); the first is the cold one")
    ap.add_argument("--chunks", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tmp", help="where the Parquet files go (default: the system temp dir)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.repeats)))
        return
    base = Path(tempfile.mkdtemp(prefix="imgkit-bench-engines-", dir=args.tmp))
    try:
        if not args.no_huge:  # first, while this process is small
            b = huge(args.huge_rows, args.huge_modes.split(","), base, args.chunks, args.seed)
            _report(
                f"(b) {b['requests']:,} requests, hive-partitioned by day: {b['files']} files, "
                f"{b['bytes_on_disk'] / 2**30:.2f} GiB (written in {b['write_s']:.0f} s); ratios against polars",
                b,
                None,
            )
        a = one_file(args.rows, args.modes.split(","), args.repeats, base, args.seed)
        _report(
            f"(a) {a['requests']:,} requests ({a['attempts']:,} attempts) in one Parquet file of "
            f"{a['bytes'] / 2**20:.0f} MiB; median of {max(args.repeats - 1, 1)} warm runs; baseline: {BASELINE}",
            a,
            BASELINE if BASELINE in a["modes"] else None,
        )
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
