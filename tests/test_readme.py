"""The README's examples work: its Python blocks run offline, and every command it shows parses."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from imgkit.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)
# commands in inline code, optional parts ([--flag VALUE]) left out
COMMANDS = sorted(
    {
        re.sub(r"\s*\[[^\]]*\]", "", command).strip()
        for command in re.findall(r"`(imgkit [^`]+)`", README)
        if not command.startswith("imgkit.")
    }
)


def test_the_readme_has_examples():
    assert PYTHON_BLOCKS and len(COMMANDS) >= 10


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=lambda b: b.splitlines()[0][:40])
def test_python_blocks_run(block, monkeypatch):
    monkeypatch.chdir(ROOT)  # the examples use paths relative to the checkout
    exec(compile(block, "README.md", "exec"), {})


@pytest.mark.parametrize("command", COMMANDS)
def test_commands_parse(command):
    argv = shlex.split(command)[1:]
    parser = build_parser()
    if len(argv) == 1:  # a command named in prose: it must exist
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
        assert argv[0] in commands
        return
    args = parser.parse_args(argv)
    assert callable(args.func)
