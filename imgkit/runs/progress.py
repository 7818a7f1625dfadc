"""A run's progress as events: the runner counts, whoever called it decides what to show.

:func:`imgkit.runs.runner.run_experiment` takes ``progress=callback``; the callback receives a
:class:`RunProgress` when the session starts, after every item, every ``progress_every_s`` seconds while
nothing finishes (so elapsed time and ETA move) and when it ends. The library draws nothing: ``imgkit run``
renders the events as a progress line on stderr (:mod:`imgkit.cli._progress`), a notebook or a service can
log them, update a widget or ignore them. A callback that raises is logged once and not called again; the
run itself goes on (a paid run is never stopped by its display).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

__all__ = ["ProgressCallback", "ProgressTracker", "RunProgress"]

logger = logging.getLogger(__name__)

#: why an event was sent: the session started, an item ended, time passed, the session ended
ProgressEvent = Literal["start", "item", "tick", "end"]


@dataclass(frozen=True)
class RunProgress:
    """One session's progress at one moment.

    ``total``: items this session sends (finished items of an earlier session are not counted); ``done``:
    items that ended (ok, failed or cancelled); ``failed``: those that did not end ok; ``spent_usd``: the
    session's conservative spend so far (known bills, plus the quotes of attempts whose bill is unknown);
    ``budget_usd``: the run's cap (None: no cap); ``elapsed_s``: since the session started; ``batches``: the
    last state polled of each Batch API batch the session watches, by batch id (``in_progress 12/40``), in the
    order they were first seen.
    """

    event: ProgressEvent
    total: int
    done: int
    failed: int
    spent_usd: Decimal
    budget_usd: Decimal | None
    elapsed_s: float
    batches: tuple[tuple[str, str], ...] = ()

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the session's average pace so far; None before the first item or after the last."""
        if not 0 < self.done < self.total:
            return None
        return self.elapsed_s / self.done * (self.total - self.done)


#: what ``run_experiment(progress=...)`` calls with each event
ProgressCallback = Callable[[RunProgress], None]


class _Ledger(Protocol):
    """The part of :class:`~imgkit.runs.budget.Budget` the tracker reads."""

    spent_usd: Decimal
    limit_usd: Decimal | None


class ProgressTracker:
    """Counts a session's items and sends :class:`RunProgress` events to ``callback`` (None: counts only)."""

    def __init__(
        self,
        total: int,
        budget: _Ledger,
        spent_before_usd: Decimal,
        callback: ProgressCallback | None,
        every_s: float,
    ):
        self.total, self.budget, self.spent_before_usd = total, budget, spent_before_usd
        self.callback = callback
        self.every_s = every_s
        self.done = self.failed = 0
        self.batches: dict[str, str] = {}
        self.t0 = time.monotonic()

    def snapshot(self, event: ProgressEvent) -> RunProgress:
        return RunProgress(
            event=event,
            total=self.total,
            done=self.done,
            failed=self.failed,
            spent_usd=self.budget.spent_usd - self.spent_before_usd,
            budget_usd=self.budget.limit_usd,
            elapsed_s=time.monotonic() - self.t0,
            batches=tuple(self.batches.items()),
        )

    def _send(self, event: ProgressEvent) -> None:
        if self.callback is None:
            return
        try:
            self.callback(self.snapshot(event))
        except Exception:
            logger.exception("the progress callback failed; the run goes on without it")
            self.callback = None

    def start(self) -> None:
        self._send("start")

    def item_done(self, ok: bool) -> None:
        self.done += 1
        self.failed += not ok
        self._send("item")

    def batch_state(self, batch_id: str, state: str) -> None:
        """A batch's state as last polled (shown with the counts); sends a tick."""
        self.batches[batch_id] = state
        self._send("tick")

    def tick(self) -> None:
        self._send("tick")

    def finish(self) -> None:
        self._send("end")
