"""The experiment runner: every item of a spec sent once, within a budget, safe to interrupt and to resume.

``run_experiment(spec)`` plans the run (:func:`imgkit.runs.plan.plan_run`: every target resolved, every item
quoted, nothing sent), then sends the items with ``spec.concurrency`` requests in flight through one
:class:`~imgkit.providers.ImageClient` (its per-provider rate limits, with the spec's overrides, and its
retries). The run directory ``spec.output_dir`` is a self-contained record
(:class:`imgkit.records.rundir.RunDirectory`)::

    log.jsonl      every attempt (imgkit.records.schema), with the run columns filled
    images/        the images, content-addressed (images/ab/cdef….png)
    inputs/        copies of the spec's input images
    spec.yaml      the spec as run: prompts inline, the resolved parameters and quotes, run id, sessions
    summary.json   the last session's summary (RunSummary.as_dict)

Money
    Every attempt reserves its quote (the high end of a range when size or quality is ``auto``) in a
    :class:`~imgkit.money.Budget` before it is sent and settles it with its actual cost after (the
    client does it, :class:`~imgkit.providers.ImageClient` ``budget=``), so concurrent requests and their
    retries can never jointly pass the cap: the run's conservative spend (known bills, plus the quote of
    every attempt whose bill is unknown) stays within it. The first item that would not fit stops the
    scheduling; the items left are reported as skipped for budget; a retry that would not fit is not sent
    (its item ends with the error it had, and a resume retries it). An attempt whose bill is unknown (a read
    timeout, a response lost, a cancelled request) counts its quote as spent. A run directory that already
    holds a log is refused unless ``resume=True`` (no paying twice by accident); on resume the money already
    spent (from the log) counts against the budget, including the quotes of requests that were in flight
    when an earlier session was killed (``sent`` records without an outcome: possibly billed).

Resume
    The run directory's lock (on ``log.jsonl``) is taken before anything is read, written or sent: a second
    process on the same directory is refused at once. Items whose last final attempt is ok are skipped,
    never paid twice; items that ended with a retryable error class (:data:`RETRIED_ON_RESUME`) are sent
    again, as are items whose request was in flight when an earlier session died (its quote stays counted as
    possibly billed); content_policy, bad_request, authentication (and unclassified provider errors) are
    not, and are reported. Attempt numbers count within a session; the log's line order is time order.

Interrupting
    Ctrl-C (SIGINT) stops the scheduling and lets the requests in flight finish for ``grace_s`` seconds;
    then (or at a second Ctrl-C) they are cancelled and logged with outcome ``cancelled``, and the run ends
    with its summary (``RunSummary.interrupted``). A later ``resume`` sends the cancelled items again.
    ``kill -9`` loses no logged result: every attempt's outcome is one ``write(2)`` before the next starts,
    and each request is announced by a ``sent`` record before it leaves, so the requests in flight at the
    kill are known on resume (their responses are lost: a provider may have billed them).

Offline
    ``simulate: true`` starts the simulated provider in-process (or uses one at ``simulate.url``) and points
    every provider at it with a placeholder key; records are labelled ``simulated``. Otherwise the real
    providers are called with keys from the environment or the keys file (:mod:`imgkit.keys`). The
    simulated clock runs ``time_scale`` times real time, the client's read timeout too
    (:func:`simulated_read_timeout_s`), so a simulated ``timeout`` fault takes seconds, not five minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import math
import secrets
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import polars as pl

from imgkit.catalog import Catalog, load_catalog
from imgkit.errors import (
    BudgetExceededError,
    ImgkitError,
    RunDirectoryError,
    SpecError,
    provider_error_classes,
)
from imgkit.money import Budget, plain_usd, usd_text
from imgkit.records.batches import BatchLedger
from imgkit.records.journal import RequestLog, mark_unanswered, parent_item_id
from imgkit.records.rundir import RunDirectory
from imgkit.records.schema import OUTCOME_CANCELLED, OUTCOME_OK, OUTCOME_SENT
from imgkit.runs.batch import BatchRun
from imgkit.runs.plan import RunPlan, plan_run
from imgkit.runs.progress import ProgressCallback, ProgressTracker
from imgkit.runs.spec import ExperimentSpec, SimulatorSettings, WorkItem

__all__ = [
    "DEFAULT_GRACE_S",
    "RETRIED_ON_RESUME",
    "RunSummary",
    "run_experiment",
    "run_experiment_async",
    "simulated_read_timeout_s",
]

logger = logging.getLogger(__name__)

#: error classes whose items a resumed run sends again (the others need a change of spec or key)
RETRIED_ON_RESUME = provider_error_classes(retryable=True) | {OUTCOME_CANCELLED}
#: seconds the requests in flight may take to finish after Ctrl-C before they are cancelled
DEFAULT_GRACE_S = 10.0
#: the placeholder key every provider gets when the run is simulated (the simulator accepts any key)
SIMULATED_KEY = "imgkit-simulated-placeholder"
#: the shortest read timeout of a simulated run: room for a loaded machine to answer a loopback request
MIN_SIMULATED_READ_TIMEOUT_S = 2.0


# --- money per attempt ----------------------------------------------------------------------------------


def attempt_spend_usd(actual: Any, estimated: Any, cost_method: str | None) -> Decimal:
    """What one logged attempt counts against the budget: its bill, else (bill unknown) its quote.

    An attempt that was not billed (``cost_method`` ``not_billed``) counts 0; an unknown bill without a
    quote counts 0 too (and is reported as unknown cost).
    """
    if actual is not None:
        return Decimal(actual)
    if cost_method == "not_billed" or estimated is None:
        return Decimal(0)
    return Decimal(estimated)


# --- what the log already says (resume) ----------------------------------------------------------------------


@dataclass
class _Prior:
    """What earlier sessions left in the log."""

    finished: set[str] = field(default_factory=set)  # items done: skipped
    not_retried: dict[str, str] = field(default_factory=dict)  # item -> its non-retryable outcome
    spent_usd: Decimal = Decimal(0)  # bills, quotes of unknown bills, quotes of requests possibly billed


def _read_prior(log: RequestLog) -> _Prior:
    prior = _Prior()
    if not log.path.exists() or log.path.stat().st_size == 0:
        return prior
    lazy = mark_unanswered(
        log.scan(include_sent=True).select(
            "item_id", "attempt", "final", "outcome", "actual_cost_usd", "estimated_cost_usd", "cost_method"
        )
    )
    frame = lazy.with_row_index("_line").collect()
    for outcome, unanswered, actual, estimated, method in frame.select(
        "outcome", "unanswered", "actual_cost_usd", "estimated_cost_usd", "cost_method"
    ).iter_rows():
        if unanswered:  # in flight when its session died: possibly billed, up to its quote
            prior.spent_usd += Decimal(estimated or 0)
        elif outcome != OUTCOME_SENT:
            prior.spent_usd += attempt_spend_usd(actual, estimated, method)
    prior.finished = log.finished_items()
    last = (
        frame.filter(pl.col("final"))
        .group_by("item_id")
        .agg(pl.col("outcome").sort_by("_line").last())
        .filter(pl.col("outcome") != OUTCOME_OK)
    )
    for call_id, outcome in last.iter_rows():
        item = parent_item_id(call_id)
        if item not in prior.finished and outcome not in RETRIED_ON_RESUME:
            prior.not_retried[item] = outcome
    return prior


# --- the summary --------------------------------------------------------------------------------------------


@dataclass
class RunSummary:
    """What a run (one session of it) did, and the per-target table over the whole run directory's log."""

    name: str
    run_id: str | None
    run_dir: Path
    simulated: bool
    dry_run: bool
    items: int  # items in the spec
    sent: int = 0  # items sent this session
    ok: int = 0  # items that ended ok this session
    failed: int = 0  # items that ended with an error this session (cancelled excluded)
    cancelled: int = 0
    skipped_finished: int = 0  # already done in an earlier session
    skipped_not_retried: int = 0  # ended earlier with an error a resume does not retry
    skipped_budget: int = 0
    interrupted: bool = False
    budget_usd: Decimal | None = None
    spent_usd: Decimal = Decimal(0)  # this session (bills, and quotes for unknown bills)
    spent_before_usd: Decimal = Decimal(0)  # earlier sessions, same rule, possibly billed requests included
    unknown_cost_attempts: int = 0  # attempts (all sessions) whose bill is unknown: the targets' sum
    possibly_billed_attempts: int = 0  # requests in flight when a session died: sent, no outcome logged
    possibly_billed_usd: Decimal | None = Decimal(
        0
    )  # their quotes, counted as spent (None: one was unpriced)
    retries_refused: int = 0  # retries not sent this session: the budget had no room for them
    planned_total_usd: Decimal | None = None
    failures: dict[str, int] = field(default_factory=dict)  # outcome -> items, this session
    not_retried: dict[str, int] = field(default_factory=dict)  # outcome -> items skipped on resume
    targets: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0
    plan: dict[str, Any] | None = None  # the dry run's plan (RunPlan.as_dict)
    batches_created: int = 0  # batches this session created
    batches_reattached: int = 0  # open batches of earlier sessions this session picked up
    batches_detached: list[dict[str, Any]] = field(
        default_factory=list
    )  # left running (Ctrl-C): key, id, items
    in_open_batches: int = 0  # items skipped because an open batch holds them (collected, never sent again)

    @property
    def spent_total_usd(self) -> Decimal:
        return self.spent_before_usd + self.spent_usd

    @property
    def complete(self) -> bool:
        """Every item of the spec has finished ok (in this session or before)."""
        return not self.dry_run and self.ok + self.skipped_finished == self.items

    @property
    def batch_items_running(self) -> int:
        """Items in batches left running at the provider (detached by Ctrl-C, or an error while following)."""
        return sum(b["items"] for b in self.batches_detached)

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["run_dir"] = str(self.run_dir)
        out["spent_total_usd"] = self.spent_total_usd
        out["complete"] = self.complete
        out["batch_items_running"] = self.batch_items_running
        return out

    def counts_line(self) -> str:
        """One line: what this session sent and how it ended, and the spend."""
        budget = f" of {_usd(self.budget_usd)} budget" if self.budget_usd is not None else ""
        possibly = (
            f", {_usd(self.possibly_billed_usd)} of it possibly billed"
            if self.possibly_billed_attempts
            else ""
        )
        before = (
            f" (+{_usd(self.spent_before_usd)} in earlier sessions{possibly})"
            if self.spent_before_usd
            else ""
        )
        return (
            f"{self.name}: {self.ok}/{self.sent} sent ok, {self.failed} failed, {self.cancelled} cancelled; "
            f"spent {_usd(self.spent_usd)}{before}{budget}; {self.wall_s:.1f} s"
            + (" [simulated]" if self.simulated else "")
        )


