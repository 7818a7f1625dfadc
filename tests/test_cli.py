"""The command line as a whole: every command documents itself, errors are one line with exit status 2."""

from __future__ import annotations

import argparse

import pytest

from imgkit.cli import build_parser, main

COMMANDS = [
    "models",
    "quote",
    "cost",
    "prices",
    "resolve",
    "simulate",
    "run",
    "grid",
    "vote",
    "perf",
    "ratings",
    "frontier",
    "project",
    "report",
    "import",
    "reconcile",
    "schemas",
]


def _subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path under ``parser`` (e.g. ``("simulate", "serve")``), depth first."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((*path, name))
                found += _subcommands(sub, (*path, name))
    return found


def test_the_commands_are_the_documented_ones_in_order():
    top = [path[0] for path in _subcommands(build_parser()) if len(path) == 1]
    assert top == COMMANDS


@pytest.mark.parametrize("path", _subcommands(build_parser()), ids=" ".join)
def test_every_command_prints_its_help(path, capsys):
    # argparse expands "%" in help texts: a stray one only fails when --help is asked for
    with pytest.raises(SystemExit) as exit_:
        main([*path, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: imgkit {' '.join(path)}")


def test_an_imgkit_error_is_one_line_on_stderr_with_status_2(capsys):
    status = main(["quote", "no-such-model"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("imgkit: error: ") and err.count("\n") == 1
    assert "no-such-model" in err and "Traceback" not in err


def test_every_argument_says_what_it_is_for():
    def undocumented(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[str]:
        found = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found += undocumented(sub, (*path, name))
            elif not action.help and not isinstance(action, argparse._HelpAction):
                found.append(f"{' '.join(path)} {action.dest}")
        return found

    assert undocumented(build_parser()) == []
