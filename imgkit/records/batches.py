"""The batch ledger ``batches.jsonl``: what a run sent through Batch APIs, written before and after each step.

Why a ledger beside the journal, not records in it: the journal (``log.jsonl``) holds one record per attempt
in one schema that every reader of logs shares (performance, recosting, Parquet exports, other tools'
importers); a batch is not an attempt, carries the list of up to 50,000 items it holds, and moves through
steps no attempt has (planned, uploaded, created, ended, collected). The journal still gets one attempt
record per item once its answer is in (with ``batch_id``), so every reader of attempts sees batched
requests like any other. The ledger is the batch's own announcement, as a ``sent`` record is an attempt's.

One JSON object per line, appended with one ``write(2)`` on an ``O_APPEND`` file and ``fsync``'d before the
step it announces is taken (a handful of records per batch: durability costs nothing here). A line torn by a
kill (no newline, not JSON) was never acknowledged: the reader ignores it and the next append cuts it. The
run's lock (the journal's) guards the file: one process writes a run directory at a time.

Records (``"v": 1``, ``"kind"``, ``"key"``: the batch's key, unique in the run, ``"at"``: UTC ISO time):

==============  ================================================================================================
``planned``     ``provider``, ``model``, ``endpoint``, ``attempt`` (1, or 2 when expired items go again),
                ``filename`` (the upload's name), ``items`` (item ids) and ``quotes_usd`` (each item's quote at
                the batch price, reserved in the budget): written before the input file is uploaded
``uploaded``    ``file_id``, ``bytes``: the input file is at the provider
``creating``    ``file_id``: the create request is about to leave (a batch may exist after this line)
``created``     ``batch_id``: the provider's id of the batch
``cancel``      cancellation was asked for (``imgkit run --cancel-batches``)
``ended``       ``batch_id``, ``state`` (completed, failed, expired, cancelled), ``ended_at``, result file ids
``collected``   every answer of the batch is in the journal
``abandoned``   ``reason``: the batch was never created (and never will be): nothing of it can be billed
==============  ================================================================================================

A batch is *open* until it is collected or abandoned: a resumed run reattaches to it (finds its upload or the
batch it created when the ledger stops before ``uploaded`` or ``created``) and never sends its items again.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from imgkit.errors import SpecError

__all__ = ["LEDGER_NAME", "BatchLedger", "LedgerBatch"]

LEDGER_NAME = "batches.jsonl"
LEDGER_VERSION = 1
KINDS = ("planned", "uploaded", "creating", "created", "cancel", "ended", "collected", "abandoned")


@dataclass
class LedgerBatch:
    """One batch as the ledger tells it (module doc); the fields of the records written so far."""

    key: str
    provider: str
    model: str
    endpoint: str
    attempt: int
    filename: str
    items: tuple[str, ...]
    quotes_usd: tuple[Decimal | None, ...]
    planned_at: dt.datetime
    file_id: str | None = None
    file_bytes: int | None = None
    creating_at: dt.datetime | None = None
    batch_id: str | None = None
    created_at: dt.datetime | None = None
    cancel_requested: bool = False
    state: str | None = None  # the state it ended in
    ended_at: dt.datetime | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    collected: bool = False
    abandoned: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def open(self) -> bool:
        """Not yet collected or abandoned: it may run, bill, or hold answers not yet logged."""
        return not self.collected and self.abandoned is None

    @property
    def stage(self) -> str:
        """How far it got: planned, uploaded, creating, created, ended (then collected or abandoned)."""
        if self.state is not None:
            return "ended"
        if self.batch_id is not None:
            return "created"
        if self.creating_at is not None:
            return "creating"
        return "uploaded" if self.file_id is not None else "planned"

    @property
    def quote_usd(self) -> Decimal | None:
        """The batch's quote: its items' quotes summed (``None``: one of them has no price)."""
        if any(q is None for q in self.quotes_usd):
            return None
        return sum((q for q in self.quotes_usd if q is not None), Decimal(0))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _time(value: Any) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else None


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


class BatchLedger:
    """The run directory's ``batches.jsonl`` (module doc): :meth:`append` a step, :meth:`batches` to read."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def __repr__(self) -> str:
        return f"BatchLedger({str(self.path)!r})"

    # --- writing ------------------------------------------------------------------------------------------

    def _open(self) -> int:
        if self._fd is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            end = _complete_end(fd)
            if end < os.fstat(fd).st_size:  # a torn last line (never acknowledged): cut it
                os.ftruncate(fd, end)
                os.fsync(fd)
            self._fd = fd
        return self._fd

    def append(self, kind: str, key: str, **fields: Any) -> None:
        """Write one record with one ``write(2)`` and ``fsync`` it (returns once it is on disk)."""
        if kind not in KINDS:
            raise ValueError(f"unknown ledger record kind {kind!r}")
        record = {"v": LEDGER_VERSION, "kind": kind, "key": key, "at": _now(), **fields}
        line = json.dumps(record, default=_json_default, separators=(",", ":"), ensure_ascii=False) + "\n"
        fd = self._open()
        os.write(fd, line.encode())
        os.fsync(fd)

    def plan(
        self,
        key: str,
        *,
        provider: str,
        model: str,
        endpoint: str,
        attempt: int,
        filename: str,
        items: Sequence[str],
        quotes_usd: Sequence[Decimal | None],
    ) -> None:
        """The ``planned`` record: a batch's items and quotes, before anything of it leaves."""
        self.append(
            "planned",
            key,
            provider=provider,
            model=model,
            endpoint=endpoint,
            attempt=attempt,
            filename=filename,
            items=list(items),
            quotes_usd=[None if q is None else format(q, "f") for q in quotes_usd],
        )

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> BatchLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading ------------------------------------------------------------------------------------------

    def records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """Every complete record with its line number, in order (a torn last line is left out); a damaged
        line is a :class:`~imgkit.errors.SpecError` naming it."""
        if not self.path.is_file():
            return
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        tail = data[end:]
        if tail.strip():
            try:  # a last line without its newline is complete when it is JSON
                json.loads(tail)
                end = len(data)
            except ValueError:
                pass
        for number, raw in enumerate(data[:end].splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                raise SpecError(
                    str(self.path), f"line {number}", "not JSON; the batch ledger is damaged"
                ) from None
            if not isinstance(record, dict) or record.get("kind") not in KINDS or not record.get("key"):
                raise SpecError(str(self.path), f"line {number}", "not a batch ledger record")
            if record.get("v", 1) > LEDGER_VERSION:
                raise SpecError(
                    str(self.path),
                    f"line {number}",
                    f"ledger version {record.get('v')} is newer than this imgkit reads ({LEDGER_VERSION})",
                )
            yield number, record

    def batches(self) -> dict[str, LedgerBatch]:
        """Every batch of the run by key, in the order they were planned, with every step recorded."""
        out: dict[str, LedgerBatch] = {}
        for number, rec in self.records():
            key, kind = rec["key"], rec["kind"]
            if kind == "planned":
                out[key] = LedgerBatch(
                    key=key,
                    provider=rec["provider"],
                    model=rec["model"],
                    endpoint=rec["endpoint"],
                    attempt=int(rec.get("attempt") or 1),
                    filename=rec["filename"],
                    items=tuple(rec["items"]),
                    quotes_usd=tuple(_money(q) for q in rec["quotes_usd"]),
                    planned_at=_time(rec["at"]) or dt.datetime.now(dt.UTC),
                )
                continue
            batch = out.get(key)
            if batch is None:
                raise SpecError(
                    str(self.path), f"line {number}", f"{kind} of batch {key!r}, which was never planned"
                )
            if kind == "uploaded":
                batch.file_id, batch.file_bytes = rec["file_id"], rec.get("bytes")
            elif kind == "creating":
                batch.file_id, batch.creating_at = rec["file_id"], _time(rec["at"])
            elif kind == "created":
                batch.batch_id, batch.created_at = rec["batch_id"], _time(rec["at"])
            elif kind == "cancel":
                batch.cancel_requested = True
            elif kind == "ended":
                batch.batch_id = rec.get("batch_id") or batch.batch_id
                batch.state, batch.ended_at = rec["state"], _time(rec.get("ended_at"))
                batch.output_file_id, batch.error_file_id = (
                    rec.get("output_file_id"),
                    rec.get("error_file_id"),
                )
            elif kind == "collected":
                batch.collected = True
            elif kind == "abandoned":
                batch.abandoned = str(rec.get("reason") or "abandoned")
        return out

    def open_batches(self) -> list[LedgerBatch]:
        """The batches not yet collected or abandoned (module doc)."""
        return [b for b in self.batches().values() if b.open]

    def items_in(self, batches: Mapping[str, LedgerBatch] | None = None) -> dict[str, str]:
        """Item id -> key of the open batch that holds it."""
        found = self.batches() if batches is None else batches
        return {item: b.key for b in found.values() if b.open for item in b.items}


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} in the batch ledger")


def _complete_end(fd: int) -> int:
    """Where the file's complete records end (a last line without a newline that is JSON is complete)."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    data = os.pread(fd, size, 0)
    start = data.rfind(b"\n") + 1
    try:
        json.loads(data[start:])
    except ValueError:
        return start
    os.write(fd, b"\n")  # complete JSON, only its newline is missing
    return size + 1