def _usd(value: Decimal | None) -> str:
    return usd_text(value, "unknown", plain=False)


# --- the run directory ----------------------------------------------------------------------------------------


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=lambda v: format(v, "f") if isinstance(v, Decimal) else str(v)))


def _write_spec_as_run(
    plan: RunPlan, run_dir: RunDirectory, run: dict[str, Any], budget_usd: Decimal | None
) -> None:
    """``spec.yaml``: a runnable copy of the spec (prompts inline, inputs copied) plus what was resolved."""
    spec = plan.spec
    raw = dict(spec.raw)
    raw["prompts"] = [p.model_dump(exclude_none=True) for p in spec.prompts]
    if spec.input_images:
        raw["input_images"] = {name: run_dir.copy_input(name, src) for name, src in spec.input_images.items()}
    if budget_usd is not None:
        raw["budget_usd"] = format(budget_usd, "f")  # money stays a decimal string
    raw["output_dir"] = "."
    raw["run"] = _jsonable(
        {**run, "plan": {"total_usd": plan.total_usd, "targets": [t.record() for t in plan.targets]}}
    )
    run_dir.write_spec_as_run(raw)


def _new_run_id(name: str) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{name}-{stamp}-{secrets.token_hex(3)}"


# --- providers: real or simulated -------------------------------------------------------------------------------


