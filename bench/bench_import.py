"""Import + exact re-cost of LiteLLM spend logs from PostgreSQL: imgkit vs pandas.read_sql + a per-row loop.

Data: ``--rows`` rows of ``LiteLLM_SpendLogs`` (exact DDL, tests/data/litellm/spend_logs_ddl.sql) in a local
PostgreSQL started from the machine's binaries (tests/postgres_plugin.py) or ``--dsn``. They are cloned
inside PostgreSQL from the 40 rows LiteLLM 1.108.7's proxy code built (tests/data/litellm: half with the
request stored, half with LiteLLM's default settings): each clone gets its own request id and a start time,
in order over 90 days (LiteLLM appends a row as its request ends, so a day's rows are neighbours on disk); a
quarter of the clones are chat calls (``acompletion``), which both paths must leave out. About 5 kB per row on
disk (TOAST-compressed JSON), like LiteLLM's own tables.

Both paths run in a fresh process each (peak RSS = the child's ``VmHWM``), on the same rows, same run:

* **imgkit**: ``imgkit.records.importers.litellm.import_litellm`` -- ADBC streaming Arrow batches, one query
  per day with two days read at once on two connections while the day before is interpreted and written,
  every JSON field (usage tokens included) taken apart in SQL, polars expressions (no per-row Python),
  vectorised exact re-cost (``pricing.recost`` with its unit prices kept from chunk to chunk), Parquet by day.
* **baseline**: what a team writes today: per day, ``pandas.read_sql`` of the image rows with their JSON
  columns (over the same ADBC connection: pandas' fastest reader), then a Python loop over the rows:
  ``json.loads`` of each JSON column, the same reading of usage, size and quality, and
  ``pricing.cost_from_record`` per row (the scalar twin of ``recost``), summing Decimals.

Both report rows, the recorded total (LiteLLM's ``spend``) and the exact total; they must be identical.
Goal (issue 16): at 5,000,000 rows, imgkit at least 10x faster, its peak memory under 2 GiB.

    .venv/bin/python bench/bench_import.py [--rows 5000000] [--dsn postgresql://...] [--keep]
        [--baseline-days K [--seed S]]

The full size is the default: ``.venv/bin/python bench/bench_import.py`` (5,000,000 rows). Generating them
takes ~10-30 min (10-35 s per 100k rows on the 2-core machine) and ~25 GB of disk. The baseline's per-row
loop costs ~1 ms per image row on a loaded 2-core machine (~155 s per 155k image rows, measured at
200,000 rows), so at 5M rows (3.9M image rows) it runs for about 40-65 min; it is run whole unless
``--baseline-days K`` is given: then it runs on K days drawn at random and its time is extrapolated by rows,
which the output says in capitals, and the totals are compared on those days.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

GOAL_SPEEDUP = 10.0
DAYS = 90
GOAL_PEAK_GIB = 2.0
TEMPLATES = ("spend_rows.jsonl", "spend_rows_no_prompts.jsonl")


def _peak_rss_gib() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 2**20


# --- data -----------------------------------------------------------------------------------------------------


def generate(dsn: str, rows: int, batch: int = 100_000) -> None:
    """``rows`` clones of the LiteLLM-built rows, made inside PostgreSQL."""
    import adbc_driver_postgresql.dbapi as pg

    from tests.postgres_plugin import insert_spend_rows, litellm_ddl

    with pg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        for statement in litellm_ddl():
            cur.execute(statement)
        cur.execute('CREATE TABLE "_templates" (LIKE "LiteLLM_SpendLogs" INCLUDING ALL)')
    templates = [
        json.loads(line)
        for name in TEMPLATES
        for line in (REPO / "tests/data/litellm" / name).read_text().splitlines()
    ]
    for i, row in enumerate(templates):
        row["request_id"] = f"template-{i}"
    insert_spend_rows(dsn, templates, table="_templates")
    with pg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(
            'CREATE TEMP TABLE t AS SELECT row_number() OVER (ORDER BY request_id) - 1 AS k, * FROM "_templates"'
        )
        cur.execute("SELECT count(*) FROM t")
        n = cur.fetchone()[0]
        columns = [
            c
            for c in _columns(cur)
            if c not in ("request_id", "startTime", "endTime", "completionStartTime", "call_type")
        ]
        names = ", ".join(f'"{c}"' for c in columns)
        # in time order over DAYS days, as LiteLLM appends rows as requests end (a day's rows are neighbours)
        at = f"(TIMESTAMP '2026-09-01' + (g::float8 * {DAYS * 86400} / {rows}) * INTERVAL '1 second')"
        for start in range(0, rows, batch):
            stop = min(rows, start + batch)
            cur.execute(
                f'INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, "startTime", "endTime", "completionStartTime", {names}) '
                f"SELECT 'r' || g::text, CASE WHEN g % 4 = 3 AND t.call_type <> '' THEN 'acompletion' ELSE t.call_type END, "
                f'{at} , {at} + (t."endTime" - t."startTime"), {at} + (t."completionStartTime" - t."startTime"), '
                f"{', '.join('t.' + chr(34) + c + chr(34) for c in columns)} "
                f"FROM generate_series({start}, {stop - 1}) g JOIN t ON t.k = g % {n}"
            )
            print(f"  generated {stop:,} rows", file=sys.stderr, flush=True)
        cur.execute('DROP TABLE "_templates"')
        cur.execute('VACUUM ANALYZE "LiteLLM_SpendLogs"')


def _columns(cur) -> list[str]:
    cur.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'LiteLLM_SpendLogs' ORDER BY ordinal_position"
    )
    return [r[0] for r in cur.fetchall()]


# --- the two paths (each in a fresh process) ---------------------------------------------------------------------


def imgkit_child(dsn: str, out: str, days: str = "") -> dict:
    import polars as pl

    from imgkit.records.importers import read_ledger
    from imgkit.records.importers._store import IMPORT_DIR
    from imgkit.records.importers.litellm import import_litellm
    from imgkit.records.scan import scan_log

    t0 = time.perf_counter()
    summary = import_litellm(dsn, out)
    wall = time.perf_counter() - t0
    peak = _peak_rss_gib()
    assert (Path(out) / IMPORT_DIR).is_dir()

    def totals(only: list[dt.date] | None) -> dict:
        day = pl.col("started_at").dt.date()
        keep = day.is_in(only) if only is not None else pl.lit(True)
        canonical = scan_log(out).filter(keep)
        exact = canonical.select(pl.col("actual_cost_usd").cast(pl.Decimal(38, 10)).sum()).collect().item()
        ledger = read_ledger(out).filter(keep)
        recorded = ledger.select(pl.col("recorded_cost_usd").cast(pl.Decimal(38, 10)).sum()).collect().item()
        rows = canonical.select(pl.len()).collect().item()
        return {"rows": rows, "recorded_usd": str(recorded), "exact_usd": str(exact)}

    sample = [dt.date.fromisoformat(d) for d in days.split(",")] if days else None
    return {
        "wall_s": wall,
        "peak_gib": peak,
        "imported": summary["imported"],
        "skipped": summary["skipped"],
        **totals(None),
        "sample": totals(sample) if sample else None,
    }


_RAW = """SELECT request_id, call_type, status, spend, prompt_tokens, completion_tokens, total_tokens,
  "startTime", "endTime", "completionStartTime", model, model_group, custom_llm_provider, api_base, cache_hit,
  metadata::text AS metadata, proxy_server_request::text AS proxy_server_request, response::text AS response
