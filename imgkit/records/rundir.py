"""The run directory ``imgkit run`` writes, and everything that reads it (grids, votes, the frontier, reports),
through one object: :class:`RunDirectory`.

::

    log.jsonl      every attempt (:mod:`imgkit.records.journal`), with the run columns filled
    images/        the images, content-addressed (images/ab/cdef….png, :mod:`imgkit.records.images`)
    inputs/        copies of the spec's input images
    spec.yaml      the spec as run: prompts inline, the resolved parameters and quotes, and under ``run:`` the
                   run id and its sessions
    summary.json   the last session's summary
    votes.csv      blind pairwise votes on its images (``imgkit vote``)
    batches.jsonl  the batch ledger, when items went through a Batch API (:mod:`imgkit.records.batches`)
    batches/       a batch's input file while it is being uploaded

The run's lock is the journal's write lock (:meth:`RunDirectory.lock`), taken before anything is read,
written or sent; it guards the batch ledger too. The spec as run is read through the strict YAML reader (:func:`imgkit.catalog.load_yaml`):
a damaged one is one :class:`~imgkit.errors.SpecError` naming the file and the line.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from imgkit._files import write_atomically
from imgkit.catalog import load_yaml
from imgkit.errors import InvalidParameterError, RunDirectoryError, SpecError
from imgkit.records.batches import LEDGER_NAME, BatchLedger
from imgkit.records.images import ImageStore
from imgkit.records.journal import JOURNAL_NAME, JournalBusyError, RequestLog
from imgkit.records.scan import scan_log

__all__ = ["BATCH_INPUTS", "IMAGES", "INPUTS", "SPEC_AS_RUN", "SUMMARY", "VOTES", "RunDirectory"]

SPEC_AS_RUN = "spec.yaml"
SUMMARY = "summary.json"
VOTES = "votes.csv"
IMAGES = "images"
INPUTS = "inputs"
BATCH_INPUTS = "batches"
_SPEC_AS_RUN_HEADER = (
    "# The spec as run by `imgkit run` (prompts inline, input images copied to inputs/), with the\n"
    "# resolved parameters and quotes of every target under `run:`. `imgkit run THIS_FILE --resume`\n"
    "# continues the run in this directory.\n"
)


class _SpecDumper(yaml.SafeDumper):
    """YAML for the spec as run: numbers the spec gave (exact decimals when loaded) stay numbers."""


_SpecDumper.add_representer(
    Decimal, lambda d, v: d.represent_scalar("tag:yaml.org,2002:float", format(v, "f"))
)


class RunDirectory:
    """A run directory (module doc): where each of its files is, and their readers and writers."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDirectory({str(self.path)!r})"

    # where things are

    @property
    def log_path(self) -> Path:
        """The journal, ``log.jsonl``."""
        return self.path / JOURNAL_NAME

    @property
    def log_label(self) -> str:
        """The journal as captions name it: ``<run directory name>/log.jsonl``."""
        return f"{self.path.name}/{JOURNAL_NAME}"

    @property
    def spec_path(self) -> Path:
        return self.path / SPEC_AS_RUN

    @property
    def summary_path(self) -> Path:
        return self.path / SUMMARY

    @property
    def votes_path(self) -> Path:
        """Where ``imgkit vote`` appends its votes by default."""
        return self.path / VOTES

    @property
    def images_dir(self) -> Path:
        return self.path / IMAGES

    @property
    def inputs_dir(self) -> Path:
        return self.path / INPUTS

    @property
    def batches_path(self) -> Path:
        """The batch ledger, ``batches.jsonl``."""
        return self.path / LEDGER_NAME

    @property
    def batch_inputs_dir(self) -> Path:
        """Where a batch's input file is written before it is uploaded (removed once it is)."""
        return self.path / BATCH_INPUTS

    # the journal

    def journal(self, **options: Any) -> RequestLog:
        """The run's :class:`~imgkit.records.journal.RequestLog` (``options`` as it takes them)."""
        return RequestLog(self.log_path, **options)

    def has_log(self) -> bool:
        """Whether a journal with at least one byte is there (a run began here)."""
        return self.log_path.is_file() and self.log_path.stat().st_size > 0

    def require_log(self) -> Path:
        """The journal's path; a directory without one is refused (``run_dir``, what is allowed)."""
        if not self.log_path.is_file():
            raise InvalidParameterError("run_dir", str(self.path), f"a run directory holding {JOURNAL_NAME}")
        return self.log_path

    def scan(self, *, include_sent: bool = False) -> pl.LazyFrame:
        """The journal, checked, in the canonical schema as every reader of logs sees it
        (:func:`~imgkit.records.scan.scan_log`): one row per attempt, the ``sent`` records too when asked."""
        return scan_log(self.require_log(), include_sent=include_sent)

    def final_attempts(self) -> pl.DataFrame:
        """The latest final attempt of every item (a resumed run's later success replaces an earlier failure),
        in the log schema."""
        return (
            self.scan()
            .filter(pl.col("final"))
            .unique(subset="item_id", keep="last", maintain_order=True)
            .collect()
        )

    # batches

    def batch_ledger(self) -> BatchLedger:
        """The run's :class:`~imgkit.records.batches.BatchLedger` (written under the run's lock)."""
        return BatchLedger(self.batches_path)

    def has_batches(self) -> bool:
        """Whether the run sent (or planned) batches: a ledger with at least one byte is there."""
        return self.batches_path.is_file() and self.batches_path.stat().st_size > 0

    def lock(self, *, resume: bool) -> RequestLog:
        """Take the run's lock (the journal's write lock) before anything is read, written or sent, creating
        the directory; returns the journal, open (close it to release the lock).

        A directory that already holds a log is refused unless ``resume`` (no paying twice by accident), and
        one another process is writing is refused at once: both :class:`~imgkit.errors.RunDirectoryError`.
        """
        journal = self.journal()
        if (self.has_log() or self.has_batches()) and not resume:
            held = journal.path.name if self.has_log() else self.batches_path.name
            raise RunDirectoryError(
                f"{self.path} already holds a run log ({held}); pass --resume to continue it "
                "(finished items are skipped, nothing is paid twice), or choose another output_dir"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            return journal.open()
        except JournalBusyError:
            raise RunDirectoryError(
                f"{self.path} is being written by another imgkit run (the lock on {journal.path.name} is "
                "held); nothing was sent or written: wait for it to finish, then --resume"
            ) from None

    # images

    def image_store(self, *, fsync: bool = True) -> ImageStore:
        """The run's content-addressed image store, ``images/``."""
        return ImageStore(self.images_dir, fsync=fsync)

    def image_file(self, image: Mapping[str, Any]) -> Path:
        """Where a logged image (one entry of a record's ``images``) is: its path (relative ones from the run
        directory), else, for a moved run directory, the content-addressed file under ``images/``."""
        path = Path(image["path"])
        path = path if path.is_absolute() else self.path / path
        if not path.is_file() and image.get("sha256"):
            sha = image["sha256"]
            moved = self.images_dir / sha[:2] / f"{sha[2:]}{path.suffix}"
            if moved.is_file():
                return moved
        return path

    def copy_input(self, name: str, source: Path) -> str:
        """Copy an input image into ``inputs/`` (once); its path relative to the run directory."""
        self.inputs_dir.mkdir(exist_ok=True)
        dest = self.inputs_dir / f"{name}{source.suffix}"
        if not dest.exists():
            shutil.copyfile(source, dest)
        return f"{INPUTS}/{dest.name}"

    # the spec as run and the summary

    def spec_as_run(self) -> dict[str, Any]:
        """The spec as run (a mapping; empty when there is none), read strictly: a file that is not YAML, not
        UTF-8, holds a key twice or is not a mapping is a :class:`~imgkit.errors.SpecError`."""
        if not self.spec_path.is_file():
            return {}
        data = load_yaml(self.spec_path, error=SpecError)
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise SpecError(str(self.spec_path), "", "a spec as run is a mapping (written by imgkit run)")
        return data

    def run_record(self) -> dict[str, Any]:
        """The spec as run's ``run:`` record (run id, sessions, plan); empty when there is none."""
        record = self.spec_as_run().get("run")
        return record if isinstance(record, dict) else {}

    def write_spec_as_run(self, spec: Mapping[str, Any]) -> Path:
        """Write ``spec.yaml`` (replaced whole: a reader never sees it half written)."""
        text = yaml.dump(dict(spec), Dumper=_SpecDumper, sort_keys=False, allow_unicode=True, width=110)
        return write_atomically(self.spec_path, _SPEC_AS_RUN_HEADER + text)

    def write_summary(self, summary: Mapping[str, Any]) -> Path:
        """Write ``summary.json`` (JSON-ready values; replaced whole)."""
        return write_atomically(self.summary_path, json.dumps(summary, indent=2) + "\n")