def simulated_read_timeout_s(settings: SimulatorSettings) -> float | None:
    """The client's read timeout in a simulated run, in seconds: how long a simulated ``timeout`` fault lasts.

    ``hang_s`` when the spec sets it; else, for the in-process simulator, the real read timeout (300 s) on
    the simulated clock (``x time_scale``), at least :data:`MIN_SIMULATED_READ_TIMEOUT_S`; ``None`` (the real
    one) for a simulator at ``url``, whose clock the spec does not set (it ends its hangs itself: ``imgkit
    simulate serve --hang-s``, by default 300 s x its time scale).
    """
    from imgkit.providers import DEFAULT_TIMEOUT

    if settings.hang_s is not None:
        return settings.hang_s
    if settings.url:
        return None
    real_read_s = DEFAULT_TIMEOUT.read
    assert real_read_s is not None  # imgkit's default timeout sets every phase
    return max(real_read_s * settings.time_scale, MIN_SIMULATED_READ_TIMEOUT_S)


@contextlib.contextmanager
def _provider_setup(spec: ExperimentSpec, catalog: Catalog) -> Iterator[dict[str, Any]]:
    """Client settings for the run: the simulator's URLs, placeholder keys and clock when simulated."""
    if not spec.simulate:
        yield {}
        return
    settings = spec.simulator
    server = None
    client_settings: dict[str, Any] = {}
    read_timeout_s = simulated_read_timeout_s(settings)
    if read_timeout_s is not None:
        import httpx

        from imgkit.providers import DEFAULT_TIMEOUT as T

        client_settings["timeout"] = httpx.Timeout(
            connect=T.connect, read=read_timeout_s, write=T.write, pool=T.pool
        )
    if settings.url:
        root = settings.url.rstrip("/")
    else:
        from imgkit.simulator import FaultPlan, SimulatorServer

        assert read_timeout_s is not None  # only a simulator at a url has none
        server = SimulatorServer(
            time_scale=settings.time_scale,
            seed=spec.seed,
            # a hung request is held past the client's read timeout: the client sees a read timeout
            faults=FaultPlan(fault_rate=settings.fault_rate, hang_s=2 * read_timeout_s),
            apply_success_rate=settings.failures,
            catalog=catalog,
            record_limit=64,
        ).start()
        root = server.url
    from imgkit.simulator import simulated_base_urls

    served = simulated_base_urls(root, catalog)  # every protocol on the simulator's one port
    base_urls, keys = {}, {}
    for provider in _providers(catalog):
        if provider.id in served:
            base_urls[provider.id] = served[provider.id]
            keys[provider.id] = SIMULATED_KEY
    try:
        yield {"base_urls": base_urls, "keys": keys, **client_settings}
    finally:
        if server is not None:
            server.stop()


