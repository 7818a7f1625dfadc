"""``imgkit`` command line: thin commands over the package, ``--json`` wherever a script may read the output.

Each command group lives in its own module exposing ``register(subparsers)``; ``main`` wires them together.
Refused input is one line on stderr and exit status 2, never a traceback: an ``ImgkitError`` (a malformed
file or argument), an argument the parser cannot read, a port already in use. A closed output pipe
(``imgkit cost ... | head``) ends the command silently, also with status 2. Any other exception is a bug and
keeps its traceback. The library's warnings are one line each on stderr (``imgkit: warning: ...``);
``-v``/``--verbose`` (before or after the command) adds its information messages, ``-vv`` its debug messages
(:mod:`imgkit.cli._logging`).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import re
import socket
import sys
from collections.abc import Sequence
from typing import NoReturn

from imgkit.cli._logging import command_logging
from imgkit.errors import ImgkitError, redact

#: exit status of refused input (as argparse uses for usage errors)
EXIT_REFUSED = 2

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
    "imgkit.cli.import_cmds",  # import litellm, openai-usage, csv
    "imgkit.cli.reconcile_cmds",  # reconcile
    "imgkit.cli.schemas_cmds",  # schemas
)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors, and values that start with a dash (``--size -1x5``, ``-p since -3d``).

    argparse reads any token starting with ``-`` as an option, so ``--size -1x5`` fails with "expected one
    argument" before the size is ever checked; here a token that is not one of the parser's options and does
    not start with a dash and a letter is a value, and is checked like any other.
    """

    def _parse_optional(self, arg_string: str):
        found = super()._parse_optional(arg_string)
        options = found if isinstance(found, list) else [found] if found else []  # a list from Python 3.12
        unknown = bool(options) and all(option[0] is None for option in options)
        if unknown and not re.match(r"-+[A-Za-z]", arg_string):
            return None  # a value such as -1x5, -3d or -.5
        return found

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_REFUSED, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="imgkit",
        description="Choose an image-generation model, provider and quality tier: cost, speed, reliability, quality.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help=_VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    _verbose_after_commands(sub)
    return parser


def _verbose_after_commands(sub: argparse._SubParsersAction) -> None:
    """``-v`` after a command too (``imgkit run SPEC -v``, ``imgkit simulate serve -v``)."""
    for command in {id(p): p for p in sub.choices.values()}.values():
        command.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help=_VERBOSE_HELP)
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                _verbose_after_commands(action)


_VERBOSE_HELP = "also show what the library reports as it works (-vv: debug messages too)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with command_logging(args.verbose):
            result = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except ImgkitError as exc:
        return _refuse(redact(str(exc)))
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_REFUSED
    except OSError as exc:
        problem = _bind_problem(exc, args)
        if problem is None:
            raise
        return _refuse(problem)
    except KeyboardInterrupt:
        print("imgkit: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


def _bind_problem(exc: OSError, args: argparse.Namespace) -> str | None:
    """What a user gave wrong when a server could not bind (--port in use, --host not here), else None."""
    if "port" not in args:  # only the commands that serve bind
        return None
    host = getattr(args, "host", None) or "127.0.0.1"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {args.port} is already in use on {host}; allowed: a free port (--port), "
            "or --port 0 for any free one"
        )
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return f"--host={host!r} is not an address of this machine; allowed: 127.0.0.1 (the default) or another of its addresses"
    return None


def _refuse(message: str) -> int:
    """One line on stderr (a message of several lines is joined), exit status 2."""
    line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    print(f"imgkit: error: {line}", file=sys.stderr)
    return EXIT_REFUSED


def _silence_stdout() -> None:
    """The reader of stdout has gone: point stdout at /dev/null so that the exit flush stays silent too."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (a test's StringIO)
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
