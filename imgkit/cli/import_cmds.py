"""``imgkit import litellm|openai-usage|csv``: traffic logged elsewhere, as imgkit's request log in ``--out``.

Each prints ``{"rows_read", "imported", "skipped": {reason: count}, "out"}`` with ``--json``, else one line.
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from imgkit.cli._output import emit_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import traffic logged elsewhere (LiteLLM, OpenAI usage/costs, CSV)")
    kinds = p.add_subparsers(dest="source", metavar="SOURCE")
    kinds.required = True

    lite = kinds.add_parser(
        "litellm",
        help="LiteLLM proxy spend logs (LiteLLM_SpendLogs in PostgreSQL)",
        description="Read LiteLLM_SpendLogs (image calls, successes and failures) from PostgreSQL through ADBC.",
    )
    lite.add_argument(
        "dsn",
        nargs="?",
        metavar="DSN",
        help="postgresql://user@host:5432/litellm (default: $DATABASE_URL), or a JSON Lines file of rows",
    )
    lite.add_argument("--since", help="only rows started at or after: an ISO date/datetime (UTC) or 30d, 12h")
    lite.add_argument(
        "--table", default="LiteLLM_SpendLogs", help="the spend-log table (default LiteLLM_SpendLogs)"
    )
    lite.add_argument(
        "--names", metavar="FILE", help="LiteLLM names onto the catalog (default data/imports/litellm.yaml)"
    )
    lite.add_argument(
        "--connections", type=int, default=2, metavar="N",
        help="days read from PostgreSQL at once, one connection each (default 2): the server's JSON "
        "decompression sets the pace",
    )  # fmt: skip
    _common(lite, _cmd_litellm)

    usage = kinds.add_parser(
        "openai-usage",
        help="OpenAI organization Usage API (images) pages, and Costs API pages",
        description="Daily aggregates: the Usage API has no per-request rows and no quality.",
    )
    usage.add_argument("usage", metavar="USAGE.json", help="Usage API (images) page(s): JSON or JSON Lines")
    usage.add_argument("--costs", metavar="COSTS.json", help="Costs API page(s): the money billed per day")
    _common(usage, _cmd_openai_usage)

    csv = kinds.add_parser(
        "csv",
        help="any CSV, Parquet or JSON Lines export through a mapping file",
        description="See examples/import_openrouter.yaml for the mapping file.",
    )
    csv.add_argument("file", metavar="FILE", help="a .csv, .parquet or .jsonl file")
    csv.add_argument("--mapping", required=True, metavar="MAP.yaml", help="the import mapping file")
    _common(csv, _cmd_csv)


def _common(p: argparse.ArgumentParser, func: Any) -> None:
    p.add_argument("--out", required=True, metavar="DIR", help="the import directory (Parquet by day)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=func)


def _since(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    from imgkit.analysis.performance import parse_time_bound

    return parse_time_bound(text, dt.datetime.now(dt.UTC))


def _cmd_litellm(args: argparse.Namespace) -> int:
    from imgkit.records.importers.litellm import import_litellm

    summary = import_litellm(
        args.dsn, args.out, since=_since(args.since), table=args.table, names=args.names,
        connections=args.connections,
    )  # fmt: skip
    return _show(summary, args)


def _cmd_openai_usage(args: argparse.Namespace) -> int:
    from imgkit.records.importers.openai_usage import import_openai_usage

    return _show(import_openai_usage(args.usage, args.out, costs=args.costs), args)


def _cmd_csv(args: argparse.Namespace) -> int:
    from imgkit.records.importers.mapped import import_mapped

    return _show(import_mapped(args.file, args.mapping, args.out), args)


def _show(summary: dict[str, Any], args: argparse.Namespace) -> int:
    if args.json:
        emit_json(summary)
        return 0
    skipped = ", ".join(f"{reason}: {n:,}" for reason, n in summary["skipped"].items()) or "none"
    cached = summary.get("cache_hits")
    served = f" ({cached:,} served from the gateway's cache: not billed)" if cached else ""
    print(
        f"imported {summary['imported']:,}{served} of {summary['rows_read']:,} rows read into {summary['out']}; "
        f"skipped: {skipped}"
    )
    return 0
