"""Request records: the one owner of every log format imgkit reads and writes, and of the run directory.

* :mod:`~imgkit.records.schema`: the canonical columns of a request record, their types and outcomes;
* :mod:`~imgkit.records.journal`: imgkit's own journal ``log.jsonl`` (the writer, the checked reader,
  torn-line recovery); :mod:`~imgkit.records.migrations`: its record versions, older ones upgraded as read;
* :mod:`~imgkit.records.scan`: :func:`scan_log`, the one reader of request logs (the journal, Parquet, CSV and
  logs from elsewhere through a column mapping), giving the canonical schema;
* :mod:`~imgkit.records.parquet`: the analysis format (hive-partitioned Parquet);
* :mod:`~imgkit.records.images`: the content-addressed image store the records point into;
* :mod:`~imgkit.records.importers`: traffic logged elsewhere (LiteLLM spend logs, OpenAI's Usage and Costs
  exports, any table through a column mapping) written as imgkit's canonical request log;
* :mod:`~imgkit.records.rundir`: :class:`RunDirectory`, the run directory ``imgkit run`` writes and every
  reader of a run (grids, votes, the frontier, reports) goes through.

The names below are imported on first use from the module named beside each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from imgkit._lazy import lazy_exports

_EXPORTS = {
    "LOG_SCHEMA": "imgkit.records.schema",
    "SCHEMA_VERSION": "imgkit.records.schema",
    "JOURNAL_NAME": "imgkit.records.journal",
    "RequestLog": "imgkit.records.journal",
    "scan_journal": "imgkit.records.journal",
    "scan_log": "imgkit.records.scan",
    "export_parquet": "imgkit.records.parquet",
    "ImageStore": "imgkit.records.images",
    "RunDirectory": "imgkit.records.rundir",
}

if TYPE_CHECKING:  # the table's names, for type checkers and IDEs (tests/test_typing.py keeps them equal)
    from imgkit.records.images import ImageStore as ImageStore
    from imgkit.records.journal import JOURNAL_NAME as JOURNAL_NAME
    from imgkit.records.journal import RequestLog as RequestLog
    from imgkit.records.journal import scan_journal as scan_journal
    from imgkit.records.parquet import export_parquet as export_parquet
    from imgkit.records.rundir import RunDirectory as RunDirectory
    from imgkit.records.scan import scan_log as scan_log
    from imgkit.records.schema import LOG_SCHEMA as LOG_SCHEMA
    from imgkit.records.schema import SCHEMA_VERSION as SCHEMA_VERSION
else:
    __getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
