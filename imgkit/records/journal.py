"""imgkit's request journal ``log.jsonl``: append-only JSON Lines, one record per attempt
(:mod:`imgkit.records.schema`); the one writer and the one checked reader of the file.

**Durability.** The client logs an attempt before it starts the next one, and :meth:`RequestLog.append` (and
:meth:`RequestLog.append_async`) return only once the line is safe, in one of two ways (``commit=``):

* ``"write"`` (default): the line has been handed to the operating system with one ``write(2)`` on an
  ``O_APPEND`` file, so a process killed at any moment (``kill -9``, a crash, Ctrl-C) leaves every completed
  (paid) attempt in the file; a background thread calls ``fsync`` at most ``fsync_interval_s`` (0.1 s) later, so a
  power loss or kernel panic can lose the last tenth of a second. Costs microseconds per record.
* ``"fsync"``: the line is ``fsync``'d before the call returns (power-loss safe). Lines from concurrent threads
  and asyncio tasks are committed in groups by one writer thread (one ``fsync`` per group, not per line);
  about a millisecond per sequential record on a local SSD.

Each line is written whole. A torn last line left by a kill is skipped by the reader and cut off before the
next append. One process writes a journal at a time (an advisory ``flock``, taken by the first append or by
:meth:`RequestLog.open`; a second writer gets :class:`~imgkit.errors.JournalBusyError`).

**Sent records.** :class:`~imgkit.providers.ImageClient` writes a ``sent`` record (outcome ``"sent"``, with the
quote reserved) before each request leaves, so a journal left by ``kill -9`` says which requests were in
flight and may have been billed (:mod:`imgkit.records.schema`). They are not attempts: :meth:`scan` leaves them
out unless asked (``include_sent=True``).

**Validation.** Only canonical columns are accepted, each with its type; money is exact (``Decimal``, written
as a decimal string); times are timezone-aware (written as UTC ISO 8601). Every string goes through
:func:`imgkit.keys.scrub`: no key, auth header, signed-URL query string or inline image reaches the file.

**Versions.** Every line starts with the record's schema version (``"v": 2``; none: version 1). The reader
upgrades older records as it reads them (:mod:`imgkit.records.migrations`), so a journal an older imgkit began
and this one continued reads as one; a record of a newer version is refused with its line.

**Reading.** :meth:`scan` is a lazy frame in the canonical dtypes (attempts only); :meth:`finished_items` is
what a resumed run skips; :meth:`to_parquet` writes the analysis format.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fcntl
import json
import math
import mmap
import os
import queue
import re
import threading
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import polars as pl

from imgkit.errors import (
    ImgkitError,
    InvalidParameterError,
    JournalBusyError,
    SpecError,
    UnknownNameError,
    provider_error_classes,
)
from imgkit.keys import scrub_all
from imgkit.money import MONEY, MONEY_LIMIT, MONEY_SCALE
from imgkit.records.migrations import SUPPORTED_VERSIONS, upgrade
from imgkit.records.parquet import export_parquet
from imgkit.records.schema import (
    ALLOWED_VALUES,
    LOG_SCHEMA,
    OUTCOME_CANCELLED,
    OUTCOME_OK,
    OUTCOME_SENT,
    SCHEMA_VERSION,
    TS,
    VERSION_FIELD,
)

__all__ = [
    "JOURNAL_NAME",
    "OUTCOMES",
    "RequestLog",
    "call_item_id",
    "encode_record",
    "mark_unanswered",
    "parent_item_id",
    "scan_journal",
]

JOURNAL_NAME = "log.jsonl"
#: "ok", "cancelled", the error classes of :mod:`imgkit.errors` (``ProviderError.error_class``), and "sent"
OUTCOMES = frozenset({OUTCOME_OK, OUTCOME_CANCELLED, OUTCOME_SENT}) | provider_error_classes()
REQUIRED = ("run_id", "item_id", "attempt", "outcome")
_JSON_COLUMNS = ("requested_params", "resolved_params", "images")
_CALL_SUFFIX = "#call"


def call_item_id(item_id: str, index: int, calls: int) -> str:
    """The item id of one provider call when a request is split into ``calls`` calls (``n`` emulation)."""
    return item_id if calls == 1 else f"{item_id}{_CALL_SUFFIX}{index + 1}of{calls}"


def parent_item_id(item_id: str) -> str:
    """The request's item id from one of its call ids (itself when it is not a call id)."""
    head, sep, tail = item_id.rpartition(_CALL_SUFFIX)
    k, of_, n = tail.partition("of")
    return head if sep and of_ and k.isdigit() and n.isdigit() else item_id


