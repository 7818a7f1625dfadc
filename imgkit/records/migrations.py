"""Versions of the journal's records, and the migrations that bring older records to the current version.

Every record carries the version of the schema it was written in (:data:`~imgkit.records.schema
.VERSION_FIELD`, ``"v"``); a record without one is version 1. A journal is append-only and never rewritten,
so one file may hold several versions (a run started by an older imgkit and resumed by a newer one). The
reader (:func:`imgkit.records.journal.scan_journal`) upgrades each record as it reads it, one migration
function per version, applied in order as simonw/llm's ``migrations.py`` applies its database migrations:
``MIGRATIONS[k - 1]`` takes the records of version ``k`` to version ``k + 1`` and leaves the others as they
are. Frames therefore always hold the current version's columns (:data:`~imgkit.records.schema.LOG_SCHEMA`).
A record of a version newer than :data:`~imgkit.records.schema.SCHEMA_VERSION` is refused (a later imgkit
wrote it), naming the file, the line and the versions this imgkit reads.

Versions
--------
1. The records of imgkit before they carried a version: the columns of the schema, no ``v``.
2. Version 1 and ``"v": 2``, the first field of every line. Nothing else changed.
3. Version 2 and the ``batch_id`` column (the provider's batch id of a request sent through a Batch API;
   ``latency_ms`` is then the batch's turnaround). Every record of an earlier version was sent interactively:
   its ``batch_id`` is null.

Adding a version: raise ``SCHEMA_VERSION``, describe the version above, append one ``@migration`` from the
previous version (it takes and returns the stored records as the reader holds them before any conversion:
money and times still text, the columns of every version, the version in ``v``; it changes the rows of its
own version only and sets their ``v``), extend the reader's stored columns with any new ones, and keep a
journal written by the previous version as a test fixture (``tests/data/journal_v1`` is version 1's,
``tests/data/journal_v2`` version 2's).
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from imgkit.records.schema import SCHEMA_VERSION, VERSION_FIELD

__all__ = ["MIGRATIONS", "SUPPORTED_VERSIONS", "migration", "upgrade"]

#: the migrations in version order: ``MIGRATIONS[k - 1]`` upgrades records of version ``k`` to ``k + 1``
MIGRATIONS: list[Callable[[pl.LazyFrame], pl.LazyFrame]] = []
#: the record versions this imgkit reads
SUPPORTED_VERSIONS = range(1, SCHEMA_VERSION + 1)


def migration(function: Callable[[pl.LazyFrame], pl.LazyFrame]) -> Callable[[pl.LazyFrame], pl.LazyFrame]:
    """Register ``function`` as the migration from the next version (a decorator: migrations are defined in
    version order, ``m001_...`` from version 1)."""
    MIGRATIONS.append(function)
    return function


def upgrade(stored: pl.LazyFrame, oldest: int) -> pl.LazyFrame:
    """``stored`` records (``v`` filled: 1 where a record has none), every one brought to
    :data:`SCHEMA_VERSION`; ``oldest`` is the lowest version among them, so a journal of the current version
    passes through no migration at all."""
    for version in range(oldest, SCHEMA_VERSION):
        stored = MIGRATIONS[version - 1](stored)
    return stored


def _of_version(version: int) -> pl.Expr:
    return pl.col(VERSION_FIELD) == version


@migration
def m001_version_field(stored: pl.LazyFrame) -> pl.LazyFrame:
    """Version 1 to 2: records carry their version; no column changed."""
    return stored.with_columns(
        pl.when(_of_version(1)).then(pl.lit(2)).otherwise(pl.col(VERSION_FIELD)).alias(VERSION_FIELD)
    )


@migration
def m002_batch_id(stored: pl.LazyFrame) -> pl.LazyFrame:
    """Version 2 to 3: the ``batch_id`` column; a version 2 record was sent interactively (null, as the reader
    already holds a column a record lacks)."""
    return stored.with_columns(
        pl.when(_of_version(2)).then(pl.lit(3)).otherwise(pl.col(VERSION_FIELD)).alias(VERSION_FIELD)
    )