def _providers(catalog: Catalog) -> list[Any]:
    ids = {p for m in catalog.models for p in catalog.providers_for(m)}
    return [catalog.provider(pid) for pid in sorted(ids)]


def _rate_limits(spec: ExperimentSpec, plan: RunPlan) -> dict[str, Any]:
    """Per-provider pacing: the catalog's limits with the spec's overrides; none for the simulator."""
    from imgkit.providers import RateLimit

    limits = {}
    for pt in plan.targets:
        provider = pt.resolved.provider
        base = RateLimit() if spec.simulate else RateLimit.from_provider(provider)
        changes = {}
        if spec.requests_per_minute is not None:
            changes["requests_per_minute"] = spec.requests_per_minute
        if spec.images_per_minute is not None:
            changes["images_per_minute"] = spec.images_per_minute
        limits[provider.id] = dataclasses.replace(base, **changes)
    return limits


# --- the run ------------------------------------------------------------------------------------------------------


@dataclass
class _Session:
    """Mutable state of one session of a run (shared by the workers; one event loop, no locks needed)."""

    plan: RunPlan
    budget: Budget
    journal: RequestLog
    client: Any
    catalog: Catalog
    run_id: str
    summary: RunSummary
    progress: ProgressTracker
    pending: Iterator[WorkItem]
    stopping: bool = False
    budget_refused: bool = False
    in_flight: dict[asyncio.Task, tuple[WorkItem, Any, float]] = field(default_factory=dict)
    failures: Counter = field(default_factory=Counter)
    batches: Any = None  # the batched items' BatchRun (imgkit.runs.batch), when there are any


async def _worker(session: _Session) -> None:
    while not session.stopping:
        item = next(session.pending, None)
        if item is None:
            return
        await _run_item(session, item)


