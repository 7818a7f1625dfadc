"""``imgkit frontier``: which options are not dominated on quality vs cost (or vs generation time).

With no arguments it works offline on the shipped published data: the newest LMArena text-to-image snapshot
(``data/published/leaderboards/``, 95 % intervals), its names mapped to catalog ids by the alias table, against
the catalog's price of one image at every offering that sells the model today (``--on`` another date); retired
offerings are excluded with the date. A snapshot older than 90 days on that date (or undated) is called out.
Other inputs:

* ratings: ``--leaderboard ID|ARENA`` (a snapshot id or an arena's newest snapshot of ``--board``:
  ``lmarena``, ``artificial-analysis``, ``lumenfall``; ``arena-catalog``: the 2025-12-17 arena-catalog folder
  with ``--category`` and LMArena's own $/image), or ``--ratings FILE``: a votes file (CSV/Parquet, fitted
  here: Bradley–Terry, sandwich intervals), a ratings table (CSV/Parquet with ``model, rating[, ci_low,
  ci_high]``) or the JSON of ``imgkit ratings --json``;
* costs: ``--costs catalog`` (``pricing.quote`` per offering at ``--quality`` and ``--size``), ``lmarena``
  (published, arena-catalog folder) or a request LOG (measured cost per successful image per provider x model);
* times: ``--latency published`` (the seed page's and the gateway's model pages' published figures, the first
  copy of each provider x model) or a request LOG (p50/p95 of successes).

``--bands N`` prints the three cheapest models (each at its cheapest route) in each of N quality bands: the
rated, priced models ranked by rating and cut into N groups of equal count (terciles for 3).

``--statistical`` counts an option as dominated only when the other option's lower bound is at or above its
upper bound; the rest are reported as unresolved. ``--quality-floor``/``--latency-ceiling-ms``/
``--budget-usd`` add a recommendation. ``--json`` prints ``{"axis", "statistical", "frontier": [...],
"options": [...], "excluded": {...}, "caption", "snapshot", "recommendation", "bands"}`` with money as decimal
strings.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

import polars as pl

from imgkit.analysis.frontier import ARENA_CATALOG
from imgkit.cli._args import price_date
from imgkit.cli._output import emit_json, format_table
from imgkit.errors import InvalidParameterError
from imgkit.formats import format_value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "frontier",
        help="Pareto frontier of rating vs $/image or generation time (default: the newest published LMArena "
        "snapshot against catalog prices today, offline)",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--ratings",
        metavar="FILE",
        help="votes (CSV/Parquet), a ratings table, or `imgkit ratings --json` output",
    )
    src.add_argument(
        "--leaderboard",
        metavar="ID|ARENA",
        help="a shipped snapshot id, or an arena for its newest snapshot of --board (lmarena, "
        f"artificial-analysis, lumenfall; {ARENA_CATALOG}: the 2025-12-17 folder); default: newest lmarena",
    )
    p.add_argument(
        "--run",
        metavar="RUN_DIR",
        help="a run directory, per target: ratings from its votes.csv (imgkit vote) unless --ratings, "
        "$/image and times from its log unless --costs / --latency",
    )
    p.add_argument(
        "--board",
        choices=("text-to-image", "image-edit"),
        default="text-to-image",
        help="leaderboard board (default text-to-image; image-edit prices the edit mode)",
    )
    p.add_argument("--category", default="full", help=f"{ARENA_CATALOG} category (default full)")
    p.add_argument(
        "--costs",
        metavar="catalog|lmarena|LOG",
        help=f"$/image: catalog quotes, published (lmarena) or a request log (default: catalog; lmarena for "
        f"{ARENA_CATALOG})",
    )
    p.add_argument(
        "--quality", help="quality tier for catalog costs (default: each model's default, auto → medium)"
    )
    p.add_argument("--size", default="1024x1024", help="image size for catalog costs (default 1024x1024)")
    p.add_argument(
        "--on",
        metavar="YYYY-MM-DD",
        help="the day to price catalog costs and age the snapshot on (default today)",
    )
    p.add_argument(
        "--latency",
        metavar="published|LOG",
        help="generation time: the published figures (seed page, gateway model pages) or a request log "
        "(default published when needed)",
    )
    p.add_argument(
        "--latency-stat", choices=("p50", "p95"), default="p50", help="time statistic (default p50)"
    )
    p.add_argument(
        "--alias",
        action="append",
        default=[],
        metavar="NAME=ID",
        help="rating name = catalog/log model id (repeatable), e.g. flux-1-dev-fp8=flux-1-dev",
    )
    p.add_argument(
        "--axis", choices=("cost", "latency"), default="cost", help="the frontier's axis (default cost)"
    )
    p.add_argument(
        "--statistical",
        action="store_true",
        help="dominated only beyond the 95 %% intervals (else unresolved)",
    )
    p.add_argument(
        "--ci", choices=("sandwich", "bootstrap"), default="sandwich", help="intervals when fitting votes"
    )
    p.add_argument("--quality-floor", type=float, metavar="R", help="recommend: minimum rating")
    p.add_argument(
        "--latency-ceiling-ms", type=float, metavar="MS", help="recommend: maximum generation time"
    )
    p.add_argument("--budget-usd", metavar="USD", help="recommend: maximum $/image (exact decimal)")
    p.add_argument(
        "--objective",
        choices=("max_quality", "min_cost", "min_latency"),
        default="max_quality",
        help="recommend: what to optimise under the constraints (default max_quality)",
    )
    p.add_argument(
        "--bands",
        type=int,
        metavar="N",
        help="also the 3 cheapest models in each of N quality bands (equal-count bands by rating)",
    )
    p.add_argument("--plot", metavar="OUT.png", help="write the rating vs cost/time figure")
    p.add_argument("--all", action="store_true", help="also list the excluded options and why")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_frontier)


def cmd_frontier(args: argparse.Namespace) -> int:
    from imgkit.analysis.frontier import (
        frontier_sources,
        pareto_frontier,
        provenance_caption,
        quality_bands,
        recommend,
    )

    if args.run and args.leaderboard:
        raise InvalidParameterError("--leaderboard", args.leaderboard, "no published board with --run")
    if args.bands is not None and args.bands < 1:
        raise InvalidParameterError("--bands", args.bands, "a whole number of bands, 1 or more")
    wants_time = (
        args.axis == "latency" or args.latency_ceiling_ms is not None or args.objective == "min_latency"
    )
    on = price_date(args.on)
    sources = frontier_sources(
        args.ratings,
        run_dir=args.run,
        costs=args.costs,
        latency=args.latency or ("published" if wants_time and not args.run else None),
        category=args.category,
        leaderboard=args.leaderboard,
        board=args.board,
        bootstrap=1000 if args.ci == "bootstrap" else 0,
        quality=args.quality,
        size=args.size,
        on=on,
    )
    today = on or dt.date.today()
    snapshot = sources.snapshot
    stale = sources.staleness(today)
    frame = sources.options(dict(_pair(a, "alias") for a in args.alias))
    time_column = f"{args.latency_stat}_ms"
    axis = {"cost": "cost_usd"} if args.axis == "cost" else {"latency": time_column}
    result = pareto_frontier(frame, **axis, statistical=args.statistical)
    caption = provenance_caption(result)
    recommendation = None
    if any(v is not None for v in (args.quality_floor, args.latency_ceiling_ms, args.budget_usd)):
        recommendation = recommend(
            result,
            quality_floor=args.quality_floor,
            latency_ceiling_ms=args.latency_ceiling_ms,
            budget_usd_per_image=args.budget_usd,
            objective=args.objective,
            latency=time_column,
        )
    bands = quality_bands(result, args.bands) if args.bands else None
    if args.plot:
        _plot(result, args, time_column)
    shown = result if args.all else result.filter(pl.col("status") != "excluded")
    excluded = Counter(r for r in result["excluded_reason"].to_list() if r)
    frontier = result.filter(pl.col("on_frontier"))["option"].to_list()
    if args.json:
        emit_json(
            {
                "axis": args.axis,
                "value_column": next(iter(axis.values())),
                "statistical": args.statistical,
                "frontier": frontier,
                "options": shown.to_dicts(),
                "excluded": dict(excluded),
                "caption": caption,
                "snapshot": snapshot.to_dict(today) if snapshot else None,
                "recommendation": recommendation.to_dict() if recommendation else None,
                "bands": bands.to_dicts() if bands is not None else None,
                "plot": args.plot,
            }
        )
        return 0
    rows = [_text_row(row, time_column) for row in _best_first(shown).to_dicts()]
    print(
        format_table([{k: v for k, v in row.items() if any(r[k] is not None for r in rows)} for row in rows])
    )
    print(f"\nfrontier ({args.axis}{', statistical' if args.statistical else ''}): {', '.join(frontier)}")
    if excluded and not args.all:
        reasons = "; ".join(f"{n} {why}" for why, n in excluded.most_common(4))
        print(f"excluded {sum(excluded.values())} option(s) ({reasons}); --all lists them")
    print(caption)
    if snapshot is not None:
        print(f"leaderboard: {snapshot.caption(today)}; prices: {sources.cost_basis or args.costs}")
    if stale:
        print(f"WARNING: {stale}")
    if bands is not None:
        print(f"\n{args.bands} quality bands ({_band_rule(args.bands)}), 3 cheapest models each:")
        print(format_table([_band_row(row) for row in bands.to_dicts()]))
    if recommendation is not None:
        print(f"recommendation: {recommendation.reason}")
    if args.plot:
        print(f"figure: {args.plot}")
    return 0


# --- inputs ---------------------------------------------------------------------------------------------------


def _pair(text: str, field: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise InvalidParameterError(field, text, "NAME=VALUE")
    return name, value


def _plot(result: pl.DataFrame, args: argparse.Namespace, time_column: str) -> None:
    from imgkit.plots.frontier import plot_rating_vs_cost, plot_rating_vs_latency

    if args.axis == "cost":
        fig = plot_rating_vs_cost(result, statistical=args.statistical)
    else:
        fig = plot_rating_vs_latency(result, latency=time_column, statistical=args.statistical)
    fig.savefig(args.plot, dpi=150)


def _band_rule(n: int) -> str:
    name = {3: "terciles", 4: "quartiles", 5: "quintiles"}.get(n, f"{n} equal-count groups")
    return f"{name} of the rated, priced models by rating; each model at its cheapest route"


def _band_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "band": row["band"],
        "ratings": f"{row['band_low']:.1f}-{row['band_high']:.1f}",
        "option": row["option"],
        "rating": round(row["rating"], 1),
        "usd/image": format_value(Decimal(row["cost_usd"]), "price"),
    }


# --- text output ------------------------------------------------------------------------------------------


def _best_first(frame: pl.DataFrame) -> pl.DataFrame:
    order = pl.col("status").replace_strict(
        {"frontier": 0, "unresolved": 1, "dominated": 2, "excluded": 3}, return_dtype=pl.Int8
    )
    return frame.sort(order, pl.col("rating"), descending=[False, True], nulls_last=True)


def _text_row(row: dict[str, Any], time_column: str) -> dict[str, Any]:
    def one(x: float | None) -> float | None:
        return None if x is None else round(x, 1)

    cost = row["cost_usd"]
    seconds = row.get(time_column)
    return {
        "option": row["option"],
        "rating": one(row["rating"]),
        "95% CI": "" if row["ci_low"] is None else f"{row['ci_low']:.1f}-{row['ci_high']:.1f}",
        "usd/image": None if cost is None else format_value(Decimal(cost), "price"),
        f"{time_column.removesuffix('_ms')} s": None if seconds is None else round(seconds / 1000, 1),
        "status": row["status"],
        "dominated by / unresolved with / why excluded": row["excluded_reason"]
        or ", ".join(row["dominated_by"] or row["unresolved_with"] or []),
    }
