"""``imgkit project WORKLOAD.yaml``: monthly cost of a workload per model x provider x tier over N months.

Text output: a caption saying where the numbers come from, the per-option summary (requests and images as
whole numbers, money to the cent, cost per image to 4 significant digits: :mod:`imgkit.formats`), options that ``targets: all`` left out and why, and on request the monthly totals, the
break-even table and the sensitivity table. ``--json`` prints one object with money as decimal strings:
``{"workload", "months", "caption", "summary", "monthly", "rows", "skipped", "notes", "break_even"?,
"sensitivity"?, "figures"?}``. ``--log`` (or the workload's ``reliability.log``) replaces the assumed failure
rate by the one measured per provider and model, and adds the Batch API turnaround it measured (p50, p95:
submitted -> result available) to each option that the log sent in batches; ``--batch-share-from-log``
replaces the assumed batch share too, by the share of requests the log sent through a Batch API.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import polars as pl

from imgkit.cli._output import emit_json, format_table
from imgkit.formats import format_value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "project",
        help="project a workload's monthly cost per model x provider x tier (break-even, sensitivity, plots)",
    )
    p.add_argument(
        "workload", metavar="WORKLOAD.yaml", help="workload file (see data/workloads/example.yaml)"
    )
    p.add_argument("--months", type=int, default=12, help="horizon in months (default 12)")
    p.add_argument("--monthly", action="store_true", help="also print each option's cost per month")
    p.add_argument("--break-even", action="store_true", help="where the options' cumulative costs cross")
    p.add_argument(
        "--sensitivity", action="store_true", help="the total when each assumption moves by ±DELTA"
    )
    p.add_argument("--delta", default="0.1", help="relative move for --sensitivity (default 0.1 = ±10 %%)")
    p.add_argument(
        "--log",
        nargs="+",
        metavar="LOG",
        help="request log(s) whose measured failure rates replace the assumed one (default: reliability.log)",
    )
    p.add_argument(
        "--batch-share-from-log",
        action="store_true",
        help="use the share of requests --log sent through a Batch API as each option's batch share",
    )
    p.add_argument("--mapping", metavar="FILE", help="YAML column mapping for a log from elsewhere")
    p.add_argument("--plot", metavar="DIR", help="write the projection figures (PNG) into DIR")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_project)


def _by_delivery(reliability: Any) -> pl.DataFrame | None:
    """The measured logs' performance table by provider, model and delivery (batch or interactive), for
    :func:`~imgkit.analysis.projection.measured_batch`."""
    from imgkit.analysis.performance import performance_table

    if reliability is None:
        return None
    return performance_table(reliability.log, by=("provider", "model", "delivery"))


def cmd_project(args: argparse.Namespace) -> int:
    from imgkit.analysis.projection import (
        break_even,
        load_workload,
        measured_batch,
        measured_reliability,
        project,
        projection_caption,
        resolve_options,
        sensitivity,
        summarise,
    )
    from imgkit.errors import InvalidParameterError

    if args.months < 1:
        raise InvalidParameterError("--months", args.months, "1 or more")
    workload = load_workload(args.workload)
    reliability = measured_reliability(workload, args.log, args.mapping)
    performance = reliability.performance if reliability else None
    if args.batch_share_from_log and performance is None:
        raise InvalidParameterError("--batch-share-from-log", True, "with --log (or reliability.log)")
    options, skipped = resolve_options(workload)
    options = measured_batch(options, _by_delivery(reliability), share=args.batch_share_from_log)
    frame = project(workload, args.months, performance=performance, options=options)
    summary = summarise(frame)
    source = Path(args.workload).name
    caption = projection_caption(frame, source)
    monthly = frame.group_by("option", "month", maintain_order=True).agg(
        pl.col("month_start").first(), pl.col("cost_usd").sum()
    )
    notes = sorted(set(frame["note"].drop_nulls().to_list()))
    pairs = break_even(frame) if args.break_even and len(options) > 1 else None
    sens = (
        sensitivity(workload, args.months, delta=args.delta, performance=performance, options=options)
        if args.sensitivity
        else None
    )
    figures = _plots(args.plot, frame, sens, source) if args.plot else []
    if args.json:
        out: dict[str, Any] = {
            "workload": {
                "name": workload.name,
                "file": args.workload,
                "provenance": dict(workload.provenance),
            },
            "months": args.months,
            "caption": caption,
            "failure_rate_logs": list(reliability.logs) if reliability else [],
            "summary": summary.to_dicts(),
            "monthly": monthly.to_dicts(),
            "rows": frame.to_dicts(),
            "skipped": skipped,
            "notes": notes,
        }
        if pairs is not None:
            out["break_even"] = pairs.to_dicts()
        if sens is not None:
            out["sensitivity"] = sens.to_dicts()
        if figures:
            out["figures"] = figures
        emit_json(out)
        return 0
    print(f"{workload.name}: {args.months} months. {caption}")
    print(format_table([_summary_row(r) for r in summary.to_dicts()]))
    for row in skipped:
        print(f"left out: {row['option']}: {row['reason']}")
    for note in notes:
        print(f"note: {note}")
    for option in options:
        if option.batch_turnaround_p50_ms is not None:
            print(
                f"note: {option.name}: Batch API turnaround measured in the log: p50 "
                f"{format_value(option.batch_turnaround_p50_ms, 'ms')}, p95 "
                f"{format_value(option.batch_turnaround_p95_ms, 'ms')} (submitted -> result available)"
            )
    if args.monthly:
        print()
        rows = _monthly_rows(monthly)
        print(format_table(rows, kinds={option: "money" for option in rows[0] if option != "month"}))
    if pairs is not None:
        print()
        print("break-even (cumulative cost, setup and fees included):")
        print(format_table([_pair_row(r) for r in pairs.to_dicts()]))
    if sens is not None:
        print()
        print(
            f"sensitivity of the {args.months}-month total (each assumption {sens['delta'][0]}, one at a time):"
        )
        print(format_table([_sensitivity_row(r) for r in sens.to_dicts()]))
    for path in figures:
        print(f"wrote {path}")
    return 0


def _plots(directory: str, frame: pl.DataFrame, sens: pl.DataFrame | None, source: str) -> list[str]:
    from imgkit.plots.projection import plot_projection, plot_projection_mix, plot_sensitivity

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    figures = {
        "projection_monthly.png": plot_projection(frame, source=source),
        "projection_cumulative.png": plot_projection(frame, cumulative=True, source=source),
        "projection_mix.png": plot_projection_mix(frame, source=source),
    }
    if sens is not None:
        figures["projection_sensitivity.png"] = plot_sensitivity(sens, projection=frame, source=source)
    written = []
    for name, fig in figures.items():
        fig.savefig(out / name, dpi=120)
        written.append(str(out / name))
    return written


def _summary_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "option": row["option"],
        "requests": row["requests"],
        "images": row["images"],
        "total_usd": row["total_cost_usd"],
        "month_1_usd": row["month_1_cost_usd"],
        "last_month_usd": row["last_month_cost_usd"],
        "usd/image": row["cost_per_image_usd"],
        "prices": row["price_provenance"],
    }


def _monthly_rows(monthly: pl.DataFrame) -> list[dict[str, Any]]:
    wide: dict[int, dict[str, Any]] = {}
    for row in monthly.iter_rows(named=True):
        month = row["month_start"].isoformat()[:7] if row["month_start"] else row["month"]
        wide.setdefault(row["month"], {"month": month})[row["option"]] = row["cost_usd"]
    return [wide[m] for m in sorted(wide)]


def _pair_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "option_a": row["option_a"],
        "option_b": row["option_b"],
        "cheaper_first": row["cheaper_first"] or "(equal)",
        "break_even_month": row["break_even_month"],
        "per_month_requests": row["break_even_requests_per_month"],
        "payback_requests": row["payback_requests"],
        "explanation": row["explanation"],
    }


def _sensitivity_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "option": row["option"],
        "assumption": row["assumption"],
        "as stated": row["base_value"],
        "total_usd": row["total_usd"],
        "low_usd": row["low_total_usd"],
        "high_usd": row["high_total_usd"],
        "swing_usd": row["swing_usd"],
    }
