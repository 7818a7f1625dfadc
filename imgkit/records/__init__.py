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

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
