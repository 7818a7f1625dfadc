"""``imgkit perf LOG``: speed, reliability and cost per successful image from a request log.

``--json`` prints ``{"rows": [...], "percentile_method": ..., "provenance": {...}, "window": {...}}`` with
money as decimal strings; without it, an aligned table under a caption saying where the numbers come from.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from imgkit.cli._output import emit_json, format_table
from imgkit.formats import format_value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "perf",
        help="provider performance from a request log: success rate (Wilson CI), p50/p95/p99, TTFB, $/image",
    )
    p.add_argument("log", nargs="+", metavar="LOG", help="log.jsonl, Parquet file or directory, or CSV")
    p.add_argument(
        "--by", default="provider,model", help="comma-separated grouping columns (default provider,model)"
    )
    p.add_argument("--since", help="only attempts started at or after: 30d, 12h, 2w, or an ISO date/datetime")
    p.add_argument("--until", help="only attempts started before: a span before now or an ISO date/datetime")
    p.add_argument(
        "--period", choices=("day", "week"), help="also group by UTC day or week (weeks start Monday)"
    )
    p.add_argument("--mapping", metavar="FILE", help="YAML column mapping for logs from elsewhere")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_perf)


def cmd_perf(args: argparse.Namespace) -> int:
    from imgkit.analysis.performance import (
        PERCENTILE_METHOD,
        describe_log,
        filter_window,
        log_summary,
        performance_table,
        window_bounds,
    )
    from imgkit.records.scan import scan_log

    now = dt.datetime.now(dt.UTC)
    lf = scan_log(args.log, mapping=args.mapping)
    table = performance_table(lf, by=args.by, since=args.since, until=args.until, now=now, period=args.period)
    since, until = window_bounds(args.since, args.until, now)
    summary = log_summary(filter_window(lf, since, until))
    source = ", ".join(Path(p).name for p in args.log)
    caption = describe_log(summary, source)
    if args.json:
        emit_json(
            {
                "rows": table.to_dicts(),
                "percentile_method": PERCENTILE_METHOD,
                "provenance": {
                    "kind": summary.kind,
                    "source": [str(p) for p in args.log],
                    "requests": summary.requests,
                    "attempts": summary.attempts,
                    "first_started_at": summary.first_started_at,
                    "last_started_at": summary.last_started_at,
                    "caption": caption,
                },
                "window": {"since": since, "until": until},
            }
        )
        return 0
    keys = [c for c in table.columns if c in (*args.by.split(","), "period")]
    print(caption)
    print(format_table([_text_row(row, keys) for row in table.to_dicts()], kinds=_KINDS))
    print(f"success: Wilson 95 % interval; percentiles: {PERCENTILE_METHOD}; times of successful requests")
    return 0


_KINDS = {
    "retries/success": "number",
    **{f"{w}_{p}": "ms" for w in ("gen", "ttfb") for p in ("p50", "p95", "p99")},
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
