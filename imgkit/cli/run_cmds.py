"""``imgkit run SPEC``: run an experiment spec (prompts × targets × repeats) within a budget, resumable.

``--dry-run`` prints the resolved parameters and the quote of every target and the total (batched targets
at the batch price, and how their items group into batches); nothing is sent and no file is written. A run
shows its progress on stderr (items done, failed, spend, ETA and the state of its batches: a bar on a
terminal, a line every 10 s elsewhere; :mod:`imgkit.cli._progress`) and ends with a per-target table on
stdout. ``--json`` prints one object instead (the plan, or the run's summary). ``--cancel-batches`` cancels
the run's batches still running and logs what they answered before they stopped; nothing new is sent.

Exit status: 0 when every item of the spec has finished ok, 1 when some failed, were not retried or were
left unsent by the budget, 130 when interrupted (Ctrl-C; continue with ``--resume``; batches keep running),
2 on errors.
"""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation
from typing import Any

from imgkit.cli._args import non_negative
from imgkit.cli._output import emit_json, format_table
from imgkit.errors import InvalidParameterError
from imgkit.money import usd_text

EXIT_INCOMPLETE = 1
EXIT_INTERRUPTED = 130


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run an experiment spec: every prompt through every target, within a budget, resumable",
        description="Run an experiment spec. Each request's quote is reserved against the budget before it is "
        "sent; Ctrl-C stops cleanly; --resume continues without paying twice for a finished item.",
    )
    p.add_argument("spec", metavar="SPEC", help="the experiment spec (YAML)")
    p.add_argument(
        "--dry-run", action="store_true", help="resolve and quote every target; send nothing, write nothing"
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in the output directory: finished items are skipped, failed ones retried",
    )
    p.add_argument(
        "--cancel-batches",
        action="store_true",
        help="cancel the run's batches still running (Batch API) and log what they answered; send nothing new",
    )
    p.add_argument("--budget", metavar="USD", help="spending cap in USD, e.g. 5.00 (overrides budget_usd)")
    p.add_argument("--output-dir", metavar="DIR", help="run directory (overrides the spec's output_dir)")
    p.add_argument(
        "--grace",
        metavar="S",
        type=non_negative,
        default=None,
        help="after Ctrl-C, seconds the requests in flight may take before they are cancelled (default 10)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_run)


def _budget(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text.strip().removeprefix("$"))
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value < 0:
        raise InvalidParameterError("--budget", text, "an amount in USD of 0 or more, e.g. 5.00")
    return value


def cmd_run(args: argparse.Namespace) -> int:
    from imgkit.cli._progress import ProgressLine
    from imgkit.runs.runner import DEFAULT_GRACE_S, run_experiment
    from imgkit.runs.spec import load_spec

    budget_usd = _budget(args.budget)
    if args.cancel_batches and args.dry_run:
        raise InvalidParameterError("--cancel-batches", True, "without --dry-run")
    spec = load_spec(args.spec, output_dir=args.output_dir)
    with ProgressLine() as line:
        summary = run_experiment(
            spec,
            dry_run=args.dry_run,
            resume=args.resume,
            budget_usd=budget_usd,
            progress=None if args.no_progress else line,
            grace_s=DEFAULT_GRACE_S if args.grace is None else args.grace,
            cancel_batches=args.cancel_batches,
        )
    if args.dry_run:
        assert summary.plan is not None, "a dry run returns its plan"
        if args.json:
            emit_json(summary.plan)
        else:
            print(format_plan(summary.plan))
        return 0
    if args.json:
        emit_json(summary.as_dict())
    else:
        print(format_summary(summary))
    if summary.interrupted:
        return EXIT_INTERRUPTED
    return 0 if summary.complete else EXIT_INCOMPLETE


def _money(value: Any) -> str:
    return usd_text(value, "unknown", plain=False)


def format_plan(plan: dict[str, Any]) -> str:
    """The dry run as text: each target's resolved parameters, then the quotes and the total."""
    where = "simulated provider (nothing billed)" if plan["simulated"] else "real providers (billed)"
    out = [f"{plan['name']}: {plan['items']} items, {len(plan['targets'])} targets, {where}", ""]
    for row in plan["targets"]:
        r = row["resolved"]
        body = ", ".join(f"{k}={v}" for k, v in r["body"].items() if k != "prompt")
        out.append(f"{row['target']}")
        out.append(f"  {r['provider']} {r['mode']} {r['endpoint']}: {body}")
        if len(r["calls"]) > 1:
            out.append(f"  n={r['n']} sent as {len(r['calls'])} calls {r['calls']}")
        out += [f"  note: {n}" for n in r["notes"]]
    out.append("")
    rows = []
    for row in plan["targets"]:
        low, high = row["quote_low_usd"], row["quote_high_usd"]
        per_item = f"{_money(low)}–{_money(high)}" if row["quote_is_range"] else _money(high)
        rows.append(
            {
                "target": row["target"],
                "size": row["size"],
                "quality": row["quality"],
                "items": row["items"],
                "quote/item": per_item,
                "subtotal_usd": row["subtotal_usd"],
                "method": row["method"] + (" (batch price)" if row.get("batch") else ""),
            }
        )
    out.append(format_table(rows, kinds={"subtotal_usd": "exact_usd"}))  # a quote: exact
    out.append("")
    if plan.get("batches"):
        out.append(f"batches (Batch API, results within 24 h): {len(plan['batches'])}")
        batches = [
            {
                "provider": b["provider"],
                "endpoint": b["endpoint"],
                "model": b["model"],
                "items": b["items"],
                "input_bytes": b["bytes"],
                "quote_usd": b["quote_usd"],
            }
            for b in plan["batches"]
        ]
        out.append(format_table(batches, kinds={"quote_usd": "exact_usd"}))
        out.append("")
    total = f"total {_money(plan['total_usd'])}"
    if any(row["quote_is_range"] for row in plan["targets"]):
        total += " (the high end of each range: size or quality auto)"
    if plan["unpriced_targets"]:
        total += f"; no price for {', '.join(plan['unpriced_targets'])}"
    out.append(total)
    if plan["budget_usd"] is not None:
        verdict = {True: "within", False: "OVER", None: "cannot be checked against"}[plan["within_budget"]]
        out.append(f"budget {_money(plan['budget_usd'])}: the quote is {verdict} the budget")
        if plan["within_budget"] is False:
            out.append("  the run would stop before exceeding it, leaving items unsent")
    out.append("dry run: no request was sent")
    return "\n".join(out)


def format_summary(summary: Any) -> str:
    """The end of a run: the per-target table, one line of counts and spend, and what is left to do."""
    columns = ["target", "items", "ok", "failed", "images", "p50_s", "p95_s", "spent_usd"]
    lines = [format_table([{c: row.get(c) for c in columns} for row in summary.targets], columns), ""]
    lines.append(summary.counts_line())
    if summary.failures:
        lines.append("failures: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.failures.items())))
    if summary.skipped_finished:
        lines.append(f"skipped {summary.skipped_finished} items finished earlier (not paid again)")
    if summary.not_retried:
        detail = ", ".join(f"{k} {v}" for k, v in sorted(summary.not_retried.items()))
        lines.append(f"not retried on resume ({detail}): these need a change of spec or key")
    if summary.skipped_budget:
        lines.append(
            f"budget reached: {summary.skipped_budget} items not sent "
            "(raise it with --budget and continue with --resume)"
        )
    if summary.retries_refused:
        lines.append(
            f"{summary.retries_refused} retries not sent: the budget had no room for them "
            "(their items failed; --resume with a larger --budget retries them)"
        )
    if summary.unknown_cost_attempts:
        lines.append(
            f"{summary.unknown_cost_attempts} attempts have an unknown bill: their quote is counted as spent"
        )
    if summary.possibly_billed_attempts:
        lines.append(
            f"possibly billed: {summary.possibly_billed_attempts} requests were in flight when an earlier "
            f"session was killed (no response logged); their quotes, {_money(summary.possibly_billed_usd)}, "
            "count as spent, and a resume sends their items again"
        )
    if summary.batches_created or summary.batches_reattached:
        lines.append(
            f"batches: {summary.batches_created} created, {summary.batches_reattached} picked up from earlier "
            "sessions"
        )
    if summary.in_open_batches and not summary.batches_reattached:
        lines.append(f"{summary.in_open_batches} items are in batches of earlier sessions (not sent again)")
    running = [b for b in summary.batches_detached if b["batch_id"]]
    if running:
        ids = ", ".join(b["batch_id"] for b in running)
        lines.append(
            f"{len(running)} batches still running at the provider "
            f"({sum(b['items'] for b in running)} items; {ids}): they are billed as they run; "
            "--resume collects them, --cancel-batches cancels them"
        )
    unsent = [b for b in summary.batches_detached if not b["batch_id"]]
    if unsent:
        lines.append(
            f"{len(unsent)} batches planned but not created ({sum(b['items'] for b in unsent)} items): "
            "--resume creates them (after looking for any a lost answer hid), --cancel-batches drops them"
        )
    if summary.interrupted:
        lines.append("interrupted: continue with --resume (finished items are not sent again)")
    elif not summary.complete and summary.failures:
        lines.append("some items failed: --resume retries those that ended with a retryable error")
    lines.append(f"run directory: {summary.run_dir}")
    return "\n".join(lines)