# --- encoding -----------------------------------------------------------------------------------------------


def _bad(name: str, value: Any, allowed: str) -> InvalidParameterError:
    shown = value if isinstance(value, (int, float, bool)) or value is None else type(value).__name__
    return InvalidParameterError(f"record.{name}", shown, allowed)


def _text(name: str, value: Any) -> str:
    """A string column's text, not yet scrubbed (:func:`encode_record` scrubs a record's texts at once)."""
    if name in _JSON_COLUMNS and not isinstance(value, str):
        value = json.dumps(value, default=_json_default, separators=(",", ":"), ensure_ascii=False)
    if not isinstance(value, str):
        raise _bad(name, value, "a string")
    return value


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(name, value, "an integer")
    return value


def _float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _bad(name, value, "a finite number")
    return float(value)


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _bad(name, value, "true or false")
    return value


def _time(name: str, value: Any) -> str:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise _bad(name, value, "a timezone-aware datetime")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _money(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        raise _bad(name, value, "an exact amount (Decimal, int or decimal string), never a float")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise _bad(name, value, "a decimal amount") from None
    exponent = amount.as_tuple().exponent  # an int for a finite amount ("n", "N", "F" otherwise)
    if (
        not amount.is_finite()
        or abs(amount) >= MONEY_LIMIT
        or (isinstance(exponent, int) and exponent < -MONEY_SCALE)
    ):
        raise InvalidParameterError(
            f"record.{name}", str(amount), f"a finite amount with at most {MONEY_SCALE} decimal places"
        )
    return str(amount)


def _encoder(dtype: Any):
    if dtype == MONEY:
        return _money
    if dtype == TS:
        return _time
    if dtype in (pl.Int32, pl.Int64):
        return _int
    if dtype == pl.Float64:
        return _float
    if dtype == pl.Boolean:
        return _bool
    return _text


_ENCODERS = {name: _encoder(dtype) for name, dtype in LOG_SCHEMA.items()}


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "as_dict"):
        return value.as_dict()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_record(record: Mapping[str, Any]) -> bytes:
    """One journal line (with its newline) for ``record``; refuses unknown columns and wrong types."""
    unknown = [k for k in record if k not in _ENCODERS]
    if unknown:
        raise UnknownNameError("record column", unknown[0], list(LOG_SCHEMA))
    for name in REQUIRED:
        if record.get(name) is None:
            raise InvalidParameterError(f"record.{name}", None, "a value (required)")
    if record["outcome"] not in OUTCOMES:
        raise InvalidParameterError("record.outcome", record["outcome"], sorted(OUTCOMES))
    # the version first, then every column in the canonical order; absent ones stay null
    out: dict[str, Any] = {VERSION_FIELD: SCHEMA_VERSION, **dict.fromkeys(_ENCODERS)}
    texts = []
    for name, value in record.items():  # only the columns given (a sent record has half of them)
        if value is None:
            continue
        encode = _ENCODERS[name]
        out[name] = encoded = encode(name, value)
        # nothing shorter than 6 characters can hold a key (scrub's shortest), a signed URL or a data: URI
        if encode is _text and len(encoded) >= 6:
            texts.append(name)
    for name, clean in zip(texts, scrub_all([out[n] for n in texts]), strict=True):
        out[name] = clean
    return (json.dumps(out, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


# --- the journal ------------------------------------------------------------------------------------------------


class _Waiter:
    """Signals one appender when its line is durable (a thread, or an asyncio future on its loop)."""

    __slots__ = ("error", "event", "future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop
        self.future: asyncio.Future | None = loop.create_future() if loop else None
        self.event = None if loop else threading.Event()
        self.error: BaseException | None = None

    def done(self, error: BaseException | None) -> None:
        self.error = error
        if self.loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self.loop.call_soon_threadsafe(self._resolve)
        elif self.event is not None:
            self.event.set()

    def _resolve(self) -> None:
        if self.future is not None and not self.future.done():
            self.future.set_result(None)


_STOP = object()


class RequestLog:
    """The append-only journal at ``path`` (a ``.jsonl`` file, or a directory holding ``log.jsonl``)."""

    def __init__(
        self,
        path: str | Path,
        *,
        fsync: bool = True,
        commit: Literal["write", "fsync"] = "write",
        fsync_interval_s: float = 0.1,
    ) -> None:
        if commit not in ("write", "fsync"):
            raise InvalidParameterError("commit", commit, ["write", "fsync"])
        path = Path(path)
        self.path = path / JOURNAL_NAME if path.is_dir() or not path.suffix else path
        self.fsync = fsync
        self.commit = commit
        self.fsync_interval_s = fsync_interval_s
        self._fd: int | None = None
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._open_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._dirty = threading.Event()
        self._stopping = False

    def __repr__(self) -> str:
        return f"RequestLog({str(self.path)!r})"

    # writing

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one attempt record and return once it is on disk (thread-safe)."""
        line = encode_record(record)
        self._ensure_open()
        if self.commit == "write":
            self._write_now(line)
            return
        waiter = _Waiter()
        assert waiter.event is not None  # a waiter without a loop is a thread's
        self._queue.put((line, waiter))
        waiter.event.wait()
        if waiter.error is not None:
            raise waiter.error

    async def append_async(self, record: Mapping[str, Any]) -> None:
        """:meth:`append` for asyncio code: the event loop keeps running while the line is committed."""
        line = encode_record(record)
        self._ensure_open()
        if self.commit == "write":
            self._write_now(line)  # one write(2) of a few kB: cheaper than a hop to another thread
            return
        waiter = _Waiter(asyncio.get_running_loop())
        assert waiter.future is not None  # a waiter with a loop has a future on it
        self._queue.put((line, waiter))
        await waiter.future
        if waiter.error is not None:
            raise waiter.error

    def open(self) -> RequestLog:
        """Take the write lock now (creating the file), before anything is sent; returns self.

        Raises :class:`~imgkit.errors.JournalBusyError` when another process holds it. Appending opens it too.
        """
        self._ensure_open()
        return self

    def _ensure_open(self) -> None:
        if self._fd is not None:
            return
        with self._open_lock:
            if self._fd is not None:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            created = not self.path.exists()
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise JournalBusyError(self.path) from None
            try:
                _cut_torn_tail(fd)
                if created and self.fsync:
                    _fsync_dir(self.path.parent)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            self._stopping = False
            loop = self._write_loop if self.commit == "fsync" else self._fsync_loop
            self._writer = threading.Thread(target=loop, name="imgkit-request-log", daemon=True)
            self._writer.start()

    def _write_now(self, line: bytes) -> None:
        """``commit="write"``: the whole line to the OS now; the background thread fsyncs it soon."""
        try:
            with self._write_lock:
                fd = self._fd
                assert fd is not None  # _ensure_open() ran
                data = memoryview(line)
                while data:
                    data = data[os.write(fd, data) :]
        except OSError as exc:
            raise ImgkitError(f"request log {self.path}: write failed: {exc.strerror}") from None
        if self.fsync:
            self._dirty.set()

    def _fsync_loop(self) -> None:
        """``commit="write"``: fsync whatever was written, at most every ``fsync_interval_s``."""
        while True:
            self._dirty.wait()
            self._dirty.clear()
            stop = self._stopping  # read after clear(): a close() racing with us has set both, in that order
            fd = self._fd
            with contextlib.suppress(OSError):
                if fd is not None:
                    os.fsync(fd)
            if stop:
                return
            time.sleep(self.fsync_interval_s)

    def _write_loop(self) -> None:
        stop = False
        while not stop:
            batch = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while len(batch) < 4096:
                    batch.append(self._queue.get_nowait())
            stop = any(item is _STOP for item in batch)
            entries = [item for item in batch if item is not _STOP]
            if not entries:
                continue
            error: BaseException | None = None
            fd = self._fd
            assert fd is not None  # the writer thread runs while the log is open
            try:
                data = memoryview(b"".join(line for line, _ in entries))
                while data:
                    data = data[os.write(fd, data) :]
                if self.fsync:
                    os.fsync(fd)
            except OSError as exc:
                error = ImgkitError(f"request log {self.path}: write failed: {exc.strerror}")
            for _, waiter in entries:
                waiter.done(error)

    def close(self) -> None:
        """Finish pending writes and release the file (appending again reopens it)."""
        with self._open_lock:
            if self._fd is None:
                return
            if self.commit == "fsync":
                self._queue.put(_STOP)
            else:
                self._stopping = True
                self._dirty.set()
            if self._writer is not None:
                self._writer.join()
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd, self._writer = None, None

    def __enter__(self) -> RequestLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # reading

    def scan(self, *, include_sent: bool = False) -> pl.LazyFrame:
        """The journal as a lazy frame in the canonical dtypes (:func:`scan_journal`; none yet: no rows): one
        row per attempt, and the ``sent`` records too with ``include_sent``."""
        if not self.path.exists():
            return pl.LazyFrame(schema=LOG_SCHEMA)
        return scan_journal(self.path, include_sent=include_sent)

    def finished_items(self) -> set[str]:
        """Item ids whose last final attempt succeeded; a request split into calls needs every call done.

        A resumed run skips these and so never pays twice for a finished item.
        """
        finals = (
            self.scan()
            .with_row_index("_line")
            .filter(pl.col("final"))
            .group_by("item_id")
            .agg(pl.col("outcome").sort_by("_line").last())
            .collect()
        )
        calls: dict[str, dict[str, bool]] = {}
        expected: dict[str, int] = {}
        for item_id, outcome in finals.iter_rows():
            parent = parent_item_id(item_id)
            calls.setdefault(parent, {})[item_id] = outcome == OUTCOME_OK
            tail = item_id[len(parent) :]
            expected[parent] = int(tail.rpartition("of")[2]) if tail else 1
        return {p for p, done in calls.items() if len(done) == expected[p] and all(done.values())}

    def unanswered_sent(self) -> pl.LazyFrame:
        """The ``sent`` records that no outcome followed (:func:`mark_unanswered`): requests in flight when
        a process writing this journal died; each may have been billed up to its ``estimated_cost_usd``."""
        return mark_unanswered(self.scan(include_sent=True)).filter(pl.col("unanswered")).drop("unanswered")

    def to_parquet(self, out_dir: str | Path, partition_by: Sequence[str] = ("provider", "date")) -> Path:
        """Write the log as hive-partitioned Parquet (readable by :func:`imgkit.records.scan.scan_log`,
        Spark and DuckDB); returns ``out_dir``."""
        return export_parquet(self.scan(), out_dir, partition_by)


def mark_unanswered(lf: pl.LazyFrame) -> pl.LazyFrame:
    """``lf`` (a journal read with its ``sent`` records, in line order) with a boolean ``unanswered`` column:
    true on a ``sent`` record that no outcome record of the same attempt follows (the next record of its
    ``item_id`` is another ``sent`` record, another attempt, or none): a request that was in flight when
    its process died, possibly billed."""
    following = pl.col("outcome").shift(-1).over("item_id")
    next_attempt = pl.col("attempt").shift(-1).over("item_id")
    answered = (
        following.ne_missing(OUTCOME_SENT) & following.is_not_null() & next_attempt.eq(pl.col("attempt"))
    )
    return lf.with_columns(unanswered=(pl.col("outcome") == OUTCOME_SENT) & ~answered.fill_null(False))


def _cut_torn_tail(fd: int) -> None:
    """Cut a last line left unfinished by a killed writer (it was never acknowledged); keep complete JSON."""
    size = os.fstat(fd).st_size
    end = _complete_end(fd, size)
    if end == size:
        return
    if end is None:  # complete JSON, only its newline is missing
        os.write(fd, b"\n")
    else:
        os.ftruncate(fd, end)
    os.fsync(fd)


def _complete_end(fd: int, size: int) -> int | None:
    """Where the journal's complete lines end: ``size`` when it ends with a newline, the start of a torn last
    line (no newline, not JSON: a write cut short by a kill), or ``None`` for a last line that is complete JSON
    without its newline."""
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    start, block = size, 65_536
    while start > 0:
        lo = max(0, start - block)
        cut = os.pread(fd, start - lo, lo).rfind(b"\n")
        if cut >= 0:
            start = lo + cut + 1
            break
        start = lo
    try:
        json.loads(os.pread(fd, size - start, start))
    except ValueError:
        return start
    return None


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


# --- reading ----------------------------------------------------------------------------------------------------

#: the journal as stored: each record's version, money as decimal strings and times as ISO 8601 text, converted
#: once checked (polars converts a time column several times faster from text than while it reads the JSON)
_MONEY_COLUMNS = tuple(name for name, dtype in LOG_SCHEMA.items() if dtype == MONEY)
_TIME_COLUMNS = tuple(name for name, dtype in LOG_SCHEMA.items() if dtype == TS)
_STORED_SCHEMA = {
    VERSION_FIELD: pl.Int64,
    **{name: (pl.String if dtype in (MONEY, TS) else dtype) for name, dtype in LOG_SCHEMA.items()},
}
#: a record's version: what it says, 1 when it says nothing (records carried no version before 2)
_VERSION = pl.col(VERSION_FIELD).fill_null(1)
#: a decimal amount as the writer writes it (``str(Decimal)``: ``0.04``, ``1E-7``)
_DECIMAL_TEXT = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"
#: a money key followed by anything but a string or null: a JSON number (a binary float to any reader)
_MONEY_NOT_TEXT = re.compile(rb'_cost_usd"[ \t]*:[ \t]*[^" \t\r\nn]')
#: RFC 3339 / ISO 8601 with an offset (``Z`` or ``+02:00``), fractional seconds optional
_ISO_TIME = "%+"
_READ_ERRORS = (pl.exceptions.ComputeError, pl.exceptions.SchemaError, pl.exceptions.InvalidOperationError)


def scan_journal(path: str | Path, *, include_sent: bool = False) -> pl.LazyFrame:
    """imgkit's journal (``log.jsonl``) as a lazy frame in the canonical dtypes, checked first: one row per
    attempt, and the ``sent`` records too with ``include_sent`` (checked either way: they are journal lines).

    A torn last line (no newline, not JSON: a writer killed mid-line) is left out, as the next append cuts it.
    Every other line must be one JSON object in the schema: values of the column types, times in ISO 8601
    with their offset, money as decimal strings with at most ``MONEY_SCALE`` places (a JSON number is
    refused: it may already be a rounded binary float), ``run_id``, ``item_id``, ``attempt`` and
    ``outcome`` present, the outcome one of :data:`OUTCOMES`, the record's version (``v``, none: 1) one this
    imgkit reads. The first line that is not is a :class:`~imgkit.errors.SpecError` naming the file, the line
    (1-based) and the column. Records of an older version are upgraded as they are read
    (:mod:`imgkit.records.migrations`): the frame holds the current columns whatever wrote the journal.

    Cost: one streaming pass of polars' reader over the columns that can fail, and a byte scan for money
    written as a number; only when they find a problem is its line looked for (the failing range halved,
    about one more reading of the file).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            end = _complete_end(fh.fileno(), size)
            end = size if end is None else end
            flagged = _has_numeric_money(fh.fileno(), end)
            source: Path | bytes = path if end == size else _read_prefix(fh, end)
    except OSError as exc:
        raise SpecError(str(path), "", f"cannot read: {exc.strerror or exc}") from None
    if end == 0:
        return pl.LazyFrame(schema=LOG_SCHEMA)
    stored = pl.scan_ndjson(source, schema=_STORED_SCHEMA)
    oldest = SCHEMA_VERSION
    if not flagged:
        # every column that can fail to read is read (a projection would skip the others); text ones cannot
        typed = [pl.col(name).null_count() for name, dtype in _STORED_SCHEMA.items() if dtype != pl.String]
        try:
            found = stored.select(_row_problem().any(), _VERSION.min().alias("_oldest"), *typed)
            flagged, lowest = found.collect(engine="streaming").row(0)[:2]
        except _READ_ERRORS:
            flagged = True
        else:
            oldest = SCHEMA_VERSION if lowest is None else lowest
    if flagged:
        with path.open("rb") as fh:
            data = _read_prefix(fh, end)
        raise _line_error(path, data, _first_bad_line(data))
    journal = _canonical(upgrade(stored.with_columns(_VERSION), oldest))
    return journal if include_sent else journal.filter(pl.col("outcome") != OUTCOME_SENT)


def _canonical(stored: pl.LazyFrame) -> pl.LazyFrame:
    """Stored journal records of the current version in the canonical columns and dtypes (after
    :func:`_row_problem` found no problem)."""
    return stored.drop(VERSION_FIELD).with_columns(
        *(pl.col(name).cast(MONEY) for name in _MONEY_COLUMNS),
        *(_as_time(pl.col(name)) for name in _TIME_COLUMNS),
    )


def _as_time(text: pl.Expr, *, strict: bool = True) -> pl.Expr:
    return text.str.to_datetime(_ISO_TIME, time_unit="us", time_zone="UTC", strict=strict)


def _has_numeric_money(fd: int, end: int) -> bool:
    """Whether a money value is written as a JSON number, by a scan of the raw bytes.

    polars reads such a number into the money column's text as it printed the float it parsed ("0.1" for
    0.1000000000000000055511), so only the bytes can tell.
    """
    if end == 0:
        return False
    with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as data:
        return _MONEY_NOT_TEXT.search(data, 0, end) is not None


def _read_prefix(fh: Any, end: int) -> bytes:
    fh.seek(0)
    return fh.read(end)


def _value_problem(name: str) -> pl.Expr | None:
    """True where a stored money or time text does not convert (None for the other columns)."""
    text = pl.col(name)
    if name in _TIME_COLUMNS:
        return text.is_not_null() & _as_time(text, strict=False).is_null()
    if name not in _MONEY_COLUMNS:
        return None
    wide = pl.Decimal(38, 2 * MONEY_SCALE)
    exact = text.cast(MONEY, strict=False)
    return text.is_not_null() & (
        ~text.str.contains(f"^{_DECIMAL_TEXT}$")
        | exact.is_null()  # not a number, or too large for the money columns
        | (exact.cast(wide) != text.cast(wide, strict=False)).fill_null(True)  # more decimal places
    )


def _row_problem() -> pl.Expr:
    """True on a row that breaks a rule of the journal beyond what polars' reader checks."""
    checks = [pl.col(name).is_null() for name in REQUIRED]
    checks.append(~_VERSION.is_in(SUPPORTED_VERSIONS))
    checks.append(~pl.col("outcome").is_in(sorted(OUTCOMES)))
    checks += [e for e in map(_value_problem, (*_MONEY_COLUMNS, *_TIME_COLUMNS)) if e is not None]
    return pl.any_horizontal(checks)


def _chunk_ok(chunk: bytes) -> bool:
    """Whether these journal lines break no rule (as :func:`scan_journal` checks them)."""
    if not chunk.strip():
        return True
    if _MONEY_NOT_TEXT.search(chunk):
        return False
    try:
        return not pl.read_ndjson(chunk, schema=_STORED_SCHEMA).select(_row_problem().any()).item()
    except _READ_ERRORS:
        return False


def _first_bad_line(data: bytes) -> int | None:
    """The 0-based first line that breaks a rule: the failing range halved until one line is left.

    Lines are independent of each other, so when the first half of a failing range passes the failing line
    is in the second; the halves read add up to about one more reading of the file.
    """
    lines = data.split(b"\n")
    if _chunk_ok(data):
        return None
    lo, hi = 0, len(lines)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _chunk_ok(b"\n".join(lines[lo:mid])):
            lo = mid
        else:
            hi = mid
    return lo


def _line_error(path: Path, data: bytes, index: int | None) -> SpecError:
    """The error for 0-based line ``index``: which column breaks which rule."""
    if index is None:  # polars failed on the whole file, though every line passes alone
        return SpecError(str(path), "", "not readable as a request journal")
    where, problem = _line_problem(data.split(b"\n")[index]) or ("", "not readable as a journal line")
    return SpecError(str(path), f"line {index + 1}" + (f", {where}" if where else ""), problem)


class _NotJsonNumber(str):
    """``NaN``, ``Infinity`` or ``-Infinity``: Python's json reads them, JSON (and polars) does not."""


def _line_problem(raw: bytes) -> tuple[str, str] | None:
    """(column or position, problem) for the first rule one journal line breaks; None when it breaks none."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = raw[exc.start : exc.start + 1].hex()
        return f"column {exc.start + 1}", f"byte 0x{byte} is not UTF-8 text; allowed: UTF-8 JSON"
    try:
        record = json.loads(text, parse_constant=_NotJsonNumber)
    except json.JSONDecodeError as exc:
        return "", f"not JSON ({exc.msg} at column {exc.colno}); allowed: one JSON object per line"
    if not isinstance(record, dict):
        kind = {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(record), "number")
        return "", f"a JSON {kind}, not an object; allowed: one JSON object per line"
    version = record.get(VERSION_FIELD)
    problem = _version_problem(1 if version is None else version)
    if problem:  # before the columns: a newer version may have other ones
        return VERSION_FIELD, problem
    for name, value in record.items():
        if name in LOG_SCHEMA and value is not None:
            problem = _value_text_problem(name, value)
            if problem:
                return name, problem
    for name in REQUIRED:
        if record.get(name) is None:
            return name, f"missing; allowed: a value (every record has {', '.join(REQUIRED)})"
    if record["outcome"] not in OUTCOMES:
        return "outcome", f"{record['outcome']!r} is not allowed; allowed: {', '.join(sorted(OUTCOMES))}"
    return None


def _version_problem(version: Any) -> str | None:
    """Why a record's version is refused (one this imgkit cannot read), or None."""
    supported = ", ".join(map(str, SUPPORTED_VERSIONS))
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        return f"{version!r} is not a record version; allowed: {supported}"
    if version not in SUPPORTED_VERSIONS:
        return (
            f"record version {version} is newer than this imgkit reads; supported: {supported} "
            "(a later imgkit wrote it: upgrade imgkit to read this journal)"
        )
    return None


def _value_text_problem(name: str, value: Any) -> str | None:
    """Why one value of a journal line is refused, or None."""
    if isinstance(value, _NotJsonNumber):
        return f"{value} is not a JSON number; allowed: {ALLOWED_VALUES[LOG_SCHEMA[name]]}"
    if name in _MONEY_COLUMNS:
        if not isinstance(value, str):
            kind = "number" if isinstance(value, (int, float)) and not isinstance(value, bool) else "value"
            return (
                f'{value!r} is a JSON {kind}; allowed: a decimal string such as "0.04" '
                "(money is exact; a JSON number may be a rounded binary float)"
            )
        if re.fullmatch(_DECIMAL_TEXT, value):
            with contextlib.suppress(InvalidParameterError):
                _money(name, value)  # the writer's own rule: finite, in range, at most MONEY_SCALE places
                return None
        return f"{value!r} is not allowed; allowed: {ALLOWED_VALUES[MONEY]}"
    if name in _TIME_COLUMNS:
        ok = isinstance(value, str) and pl.select(_as_time(pl.lit(value), strict=False)).item() is not None
        return None if ok else f"{value!r} is not {ALLOWED_VALUES[TS]}, with its offset (Z or +02:00)"
    try:
        pl.read_ndjson(json.dumps({name: value}).encode(), schema={name: _STORED_SCHEMA[name]})
    except _READ_ERRORS:
        return f"{value!r} is not {ALLOWED_VALUES[LOG_SCHEMA[name]]}"
    return None
