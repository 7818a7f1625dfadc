"""Importers: traffic logged elsewhere, written as imgkit's canonical request log (Parquet by day).

* :func:`~imgkit.records.importers.litellm.import_litellm`: LiteLLM's ``LiteLLM_SpendLogs`` (PostgreSQL);
* :func:`~imgkit.records.importers.openai_usage.import_openai_usage`: OpenAI's organization Usage (images)
  and Costs API pages;
* :func:`~imgkit.records.importers.mapped.import_mapped`: any CSV, Parquet or JSON Lines file through a
  mapping file.

Every importer writes rows with provenance ``imported:<source>`` and the source's request id, into an import
directory (:mod:`~imgkit.records.importers._store`: idempotent by that id, resumable), and returns
``{"rows_read", "imported", "skipped": {reason: count}, "out"}``.
"""

from __future__ import annotations

from imgkit._lazy import lazy_exports

_EXPORTS = {
    "import_litellm": "imgkit.records.importers.litellm",
    "import_openai_usage": "imgkit.records.importers.openai_usage",
    "import_mapped": "imgkit.records.importers.mapped",
    "read_ledger": "imgkit.records.importers._store",
    "read_billed": "imgkit.records.importers._store",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
