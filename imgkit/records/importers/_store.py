"""The import directory: canonical Parquet partitioned by day, written chunk by chunk, idempotent, resumable.

Layout (``OUT``)::

    date=2026-12-06/<chunk>.parquet   canonical rows (imgkit.records.schema.LOG_SCHEMA), by the UTC day of started_at
    _import/manifest.jsonl            one line per committed chunk, and one per finished import
    _import/ledger/<chunk>.parquet    the source's own record of each row (recorded cost, evidence): LEDGER_SCHEMA
    _import/billed/<chunk>.parquet    money a provider billed per day (OpenAI's Costs API): BILLED_SCHEMA
    _import/staging/                  the files of the chunk being written
    _import/lock                      held (flock) by the one import writing here

Folders and files whose names start with ``_`` or ``.`` are not data (the Hive/Spark convention, which
:func:`imgkit.records.scan.scan_log` follows), so ``imgkit perf OUT`` reads the canonical rows alone.

**Write protocol** (:meth:`ImportStore.commit`): a chunk's files are written into ``staging/`` (each fsync'd),
then one line naming them is appended to the manifest and fsync'd -- the commit -- and only then are they
renamed into place. Opening the store finishes what a killed import left: the staged files of a committed
chunk are renamed into place (roll forward), those of an uncommitted one deleted (roll back). So a reader
never sees half a chunk's file, and a chunk is imported once or not at all.

**Idempotence**: every row is keyed by (``provenance``, ``request_id``), the source's own id; the keys of the
committed chunks are read once when the store opens, and :meth:`new_rows` drops rows already imported. Running
the same import twice, or a resumed one, adds nothing twice. The keys are held by the UTC day of the row's
``started_at`` (a source's request keeps its start time), so checking a chunk costs the size of its days, not
of everything imported before it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from imgkit.errors import SpecError
from imgkit.money import MONEY, MONEY_TOTAL
from imgkit.records.schema import LOG_SCHEMA, TS, ColumnType

__all__ = ["BILLED_SCHEMA", "LEDGER_SCHEMA", "ImportStore", "ImportSummary", "read_billed", "read_ledger"]

IMPORT_DIR = "_import"
MANIFEST = "manifest.jsonl"

#: the source's own record of an imported row, beside its canonical row (joined on provenance, request_id)
LEDGER_SCHEMA: dict[str, ColumnType] = {
    "provenance": pl.String,  # imported:<source>
    "request_id": pl.String,  # the source's id of the request (the canonical row's request_id)
    "started_at": TS,
    "recorded_cost_usd": MONEY,  # what the source logged as the cost; null when it logged none
    "source_model": pl.String,  # the model as the source named it (LiteLLM: with its provider prefix)
    "source_provider": pl.String,  # the provider as the source named it (LiteLLM: custom_llm_provider)
    "evidence": pl.List(pl.String),  # problems the source's own row shows (names as reconcile's flags)
}

#: money a provider billed, per day (OpenAI's Costs API buckets): the third column of a reconciliation
BILLED_SCHEMA: dict[str, ColumnType] = {
    "day": pl.Date,
    "provider": pl.String,
    "model": pl.String,  # the catalog model the line item names, null when it names none
    "line_item": pl.String,
    "project_id": pl.String,
    "billed_usd": MONEY,
    "quantity": MONEY_TOTAL,
    "quantity_unit": pl.String,
    "key": pl.String,  # the source's identity of the amount (bucket, line item, ...): re-imports add nothing
}


class ImportSummary(dict):
    """``{"rows_read", "imported", "skipped": {reason: count}, "out"}``, what ``imgkit import`` prints; a source
    that marks some imported rows adds their count under its own name when there are any (LiteLLM:
    ``"cache_hits"``, requests its proxy served from its cache, imported unbilled)."""

    def __init__(self, out: Path) -> None:
        super().__init__(rows_read=0, imported=0, skipped={}, out=str(out))

    def count(self, name: str, n: int) -> None:
        """Add ``n`` imported rows of a kind (the key appears once there is one)."""
        if n:
            self[name] = self.get(name, 0) + int(n)

    def skip(self, counts: Mapping[str, int]) -> None:
        for reason, n in counts.items():
            if n:
                self["skipped"][reason] = self["skipped"].get(reason, 0) + int(n)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ImportStore:
    """One import directory, opened by one import at a time (a second gets a one-line error)."""

    def __init__(self, out: str | Path, provenance: str) -> None:
        self.out = Path(out)
        self.provenance = provenance
        if self.out.exists() and not self.out.is_dir():
            raise SpecError(
                str(self.out), "", "is a file; allowed: a directory (new or made by imgkit import)"
            )
        self.meta = self.out / IMPORT_DIR
        self.staging = self.meta / "staging"
        for folder in (self.staging, self.meta / "ledger", self.meta / "billed"):
            folder.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.meta / "lock", "a+")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise SpecError(
                str(self.out), "", "another import is writing here; wait for it to finish"
            ) from None
        self.entries = self._read_manifest()
        self._recover()
        self._keys = self._read_keys()
        self._billed_keys = read_billed(self.out).select("key").unique().collect()
        self.run = secrets.token_hex(4)

    # --- opening ----------------------------------------------------------------------------------------

    def _read_manifest(self) -> list[dict[str, Any]]:
        path = self.meta / MANIFEST
        if not path.exists():
            return []
        entries = []
        lines = path.read_bytes().split(b"\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                entries.append(json.loads(line))
            except ValueError:
                if number == len(lines):
                    break  # a torn last line (no newline after it): its chunk was never committed
                raise SpecError(
                    str(path), f"line {number}", "not JSON; the import manifest is damaged"
                ) from None
        return entries

    def _recover(self) -> None:
        committed = {f for e in self.entries if "chunk" in e for f in e["files"]}
        for staged in sorted(self.staging.rglob("*.parquet")):
            rel = staged.relative_to(self.staging).as_posix()
            if rel in committed:
                self._publish(rel)
            else:
                staged.unlink()
        # a manifest whose torn last line was cut: rewrite it whole so that appends follow a full line
        path = self.meta / MANIFEST
        if path.exists() and path.read_bytes() and not path.read_bytes().endswith(b"\n"):
            text = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in self.entries)
            tmp = path.with_name(f".{MANIFEST}.tmp")
            tmp.write_text(text)
            os.replace(tmp, path)

    def _read_keys(self) -> dict[dt.date | None, list[pl.DataFrame]]:
        files = sorted((self.meta / "ledger").glob("*.parquet"))
        if not files:
            return {}
        keys = pl.scan_parquet(files).select("provenance", "request_id", "started_at").collect()
        return _keys_by_day(keys)

    def _publish(self, rel: str) -> None:
        staged = self.staging / rel
        final = self.meta / rel if rel.startswith(("ledger/", "billed/")) else self.out / rel
        if staged.exists():
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, final)

    # --- what an import asks ----------------------------------------------------------------------------

    def runs(self, source: str) -> list[dict[str, Any]]:
        """The manifest's entries of ``source`` (chunks and finished imports), oldest first."""
        return [e for e in self.entries if e.get("source") == source]

    def new_rows(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` without the rows already imported here (same provenance and request_id, same UTC day of
        ``started_at``)."""
        if not self._keys or frame.is_empty():
            return frame
        days = frame.get_column("started_at").dt.date().unique().to_list()
        known = [part for day in days for part in self._keys.get(day, ())]
        if not known:
            return frame
        keys = pl.concat(known) if len(known) > 1 else known[0]
        return frame.join(keys, on=["provenance", "request_id"], how="anti")

    def new_billed(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` (billed money) without the amounts already imported here (same ``key``)."""
        return frame.join(self._billed_keys, on="key", how="anti") if self._billed_keys.height else frame

    # --- writing ----------------------------------------------------------------------------------------

    def commit(
        self,
        source: str,
        canonical: pl.DataFrame,
        ledger: pl.DataFrame | None = None,
        billed: pl.DataFrame | None = None,
        **info: Any,
    ) -> None:
        """Write one chunk: canonical rows by day, their ledger, billed money; then commit and publish."""
        chunk = f"{source}-{len(self.entries):06d}-{self.run}"
        files: list[str] = []
        if canonical.height:
            canonical = canonical.select([pl.col(c).cast(t) for c, t in LOG_SCHEMA.items()])
            days = canonical.get_column("started_at").dt.date()
            for (day,), part in canonical.with_columns(_day=days).partition_by("_day", as_dict=True).items():
                rel = f"date={day.isoformat() if day else '__HIVE_DEFAULT_PARTITION__'}/{chunk}.parquet"
                self._stage(part.drop("_day"), rel)
                files.append(rel)
        if ledger is not None and ledger.height:
            rel = f"ledger/{chunk}.parquet"
            self._stage(ledger.select([pl.col(c).cast(t) for c, t in LEDGER_SCHEMA.items()]), rel)
            files.append(rel)
        if billed is not None and billed.height:
            rel = f"billed/{chunk}.parquet"
            self._stage(billed.select([pl.col(c).cast(t) for c, t in BILLED_SCHEMA.items()]), rel)
            files.append(rel)
        entry = {
            "chunk": chunk,
            "source": source,
            "provenance": self.provenance,
            "run": self.run,
            "rows": canonical.height,
            "files": files,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **info,
        }
        self._append(entry)  # the commit
        for rel in files:
            self._publish(rel)
        for folder in {(self.out / f).parent for f in files if f.startswith("date=")}:
            _fsync_dir(folder)
        if billed is not None and billed.height:
            self._billed_keys = pl.concat([self._billed_keys, billed.select("key")])
        if ledger is not None and ledger.height:
            for day, keys in _keys_by_day(ledger).items():
                self._keys.setdefault(day, []).extend(keys)

    def finish(self, source: str, summary: Mapping[str, Any], **info: Any) -> None:
        """Record that this import ran to its end (a later run of the same query starts afresh)."""
        self._append({"finished": True, "source": source, "run": self.run, "summary": dict(summary), **info})

    def _stage(self, frame: pl.DataFrame, rel: str) -> None:
        path = self.staging / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(path, statistics=True)
        _fsync_file(path)

    def _append(self, entry: Mapping[str, Any]) -> None:
        path = self.meta / MANIFEST
        line = (json.dumps(entry, separators=(",", ":"), default=str) + "\n").encode()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.entries.append(dict(entry))

    def close(self) -> None:
        if not self._lock.closed:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()

    def __enter__(self) -> ImportStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _keys_by_day(ledger: pl.DataFrame) -> dict[dt.date | None, list[pl.DataFrame]]:
    """(provenance, request_id) of ledger rows, by the UTC day of their ``started_at``."""
    parts = ledger.select("provenance", "request_id", _day=pl.col("started_at").dt.date()).partition_by(
        "_day", as_dict=True, include_key=False
    )
    return {day: [keys] for (day,), keys in parts.items()}


def _sidecar(out: str | Path, kind: str, schema: Mapping[str, ColumnType]) -> pl.LazyFrame:
    files = sorted((Path(out) / IMPORT_DIR / kind).glob("*.parquet"))
    if not files:
        return pl.LazyFrame(schema=dict(schema))
    return pl.scan_parquet(files)


def read_ledger(out: str | Path) -> pl.LazyFrame:
    """The ledger of an import directory (LEDGER_SCHEMA; empty when nothing was imported with one)."""
    return _sidecar(out, "ledger", LEDGER_SCHEMA)


def read_billed(out: str | Path) -> pl.LazyFrame:
    """The billed money imported into a directory (BILLED_SCHEMA; empty when none)."""
    return _sidecar(out, "billed", BILLED_SCHEMA)


def import_sources(out: str | Path) -> Iterable[str]:
    """The provenance kinds imported into ``out`` (from its manifest)."""
    path = Path(out) / IMPORT_DIR / MANIFEST
    if not path.exists():
        return []
    seen: dict[str, None] = {}  # kinds in the order first seen
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("provenance"):
            seen[entry["provenance"]] = None
    return list(seen)
