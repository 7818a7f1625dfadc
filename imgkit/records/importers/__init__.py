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

from typing import TYPE_CHECKING

from imgkit._lazy import lazy_exports

_EXPORTS = {
    "import_litellm": "imgkit.records.importers.litellm",
    "import_openai_usage": "imgkit.records.importers.openai_usage",
    "import_mapped": "imgkit.records.importers.mapped",
    "read_ledger": "imgkit.records.importers._store",
    "read_billed": "imgkit.records.importers._store",
}

if TYPE_CHECKING:  # the table's names, for type checkers and IDEs (tests/test_typing.py keeps them equal)
    from imgkit.records.importers._store import read_billed as read_billed
    from imgkit.records.importers._store import read_ledger as read_ledger
    from imgkit.records.importers.litellm import import_litellm as import_litellm
    from imgkit.records.importers.mapped import import_mapped as import_mapped
    from imgkit.records.importers.openai_usage import import_openai_usage as import_openai_usage
else:
    __getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
