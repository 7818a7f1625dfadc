"""pytest plugin: one real PostgreSQL server for the whole session, from the machine's own binaries.

``initdb``, ``pg_ctl`` and ``postgres`` are taken from ``$IMGKIT_PG_BIN``, else ``PATH``, else Debian's
``/usr/lib/postgresql/<version>/bin`` (``make system`` installs Debian's ``postgresql`` package when they are
missing). The cluster lives in a temporary directory, listens on a free loopback port and a Unix socket in that
directory, with fsync off (a test database), and is stopped and removed at the end of the session. ``initdb``
refuses to run as root, so as root the server runs as the ``postgres`` system user that the Debian package
creates.

* ``postgres_server``: the running server (``dsn(database)``, ``port``, ``create_database(name)``).
* ``litellm_db``: a fresh database per test holding LiteLLM's ``LiteLLM_SpendLogs`` table, created with the
  exact DDL of ``tests/data/litellm/spend_logs_ddl.sql`` (LiteLLM's migrations collapsed into one statement);
  its value is the DSN.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

DDL = Path(__file__).resolve().parent / "data" / "litellm" / "spend_logs_ddl.sql"
_NAMES = itertools.count()


def postgres_bin_dir() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``."""
    env = os.environ.get("IMGKIT_PG_BIN")
    if env:
        return Path(env)
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl") and shutil.which("postgres"):
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if versions:
        return Path(versions[-1]).parent
    pytest.fail("PostgreSQL is missing: `make system` installs Debian's postgresql package")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    bin_dir: Path
    root: Path
    port: int
    run_as: str | None

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(a) for a in args]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)

    def create_database(self, name: str) -> str:
        import adbc_driver_postgresql.dbapi as pg

        with pg.connect(self.dsn("postgres"), autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def start(self) -> None:
        data = self.root / "data"
        init = self._run(
            self.bin_dir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--locale=C.UTF-8", check=False,
        )  # fmt: skip
        if init.returncode:
            pytest.fail(f"initdb failed: {init.stderr.strip()}")
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c TimeZone=America/New_York"
        )
        started = self._run(
            self.bin_dir / "pg_ctl", "-D", data, "-l", self.root / "server.log", "-w", "-t", "60",
            "start", "-o", options, check=False,
        )  # fmt: skip
        if started.returncode:
            log = (self.root / "server.log").read_text(errors="replace")[-2000:]
            pytest.fail(f"PostgreSQL did not start: {started.stderr.strip()} {log}")

    def stop(self) -> None:
        self._run(self.bin_dir / "pg_ctl", "-D", self.root / "data", "-m", "fast", "-w", "stop", check=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = postgres_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="imgkit-pg-"))
    run_as = None
    if os.geteuid() == 0:  # initdb refuses root
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail(
                "running as root needs the postgres system user (Debian's postgresql package makes it)"
            )
        os.chown(root, user.pw_uid, user.pw_gid)
        run_as = "postgres"
    server = PostgresServer(bin_dir, root, _free_port(), run_as)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def litellm_db(postgres_server: PostgresServer) -> str:
    """A fresh database holding LiteLLM's empty ``LiteLLM_SpendLogs`` table; its DSN."""
    dsn = postgres_server.create_database(f"litellm_{os.getpid()}_{next(_NAMES)}")
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        for statement in litellm_ddl():
            cur.execute(statement)
    return dsn


def litellm_ddl() -> list[str]:
    """The statements of ``spend_logs_ddl.sql`` (a prepared statement holds one), comments left out."""
    text = "\n".join(line for line in DDL.read_text().splitlines() if not line.lstrip().startswith("--"))
    return [part.strip() for part in text.split(";") if part.strip()]


_JSON = ("metadata", "request_tags", "messages", "response", "proxy_server_request")
_TIMES = ("startTime", "endTime", "completionStartTime", "created_at", "updated_at")


def insert_spend_rows(dsn: str, rows: list[dict], table: str = "LiteLLM_SpendLogs") -> None:
    """Insert rows as LiteLLM's prisma ``create_many`` would: JSON text as ``jsonb``, ISO times as UTC
    ``timestamp(3)`` (the zone dropped after conversion to UTC), the other columns cast to the table's types;
    a row whose ``request_id`` is already there is dropped, as LiteLLM's writer drops a row the database refuses
    (LiteLLM 1.83.14 logs failures with the request id ``"None"``: only the first reaches the table).

    The rows go through a text staging table (ADBC's bulk ingest), then one ``INSERT ... SELECT`` with casts.
    """
    import json

    import adbc_driver_postgresql.dbapi as pg
    import pyarrow as pa

    columns = sorted({k for r in rows for k in r})

    def text(value: object) -> str | None:
        if value is None:
            return None
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        return str(value)

    data = pa.table({c: pa.array([text(r.get(c)) for r in rows], pa.string()) for c in columns})
    with pg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '{table}'"
        )
        types = dict(cur.fetchall())
        columns = [c for c in columns if c in types]
        cur.adbc_ingest("_staging_rows", data.select(columns), mode="replace", temporary=True)

        def cast(c: str) -> str:
            q = f'"{c}"'
            if c in _TIMES:
                return f"({q}::timestamptz AT TIME ZONE 'UTC')::timestamp(3)"
            if types[c] == "jsonb":
                return f"{q}::jsonb"
            if types[c] == "text":
                return q
            return f"{q}::{types[c]}"

        names = ", ".join(f'"{c}"' for c in columns)
        cur.execute(
            f'INSERT INTO "{table}" ({names}) SELECT {", ".join(cast(c) for c in columns)} FROM _staging_rows '
            'ON CONFLICT ("request_id") DO NOTHING'
        )
