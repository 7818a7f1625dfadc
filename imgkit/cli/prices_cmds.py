"""``imgkit prices``: the price-comparison table of every catalog offering, as a report or JSON."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from imgkit.cli._output import emit_json, format_table
from imgkit.price_table import price_table, write_price_report


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prices", help="price every catalog model and provider across qualities and sizes")
    p.add_argument("--out", type=Path, help="write prices.csv and prices.md into this directory")
    p.add_argument("--on", type=dt.date.fromisoformat, help="prices in force on this date (default today)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_prices)


def cmd_prices(args: argparse.Namespace) -> int:
    if args.out:
        paths = write_price_report(args.out, on=args.on)
        if args.json:
            emit_json({k: str(v) for k, v in paths.items()})
        else:
            print(f"wrote {paths['markdown']} and {paths['csv']}")
        return 0
    frame = price_table(on=args.on)
    if args.json:
        emit_json({"on": str(args.on or dt.date.today()), "rows": frame.to_dicts()})
    else:
        cols = [
            "provider",
            "model",
            "quality",
            "size",
            "request_usd",
            "method",
            "published_usd",
            "token_math_usd",
        ]
        exact = {c: "exact_usd" for c in cols if c.endswith("_usd")}  # catalog prices, as published
        print(format_table(frame.select(cols).to_dicts(), cols, exact))
    return 0
