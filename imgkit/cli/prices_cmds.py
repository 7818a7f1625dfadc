"""``imgkit prices``: the price-comparison table of every catalog offering, as a report or JSON."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from imgkit.cli._output import emit_json, format_table
from imgkit.formats import format_value
from imgkit.price_table import cheapest_routes, price_table, write_price_report


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
    routes = cheapest_routes(frame)
    if args.json:
        emit_json(
            {"on": str(args.on or dt.date.today()), "rows": frame.to_dicts(), "cheapest": routes.to_dicts()}
        )
        return 0
    cols = [
        "provider",
        "model",
        "status",
        "quality",
        "size",
        "request_usd",
        "mark",
        "method",
        "published_usd",
        "token_math_usd",
    ]
    # catalog prices as published; a request's price (megapixel math) to 4 significant digits, exact in --json
    exact = {"request_usd": "price", "published_usd": "exact_usd", "token_math_usd": "exact_usd"}
    for (vendor, unit), group in frame.group_by(["vendor", "unit"], maintain_order=True):
        print(f"{vendor}: {unit}")
        shown = [{**row, "request_usd": _request_text(row)} for row in group.iter_rows(named=True)]
        print(format_table(shown, cols, exact))
        print()
    route_cols = [
        "model",
        "quality",
        "size",
        "provider",
        "request_usd",
        "mark",
        "routes",
        "next_provider",
        "next_usd",
    ]
    print("cheapest route per model (reference size; a range competes with its high end)")
    shown = [{**row, "request_usd": _request_text(row)} for row in routes.iter_rows(named=True)]
    print(format_table(shown, route_cols, {"request_usd": "price", "next_usd": "price"}))
    return 0


def _request_text(row: dict):
    """The request's price: the total, else its range as text (4 significant digits, like the totals)."""
    if row["request_usd"] is not None or row["request_low_usd"] is None:
        return row["request_usd"]
    high = row["request_high_usd"]
    high_text = format_value(high, "price") if high is not None else "unknown"
    return f"{format_value(row['request_low_usd'], 'price')} .. {high_text}"
