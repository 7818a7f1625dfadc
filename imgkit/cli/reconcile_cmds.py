"""``imgkit reconcile DIR``: what the source recorded for imported traffic, against imgkit's exact cost.

``--json`` prints ``{"rows": [{keys..., "requests", "recorded_usd", "exact_usd", "difference_usd",
["billed_usd",] "flags"}], "totals": {"recorded_usd", "exact_usd", "difference_usd", "unknown_requests"
[, "billed_usd"]}}`` with money as decimal strings; without it, a table with the largest differences first.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from imgkit.cli._output import emit_json, format_table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reconcile",
        help="recorded vs exact (vs billed) spend of imported traffic, with the mis-costings flagged",
    )
    p.add_argument("dir", metavar="DIR", help="an import directory (imgkit import ... --out DIR)")
    p.add_argument(
        "--by",
        default="day,provider,model",
        help="grouping: day, month, provider, model, mode, quality, size, outcome, provenance",
    )
    p.add_argument(
        "--billed",
        metavar="COSTS.json",
        help="OpenAI Costs API page(s): billed money per day, a third column",
    )
    p.add_argument(
        "--engine",
        choices=("polars", "duckdb", "spark"),
        default="polars",
        help="where the requests are re-costed and summed (default polars, in this process; README: Beyond one machine)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_reconcile)


def cmd_reconcile(args: argparse.Namespace) -> int:
    from imgkit.analysis.engines.reconcile import reconcile
    from imgkit.analysis.reconcile import FLAGS
    from imgkit.errors import InvalidParameterError
    from imgkit.records.importers import read_billed, read_ledger
    from imgkit.records.importers.openai_usage import read_costs

    folder = Path(args.dir)
    if not folder.is_dir():
        raise InvalidParameterError("DIR", args.dir, "an import directory (imgkit import ... --out DIR)")
    billed = read_costs(args.billed) if args.billed else read_billed(folder).collect()
    result = reconcile(
        folder,
        args.engine,
        read_ledger(folder),
        by=args.by,
        billed=billed if args.billed or billed.height else None,
    )
    if args.json:
        emit_json(result.as_json())
        return 0
    rows = result.largest_differences_first().to_dicts()
    for row in rows:
        row["flags"] = ", ".join(row["flags"]) or None
    print(format_table(rows))
    t = result.totals
    parts = [
        f"{name}: {_money(t.get(name))}"
        for name in ("recorded_usd", "exact_usd", "difference_usd", "billed_usd")
        if name in t
    ]
    print(f"totals: {', '.join(parts)}; requests imgkit cannot price: {t['unknown_requests']:,}")
    print(
        f"flags: {', '.join(FLAGS)} (imgkit.analysis.reconcile); difference = recorded - exact, over priced requests"
    )
    return 0


def _money(value: object) -> str:
    from imgkit.formats import format_value

    return format_value(value, "money")