async def _run_item(session: _Session, item: WorkItem) -> None:
    """Send one item; the client reserves each attempt's quote in the session's budget before sending it."""
    summary = session.summary
    resolved = session.plan.resolve(item, session.catalog)
    labels = {
        "prompt_id": item.prompt.id,
        "target": item.target.label,
        "repeat": item.repeat,
        "category": item.prompt.category,
    }
    task = asyncio.current_task()
    assert task is not None  # a coroutine of the session's event loop runs in a task
    session.in_flight[task] = (item, resolved, time.time())
    try:
        result = await session.client.generate(
            resolved,
            item_id=item.item_id,
            run_id=session.run_id,
            labels={k: v for k, v in labels.items() if v is not None},
            log=session.journal,
            raise_on_error=False,
            budget=session.budget,
        )
    except BudgetExceededError:  # its first attempt does not fit: nothing was sent; stop scheduling
        session.budget_refused = session.stopping = True
        summary.skipped_budget += 1
        return
    except asyncio.CancelledError:  # the client logged the cancelled calls and settled their quotes
        summary.sent += 1
        summary.cancelled += 1
        session.progress.item_done(False)
        raise
    except ImgkitError:  # a missing key (before anything was sent), a log that cannot be written...
        session.stopping = True
        raise
    finally:
        session.in_flight.pop(task, None)
    summary.sent += 1
    summary.retries_refused += result.retries_refused
    if result.ok:
        summary.ok += 1
    else:
        summary.failed += 1
        session.failures[result.error.error_class] += 1
    session.progress.item_done(result.ok)


def _install_interrupt(session: _Session, grace_s: float) -> Any:
    """Ctrl-C: stop scheduling, wait ``grace_s`` for the requests in flight, then cancel them."""
    loop = asyncio.get_running_loop()
    if threading.current_thread() is not threading.main_thread():
        return None
    presses = 0

    def cancel_in_flight() -> None:
        for task in list(session.in_flight):
            task.cancel()

    def on_interrupt() -> None:
        nonlocal presses
        presses += 1
        session.summary.interrupted = session.stopping = True
        if session.batches is not None:  # batches keep running at the provider: detach from them now
            session.batches.wake()
        n = len(session.in_flight)
        if presses == 1 and n:
            logger.warning(
                "interrupted: no new requests; waiting up to %g s for %d in flight "
                "(Ctrl-C again to cancel them now)",
                grace_s,
                n,
            )
            loop.call_later(grace_s, cancel_in_flight)
        else:
            cancel_in_flight()

    try:
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
    except (NotImplementedError, RuntimeError, ValueError):
        return None
    return lambda: loop.remove_signal_handler(signal.SIGINT)


