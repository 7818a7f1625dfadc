"""imgkit's aggregate analyses on other engines: DuckDB, Spark, BigQuery, Snowflake, Trino.

One definition (:mod:`.expressions`, ibis) of the performance table's passes, the re-cost aggregates behind
``imgkit reconcile`` and the per-month volume mix; run where the log lives (:mod:`.backends`), then the same
Python as the polars path turns the small grouped results into the same tables (:mod:`.tables`). polars stays
the default, embedded engine (:mod:`imgkit.analysis.performance`); nothing here is imported with it, and ibis
is imported only when another engine is asked for (the ``sql``, ``duckdb`` and ``spark`` extras).

Exactness per engine: :func:`exactness` (README: Beyond one machine).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from imgkit._lazy import lazy_exports

_EXPORTS = {
    "ENGINES": "imgkit.analysis.engines.backends",
    "WAREHOUSES": "imgkit.analysis.engines.backends",
    "WAREHOUSE_CREDENTIALS": "imgkit.analysis.engines.backends",
    "spark_session": "imgkit.analysis.engines.backends",
    "PERCENTILE_STRATEGIES": "imgkit.analysis.engines.tables",
    "Exactness": "imgkit.analysis.engines.tables",
    "exactness": "imgkit.analysis.engines.tables",
    "performance_table": "imgkit.analysis.engines.tables",
    "log_summary": "imgkit.analysis.engines.tables",
    "show_sql": "imgkit.analysis.engines.tables",
    "reconcile": "imgkit.analysis.engines.reconcile",
    "volume_mix": "imgkit.analysis.engines.reconcile",
    "traffic_workload": "imgkit.analysis.engines.reconcile",
}

if TYPE_CHECKING:  # the table's names, for type checkers and IDEs (tests/test_typing.py keeps them equal)
    from imgkit.analysis.engines.backends import ENGINES as ENGINES
    from imgkit.analysis.engines.backends import WAREHOUSE_CREDENTIALS as WAREHOUSE_CREDENTIALS
    from imgkit.analysis.engines.backends import WAREHOUSES as WAREHOUSES
    from imgkit.analysis.engines.backends import spark_session as spark_session
    from imgkit.analysis.engines.reconcile import reconcile as reconcile
    from imgkit.analysis.engines.reconcile import traffic_workload as traffic_workload
    from imgkit.analysis.engines.reconcile import volume_mix as volume_mix
    from imgkit.analysis.engines.tables import PERCENTILE_STRATEGIES as PERCENTILE_STRATEGIES
    from imgkit.analysis.engines.tables import Exactness as Exactness
    from imgkit.analysis.engines.tables import exactness as exactness
    from imgkit.analysis.engines.tables import log_summary as log_summary
    from imgkit.analysis.engines.tables import performance_table as performance_table
    from imgkit.analysis.engines.tables import show_sql as show_sql
else:
    __getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
