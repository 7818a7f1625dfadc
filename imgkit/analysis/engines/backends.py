"""How each engine is reached, and how a log becomes an ibis table there.

* ``duckdb``: in process (``ibis.duckdb.connect()``), session time zone UTC; reads Parquet files, folders
  (hive partitions such as ``date=2026-01-05/``) and object-store URLs (``s3://``, ``gs://``, through
  DuckDB's httpfs extension and its own credentials).
* ``spark``: a SparkSession: yours (``connection=spark``, e.g. on Databricks or under ``spark-submit``), or
  one this module starts (``IMGKIT_SPARK_MASTER``, default ``local[*]``), session time zone UTC.
* ``bigquery``, ``snowflake``, ``trino``: a table in the warehouse (``table="project.dataset.log"``), with
  credentials from the environment at call time, never stored (see :func:`warehouse_connection`); without
  a connection the query can still be shown (:func:`imgkit.analysis.engines.show_sql`).

A log that is not Parquet (imgkit's journal, CSV, a mapped export) is read and checked by
:func:`imgkit.records.scan.scan_log` and handed to the engine as Arrow.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import polars as pl

from imgkit.errors import EngineError
from imgkit.records.scan import local_or_url

__all__ = [
    "ENGINES",
    "LOCAL_ENGINES",
    "WAREHOUSES",
    "WAREHOUSE_CREDENTIALS",
    "connect",
    "duckdb_connection",
    "local_path",
    "log_table",
    "require_ibis",
    "spark_session",
    "split_table_name",
    "warehouse_connection",
]

#: every engine, the default first
ENGINES = ("polars", "duckdb", "spark", "bigquery", "snowflake", "trino")
#: engines that read files (and frames) on this machine or a cluster
LOCAL_ENGINES = ("duckdb", "spark")
#: engines reached as a warehouse table
WAREHOUSES = ("bigquery", "snowflake", "trino")
#: the environment variables each warehouse connection reads (BigQuery: Google's Application Default
#: Credentials as well, e.g. GOOGLE_APPLICATION_CREDENTIALS or ``gcloud auth application-default login``)
WAREHOUSE_CREDENTIALS = {
    "bigquery": ("IMGKIT_BIGQUERY_PROJECT",),
    "snowflake": (
        "SNOWFLAKE_ACCOUNT",
        "SNOWFLAKE_USER",
        "SNOWFLAKE_PASSWORD",
        "SNOWFLAKE_AUTHENTICATOR",
        "SNOWFLAKE_WAREHOUSE",
    ),
    "trino": ("TRINO_HOST", "TRINO_PORT", "TRINO_USER", "TRINO_PASSWORD"),
}
_EXTRAS = {"duckdb": "duckdb", "spark": "spark", "bigquery": "sql", "snowflake": "sql", "trino": "sql"}


def require_ibis(engine: str) -> Any:
    """The ibis module, or an :class:`EngineError` naming the extra to install for ``engine``."""
    try:
        import ibis
    except ImportError:
        raise EngineError(
            engine, f"ibis is not installed; pip install 'imgkit[{_EXTRAS.get(engine, 'sql')}]'"
        ) from None
    return ibis


def local_path(source: str | Path) -> Path | None:
    """A local path for ``source`` (a path, or a ``file://`` URL), or None for an object-store URL."""
    found = local_or_url(source)
    return found if isinstance(found, Path) else None


def _parquet_files(path: Path) -> list[str]:
    """The Parquet files of a file or folder, leaving out names starting with ``_`` or ``.`` (an import's
    ``_import/`` ledger and manifest, Spark's ``_SUCCESS``), as :func:`imgkit.records.scan.scan_log` does."""
    if path.is_file():
        return [str(path)]
    if not path.is_dir():
        raise EngineError("duckdb", f"{path}: no such file or folder")
    files = [
        str(f)
        for f in sorted(path.rglob("*.parquet"))
        if not any(part.startswith(("_", ".")) for part in f.relative_to(path).parts)
    ]
    if not files:
        raise EngineError("duckdb", f"{path}: no Parquet files in this folder")
    return files


def _is_parquet(source: str | Path) -> bool:
    path = local_path(source)
    if path is None:
        return True  # an object-store URL: a Parquet file or folder
    return path.is_dir() or path.suffix.lower() == ".parquet"


def duckdb_connection() -> Any:
    """An in-process DuckDB connection whose session time zone is UTC (days and weeks are UTC days)."""
    ibis = require_ibis("duckdb")
    try:
        con = ibis.duckdb.connect()
    except ImportError:
        raise EngineError("duckdb", "duckdb is not installed; pip install 'imgkit[duckdb]'") from None
    con.raw_sql("SET TimeZone = 'UTC'")
    return con


def spark_session(master: str | None = None, config: dict[str, str] | None = None) -> Any:
    """The active SparkSession, or a new one (``master``, else ``IMGKIT_SPARK_MASTER``, else ``local[*]``):
    UI off, shuffle partitions 2 x the cores of a local master, session time zone UTC, Arrow transfers;
    ``config``: more settings (or other values) for a new session."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError("spark", "pyspark is not installed; pip install 'imgkit[spark]'") from None
    active = SparkSession.getActiveSession()
    if active is not None:
        active.conf.set("spark.sql.session.timeZone", "UTC")
        return active
    master = master or os.environ.get("IMGKIT_SPARK_MASTER", "local[*]")
    settings = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    if master.startswith("local"):
        settings["spark.sql.shuffle.partitions"] = str(2 * (os.cpu_count() or 1))
    builder = SparkSession.builder.appName("imgkit").master(master)
    for key, value in {**settings, **(config or {})}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def connect(engine: str, connection: Any = None) -> Any:
    """An ibis backend for ``engine``: ``connection`` may be an ibis backend already, a DuckDB connection, a
    SparkSession, or None (DuckDB in process, a new or the active SparkSession, a warehouse from the
    environment). A DuckDB or Spark session given is set to the UTC time zone: imgkit's days are UTC days."""
    ibis = require_ibis(engine)
    if engine == "duckdb" and connection is not None:
        con = (
            connection
            if isinstance(connection, ibis.BaseBackend)
            else ibis.duckdb.from_connection(connection)
        )
        if con.name == "duckdb":
            con.raw_sql("SET TimeZone = 'UTC'")
        return con
    if engine == "spark" and isinstance(connection, ibis.BaseBackend) and connection.name == "pyspark":
        connection._session.conf.set("spark.sql.session.timeZone", "UTC")
    if connection is not None and isinstance(connection, ibis.BaseBackend):
        return connection
    if engine == "duckdb":
        return duckdb_connection()
    if engine == "spark":
        session = connection if connection is not None else spark_session()
        session.conf.set("spark.sql.session.timeZone", "UTC")
        return ibis.pyspark.connect(session)
    if engine in WAREHOUSES:
        return warehouse_connection(engine)
    raise EngineError(engine, f"not an engine; allowed: {', '.join(ENGINES)}")


def warehouse_connection(engine: str) -> Any:
    """A connection to ``engine`` from the environment (:data:`WAREHOUSE_CREDENTIALS`), read now and kept
    nowhere; an :class:`EngineError` naming the variables when none are set."""
    ibis = require_ibis(engine)
    env = {name: os.environ.get(name) for name in WAREHOUSE_CREDENTIALS[engine]}
    missing = "no credentials in the environment ({}); --show-sql prints the query without a connection"
    try:
        if engine == "bigquery":
            if not env["IMGKIT_BIGQUERY_PROJECT"]:
                raise EngineError(engine, missing.format("IMGKIT_BIGQUERY_PROJECT and Google ADC"))
            return ibis.bigquery.connect(project_id=env["IMGKIT_BIGQUERY_PROJECT"])
        if engine == "snowflake":
            if not (env["SNOWFLAKE_ACCOUNT"] and env["SNOWFLAKE_USER"]):
                raise EngineError(engine, missing.format(", ".join(WAREHOUSE_CREDENTIALS[engine])))
            auth = (
                {"password": env["SNOWFLAKE_PASSWORD"]}
                if env["SNOWFLAKE_PASSWORD"]
                else {"authenticator": env["SNOWFLAKE_AUTHENTICATOR"] or "externalbrowser"}
            )
            return ibis.snowflake.connect(
                account=env["SNOWFLAKE_ACCOUNT"],
                user=env["SNOWFLAKE_USER"],
                warehouse=env["SNOWFLAKE_WAREHOUSE"],
                **auth,
            )
        if not (env["TRINO_HOST"] and env["TRINO_USER"]):
            raise EngineError(engine, missing.format(", ".join(WAREHOUSE_CREDENTIALS[engine])))
        return ibis.trino.connect(
            host=env["TRINO_HOST"],
            port=int(env["TRINO_PORT"] or 8080),
            user=env["TRINO_USER"],
            password=env["TRINO_PASSWORD"],
        )
    except (ImportError, AttributeError) as exc:  # ibis raises one of these for a backend not installed
        raise EngineError(
            engine, f"the {engine} client is not installed; pip install 'ibis-framework[{engine}]' ({exc})"
        ) from None


def split_table_name(name: str) -> tuple[str | None, str | None, str]:
    """``catalog.database.table`` (BigQuery project.dataset.table, Snowflake DB.SCHEMA.TABLE, Trino
    catalog.schema.table) as its parts; missing parts None."""
    parts = name.split(".")
    if not 1 <= len(parts) <= 3 or not all(parts):
        from imgkit.errors import InvalidParameterError

        raise InvalidParameterError("table", name, "NAME, DATABASE.NAME or CATALOG.DATABASE.NAME")
    catalog = parts[-3] if len(parts) == 3 else None
    database = parts[-2] if len(parts) >= 2 else None
    return catalog, database, parts[-1]


def log_table(
    engine: str,
    con: Any,
    source: Any,
    *,
    mapping: Any = None,
) -> Any:
    """The log as an ibis table on ``con``: ``source`` may be Parquet (a file, a folder of hive-partitioned
    files, a ``file://`` or object-store URL, or a list of them), any other log :func:`scan_log` reads
    (handed over as Arrow), a polars frame, a Spark DataFrame, an ibis table, or a warehouse table name."""
    ibis = require_ibis(engine)
    if isinstance(source, ibis.Table):
        return source
    if isinstance(source, (pl.DataFrame, pl.LazyFrame)):
        return from_frame(engine, con, source)
    if engine == "spark" and type(source).__name__ == "DataFrame" and hasattr(source, "sparkSession"):
        return con.table(_spark_view(source))
    if engine in WAREHOUSES:
        catalog, database, name = split_table_name(str(source))
        db = (catalog, database) if catalog else database
        return con.table(name, database=db)
    sources = [source] if isinstance(source, (str, Path)) else list(source)
    if mapping is not None or not all(_is_parquet(s) for s in sources):
        from imgkit.records.scan import scan_log

        paths = [local_path(s) or s for s in sources]
        return from_frame(engine, con, scan_log(paths, mapping=mapping))
    if engine == "duckdb":
        files: list[str] = []
        for s in sources:
            path = local_path(s)
            files += _parquet_files(path) if path is not None else [_remote_glob(str(s))]
        return con.read_parquet(files, hive_partitioning=True, union_by_name=True)
    session = con._session
    paths = [str(path.resolve()) if (path := local_path(s)) is not None else str(s) for s in sources]
    frame = session.read.option("mergeSchema", "true").parquet(*paths)
    return con.table(_spark_view(frame))


def _remote_glob(url: str) -> str:
    return url if url.endswith(".parquet") else url.rstrip("/") + "/**/*.parquet"


_views = iter(range(1, 1 << 62))


def _spark_view(frame: Any) -> str:
    name = f"imgkit_log_{os.getpid()}_{next(_views)}"
    frame.createOrReplaceTempView(name)
    return name


def from_frame(engine: str, con: Any, frame: pl.DataFrame | pl.LazyFrame) -> Any:
    ibis = require_ibis(engine)
    data = frame.lazy().collect().to_arrow()
    if engine == "spark":
        return con.table(_spark_view(con._session.createDataFrame(data)))
    return ibis.memtable(data)
