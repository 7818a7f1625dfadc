"""What the command line shows of the library's logs: warnings always, information with ``-v``.

The library logs through one logger per module under ``imgkit`` (``logging.getLogger(__name__)``) and never
prints; the CLI attaches one handler to the ``imgkit`` logger for the duration of a command. A warning is one
line on stderr, ``imgkit: warning: ...`` (as refused input is ``imgkit: error: ...``); information (``-v``) and
debug messages (``-vv``) are their plain text. Every line is redacted by the secrets policy, and an
exception's traceback (a bug) is kept below its line.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

from imgkit.errors import redact

#: the logger every module of the package logs under
PACKAGE_LOGGER = "imgkit"


class OneLineFormatter(logging.Formatter):
    """``imgkit: warning: message`` on one line (information: the message alone), redacted."""

    def format(self, record: logging.LogRecord) -> str:
        message = redact(record.getMessage())
        line = " ".join(part.strip() for part in message.splitlines() if part.strip())
        if record.levelno >= logging.WARNING:
            line = f"imgkit: {record.levelname.lower()}: {line}"
        if record.exc_info:
            line += "\n" + redact(self.formatException(record.exc_info))
        return line


def level_for(verbose: int) -> int:
    """The level shown for ``-v`` given ``verbose`` times: WARNING, INFO, then DEBUG."""
    return (logging.WARNING, logging.INFO)[verbose] if verbose < 2 else logging.DEBUG


@contextlib.contextmanager
def command_logging(verbose: int = 0) -> Iterator[logging.Handler]:
    """Show the package's log records on stderr while a command runs; restore the logger after.

    The records do not propagate to the root logger meanwhile, so a program that calls ``imgkit.cli.main``
    with its own logging set up does not print them twice.
    """
    logger = logging.getLogger(PACKAGE_LOGGER)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter())
    saved = logger.level, logger.propagate
    logger.setLevel(level_for(verbose))
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


@contextlib.contextmanager
def show_info(name: str) -> Iterator[None]:
    """Show the INFO records of logger ``name`` (a command's own progress lines) whatever ``-v`` says."""
    logger = logging.getLogger(name)
    saved = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.setLevel(saved)