async def run_experiment_async(
    spec: ExperimentSpec,
    *,
    dry_run: bool = False,
    resume: bool = False,
    budget_usd: Decimal | None = None,
    catalog: Catalog | None = None,
    progress: ProgressCallback | Literal[False] | None = None,
    client: Any = None,
    grace_s: float = DEFAULT_GRACE_S,
    progress_every_s: float = 1.0,
    cancel_batches: bool = False,
) -> RunSummary:
    """Run ``spec`` (module doc) and return its summary; ``budget_usd`` overrides the spec's budget.

    ``cancel_batches``: send nothing new; cancel the run's open batches (:mod:`imgkit.runs.batch`) and log
    what they answered before they stopped (implies ``resume``).

    ``progress``: a callback that receives a :class:`~imgkit.runs.progress.RunProgress` at the start, after
    each item, every ``progress_every_s`` seconds and at the end (None or False: none; the library shows
    nothing itself, ``imgkit run`` draws a progress line from the events). ``client``: an
    :class:`~imgkit.providers.ImageClient` to send with (its base URLs, keys, limits and image store; the
    run's log is passed per request); by default one is made for the run. ``dry_run`` plans and returns
    without creating the run directory or sending anything.
    """
    t0 = time.monotonic()
    catalog = catalog or load_catalog()
    plan = plan_run(spec, catalog)
    budget_usd = spec.budget_usd if budget_usd is None else Decimal(budget_usd)
    run_dir = Path(spec.output_dir)
    summary = RunSummary(
        name=spec.name,
        run_id=None,
        run_dir=run_dir,
        simulated=spec.simulate,
        dry_run=dry_run,
        items=plan.n_items,
        budget_usd=budget_usd,
        planned_total_usd=plan.total_usd,
    )
    if budget_usd is not None:
        for pt in plan.targets:
            if pt.subtotal_usd is None:
                raise SpecError(
                    str(spec.path or "<spec>"),
                    f"targets[{pt.target.spec_index}]",
                    f"{pt.target.label} has no quote ({pt.unknown_reason}): the budget cannot be enforced; "
                    "remove budget_usd to run it without a cap",
                )
    if dry_run:
        summary.plan = plan.as_dict()
        summary.plan["budget_usd"] = budget_usd
        summary.plan["within_budget"] = (
            None if budget_usd is None or plan.total_usd is None else plan.total_usd <= budget_usd
        )
        summary.wall_s = time.monotonic() - t0
        return summary

    run = RunDirectory(run_dir)
    resume = resume or cancel_batches
    if cancel_batches and not run.has_batches():
        raise RunDirectoryError(f"{run_dir} holds no batches ({run.batches_path.name}): nothing to cancel")
    journal = run.lock(resume=resume)  # before anything is read, written or sent
    ledger = run.batch_ledger()
    try:  # every return and error below releases the lock
        prior = _read_prior(journal)
        open_batches = ledger.open_batches()
        in_open = {item for b in open_batches for item in b.items}
        previous = run.run_record() if resume else {}
        run_id = previous.get("run_id") or _new_run_id(spec.name)
        summary.run_id = run_id
        summary.spent_before_usd = plain_usd(prior.spent_usd)
        sessions = list(previous.get("sessions") or [])
        sessions.append(
            {
                "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "resume": bool(resume),
                "budget_usd": budget_usd,
            }
        )
        _write_spec_as_run(
            plan, run, {"run_id": run_id, "simulated": spec.simulate, "sessions": sessions}, budget_usd
        )

        counts: Counter[str] = Counter()

        batched: list[WorkItem] = []

        def pending() -> Iterator[WorkItem]:
            for item in spec.items():
                if item.item_id in prior.finished:
                    summary.skipped_finished += 1
                elif item.item_id in in_open:  # an open batch holds it: collected, never sent again
                    summary.in_open_batches += 1
                elif cancel_batches:
                    continue
                elif item.item_id in prior.not_retried:
                    summary.skipped_not_retried += 1
                    counts[prior.not_retried[item.item_id]] += 1
                elif item.target.batch:
                    batched.append(item)
                else:
                    yield item

        to_send = plan.n_items - len(prior.finished) - len(prior.not_retried)
        budget = Budget(budget_usd, spent_usd=prior.spent_usd)
        callback = progress or None
        bar = ProgressTracker(max(0, to_send), budget, prior.spent_usd, callback, progress_every_s)
        with _provider_setup(spec, catalog) as setup:
            own_client = client is None
            if own_client:
                from imgkit.providers import ImageClient, RetryPolicy

                client = ImageClient(
                    catalog,
                    store=run.image_store(),
                    retry=RetryPolicy(max_attempts=spec.max_attempts),
                    limits=_rate_limits(spec, plan),
                    run_id=run_id,
                    simulated=spec.simulate,
                    **setup,
                )
            session = _Session(plan, budget, journal, client, catalog, run_id, summary, bar, pending())
            if spec.batched or open_batches:
                # the batched items are known once the interactive ones have been listed: list them first
                interactive = list(session.pending)
                session.pending = iter(interactive)
                session.batches = _batch_run(session, spec, ledger, run, open_batches, in_open)
            if budget_usd is not None and plan.total_usd is not None:
                left = plain_usd(budget_usd - prior.spent_usd)
                if plan.total_usd > left:
                    logger.warning(
                        "the plan's quote %s exceeds the budget left %s; "
                        "the run stops before the budget would be exceeded",
                        _usd(plan.total_usd),
                        _usd(left),
                    )
            restore = _install_interrupt(session, grace_s)
            bar.start()
            ticker = asyncio.create_task(_tick(bar)) if callback is not None else None
            workers = [asyncio.create_task(_worker(session)) for _ in range(spec.concurrency)]
            if session.batches is not None:
                work = (
                    session.batches.cancel(open_batches)
                    if cancel_batches
                    else session.batches.run(batched, open_batches)
                )
                workers.append(asyncio.create_task(work))
            try:
                results = await asyncio.gather(*workers, return_exceptions=True)
            finally:
                if restore is not None:
                    restore()
                if ticker is not None:
                    ticker.cancel()
                for task in workers:
                    task.cancel()
                if own_client:
                    with contextlib.suppress(Exception):
                        await client.aclose()
            errors = [
                r
                for r in results
                if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)
            ]
            if session.budget_refused:
                summary.skipped_budget += sum(1 for _ in session.pending)
            if session.batches is not None:
                _add_batch_report(summary, session, session.batches.report)
            bar.finish()
        summary.spent_usd = plain_usd(budget.spent_usd - prior.spent_usd)
        summary.failures = dict(session.failures)
        summary.not_retried = dict(counts)
        summary.targets = target_table(journal, plan)
        # one source for the run-wide counts: the per-target table over the whole log
        summary.unknown_cost_attempts = sum(row["unknown_cost_attempts"] for row in summary.targets)
        summary.possibly_billed_attempts = sum(row["possibly_billed_attempts"] for row in summary.targets)
        possibly_usd = [row["possibly_billed_usd"] for row in summary.targets]
        summary.possibly_billed_usd = (
            None if None in possibly_usd else plain_usd(sum(possibly_usd, Decimal(0)))
        )
        summary.wall_s = time.monotonic() - t0
        run.write_summary(_jsonable(summary.as_dict()))
        if errors:
            raise errors[0]
        return summary
    finally:
        ledger.close()
        journal.close()


