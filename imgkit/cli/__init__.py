"""``imgkit`` command line: thin commands over the package, ``--json`` wherever a script may read the output.

Each command group lives in its own module exposing ``register(subparsers)``; ``main`` wires them together.
An ``ImgkitError`` becomes one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from imgkit.errors import ImgkitError, redact

# Command-group modules, each with ``register(subparsers) -> None``, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "imgkit.cli.catalog_cmds",  # models, quote, cost
    "imgkit.cli.prices_cmds",  # prices
    "imgkit.cli.resolve_cmds",  # resolve
    "imgkit.cli.simulate_cmds",  # simulate serve
    "imgkit.cli.run_cmds",  # run
    "imgkit.cli.grid_cmds",  # grid
    "imgkit.cli.vote_cmds",  # vote
    "imgkit.cli.perf_cmds",  # perf
    "imgkit.cli.ratings_cmds",  # ratings
    "imgkit.cli.frontier_cmds",  # frontier
    "imgkit.cli.project_cmds",  # project
    "imgkit.cli.report_cmds",  # report
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imgkit",
        description="Choose an image-generation model, provider and quality tier: cost, speed, reliability, quality.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except ImgkitError as exc:
        print(f"imgkit: error: {redact(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("imgkit: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