FROM "LiteLLM_SpendLogs"
WHERE (call_type IN ('image_generation', 'aimage_generation', 'image_edit', 'aimage_edit')
       OR (call_type = '' AND status = 'failure'))
  AND "startTime" >= TIMESTAMP '{low}' AND "startTime" < TIMESTAMP '{high}'"""

_ERRORS = {"429": "rate_limit", "408": "timeout", "504": "timeout", "401": "authentication", "403": "authentication",
           "moderation_blocked": "content_policy"}  # fmt: skip


def _record(row, rules) -> dict | None:
    """One spend-log row as a canonical record, the way a hand-written loop reads it."""
    meta = json.loads(row.metadata) if row.metadata else {}
    psr = json.loads(row.proxy_server_request) if row.proxy_server_request else {}
    resp = json.loads(row.response) if row.response else {}
    cached = str(row.cache_hit).lower() == "true"  # served from LiteLLM's cache: imported, never billed
    route = ((psr.get("metadata") or {}).get("user_api_key_auth") or {}).get("request_route")
    llm = row.custom_llm_provider or None
    routed = rules.routed_provider(row.api_base)
    provider = routed or rules.provider(llm)
    name = row.model[len(llm) + 1 :] if llm and row.model.startswith(llm + "/") else row.model
    model = rules.model(name, provider)
    failure = (row.status or meta.get("status") or "success") == "failure"
    if failure and row.call_type == "":
        if not (
            (route or "").startswith(("/v1/images/", "/images/")) or (route is None and rules.known(model))
        ):
            return None
    usage = meta.get("usage_object") or {}
    rec = {"provider": provider, "model": model, "started_at": row.startTime.replace(tzinfo=dt.UTC)}
    if not cached and (usage.get("total_tokens") or row.total_tokens or 0) > 0:
        ptd, ctd = usage.get("prompt_tokens_details") or {}, usage.get("completion_tokens_details")
        prompt = usage.get("prompt_tokens", row.prompt_tokens) or 0
        completion = usage.get("completion_tokens", row.completion_tokens) or 0
        image_in = ptd.get("image_tokens") or 0
        rec["input_image_tokens"] = image_in
        rec["input_text_tokens"] = (
            ptd["text_tokens"] if ptd.get("text_tokens") is not None else max(prompt - image_in, 0)
        )
        if ctd and any(ctd.get(k) is not None for k in ("image_tokens", "text_tokens", "reasoning_tokens")):
            rec["output_image_tokens"] = ctd.get("image_tokens") or 0
            rec["output_text_tokens"] = max(completion - rec["output_image_tokens"], 0)
        else:
            rec["output_image_tokens"], rec["output_text_tokens"] = completion, 0
    usable = lambda v: None if v in (None, "", "null", "None", "auto") else v  # noqa: E731
    rec["quality"] = usable(resp.get("quality")) or usable(psr.get("quality"))
    rec["size"] = usable(resp.get("size")) or usable(psr.get("size"))
    data = resp.get("data") or [{}]
    fields = (data[0] or {}).get("provider_specific_fields") or {}
    rec["width"], rec["height"] = fields.get("width"), fields.get("height")
    if rec["width"] is None and rec["size"] and "x" in rec["size"]:
        rec["width"], rec["height"] = (int(p) for p in rec["size"].split("x"))
    stored = route is not None or psr.get("size") is not None
    rec["n"] = psr.get("n") or (1 if stored else None)
    rec["images_count"] = usage.get("output_image_count")
    if failure:
        info = meta.get("error_information") or {}
        rec["outcome"] = _ERRORS.get(str(info.get("error_code")), "unavailable")
    elif cached:
        rec["outcome"] = "cache_hit"
    else:
        rec["outcome"] = "ok"
    return rec


def baseline_child(dsn: str, days: str = "") -> dict:
    import adbc_driver_postgresql.dbapi as pg
    import pandas as pd

    from imgkit.catalog import load_catalog
    from imgkit.pricing import cost_from_record
    from imgkit.records.importers._names import default_rules_path, load_name_rules

    catalog = load_catalog()
    rules = load_name_rules(catalog, default_rules_path("litellm"))
    t0 = time.perf_counter()
    rows = 0
    recorded = exact = Decimal(0)
    quantum = Decimal("1e-10")
    with pg.connect(dsn) as conn:
        with conn.cursor() as cur:
            cur.execute('SELECT min("startTime")::date, max("startTime")::date FROM "LiteLLM_SpendLogs"')
            low, high = cur.fetchone()
        every = [low + dt.timedelta(days=i) for i in range((high - low).days + 1)]
        for day in [dt.date.fromisoformat(d) for d in days.split(",")] if days else every:
            sql = _RAW.format(low=day, high=day + dt.timedelta(days=1))
            frame = pd.read_sql(sql, conn)
            for row in frame.itertuples(index=False):
                rec = _record(row, rules)
                if rec is None:
                    continue
                rows += 1
                recorded += Decimal(repr(row.spend)).quantize(quantum, ROUND_HALF_EVEN)
                cost = cost_from_record(rec, catalog)
                if cost.total_usd is not None:
                    exact += cost.total_usd.quantize(quantum, ROUND_HALF_EVEN)
    return {
        "wall_s": time.perf_counter() - t0,
        "peak_gib": _peak_rss_gib(),
        "rows": rows,
        "recorded_usd": str(recorded),
        "exact_usd": str(exact),
    }


def _child(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000, help="rows in the table (default 5,000,000)")
    ap.add_argument("--dsn", help="an existing database holding LiteLLM_SpendLogs (else a throwaway server)")
    ap.add_argument("--keep", action="store_true", help="keep the throwaway server running and its files")
    ap.add_argument(
        "--baseline-days", type=int, metavar="K",
        help="time the baseline on K days drawn at random (--seed) and extrapolate its time by rows "
        "(default: every day, no extrapolation); totals are then compared on those days",
    )  # fmt: skip
    ap.add_argument("--seed", type=int, default=16, help="the draw of --baseline-days (default 16)")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        mode, *rest = args.child
        result = imgkit_child(*rest) if mode == "imgkit" else baseline_child(*rest)
        print(json.dumps(result))
        return
    server = None
    work = Path(tempfile.mkdtemp(prefix="bench-import-"))
    try:
        dsn = args.dsn
        if dsn is None:
            server = _start_server()
            dsn = server.create_database("litellm")
            t0 = time.perf_counter()
            generate(dsn, args.rows)
            print(f"generated {args.rows:,} rows in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        table_rows = _table_rows(dsn)
        days = ""
        if args.baseline_days:
            every = _table_days(dsn)
            drawn = sorted(random.Random(args.seed).sample(every, min(args.baseline_days, len(every))))
            days = ",".join(d.isoformat() for d in drawn)
        ours = _child("imgkit", dsn, str(work / "imported"), days)
        base = _child("baseline", dsn, days)
    finally:
        if server is not None and not args.keep:
            server.stop()
            shutil.rmtree(server.root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    compared = ours["sample"] if days else ours
    same = all(compared[k] == base[k] for k in ("rows", "recorded_usd", "exact_usd"))
    base_wall = base["wall_s"]
    print(
        f"rows: {table_rows:,} in the table; image rows imported: {ours['imported']:,} (skipped: {ours['skipped']})"
    )
    print(f"imgkit:   {ours['wall_s']:8.2f} s  peak RSS {ours['peak_gib']:.2f} GiB  rows {ours['rows']:,}  "
          f"recorded {ours['recorded_usd']}  exact {ours['exact_usd']}")  # fmt: skip
    if days:
        base_wall = base["wall_s"] * ours["rows"] / base["rows"]
        print(f"baseline: SAMPLED, NOT RUN WHOLE: {days.count(',') + 1} of {len(every)} days drawn at random "
              f"(seed {args.seed}: {days}), {base['rows']:,} of {ours['rows']:,} rows in "
              f"{base['wall_s']:.2f} s; its time for every row EXTRAPOLATED by rows: {base_wall:.1f} s")  # fmt: skip
        print(f"          peak RSS {base['peak_gib']:.2f} GiB  on the sampled days: recorded "
              f"{base['recorded_usd']}  exact {base['exact_usd']}; imgkit on the same days: rows "
              f"{compared['rows']:,}  recorded {compared['recorded_usd']}  exact {compared['exact_usd']}")  # fmt: skip
    else:
        print(f"baseline: {base['wall_s']:8.2f} s  peak RSS {base['peak_gib']:.2f} GiB  rows {base['rows']:,}  "
              f"recorded {base['recorded_usd']}  exact {base['exact_usd']}")  # fmt: skip
    speedup = base_wall / ours["wall_s"]
    print(f"speedup against the baseline (pandas.read_sql + a per-row Python cost loop"
          f"{', extrapolated' if days else ''}): {speedup:.1f}x (goal {GOAL_SPEEDUP:.0f}x); "
          f"imgkit peak RSS {ours['peak_gib']:.2f} GiB (goal < {GOAL_PEAK_GIB} GiB); "
          f"totals identical{' on the sampled days' if days else ''}: {same}")  # fmt: skip
    if not same:
        sys.exit(1)


def _table_rows(dsn: str) -> int:
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute('SELECT count(*) FROM "LiteLLM_SpendLogs"')
        return int(cur.fetchone()[0])


def _table_days(dsn: str) -> list[dt.date]:
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute('SELECT min("startTime")::date, max("startTime")::date FROM "LiteLLM_SpendLogs"')
        low, high = cur.fetchone()
    return [low + dt.timedelta(days=i) for i in range((high - low).days + 1)]


def _start_server():
    import os
    import pwd

    from tests.postgres_plugin import PostgresServer, _free_port, postgres_bin_dir

    root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    run_as = None
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        run_as = "postgres"
    server = PostgresServer(postgres_bin_dir(), root, _free_port(), run_as)
    server.start()
    return server


if __name__ == "__main__":
    main()