def _batch_run(
    session: _Session,
    spec: ExperimentSpec,
    ledger: BatchLedger,
    run: RunDirectory,
    open_batches: list[Any],
    in_open: set[str],
) -> Any:
    """The session's :class:`~imgkit.runs.batch.BatchRun`: its items known by id, its steps on the progress."""
    bar = session.progress

    def progress(event: str, **fields: Any) -> None:
        if event == "item":
            bar.item_done(fields["ok"])
        elif event == "batch_status":
            state = f"{fields['state']} {fields['done']}/{fields['total']}" + (
                f", {fields['failed']} failed" if fields["failed"] else ""
            )
            logger.info("batch %s (%s): %s", fields["key"], fields["batch_id"], state)
            bar.batch_state(fields["batch_id"], state)
        elif event in ("batch_created", "batch_split", "batch_rebatch", "batch_abandoned", "batch_error"):
            level = logging.WARNING if event in ("batch_abandoned", "batch_error") else logging.INFO
            logger.log(
                level,
                "batch %s: %s",
                event.removeprefix("batch_"),
                ", ".join(f"{k} {v}" for k, v in fields.items()),
            )

    items_by_id = {i.item_id: i for i in spec.items() if i.target.batch or i.item_id in in_open}
    settings = spec.simulator
    time_scale = settings.time_scale if spec.simulate and not settings.url else 1.0
    return BatchRun(
        spec=spec,
        plan=session.plan,
        catalog=session.catalog,
        images=session.client,
        journal=session.journal,
        ledger=ledger,
        budget=session.budget,
        run_id=session.run_id,
        run_dir=run,
        items_by_id=items_by_id,
        progress=progress,
        stopping=lambda: session.summary.interrupted,  # Ctrl-C (not the interactive part's budget stop)
        time_scale=time_scale,
    )


def _add_batch_report(summary: RunSummary, session: _Session, report: Any) -> None:
    """The batched items' counts in the session's summary."""
    summary.sent += report.sent
    summary.ok += report.ok
    summary.failed += report.failed
    summary.cancelled += report.cancelled
    summary.skipped_budget += report.skipped_budget
    for outcome, n in report.failures.items():
        session.failures[outcome] += n
    summary.batches_created = report.created
    summary.batches_reattached = report.reattached
    summary.batches_detached = report.detached


async def _tick(bar: ProgressTracker) -> None:
    while True:
        await asyncio.sleep(bar.every_s)
        bar.tick()


def run_experiment(
    spec: ExperimentSpec,
    *,
    dry_run: bool = False,
    resume: bool = False,
    budget_usd: Decimal | None = None,
    catalog: Catalog | None = None,
    progress: ProgressCallback | Literal[False] | None = None,
    client: Any = None,
    grace_s: float = DEFAULT_GRACE_S,
    cancel_batches: bool = False,
) -> RunSummary:
    """:func:`run_experiment_async` from synchronous code (the CLI, scripts); not inside a running loop."""
    return asyncio.run(
        run_experiment_async(
            spec,
            dry_run=dry_run,
            resume=resume,
            budget_usd=budget_usd,
            catalog=catalog,
            progress=progress,
            client=client,
            grace_s=grace_s,
            cancel_batches=cancel_batches,
        )
    )


# --- the per-target table -------------------------------------------------------------------------------------------


