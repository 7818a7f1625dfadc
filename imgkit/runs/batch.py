"""Batched targets of a run: items sent through a provider's Batch API, at the batch price, safe to interrupt.

A target with ``batch: true`` (:mod:`imgkit.runs.spec`) does not send its items one request at a time: they
are grouped by provider, endpoint and model (:func:`group_batches`, within the provider's limits: OpenAI's
50,000 requests and 200 MB per input file, the Gemini API's 2 GB per file, and the spec's
``batch.max_requests``), each group written as a JSON Lines file, uploaded, and run as one batch (OpenAI's
Batch API or the Gemini API's Batch Mode, :func:`~imgkit.providers.batch_api_class`); its answers come back in result files, each stored and
logged as one attempt per item (``batch_id`` set, the bill at the batch price, started at the submission and
ended when the batch's result was available: ``latency_ms`` is the turnaround).

Money
    Each batch reserves its full quote at the batch price in the run's :class:`~imgkit.money.Budget` before it
    is planned (the items' quotes, the high end of a range when size or quality is ``auto``). A batch that
    would pass the cap is cut to the items that fit; the rest wait for a running batch to settle (its answers
    usually cost less than their quotes) and go in a later batch, or are reported as skipped for budget. A
    batch is settled when collected: the answers' bills, or the quote of an answer whose bill is unknown.

Crash safety (the ledger, :mod:`imgkit.records.batches`)
    ``planned`` (items, quotes) is written before the input file is uploaded, ``uploaded`` after, ``creating``
    before the create request leaves, ``created`` with the batch id after; ``ended`` and ``collected`` when
    it is over. A resumed run reads the ledger before anything else: every item of an open batch is left out
    of what it sends, its quote held as committed, and the batch is picked up where the ledger stops: an
    upload is looked for by its name (``imgkit-<run>-<key>.jsonl``), a batch by its metadata
    (``imgkit_run``, ``imgkit_batch``; Gemini: its display name) before anything is uploaded or created again, so a kill between any two
    steps neither loses a batch nor creates a second one. Answers already in the journal are not logged twice.

Interrupting
    Ctrl-C stops planning new batches and detaches from those running: they keep running at the provider
    (and are billed); ``imgkit run --resume`` collects them, ``imgkit run --cancel-batches`` cancels them
    (answers that arrived before the cancel are billed and logged; the rest are logged ``cancelled``).

Expired and cancelled requests
    Requests a batch could not run before its 24-hour window ended are logged with outcome ``expired`` (not
    billed); with ``batch.on_expired: rebatch`` (the default) they go into one more batch in the same session
    (their first record is then not final, as a retried attempt), else they are reported and a ``--resume``
    sends them again. Requests of a batch cancelled elsewhere are handled alike; ``--cancel-batches`` never
    re-batches.

Polling
    Each batch is polled every ``batch.poll_s`` seconds, the wait doubling up to ``batch.max_poll_s`` while
    nothing changes (both multiplied by the in-process simulator's time scale); every change of state or count
    is reported to the run's progress.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from imgkit.errors import BudgetExceededError, InvalidParameterError, ProviderError, RunDirectoryError
from imgkit.money import Budget, Reservation
from imgkit.providers import BatchClient, BatchStatus, OpenAIBatchAPI, batch_api_class, batch_endpoint
from imgkit.records.batches import BatchLedger, LedgerBatch
from imgkit.records.journal import RequestLog
from imgkit.records.rundir import RunDirectory
from imgkit.records.schema import OUTCOME_CANCELLED, OUTCOME_OK
from imgkit.runs.spec import BatchSettings, ExperimentSpec, WorkItem

__all__ = ["BatchGroup", "BatchReport", "BatchRun", "group_batches", "line_bytes"]

logger = logging.getLogger(__name__)

#: shortest poll interval (seconds) however small the simulator's time scale
MIN_POLL_S = 0.01
#: after a create whose answer was lost, how many times the batch is looked for before it is created again
FIND_ATTEMPTS = 3
#: create requests per batch (lost answers and retryable refusals) before the run gives up on it
CREATE_ATTEMPTS = 5


# --- grouping ---------------------------------------------------------------------------------------------


def _data_uri_len(image: Any) -> int:
    """Characters of an input image's ``data:`` URL (``data:image/png;base64,`` + base64)."""
    return len(f"data:image/{image.format};base64,") + 4 * ((image.bytes_len + 2) // 3)


def line_bytes(item_id: str, resolved: Any) -> int:
    """Bytes of one item's line in a batch input file (its input images counted, not encoded)."""
    req = resolved.request
    images = [*req.input_images, *([req.mask] if req.mask is not None else [])]
    empty = {image.name: "" for image in images}
    line = batch_api_class(resolved.provider).encode_line(
        item_id, resolved, resolved.body, tuple(req.input_images), req.mask, empty
    )
    return len(line) + sum(_data_uri_len(image) for image in images)


@dataclass
class BatchGroup:
    """Items that go into one batch: same provider, endpoint and model, within the limits."""

    provider: str
    endpoint: str
    model: str
    items: list[WorkItem] = field(default_factory=list)
    bytes: int = 0
    quote_usd: Decimal | None = Decimal(0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "endpoint": self.endpoint,
            "model": self.model,
            "items": len(self.items),
            "bytes": self.bytes,
            "quote_usd": self.quote_usd,
        }


def group_batches(
    plan: Any, items: Iterable[WorkItem], *, max_requests: int, catalog: Any = None
) -> list[BatchGroup]:
    """The batches ``items`` make (module doc): grouped by provider, endpoint and model in spec order, a new
    batch whenever one would pass the provider's request or byte limit or ``max_requests``."""
    open_groups: dict[tuple[str, str, str], BatchGroup] = {}
    done: list[BatchGroup] = []
    for item in items:
        resolved = plan.resolve(item, catalog)
        limits = batch_api_class(resolved.provider).limits
        cap = min(max_requests, limits.max_requests)
        key = (resolved.provider.id, batch_endpoint(resolved), resolved.model.id)
        size = line_bytes(item.item_id, resolved)
        group = open_groups.get(key)
        if group is not None and (len(group.items) >= cap or group.bytes + size > limits.max_bytes):
            done.append(group)
            group = None
        if group is None:
            group = open_groups[key] = BatchGroup(*key)
        group.items.append(item)
        group.bytes += size
        quote = plan.quote_for(item)
        group.quote_usd = None if quote is None or group.quote_usd is None else group.quote_usd + quote
    done.extend(open_groups.values())
    return done


# --- the run's batches ------------------------------------------------------------------------------------------


@dataclass
class BatchReport:
    """What the batched part of a session did (the runner adds it to its summary)."""

    sent: int = 0  # items answered (logged) this session
    ok: int = 0
    failed: int = 0
    cancelled: int = 0
    skipped_budget: int = 0
    created: int = 0  # batches created this session
    reattached: int = 0  # open batches of earlier sessions picked up
    detached: list[dict[str, Any]] = field(default_factory=list)  # batches left running (Ctrl-C)
    failures: dict[str, int] = field(default_factory=dict)
    spent_usd: Decimal = Decimal(0)

    @property
    def detached_items(self) -> int:
        return sum(b["items"] for b in self.detached)


@dataclass
class _Open:
    """A batch this session follows: its ledger entry and its budget hold."""

    entry: LedgerBatch
    hold: Reservation | None
    submitted_at: dt.datetime
    cancel: bool = False
    resumed: bool = False  # begun by an earlier session: some answers may be logged already
    observed_end: dt.datetime | None = None  # when a poll of this session first saw it ended


class BatchRun:
    """The batched items of one session (module doc).

    ``items_by_id`` maps every item id of the spec to its work item (answers name only the id);
    ``progress(event, **fields)`` is told of each batch's steps and states and each item answered;
    ``stopping()`` says that the session is being interrupted (Ctrl-C): no new batch, detach from the rest.
    """

    def __init__(
        self,
        *,
        spec: ExperimentSpec,
        plan: Any,
        catalog: Any,
        images: Any,
        journal: RequestLog,
        ledger: BatchLedger,
        budget: Budget,
        run_id: str,
        run_dir: RunDirectory,
        items_by_id: Mapping[str, WorkItem],
        progress: Callable[..., None],
        stopping: Callable[[], bool],
        time_scale: float = 1.0,
        settings: BatchSettings | None = None,
    ) -> None:
        self.spec, self.plan, self.catalog = spec, plan, catalog
        self.client = BatchClient(images)
        self.journal, self.ledger, self.budget = journal, ledger, budget
        self.run_id, self.run_dir = run_id, run_dir
        self.items_by_id = items_by_id
        self.progress, self.stopping = progress, stopping
        self.settings = settings or spec.batch
        self.poll_s = max(MIN_POLL_S, self.settings.poll_s * time_scale)
        self.max_poll_s = max(self.poll_s, self.settings.max_poll_s * time_scale)
        self.report = BatchReport()
        self._wake = asyncio.Event()
        self._ctx: dict[int, Any] = {}
        #: items no batch had budget room for yet, by the attempt their next batch is (1, or 2: re-batched)
        self._waiting: dict[int, list[WorkItem]] = {1: [], 2: []}
        self._running: set[asyncio.Task] = set()
        self._count = 0

    # --- entry points --------------------------------------------------------------------------------------

    async def run(self, items: Sequence[WorkItem], reattach: Sequence[LedgerBatch] = ()) -> BatchReport:
        """Pick up the open batches of earlier sessions, send ``items`` in new batches, follow every batch to
        its end (or detach on Ctrl-C), and log every answer."""
        self._count = len(self.ledger.batches())
        for entry in reattach:
            self._start(self._resume(entry))
        self._waiting[1] = list(items)
        await self._plan_waiting()
        while self._running:
            await asyncio.wait(set(self._running), return_when=asyncio.FIRST_COMPLETED)
            if any(self._waiting.values()) and not self.stopping():
                await self._plan_waiting()
        if not self.stopping():  # interrupted: the waiting items are simply not sent yet
            self.report.skipped_budget += sum(len(w) for w in self._waiting.values())
        return self.report

    async def cancel(self, entries: Sequence[LedgerBatch]) -> BatchReport:
        """``--cancel-batches``: cancel every open batch (or abandon one never created), then collect what
        each answered before it stopped."""
        self._count = len(self.ledger.batches())
        for entry in entries:
            self._start(self._resume(entry, cancel=True))
        while self._running:
            await asyncio.wait(set(self._running), return_when=asyncio.FIRST_COMPLETED)
        return self.report

    def wake(self) -> None:
        """Stop waiting between polls (Ctrl-C: detach now)."""
        self._wake.set()

    def _start(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    # --- planning -------------------------------------------------------------------------------------------

    async def _plan_waiting(self) -> None:
        """Plan batches of the waiting items that fit the budget; the others keep waiting."""
        for attempt, waiting in list(self._waiting.items()):
            self._waiting[attempt] = []
            await self._plan_items(waiting, attempt=attempt)

    async def _plan_items(self, items: list[WorkItem], *, attempt: int) -> None:
        """Plan batches of ``items`` as far as the budget holds them; the others wait (module doc)."""
        for group in group_batches(
            self.plan, items, max_requests=self.settings.max_requests, catalog=self.catalog
        ):
            if self.stopping():
                self._waiting[attempt].extend(group.items)
                continue
            fits, hold = self._reserve(group.items)
            self._waiting[attempt].extend(group.items[len(fits) :])
            if not fits:
                continue
            if len(fits) < len(group.items):
                self.progress("batch_split", items=len(fits), waiting=len(group.items) - len(fits))
            entry = self._plan(group, fits, attempt)
            self._start(self._submit_and_follow(_Open(entry, hold, dt.datetime.now(dt.UTC))))

    def _reserve(self, items: list[WorkItem]) -> tuple[list[WorkItem], Reservation | None]:
        """The longest prefix of ``items`` whose quotes the budget holds, and its reservation."""
        quotes = [self._quote(i) for i in items]
        total = sum(quotes, Decimal(0))
        try:
            return items, self.budget.reserve(total)
        except BudgetExceededError:
            pass
        room = self.budget.remaining_usd or Decimal(0)
        taken, held = 0, Decimal(0)
        for q in quotes:
            if held + q > room:
                break
            taken, held = taken + 1, held + q
        if not taken:
            return [], None
        try:
            return items[:taken], self.budget.reserve(held)
        except BudgetExceededError:
            return [], None

    def _quote(self, item: WorkItem) -> Decimal:
        quote = self.plan.quote_for(item)
        if quote is None:
            if self.budget.limit_usd is None:
                return Decimal(0)
            raise InvalidParameterError("budget_usd", self.budget.limit_usd, "a target with a batch price")
        return quote

    def _plan(self, group: Any, items: list[WorkItem], attempt: int) -> LedgerBatch:
        self._count += 1
        digest = hashlib.sha256("\n".join(i.item_id for i in items).encode()).hexdigest()[:8]
        key = f"b{self._count:04d}-{digest}"
        quotes = [self.plan.quote_for(i) for i in items]
        filename = f"imgkit-{self.run_id}-{key}.jsonl"
        self.ledger.plan(
            key,
            provider=group.provider,
            model=group.model,
            endpoint=group.endpoint,
            attempt=attempt,
            filename=filename,
            items=[i.item_id for i in items],
            quotes_usd=quotes,
        )
        self.progress("batch_planned", key=key, items=len(items), model=group.model)
        return LedgerBatch(
            key,
            group.provider,
            group.model,
            group.endpoint,
            attempt,
            filename,
            tuple(i.item_id for i in items),
            tuple(quotes),
            dt.datetime.now(dt.UTC),
        )

    # --- the steps of one batch ------------------------------------------------------------------------------

    def _metadata(self, entry: LedgerBatch) -> dict[str, str]:
        return {"imgkit_run": self.run_id, "imgkit_batch": entry.key}

    def _api(self, entry: LedgerBatch) -> OpenAIBatchAPI:
        return self.client.api(self.catalog.provider(entry.provider))

    async def _resume(self, entry: LedgerBatch, cancel: bool = False) -> None:
        """An open batch of an earlier session: hold its quote again, then continue from its last step."""
        self.report.reattached += 1
        logged = self._logged(entry)
        left = [
            q or Decimal(0)
            for item, q in zip(entry.items, entry.quotes_usd, strict=True)
            if item not in logged
        ]
        hold = self.budget.hold_committed(sum(left, Decimal(0)))
        run = _Open(entry, hold, entry.creating_at or entry.planned_at, cancel=cancel, resumed=True)
        if cancel and entry.stage in ("planned", "uploaded"):
            self._abandon(run, "cancelled before it was created (--cancel-batches)")
            return
        await self._submit_and_follow(run)

    async def _submit_and_follow(self, run: _Open) -> None:
        try:
            status = await self._submit(run)
            if status is None:
                return
            if run.cancel and status.live:
                status = await self._cancel(run, status)
            status = await self._follow(run, status)
            if status is None:  # detached
                return
            await self._collect(run, status)
        except ProviderError as exc:
            # a batch whose step failed in a way that leaves it unknown stays open for a resume
            logger.warning("batch %s: %s", run.entry.key, exc)
            self.progress("batch_error", key=run.entry.key, message=str(exc))
            self._detach(run, f"error: {exc}")

    async def _submit(self, run: _Open) -> BatchStatus | None:
        """Upload and create as far as the ledger has not (module doc); the batch's status, or ``None``
        when it was abandoned or Ctrl-C came before it was created."""
        entry, api = run.entry, self._api(run.entry)
        if entry.batch_id is not None:
            return await api.retrieve(entry.batch_id)
        if entry.creating_at is not None:
            found = await api.find(self._metadata(entry), entry.creating_at)
            if found is not None:  # created by the session that wrote `creating`, its answer lost
                self._created(run, found, here=False)
                return found
        if run.cancel:
            self._abandon(run, "never created; dropped by --cancel-batches")
            return None
        if self.stopping():
            self._detach(run, "interrupted before it was created")
            return None
        if entry.file_id is None:
            await self._upload(run, api)
            if self.stopping():
                self._detach(run, "uploaded, not created: interrupted")
                return None
        return await self._create(run, api)

    async def _upload(self, run: _Open, api: OpenAIBatchAPI) -> None:
        entry = run.entry
        path, size = self.write_input(entry)
        try:
            # an earlier session may have uploaded it and died before writing it down
            file_id = await api.find_upload(entry.filename, size) if run.resumed else None
            if file_id is None:
                try:
                    file_id = await api.upload(path, entry.filename)
                except ProviderError as exc:
                    if not exc.may_be_billed:  # the upload certainly did not happen
                        raise
                    file_id = await api.find_upload(entry.filename, size)
                    if file_id is None:
                        file_id = await api.upload(path, entry.filename)
            self.ledger.append("uploaded", entry.key, file_id=file_id, bytes=size)
            entry.file_id, entry.file_bytes = file_id, size
            self.progress("batch_uploaded", key=entry.key, bytes=size)
        finally:
            path.unlink(missing_ok=True)

    def write_input(self, entry: LedgerBatch) -> tuple[Path, int]:
        """The batch's input file, written line by line (constant memory), under the run directory."""
        folder = self.run_dir.batch_inputs_dir
        folder.mkdir(exist_ok=True)
        path = folder / entry.filename
        uris: dict[str, str] = {}
        size = 0
        with path.open("wb") as fh:
            for item_id in entry.items:
                ctx = self._context(self._item(entry, item_id))
                for f in (*ctx.inputs, *([ctx.mask] if ctx.mask is not None else [])):
                    if f.name not in uris:
                        uris[f.name] = f.data_uri()
                line = self.client.line(ctx, uris)
                fh.write(line)
                size += len(line)
        return path, size

    async def _create(self, run: _Open, api: OpenAIBatchAPI) -> BatchStatus | None:
        """Create the batch, announced by ``creating``. An answer lost (the batch may exist) is looked for by
        its metadata before another create; after :data:`CREATE_ATTEMPTS` such tries the error is raised and
        the batch stays open for a resume. A refusal abandons it, its items logged with the error."""
        entry = run.entry
        file_id = entry.file_id
        if file_id is None:  # _submit uploads first
            raise RunDirectoryError(f"batch {entry.key}: no uploaded file to create it on")
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            self.ledger.append("creating", entry.key, file_id=file_id)
            entry.creating_at = dt.datetime.now(dt.UTC)
            try:
                status = await api.create(file_id, entry.endpoint, self._metadata(entry))
            except ProviderError as exc:
                last = attempt == CREATE_ATTEMPTS or self.stopping()
                if exc.may_be_billed:  # the answer was lost: the batch may exist
                    for _ in range(FIND_ATTEMPTS):
                        found = await api.find(self._metadata(entry), entry.creating_at)
                        if found is not None:
                            self._created(run, found)
                            return found
                        await asyncio.sleep(self.poll_s)
                    if last:
                        raise
                    continue
                if not exc.retryable or last:  # certainly not created
                    await self._fail_all(run, exc, "its batch could not be created")
                    return None
                await asyncio.sleep(exc.retry_after_s or self.poll_s)
                continue
            self._created(run, status)
            return status
        raise AssertionError("unreachable")

    def _created(self, run: _Open, status: BatchStatus, *, here: bool = True) -> None:
        """Record the batch's id; ``here``: this session created it (else an earlier one did)."""
        self.ledger.append("created", run.entry.key, batch_id=status.id)
        run.entry.batch_id = status.id
        run.entry.created_at = dt.datetime.now(dt.UTC)
        if run.entry.creating_at is not None:
            run.submitted_at = run.entry.creating_at
        self.report.created += here
        self.progress("batch_created", key=run.entry.key, batch_id=status.id, items=len(run.entry.items))

    async def _cancel(self, run: _Open, status: BatchStatus) -> BatchStatus:
        self.ledger.append("cancel", run.entry.key)
        try:
            status = await self._api(run.entry).cancel(status.id)
        except ProviderError as exc:  # it ended meanwhile: a 400 naming its status
            logger.info("batch %s: cancel refused: %s", run.entry.key, exc)
            status = await self._api(run.entry).retrieve(status.id)
        self.progress("batch_cancel", key=run.entry.key, batch_id=status.id, state=status.state)
        return status

    async def _follow(self, run: _Open, status: BatchStatus) -> BatchStatus | None:
        """Poll until the batch ends (the wait doubling while nothing changes); ``None``: detached."""
        api, wait = self._api(run.entry), self.poll_s
        seen = None
        while not status.ended:
            shown = (status.state, status.completed, status.failed)
            if shown != seen:
                seen, wait = shown, self.poll_s
                self._report_status(run, status)
            if self.stopping() and not run.cancel:
                self._detach(run, status.state)
                return None
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            except TimeoutError:
                pass
            wait = min(wait * 2, self.max_poll_s)
            status = await api.retrieve(status.id)
            if status.ended:
                run.observed_end = dt.datetime.now(dt.UTC)
        self._report_status(run, status)
        return status

    def _report_status(self, run: _Open, status: BatchStatus) -> None:
        self.progress(
            "batch_status",
            key=run.entry.key,
            batch_id=status.id,
            state=status.state,
            done=status.completed + status.failed,
            failed=status.failed,
            total=status.total or len(run.entry.items),
        )

    def _detach(self, run: _Open, state: str) -> None:
        """Leave a batch (it stays open in the ledger, for a resume): a created one runs on and its quote
        stays counted as spent; one not created (or maybe created: its create request unanswered) costs
        nothing yet unless it was, so its quote counts too."""
        if run.hold is not None:
            if run.entry.batch_id is None and run.entry.creating_at is None:
                self.budget.release(run.hold)
            else:
                self.budget.settle(run.hold, None)
            run.hold = None
        self.report.detached.append(
            {
                "key": run.entry.key,
                "batch_id": run.entry.batch_id,
                "state": state,
                "items": len(run.entry.items),
                "quote_usd": run.entry.quote_usd,
            }
        )

    def _abandon(self, run: _Open, reason: str) -> None:
        self.ledger.append("abandoned", run.entry.key, reason=reason)
        if run.hold is not None:
            self.budget.release(run.hold)
            run.hold = None
        self.progress("batch_abandoned", key=run.entry.key, reason=reason)

    # --- answers ---------------------------------------------------------------------------------------------

    def _item(self, entry: LedgerBatch, item_id: str) -> WorkItem:
        item = self.items_by_id.get(item_id)
        if item is None:
            raise RunDirectoryError(
                f"batch {entry.key} ({entry.batch_id or 'not created'}) holds item {item_id}, which the spec "
                "no longer has: resume with the spec as run (RUN_DIR/spec.yaml)"
            )
        return item

    def _context(self, item: WorkItem) -> Any:
        """The client's request context of ``item``: made once per resolved request, then per item only its
        id and labels change."""
        resolved = self.plan.resolve(item, self.catalog)
        base = self._ctx.get(id(resolved))
        if base is None or base.resolved is not resolved:
            base = self._ctx[id(resolved)] = self.client.prepare(
                resolved, item_id=item.item_id, run_id=self.run_id, labels={}
            )
        labels = {"prompt_id": item.prompt.id, "target": item.target.label, "repeat": item.repeat}
        if item.prompt.category is not None:
            labels["category"] = item.prompt.category
        return dataclasses.replace(base, item_id=item.item_id, labels=labels)

    def _logged(self, entry: LedgerBatch) -> set[str]:
        """Items of ``entry`` whose answer an earlier session logged (records carrying its batch id)."""
        if entry.batch_id is None or not self.journal.path.exists():
            return set()
        import polars as pl

        frame = self.journal.scan().filter(pl.col("batch_id") == entry.batch_id).select("item_id").collect()
        return set(frame["item_id"].to_list())

    async def _collect(self, run: _Open, status: BatchStatus) -> None:
        """Log one attempt per item of an ended batch, settle its hold, and re-batch what expired."""
        entry = run.entry
        self.ledger.append(
            "ended",
            entry.key,
            batch_id=status.id,
            state=status.state,
            ended_at=status.ended_at.isoformat() if status.ended_at else None,
            output_file_id=status.output_file_id,
            error_file_id=status.error_file_id,
        )
        started_at = run.submitted_at
        ended_at = _result_time(started_at, run.observed_end or dt.datetime.now(dt.UTC), status.ended_at)
        when: dict[str, Any] = {
            "batch_id": status.id,
            "attempt": entry.attempt,
            "started_at": started_at,
            "ended_at": ended_at,
        }
        logged = self._logged(entry) if run.resumed else set()
        wanted = set(entry.items)
        quotes = dict(zip(entry.items, entry.quotes_usd, strict=True))
        spent = Decimal(0)
        again: list[WorkItem] = []
        rebatch = (
            self.settings.on_expired == "rebatch"
            and entry.attempt == 1
            and not run.cancel
            and not entry.cancel_requested
        )
        if status.state == "failed":
            error = BatchClient.validation_error(status, entry.provider)
            answers: Any = _failed_answers(entry.items, error)
        else:
            answers = self._api(entry).answers(status)
        async for answer, headers in answers:
            item_id = answer.custom_id
            if item_id not in wanted or item_id in logged:
                continue
            logged.add(item_id)
            item = self._item(entry, item_id)
            ctx, quoted = self._context(item), quotes[item_id]
            if isinstance(answer, _FailedAnswer):
                outcome = self.client.error_outcome(ctx, answer.error, **when, quoted=quoted)
            else:
                outcome = await self.client.outcome(ctx, answer, **when, quoted=quoted, headers=headers)
            record = outcome.record
            retry = rebatch and record["outcome"] in ("expired", OUTCOME_CANCELLED)
            if retry:
                record["final"] = False
                again.append(item)
            await self.journal.append_async(record)
            spent += outcome.cost.total_usd if outcome.cost.total_usd is not None else (quotes[item_id] or 0)
            if not retry:
                self._count_item(record["outcome"])
        missing = wanted - logged
        if missing:
            error = ProviderError(
                f"batch {status.id} ({status.state}) names no answer for this request",
                provider=entry.provider,
            )
            for item_id in sorted(missing):
                outcome = self.client.error_outcome(
                    self._context(self._item(entry, item_id)),
                    error,
                    **when,
                    quoted=quotes[item_id],
                    billed_unknown=status.state != "failed",
                )
                await self.journal.append_async(outcome.record)
                spent += quotes[item_id] or 0
                self._count_item(outcome.record["outcome"])
        if run.hold is not None:
            self.budget.settle(run.hold, spent)
            run.hold = None
        self.report.spent_usd += spent
        self.ledger.append("collected", entry.key)
        self.progress("batch_collected", key=entry.key, batch_id=status.id, state=status.state)
        if again:
            self.progress("batch_rebatch", key=entry.key, items=len(again))
            await self._plan_items(again, attempt=entry.attempt + 1)

    async def _fail_all(self, run: _Open, error: ProviderError, why: str) -> None:
        """Log every item of a batch that will never exist with ``error`` (nothing billed), and abandon it."""
        now = dt.datetime.now(dt.UTC)
        quotes = dict(zip(run.entry.items, run.entry.quotes_usd, strict=True))
        for item_id in run.entry.items:
            item = self._item(run.entry, item_id)
            outcome = self.client.error_outcome(
                self._context(item),
                error,
                batch_id=None,
                attempt=run.entry.attempt,
                started_at=run.submitted_at,
                ended_at=now,
                quoted=quotes[item_id],
            )
            await self.journal.append_async(outcome.record)
            self._count_item(outcome.record["outcome"])
        self._abandon(run, f"{why}: {error}")

    def _count_item(self, outcome: str) -> None:
        report = self.report
        report.sent += 1
        if outcome == OUTCOME_OK:
            report.ok += 1
        elif outcome == OUTCOME_CANCELLED:
            report.cancelled += 1
        else:
            report.failed += 1
            report.failures[outcome] = report.failures.get(outcome, 0) + 1
        self.progress("item", ok=outcome == OUTCOME_OK)


def _result_time(
    started: dt.datetime, observed: dt.datetime, provider_end: dt.datetime | None
) -> dt.datetime:
    """When a batch's result was available: the provider's end time (whole seconds: the middle of its
    second), never after this session saw it ended nor before it was submitted; without one, when this
    session saw it."""
    estimate = observed if provider_end is None else provider_end + dt.timedelta(seconds=0.5)
    return max(started, min(estimate, observed))


@dataclass(frozen=True)
class _FailedAnswer:
    """An item of a batch that failed validation: every request gets the batch's error."""

    custom_id: str
    error: ProviderError


async def _failed_answers(items: Iterable[str], error: ProviderError) -> AsyncIterator[Any]:
    for item_id in items:
        yield _FailedAnswer(item_id, error), {}
