"""``imgkit ratings VOTES``: Bradley–Terry ratings with 95 % intervals from pairwise votes (CSV or Parquet).

``--json`` prints ``{"ratings": [{"model", "rating", "ci_low", "ci_high", "rank", "votes", "online_elo", ...}],
"n_votes", "method", "ci_method", ..., "warnings": [...], "diagnostics": {...}}``; without it, an aligned table,
best first, then the provenance line, the vote checks (side bias, agreement between voters) and any warnings.
"""

from __future__ import annotations

import argparse

from imgkit.analysis.ratings import fit_bradley_terry, vote_diagnostics
from imgkit.cli._output import emit_json, format_table
from imgkit.errors import InvalidParameterError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ratings", help="Bradley–Terry ratings with intervals and ranks from pairwise votes")
    p.add_argument(
        "votes",
        metavar="VOTES",
        help="CSV/Parquet: model_a, model_b, winner (one row per vote) or model_a, model_b, a_wins, b_wins, ties",
    )
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap rounds (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--anchor", metavar="MODEL=VALUE", help="shift all ratings so that MODEL shows VALUE")
    p.add_argument("--category", help="refit on this category's votes only")
    p.add_argument(
        "--ci", choices=("bootstrap", "sandwich", "none"), default="bootstrap", help="interval method"
    )
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_ratings)


def cmd_ratings(args: argparse.Namespace) -> int:
    if args.bootstrap < 0:
        raise InvalidParameterError("--bootstrap", args.bootstrap, "a whole number of rounds, 0 or more")
    result = fit_bradley_terry(
        args.votes,
        bootstrap=args.bootstrap,
        seed=args.seed,
        ci=args.ci,
        anchor=args.anchor,
        category=args.category,
    )
    diagnostics = vote_diagnostics(args.votes, category=args.category)
    if args.json:
        emit_json({**result.to_dict(), "diagnostics": diagnostics.to_dict()})
        return 0
    rows = [
        {
            "rank": r["rank"],
            "model": r["model"],
            "rating": round(r["rating"], 1),
            "ci_low": None if r["ci_low"] is None else round(r["ci_low"], 1),
            "ci_high": None if r["ci_high"] is None else round(r["ci_high"], 1),
            "votes": r["votes"],
            "W-L-T": f"{r['wins']:g}-{r['losses']:g}-{r['ties']:g}",
            "online_elo": None if r["online_elo"] is None else round(r["online_elo"], 1),
            "flags": ",".join(r["flags"]),
        }
        for r in result.table.iter_rows(named=True)
    ]
    print(format_table(rows))
    print(f"\n{result.caption()}; 95 % intervals: {result.ci_method}")
    for note in result.table.filter(result.table["note"] != "").select("model", "note").iter_rows():
        print(f"  {note[0]}: {note[1]}")
    for line in diagnostics.lines():
        print(line)
    for warning in result.warnings:
        print(f"warning: {warning}")
    return 0