#: the log columns the per-target table reads
_TABLE_COLUMNS = (
    "item_id",
    "target",
    "attempt",
    "final",
    "outcome",
    "started_at",
    "latency_ms",
    "ttfb_ms",
    "n",
    "images_count",
    "estimated_cost_usd",
    "actual_cost_usd",
    "provenance",
)


def target_table(log: RequestLog, plan: RunPlan) -> list[dict[str, Any]]:
    """Per target, over the whole log: items, ok, failed, images, p50/p95 latency (s), spend (exact).

    Items count each item once by its latest final outcome; latency percentiles are those of
    :func:`imgkit.analysis.performance.performance_table` (successful final attempts); ``spent_usd`` sums the
    known bills of every attempt (``unknown_cost_attempts`` says how many bills are unknown);
    ``possibly_billed_attempts`` / ``possibly_billed_usd``: requests in flight when a session died (``sent``
    records without an outcome) and their quotes.
    """
    from imgkit.analysis.performance import performance_table

    rows: dict[str, dict[str, Any]] = {
        pt.target.label: {
            "target": pt.target.label,
            "items": pt.n_items,
            "ok": 0,
            "failed": 0,
            "images": 0,
            "p50_s": None,
            "p95_s": None,
            "spent_usd": Decimal(0),
            "unknown_cost_attempts": 0,
            "possibly_billed_attempts": 0,
            "possibly_billed_usd": Decimal(0),
            "quoted_usd": pt.subtotal_usd,
        }
        for pt in plan.targets
    }
    # parsed once (the queries below each read it), only the columns they use: half the parsing time
    journal = log.scan(include_sent=True).select(_TABLE_COLUMNS).collect()
    possibly = (
        mark_unanswered(journal.lazy())
        .filter(pl.col("unanswered"))
        .group_by("target")
        .agg(
            pl.len().alias("n"),
            pl.col("estimated_cost_usd").sum().alias("usd"),
            pl.col("estimated_cost_usd").null_count().alias("unquoted"),
        )
        .collect()
    )
    for target, n, usd, unquoted in possibly.iter_rows():
        if target in rows:
            # a request sent without a quote (unpriced) makes the sum unknown, never a silent 0
            rows[target].update(
                possibly_billed_attempts=int(n),
                possibly_billed_usd=None if unquoted else plain_usd(Decimal(usd or 0)),
            )
    lf = journal.lazy().filter(pl.col("outcome") != OUTCOME_SENT)
    if lf.select(pl.len()).collect().item() == 0:
        return list(rows.values())
    perf = performance_table(lf.filter(pl.col("target").is_not_null()), by="target")
    for rec in perf.iter_rows(named=True):
        row = rows.get(rec["target"])
        if row is None:
            continue
        row["p50_s"] = _seconds(rec["latency_p50_ms"])
        row["p95_s"] = _seconds(rec["latency_p95_ms"])
        row["unknown_cost_attempts"] = rec["cost_unknown_attempts"]
    known = lf.group_by("target").agg(pl.col("actual_cost_usd").sum().alias("spent")).collect()
    for target, spent in known.iter_rows():
        if target in rows and spent is not None:
            rows[target]["spent_usd"] = plain_usd(Decimal(spent))
    latest = (
        lf.with_row_index("_line")
        .filter(pl.col("final"))
        .group_by("item_id")
        .agg(
            pl.col("target").sort_by("_line").last(),
            pl.col("outcome").sort_by("_line").last(),
            pl.col("images_count").sort_by("_line").last(),
        )
        .with_columns(pl.col("item_id").map_elements(parent_item_id, return_dtype=pl.String).alias("_item"))
        .group_by("target", "_item")
        .agg((pl.col("outcome") == OUTCOME_OK).all().alias("ok"), pl.col("images_count").sum())
        .group_by("target")
        .agg(
            pl.col("ok").sum().alias("ok"),
            pl.len().alias("ended"),
            pl.col("images_count").filter(pl.col("ok")).sum().alias("images"),
        )
        .collect()
    )
    for target, ok, ended, images in latest.iter_rows():
        if target in rows:
            rows[target].update(ok=int(ok), failed=int(ended - ok), images=int(images or 0))
    return list(rows.values())


def _seconds(ms: float | None) -> float | None:
    return None if ms is None or math.isnan(ms) else round(ms / 1000.0, 3)
