"""``imgkit vote RUN_DIR``: judge a run's images blind, in pairs, on a loopback web page.

The votes CSV (default ``RUN_DIR/votes.csv``) is what ``imgkit ratings`` reads. ``--plan`` only counts the
pairs (``--json``: ``{"pairs", "answered", "targets", "prompts", "votes"}``) and serves nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from imgkit.cli._args import port
from imgkit.cli._output import emit_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "vote",
        help="blind pairwise votes on a run's images (a loopback web page), written for imgkit ratings",
        description=(
            "Show pairs of images that different targets drew for the same prompt, without saying which "
            "is which, and record each answer (A, B, tie, both bad) as one row of a votes CSV."
        ),
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (holds log.jsonl and images/)")
    p.add_argument("--out", metavar="FILE.csv", help="the votes CSV, appended to (default RUN_DIR/votes.csv)")
    p.add_argument("--voter", default="anonymous", help="who votes; each voter judges every pair once")
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="with the voter's name, draws the order of the pairs and their sides (default 0); "
        "each voter gets their own",
    )
    p.add_argument(
        "--max-pairs",
        type=int,
        help="ask at most this many pairs, the first of the voter's order (default: all)",
    )
    p.add_argument("--port", type=port, default=0, help="loopback port (default: a free one)")
    p.add_argument(
        "--plan", action="store_true", help="count the pairs and the answers so far; serve nothing"
    )
    p.add_argument("--json", action="store_true", help="with --plan: one JSON object on stdout")
    p.set_defaults(func=cmd_vote)


def cmd_vote(args: argparse.Namespace) -> int:
    from imgkit.records.rundir import RunDirectory
    from imgkit.votes import VoteServer, VoteStore, contenders, plan_pairs

    run_dir = Path(args.run_dir)
    store = VoteStore(Path(args.out) if args.out else RunDirectory(run_dir).votes_path)
    found = contenders(run_dir)
    pairs = plan_pairs(found, seed=args.seed, voter=args.voter, limit=args.max_pairs)
    answered = store.answered(args.voter) & {p.pair_id for p in pairs}
    if args.plan:
        summary: dict[str, Any] = {
            "pairs": len(pairs),
            "answered": len(answered),
            "targets": sorted({c.option for c in found}),
            "prompts": len({(c.prompt_id, c.repeat) for c in found}),
            "votes": str(store.path),
        }
        if args.json:
            emit_json(summary)
        else:
            print(
                f"{summary['pairs']} pairs over {summary['prompts']} prompts and {len(summary['targets'])} "
                f"targets; {summary['answered']} answered by {args.voter}; votes in {summary['votes']}"
            )
        return 0
    server = VoteServer(
        pairs, store, voter=args.voter, port=args.port, title=f"imgkit blind vote · {run_dir.name}"
    )
    done, total = server.progress()
    print(f"open {server.url} ({done} of {total} pairs answered; Ctrl-C to stop)", flush=True)
    print(f"votes go to {store.path}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    done, total = server.progress()
    print(
        f"{server.votes_this_session} votes this session, {done} of {total} pairs answered; "
        f"rate them with: imgkit ratings {store.path}",
        file=sys.stderr,
    )
    return 0
