"""``imgkit perf LOG``: speed, reliability and cost per successful image from a request log.

``--json`` prints ``{"rows": [...], "percentile_method": ..., "provenance": {...}, "window": {...}}`` with
money as decimal strings; without it, an aligned table under a caption saying where the numbers come from.

A log holding requests sent through a Batch API is grouped by ``delivery`` too (unless ``--by`` names it): the
batched requests' times are turnarounds (submitted -> result available), shown in their own table, never
mixed into the interactive latency percentiles.

``--published`` adds the figures the seed page and the gateway's model pages publish for the log's provider x
model pairs (``"published": [...]``), each labelled published with its source, its date or ``undated``, and
the date it was checked; copies of one page that disagree stay separate rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl

from imgkit.cli._output import emit_json, format_table
from imgkit.formats import format_value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "perf",
        help="provider performance from a request log: success rate (Wilson CI), p50/p95/p99, TTFB, $/image",
    )
    p.add_argument(
        "log",
        nargs="*",
        metavar="LOG",
        help="log.jsonl, Parquet file or directory (or a file:// or s3:// URL of one), or CSV; "
        "optional with --table",
    )
    p.add_argument(
        "--by", default="provider,model", help="comma-separated grouping columns (default provider,model)"
    )
    p.add_argument("--since", help="only attempts started at or after: 30d, 12h, 2w, or an ISO date/datetime")
    p.add_argument("--until", help="only attempts started before: a span before now or an ISO date/datetime")
    p.add_argument(
        "--period", choices=("day", "week"), help="also group by UTC day or week (weeks start Monday)"
    )
    p.add_argument("--mapping", metavar="FILE", help="YAML column mapping for logs from elsewhere")
    p.add_argument(
        "--engine",
        choices=("polars", "duckdb", "spark", "bigquery", "snowflake", "trino"),
        default="polars",
        help="where the table is computed (default polars, in this process; README: Beyond one machine)",
    )
    p.add_argument(
        "--table",
        metavar="NAME",
        help="the log as a warehouse table (project.dataset.table, DB.SCHEMA.TABLE, catalog.schema.table)",
    )
    p.add_argument(
        "--percentiles",
        choices=("histogram", "aggregate", "approximate"),
        help="histogram: imgkit's exact selection (default on polars, duckdb, spark); aggregate: the "
        "engine's exact percentile in one statement; approximate: its approximate one (defaults: snowflake "
        "aggregate; bigquery and trino, which have no exact one, approximate)",
    )
    p.add_argument(
        "--show-sql",
        action="store_true",
        help="print the query the engine would run (no connection, no credentials) and exit",
    )
    p.add_argument(
        "--published",
        action="store_true",
        help="also the published figures (seed page, gateway model pages) for the log's provider x model pairs",
    )
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_perf)


def cmd_perf(args: argparse.Namespace) -> int:
    from imgkit.analysis.engines import WAREHOUSES, exactness, log_summary, performance_table, show_sql
    from imgkit.analysis.performance import PERCENTILE_METHOD, describe_log, window_bounds
    from imgkit.errors import InvalidParameterError

    warehouse = args.engine in WAREHOUSES
    if warehouse and not args.table:
        raise InvalidParameterError("--table", None, f"a table name: --engine {args.engine} reads a table")
    if args.table and not warehouse:
        raise InvalidParameterError("--table", args.table, "with --engine bigquery, snowflake or trino")
    if args.show_sql:
        if args.engine == "polars":
            raise InvalidParameterError("--show-sql", "--engine polars", "an engine that runs SQL")
        strategy = args.percentiles or (None if warehouse else "aggregate")
        how = exactness(args.engine, strategy)
        sql = show_sql(
            args.engine,
            args.table or "imgkit_log",
            by=args.by,
            since=args.since,
            until=args.until,
            period=args.period,
            percentiles=how.strategy,
        )
        print(f"-- imgkit perf on {args.engine}: percentiles {how.label}, {how.function}")
        print(f"-- error: {how.error}")
        print(
            "-- rates, the Wilson interval, retries per success and cost per image are computed from its rows"
        )
        print(sql)
        return 0
    if not args.log and not args.table:
        raise InvalidParameterError("LOG", None, "one or more logs (or --engine ... --table NAME)")
    now = dt.datetime.now(dt.UTC)
    how = exactness(args.engine, args.percentiles)
    source: Any = args.table or (args.log if len(args.log) > 1 else args.log[0])
    mapping = args.mapping
    if args.engine == "polars":  # one scan for the table and the caption
        from imgkit.records.scan import scan_log

        source, mapping = scan_log(args.log, mapping=mapping), None
    window = {"since": args.since, "until": args.until, "now": now}
    summary = log_summary(source, args.engine, mapping=mapping, **window)
    by = [k.strip() for k in args.by.split(",") if k.strip()]
    if summary.batch_attempts and "delivery" not in by:  # polars: turnarounds are never latencies
        by.append("delivery")
    table = performance_table(
        source,
        args.engine,
        by=by,
        period=args.period,
        percentiles=how.strategy,
        mapping=mapping,
        **window,
    )
    since, until = window_bounds(args.since, args.until, now)
    sources = [args.table] if args.table else list(args.log)
    caption = describe_log(summary, ", ".join(_name(p) for p in sources))
    method = PERCENTILE_METHOD if how.exact else f"approximate: {how.function}; {how.error}"
    published = None
    if args.published:
        from imgkit.analysis.published import measured_beside_published

        if not {"provider", "model"} <= set(table.columns):
            raise InvalidParameterError("--published", args.by, "a grouping with provider and model")
        beside = measured_beside_published(table.with_columns(source=pl.lit(caption)), same_pairs=True)
        published = beside.filter(pl.col("provenance") == "published")
    if args.json:
        emit_json(
            {
                "rows": table.to_dicts(),
                "percentile_method": method,
                "engine": how.as_json(),
                "provenance": {
                    "kind": summary.kind,
                    "source": [str(p) for p in sources],
                    "requests": summary.requests,
                    "attempts": summary.attempts,
                    "first_started_at": summary.first_started_at,
                    "last_started_at": summary.last_started_at,
                    "caption": caption,
                },
                "window": {"since": since, "until": until},
                **({"published": published.to_dicts()} if published is not None else {}),
            }
        )
        return 0
    keys = [
        c for c in table.columns if c in (*by, "period") and not (c == "delivery" and summary.batch_attempts)
    ]
    print(caption)
    rows = table.to_dicts()
    batched = [r for r in rows if r.get("delivery") == "batch"] if summary.batch_attempts else []
    interactive = [r for r in rows if r not in batched]
    if interactive:
        print(format_table([_text_row(row, keys) for row in interactive], kinds=_KINDS))
    print(f"success: Wilson 95 % interval; percentiles: {method}; times of successful requests")
    if args.engine != "polars":
        print(f"engine: {args.engine}; percentiles {how.label} ({how.function})")
    if batched:
        print()
        print("Batch API: turnaround from submission to result (not generation time; no TTFB)")
        print(format_table([_batch_row(row, keys) for row in batched], kinds=_KINDS))
    if published is not None:
        print(f"\npublished for the same provider x model ({published.height} figures; not measured by you):")
        shown = [_published_row(row) for row in published.to_dicts()]
        print(format_table(shown, kinds=_KINDS) if shown else "none published for these pairs")
    return 0


def _published_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "provider": row["provider"],
        "model": row["model"],
        "success": None if row["success_rate"] is None else format_value(row["success_rate"], "percent"),
        "gen_p50": row["latency_p50_ms"],
        "gen_p95": row["latency_p95_ms"],
        "ttfb_p50": row["ttfb_p50_ms"],
        "provenance": row["provenance"],
        "source": row["source"],
    }


def _name(source: str) -> str:
    """A log's name for the caption: the file or folder name of a path or URL, a table's full name."""
    return Path(source.rstrip("/")).name if "/" in source else source


def _batch_row(row: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """A batched group's line: its success and turnaround percentiles, cost per image."""
    out = _text_row(row, keys)
    for p in ("p50", "p95", "p99"):
        out[f"turnaround_{p}"] = out.pop(f"gen_{p}")
    for p in ("p50", "p95"):
        out.pop(f"ttfb_{p}")
    return out


_KINDS = {
    "retries/success": "number",
    **{f"{w}_{p}": "ms" for w in ("gen", "ttfb", "turnaround") for p in ("p50", "p95", "p99")},
}


def _text_row(row: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {k: row[k] for k in keys}
    out["requests"] = row["requests"]
    out["success"] = f"{format_value(row['success_rate'], 'percent')} ({row['successes']}/{row['requests']})"
    out["95% CI"] = (
        f"{format_value(row['success_ci_low'], 'percent')}–{format_value(row['success_ci_high'], 'percent')}"
        if row["requests"]
        else None
    )
    for name in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "ttfb_p50_ms", "ttfb_p95_ms"):
        out[name.replace("latency_", "gen_").removesuffix("_ms")] = row[name]
    out["retries/success"] = row["retries_per_success"]
    out["usd/image"] = row["cost_per_image_usd"]
    out["provenance"] = row["provenance"]
    return out
