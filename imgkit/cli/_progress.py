"""``imgkit run``'s progress line: items done, failed, spend and ETA, drawn from the runner's events.

On a terminal the line is a tqdm bar that updates in place (several times a second at most, and every second
while nothing finishes, so the clock moves); the package's log lines are written above it, never through it.
Elsewhere (a pipe, a CI log) it is a plain line every ``every_s`` seconds and one at the end.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from typing import TextIO

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from imgkit.cli._logging import PACKAGE_LOGGER
from imgkit.money import usd_text
from imgkit.runs.progress import RunProgress

#: seconds between two plain lines when stderr is not a terminal
PLAIN_EVERY_S = 10.0
#: seconds between two redraws of the terminal line
TTY_EVERY_S = 0.2


def progress_text(p: RunProgress) -> str:
    """``12/40 done, 1 failed, spent $0.06 of $1.00, 00:05, ETA 00:12`` (no ETA before the first item; the
    batches' states after it: ``; batch_abc in_progress 12/40``); money exact, as the run's summary line shows
    it (:func:`imgkit.money.usd_text`)."""
    cap = f" of {usd_text(p.budget_usd, plain=False)}" if p.budget_usd is not None else ""
    eta = f", ETA {tqdm.format_interval(p.eta_s)}" if p.eta_s is not None else ""
    batches = "".join(f"; {batch_id} {state}" for batch_id, state in p.batches)
    return (
        f"{p.done}/{p.total} done, {p.failed} failed, spent {usd_text(p.spent_usd)}{cap}, "
        f"{tqdm.format_interval(p.elapsed_s)}{eta}{batches}"
    )


class ProgressLine(contextlib.AbstractContextManager):
    """A callback for ``run_experiment(progress=...)`` that draws the progress line on ``stream``.

    Use it as a context manager around the run: on a terminal it routes the package's log records above the
    bar while the run lasts, and it ends the line when the run returns or fails.
    """

    def __init__(self, stream: TextIO | None = None, every_s: float = PLAIN_EVERY_S):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s = TTY_EVERY_S if self.tty else every_s
        self._bar: tqdm | None = None
        self._last = float("-inf")
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> ProgressLine:
        if self.tty:
            self._stack.enter_context(logging_redirect_tqdm([logging.getLogger(PACKAGE_LOGGER)]))
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._stack.close()

    def __call__(self, p: RunProgress) -> None:
        now = time.monotonic()
        if p.event != "end" and now - self._last < self.every_s:
            return
        if not self.tty or (self._bar is None and p.total == 0):  # nothing to draw a bar of: a line
            if p.event != "start":
                self._last = now
                self.stream.write(progress_text(p) + "\n")
                self.stream.flush()
            return
        self._last = now
        if self._bar is None:
            self._bar = tqdm(
                total=p.total,
                initial=p.done,
                desc=progress_text(p),
                file=self.stream,
                bar_format="{desc} |{bar}|",
            )
            return
        self._bar.n = p.done
        self._bar.set_description_str(progress_text(p), refresh=False)
        self._bar.refresh()
