"""LiteLLM spend logs (``LiteLLM_SpendLogs`` in the proxy's PostgreSQL) as imgkit's canonical request log.

The row format is LiteLLM's own (``schema.prisma``, the proxy's spend-log payload builder
``get_logging_payload``; checked against litellm 1.108.7 and 1.83.14): one row per request, ``request_id`` its
primary key, times as ``TIMESTAMP(3)`` without zone holding UTC, ``spend`` a float, usage and request fields in
``jsonb`` columns. What is read:

* a request id (LiteLLM 1.83 logs a failure's as the text ``"None"``: such rows cannot be told apart, and are
  counted as skipped, "no request id");
* image calls: ``call_type`` ``image_generation``, ``aimage_generation``, ``image_edit``, ``aimage_edit``; and
  failures, which the proxy logs with ``call_type = ''``: kept when the stored request's route is an images
  route, or the model is an image model the catalog knows, or the error's traceback passes through LiteLLM's
  image endpoints; otherwise counted as skipped ("unknown call type", or "not an image call");
* model (as logged, ``openai/gpt-image-1-mini`` or ``gpt-image-1-mini``) and provider
  (``custom_llm_provider``), mapped onto the catalog by ``data/imports/litellm.yaml``; an ``api_base`` that
  belongs to another provider (a gateway) makes that provider the one called;
* ``startTime``, ``endTime``, ``completionStartTime`` (first byte: equal to the end for calls that do not
  stream); a failure's times are both the moment it was logged, so its latency is left null;
* ``metadata.usage_object`` (tokens: text and image in, image and text out; thinking tokens count as text
  out; without ``completion_tokens_details`` every output token is an image token, imgkit's billing rule), the
  columns ``prompt_tokens``/``completion_tokens`` when the metadata was trimmed; a usage of 0 tokens (Imagen,
  fal) is no usage;
* size, quality and ``n`` from ``proxy_server_request`` (stored only with ``store_prompts_in_spend_logs``) and
  the echo in ``response``; image dimensions fal returned;
* ``cache_hit``: ``"True"`` on a request the proxy answered from its own cache (its cost calculator returns 0.0
  for a cache hit and the request id gets ``_cache_hit<time>``): imported with outcome ``cache_hit``, $0
  ``not_billed``, no tokens (the usage logged is the cached response's) and no generation time, counted in
  the summary as ``cache_hits``; it is no attempt at a provider (left out of success rates and percentiles);
* ``spend`` -- LiteLLM's own cost, rounded half-even to 1e-10 USD from its shortest decimal form -- goes to the
  import's ledger as ``recorded_cost_usd``; the canonical ``actual_cost_usd`` is imgkit's exact re-cost
  (:func:`imgkit.pricing.recost`), null with ``cost_method="unknown"`` for a model the catalog lacks, never $0.

Reading: PostgreSQL through ADBC (``adbc-driver-postgresql``), streaming Arrow record batches
(``fetch_record_batch``, batches bounded in bytes), one query per UTC day of ``startTime`` so that an
interrupted import resumes at the day it stopped in; :data:`CONNECTIONS` days are read at once, each on its
own connection, while the day before is interpreted and written. Each JSON column is decompressed once per
row (``metadata || '{}'``) and only the fields above cross the wire, as scalars (the usage tokens too): the
client interprets them with polars expressions, never a Python loop over rows. A file of rows as LiteLLM would insert them
(JSON Lines; the shape ``SPEND_LOGS_URL`` receives) is read the same way, for tests and samples.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import queue
import threading
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import polars as pl

from imgkit.catalog import Catalog, load_catalog
from imgkit.errors import InvalidParameterError, SpecError
from imgkit.keys import scrub
from imgkit.money import MONEY
from imgkit.pricing import recost
from imgkit.records.importers._names import NameRules, default_rules_path, load_name_rules
from imgkit.records.importers._store import ImportStore, ImportSummary
from imgkit.records.schema import LOG_SCHEMA, OUTCOME_CACHE_HIT, OUTCOME_OK, ColumnType

__all__ = [
    "IMAGE_CALL_TYPES",
    "PROVENANCE",
    "SPEND_LOGS_TABLE",
    "import_litellm",
    "litellm_query",
    "litellm_records",
    "read_spend_rows",
]

SOURCE = "litellm"
PROVENANCE = f"imported:{SOURCE}"
SPEND_LOGS_TABLE = "LiteLLM_SpendLogs"
IMAGE_CALL_TYPES = ("image_generation", "aimage_generation", "image_edit", "aimage_edit")
EDIT_CALL_TYPES = ("image_edit", "aimage_edit")
#: rows per committed chunk (a day's rows are written in chunks of at most this many)
CHUNK_ROWS = 200_000
#: days read from PostgreSQL at once, each on its own connection (the server's JSON decompression sets the pace)
CONNECTIONS = 2

#: scalar columns read as they are (a column an older table lacks is read as null)
SCALARS: dict[str, ColumnType] = {
    "request_id": pl.String,
    "call_type": pl.String,
    "status": pl.String,
    "spend": pl.Float64,
    "prompt_tokens": pl.Int64,
    "completion_tokens": pl.Int64,
    "total_tokens": pl.Int64,
    "startTime": pl.Datetime("us"),
    "endTime": pl.Datetime("us"),
    "completionStartTime": pl.Datetime("us"),
    "model": pl.String,
    "model_group": pl.String,
    "custom_llm_provider": pl.String,
    "api_base": pl.String,
    "cache_hit": pl.String,
}
JSON_COLUMNS = ("metadata", "proxy_server_request", "response")
#: the JSON fields read: name -> (column, path); objects arrive as JSON text, scalars as their text
FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    # metadata.usage_object, taken apart on the server (a JSON path per row on the client costs ~7 us each)
    "u_prompt": ("metadata", ("usage_object", "prompt_tokens")),
    "u_completion": ("metadata", ("usage_object", "completion_tokens")),
    "u_total": ("metadata", ("usage_object", "total_tokens")),
    "u_in_text": ("metadata", ("usage_object", "prompt_tokens_details", "text_tokens")),
    "u_in_image": ("metadata", ("usage_object", "prompt_tokens_details", "image_tokens")),
    "u_out_image": ("metadata", ("usage_object", "completion_tokens_details", "image_tokens")),
    "u_out_text": ("metadata", ("usage_object", "completion_tokens_details", "text_tokens")),
    "u_out_reasoning": ("metadata", ("usage_object", "completion_tokens_details", "reasoning_tokens")),
    "u_images": ("metadata", ("usage_object", "output_image_count")),
    "meta_status": ("metadata", ("status",)),
    "error_code": ("metadata", ("error_information", "error_code")),
    "error_class": ("metadata", ("error_information", "error_class")),
    "error_message": ("metadata", ("error_information", "error_message")),
    "error_traceback": ("metadata", ("error_information", "traceback")),
    "req_size": ("proxy_server_request", ("size",)),
    "req_quality": ("proxy_server_request", ("quality",)),
    "req_n": ("proxy_server_request", ("n",)),
    "req_route": ("proxy_server_request", ("metadata", "user_api_key_auth", "request_route")),
    "resp_size": ("response", ("size",)),
    "resp_quality": ("response", ("quality",)),
    "resp_width": ("response", ("data", "0", "provider_specific_fields", "width")),
    "resp_height": ("response", ("data", "0", "provider_specific_fields", "height")),
    "gateway_cost": ("response", ("metadata", "cost")),
}
_USAGE_FIELDS = tuple(name for name in FIELDS if name.startswith("u_"))
#: LiteLLM's exception classes and error codes -> imgkit outcomes (codes first, then classes, then HTTP classes)
_ERROR_CODES = {
    "429": "rate_limit",
    "408": "timeout",
    "504": "timeout",
    "401": "authentication",
    "403": "authentication",
    "moderation_blocked": "content_policy",
    "content_policy_violation": "content_policy",
    "content_filter": "content_policy",
}
_ERROR_CLASSES = {
    "RateLimitError": "rate_limit",
    "Timeout": "timeout",
    "APITimeoutError": "timeout",
    "AuthenticationError": "authentication",
    "PermissionDeniedError": "authentication",
    "ContentPolicyViolationError": "content_policy",
    "BadRequestError": "bad_request",
    "NotFoundError": "bad_request",
    "UnprocessableEntityError": "bad_request",
    "UnsupportedParamsError": "bad_request",
    "ServiceUnavailableError": "unavailable",
    "InternalServerError": "unavailable",
    "APIConnectionError": "unavailable",
    "APIError": "unavailable",
}


# --- the query ---------------------------------------------------------------------------------------------


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_time(value: dt.datetime) -> str:
    """A naive UTC timestamp literal (the table's columns hold UTC without a zone)."""
    utc = value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    return f"TIMESTAMP '{utc.isoformat(sep=' ')}'"


def litellm_query(
    columns: set[str], *, table: str = SPEND_LOGS_TABLE, since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> str:  # fmt: skip
    """The SELECT of image rows (``columns``: the table's columns; missing ones are read as null).

    Each JSON column is detoasted and decompressed once (``col || '{}'``: a new in-memory value), then only
    :data:`FIELDS` are taken out of it; a JSON column holding a JSON *string* (written double-encoded) comes
    out as text in ``<column>_text`` and is parsed by the client, so one odd row never aborts the query.
    """
    inner = [f"s.{_quote(c)}" if c in columns else f"NULL AS {_quote(c)}" for c in SCALARS]
    inner += [
        f"s.{_quote(c)} || '{{}}'::jsonb AS {_quote('j_' + c)}"
        if c in columns
        else f"NULL::jsonb AS {_quote('j_' + c)}"
        for c in JSON_COLUMNS
    ]
    outer = [_quote(c) for c in SCALARS]
    for name, (column, path) in FIELDS.items():
        outer.append(f"{_quote('j_' + column)} #>> '{{{','.join(path)}}}' AS {_quote(name)}")
    for column in JSON_COLUMNS:
        j = _quote("j_" + column)
        outer.append(
            f"CASE WHEN jsonb_typeof({j}) = 'array' THEN {j} ->> 0 END AS {_quote(column + '_text')}"
        )
    images = ", ".join(f"'{t}'" for t in IMAGE_CALL_TYPES)
    failure = "s.\"status\" = 'failure'" if "status" in columns else "s.metadata ->> 'status' = 'failure'"
    where = [f"(s.call_type IN ({images}) OR (s.call_type = '' AND {failure}))"]
    if since is not None:
        where.append(f's."startTime" >= {_sql_time(since)}')
    if until is not None:
        where.append(f's."startTime" < {_sql_time(until)}')
    return (
        f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} FROM {_table(table)} s "
        f"WHERE {' AND '.join(where)} OFFSET 0) q"
    )


def _table(table: str) -> str:
    return ".".join(_quote(part) for part in table.split(".", 1)) if "." in table else _quote(table)


# --- reading --------------------------------------------------------------------------------------------------


def display_dsn(dsn: str) -> str:
    """The DSN with its password masked, for messages."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _connect(dsn: str) -> Any:
    try:
        import adbc_driver_postgresql.dbapi as pg
    except ImportError:
        raise InvalidParameterError(
            "source", "postgresql", "imgkit installed with the postgres extra: pip install 'imgkit[postgres]'"
        ) from None
    try:
        return pg.connect(dsn, autocommit=True)
    except Exception as exc:  # ADBC's OperationalError / ProgrammingError
        raise SpecError(display_dsn(dsn), "connection", f"cannot connect ({_db_message(exc)})") from None


def _db_message(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return scrub(text)[:300]


def _table_columns(conn: Any, dsn: str, table: str) -> set[str]:
    schema, _, name = table.rpartition(".")
    sql = (
        "SELECT column_name FROM information_schema.columns WHERE table_name = "
        f"'{name.replace(chr(39), chr(39) * 2)}'"
        + (f" AND table_schema = '{schema.replace(chr(39), chr(39) * 2)}'" if schema else "")
    )
    with conn.cursor() as cur:
        cur.execute(sql)
        columns = {row[0] for row in cur.fetchall()}
    if not columns:
        raise SpecError(
            display_dsn(dsn), f"table {table}", "does not exist; allowed: LiteLLM's spend-log table"
        )
    missing = {"request_id", "call_type", "startTime"} - columns
    if missing:
        raise SpecError(
            display_dsn(dsn), f"table {table}", f"lacks LiteLLM's columns {', '.join(sorted(missing))}"
        )
    return columns


def _day_bounds(conn: Any, table: str, since: dt.datetime | None) -> tuple[dt.date, dt.date] | None:
    where = f' WHERE "startTime" >= {_sql_time(since)}' if since else ""
    with conn.cursor() as cur:
        cur.execute(f'SELECT min("startTime"), max("startTime") FROM {_table(table)}{where}')
        low, high = cur.fetchone()
    if low is None:
        return None
    return low.date(), high.date()


def _batches(conn: Any, sql: str, dsn: str) -> Generator[pl.DataFrame, None, None]:
    with conn.cursor() as cur:
        try:
            cur.execute(sql)
            reader = cur.fetch_record_batch()
            for batch in reader:
                if batch.num_rows:
                    frame = pl.from_arrow(batch)
                    assert isinstance(frame, pl.DataFrame)  # a record batch is a frame, never a series
                    yield _raw_frame(frame)
        except SpecError:
            raise
        except Exception as exc:
            raise SpecError(display_dsn(dsn), "query", _db_message(exc)) from None


_DONE = object()


def _read_slices(
    dsn: str, first: Any, slices: Sequence[tuple[str, str]], connections: int
) -> Iterator[tuple[str, Iterator[pl.DataFrame]]]:
    """``(name, raw batches)`` of each ``(name, sql)`` slice, in order, read ahead on ``connections`` connections.

    PostgreSQL's decompression of the JSON columns sets the pace of a read, so each slice runs on its own
    connection in a thread (ADBC and polars release the GIL) while the caller interprets and writes the one
    before: up to ``connections`` slices are read at once and each keeps at most a few batches waiting, so
    memory stays bounded. ``first`` is an open connection (used as the first of them); the others are opened
    here and every one left as it was found (closed, except ``first``).
    """
    pool: queue.SimpleQueue[Any] = queue.SimpleQueue()
    pool.put(first)
    opened: list[Any] = []
    stop = threading.Event()

    def connection() -> Any:
        try:
            return pool.get_nowait()
        except queue.Empty:
            conn = _connect(dsn)
            opened.append(conn)
            return conn

    def give(out: queue.Queue[Any], item: Any) -> bool:
        """Put ``item`` for the consumer; False once the consumer has gone."""
        while not stop.is_set():
            try:
                out.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def read(sql: str, out: queue.Queue[Any]) -> None:
        if stop.is_set():
            return
        try:
            conn = connection()
        except BaseException as exc:
            give(out, exc)
            return
        batches = _batches(conn, sql, dsn)
        try:
            for frame in batches:
                if not give(out, frame):
                    return
            give(out, _DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            give(out, exc)
        finally:
            batches.close()
            pool.put(conn)

    def drain(out: queue.Queue[Any]) -> Iterator[pl.DataFrame]:
        while True:
            item = out.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    executor = ThreadPoolExecutor(max_workers=max(1, connections), thread_name_prefix="litellm-read")
    pending: list[tuple[str, queue.Queue[Any]]] = []
    try:
        todo = iter(slices)
        for name, sql in todo:
            out: queue.Queue[Any] = queue.Queue(maxsize=4)
            executor.submit(read, sql, out)
            pending.append((name, out))
            if len(pending) > connections:
                break
        while pending:
            name, out = pending.pop(0)
            yield name, drain(out)
            for next_name, sql in todo:
                nxt: queue.Queue[Any] = queue.Queue(maxsize=4)
                executor.submit(read, sql, nxt)
                pending.append((next_name, nxt))
                break
    finally:
        stop.set()
        executor.shutdown(wait=True, cancel_futures=True)
        for conn in opened:
            conn.close()


def _raw_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """A batch with every column in the dtype the interpretation expects."""
    casts = []
    for name, dtype in SCALARS.items():
        column = pl.col(name)
        found_type = frame.schema[name]
        if isinstance(found_type, pl.Datetime) and found_type.time_zone:
            column = column.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        casts.append(column.cast(dtype, strict=False))
    text = [n for n in (*FIELDS, *(c + "_text" for c in JSON_COLUMNS))]
    casts += [pl.col(n).cast(pl.String) for n in text]
    return frame.select(casts)


def read_spend_rows(path: str | Path, *, chunk_rows: int = CHUNK_ROWS) -> Iterator[pl.DataFrame]:
    """Rows as LiteLLM inserts them (JSON Lines: JSON columns as JSON text, ISO times), in raw frames."""
    file = str(path)
    lf = pl.scan_ndjson(path, infer_schema_length=None)
    try:
        present = set(lf.collect_schema().names())
    except Exception as exc:
        raise SpecError(file, "", f"not JSON Lines of spend-log rows ({_db_message(exc)})") from None
    exprs = []
    for name, dtype in SCALARS.items():
        if name not in present:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
        elif isinstance(dtype, pl.Datetime):
            exprs.append(
                pl.col(name).cast(pl.String).str.to_datetime(time_zone="UTC", time_unit="us", strict=False)
                .dt.replace_time_zone(None).alias(name)
            )  # fmt: skip
        else:
            exprs.append(pl.col(name).cast(dtype, strict=False).alias(name))
    exprs += [pl.lit(None, dtype=pl.String).alias(n) for n in FIELDS]
    for column in JSON_COLUMNS:
        source = pl.col(column) if column in present else pl.lit(None)
        exprs.append(source.cast(pl.String).alias(column + "_text"))
    frame = lf.select(exprs).collect()
    for start in range(0, frame.height, chunk_rows):
        yield frame.slice(start, chunk_rows)


# --- interpretation: raw rows -> canonical rows + ledger --------------------------------------------------------


def _json_fields(raw: pl.DataFrame) -> list[pl.Expr]:
    """Each of :data:`FIELDS` from the server, else from the row's JSON text (JSON Lines, or a double-encoded
    value); a frame whose JSON columns all came apart on the server skips the client's JSON paths."""
    with_text = {c for c in JSON_COLUMNS if raw[c + "_text"].null_count() < raw.height}
    exprs = []
    for name, (column, path) in FIELDS.items():
        if column not in with_text:
            continue
        json_path = "$" + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in path)
        text = pl.col(column + "_text").str.json_path_match(json_path)
        exprs.append(pl.coalesce(pl.col(name), text).alias(name))
    return exprs


def _int(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.Float64, strict=False).cast(pl.Int64, strict=False)


def _usable_text(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr.is_in(["", "null", "None", "auto"])).then(None).otherwise(expr)


def _outcome(code: pl.Expr, error_class: pl.Expr) -> pl.Expr:
    by_code = code.replace_strict(_ERROR_CODES, default=None)
    by_class = error_class.replace_strict(_ERROR_CLASSES, default=None)
    by_http = (
        pl.when(code.str.contains(r"^4\d\d$")).then(pl.lit("bad_request"))
        .when(code.str.contains(r"^5\d\d$")).then(pl.lit("unavailable"))
    )  # fmt: skip
    return pl.coalesce(by_code, by_class, by_http, pl.lit("unavailable"))


def litellm_records(raw: pl.DataFrame, rules: NameRules) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """Interpret raw spend-log rows: (canonical rows, their ledger rows, skipped reason -> count).

    Canonical rows are in :data:`~imgkit.records.schema.LOG_SCHEMA` without costs (``actual_cost_usd`` is set by
    :func:`~imgkit.pricing.recost`, or is a gateway's charge the row kept); the ledger holds what LiteLLM
    recorded (``spend``) and the evidence a row shows by itself.
    """
    f = raw.with_columns(_json_fields(raw))
    corrupt = pl.lit(False)
    for column in JSON_COLUMNS:
        text = pl.col(column + "_text")
        bad = (
            text.is_not_null() & (text.str.strip_chars() != "null") & text.str.json_path_match("$").is_null()
        )
        corrupt = corrupt | bad
    f = f.with_columns(corrupt=corrupt, **{name: _int(pl.col(name)) for name in _USAGE_FIELDS})
    status = pl.coalesce(_usable_text(pl.col("status")), pl.col("meta_status"), pl.lit("success"))
    route = pl.col("req_route")
    image_route = route.str.contains(r"^(/v1)?/images/") | route.str.contains(
        r"^/openai/deployments/.*/images/"
    )
    # names: provider prefix off, catalog ids on
    prefix = pl.col("model").str.extract(r"^([^/]+)/")
    f = f.with_columns(
        custom_llm_provider=pl.coalesce(
            _usable_text(pl.col("custom_llm_provider")),
            pl.when(prefix.is_in(list(rules.providers))).then(prefix),
        )
    )
    llm_provider = rules.map_column(f, rules.provider, "custom_llm_provider")
    f = f.with_columns(_llm_provider=llm_provider)
    f = f.with_columns(
        _routed=rules.map_column(f, rules.routed_provider, "api_base"),
        _name=rules.map_column(f, _strip_prefix(rules), "model", "custom_llm_provider"),
    )
    f = f.with_columns(provider=pl.coalesce("_routed", "_llm_provider"))
    f = f.with_columns(_model=rules.map_column(f, rules.model, "_name", "provider"))
    known_model = rules.map_column(f, rules.known, "_model", dtype=pl.Boolean).fill_null(False)
    f = f.with_columns(_known_model=known_model)
    failure = status == "failure"
    image_call = pl.col("call_type").is_in(IMAGE_CALL_TYPES)
    failed_image = (
        failure
        & (pl.col("call_type").fill_null("") == "")
        & (
            image_route.fill_null(False)
            | (route.is_null() & pl.col("_known_model"))
            | pl.col("error_traceback").str.contains("image_endpoints").fill_null(False)
        )
    )
    skip = (
        pl.when(pl.col("corrupt")).then(pl.lit("corrupt JSON"))
        .when(pl.col("request_id").is_in(["", "None"]).fill_null(True)).then(pl.lit("no request id"))
        .when(pl.col("startTime").is_null()).then(pl.lit("no startTime"))
        .when(image_call | failed_image).then(None)
        .when(route.is_not_null() & ~image_route.fill_null(False)).then(pl.lit("not an image call"))
        .otherwise(pl.lit("unknown call type"))
    )  # fmt: skip
    f = f.with_columns(_skip=skip)
    counts = f.filter(pl.col("_skip").is_not_null()).group_by("_skip").len()
    skipped = dict(counts.iter_rows())
    f = f.filter(pl.col("_skip").is_null())

    # LiteLLM's cache_hit ("True": str(kwargs["cache_hit"])): the proxy answered from its own cache, so its cost
    # calculator returns 0.0 and the row's id gets "_cache_hit<time>"; the usage it logs is the cached
    # response's, tokens this request never consumed
    cached = pl.col("cache_hit").str.to_lowercase().fill_null("") == "true"
    has_usage = ~cached & (pl.coalesce("u_total", "total_tokens").fill_null(0) > 0)
    prompt = pl.coalesce("u_prompt", "prompt_tokens")
    completion = pl.coalesce("u_completion", "completion_tokens")
    in_image = pl.col("u_in_image").fill_null(0)
    details = pl.any_horizontal(pl.col("u_out_image", "u_out_text", "u_out_reasoning").is_not_null())
    out_image = pl.when(details).then(pl.col("u_out_image").fill_null(0)).otherwise(completion)
    out_text = pl.when(details).then((completion - out_image).clip(lower_bound=0)).otherwise(0)
    in_text = pl.coalesce("u_in_text", (prompt - in_image).clip(lower_bound=0))

    def tokens(expr: pl.Expr) -> pl.Expr:
        return pl.when(has_usage).then(expr.cast(pl.Int64))

    size = pl.coalesce(_usable_text(pl.col("resp_size")), _usable_text(pl.col("req_size")))
    wxh = size.str.extract_groups(r"^(\d+)x(\d+)$")
    width = pl.coalesce(_int(pl.col("resp_width")), wxh.struct.field("1").cast(pl.Int64, strict=False))
    height = pl.coalesce(_int(pl.col("resp_height")), wxh.struct.field("2").cast(pl.Int64, strict=False))
    stored_request = pl.col("req_route").is_not_null() | pl.col("req_size").is_not_null()
    n = pl.coalesce(_int(pl.col("req_n")), pl.when(stored_request).then(pl.lit(1)))
    edit = pl.col("call_type").is_in(EDIT_CALL_TYPES) | route.str.contains("/images/edits").fill_null(False)
    started = pl.col("startTime").dt.replace_time_zone("UTC")
    ended = pl.col("endTime").dt.replace_time_zone("UTC")
    gateway_cost = pl.col("gateway_cost").cast(MONEY, strict=False)
    outcome = (
        pl.when(failure)
        .then(_outcome(pl.col("error_code"), pl.col("error_class")))
        .when(cached)
        .then(pl.lit(OUTCOME_CACHE_HIT))
        .otherwise(pl.lit(OUTCOME_OK))
    )
    timed = ~failure & ~cached  # a failure's times are when it was logged; a cache hit generated nothing
    http_status = pl.when(pl.col("error_code").str.contains(r"^\d{3}$")).then(
        pl.col("error_code").cast(pl.Int32, strict=False)
    )
    canonical = f.select(
        pl.lit(PROVENANCE).alias("run_id"),
        pl.col("request_id").alias("item_id"),
        pl.col("model_group").alias("target"),
        pl.lit(1, pl.Int32).alias("attempt"),
        pl.lit(True).alias("final"),
        started.alias("started_at"),
        pl.col("completionStartTime").dt.replace_time_zone("UTC").alias("first_byte_at"),
        ended.alias("ended_at"),
        pl.when(timed).then((ended - started).dt.total_microseconds() / 1000.0).alias("latency_ms"),
        pl.when(timed)
        .then(
            (pl.col("completionStartTime").dt.replace_time_zone("UTC") - started).dt.total_microseconds()
            / 1000.0
        )
        .alias("ttfb_ms"),
        outcome.alias("outcome"),
        http_status.alias("http_status"),
        pl.col("provider"),
        pl.col("_model").alias("model"),
        pl.col("_name").alias("provider_model_id"),
        pl.when(edit).then(pl.lit("edit")).otherwise(pl.lit("generate")).alias("mode"),
        pl.coalesce(_usable_text(pl.col("resp_quality")), _usable_text(pl.col("req_quality"))).alias(
            "quality"
        ),
        size.alias("size"),
        width.alias("width"),
        height.alias("height"),
        n.alias("n"),
        pl.col("request_id"),
        tokens(in_text).alias("input_text_tokens"),
        tokens(in_image).alias("input_image_tokens"),
        tokens(out_image).alias("output_image_tokens"),
        tokens(out_text).alias("output_text_tokens"),
        gateway_cost.alias("actual_cost_usd"),
        pl.when(gateway_cost.is_not_null()).then(pl.lit("gateway_metadata")).alias("cost_method"),
        pl.col("u_images").cast(pl.Int32).alias("images_count"),
        pl.col("error_message"),
        pl.lit(PROVENANCE).alias("provenance"),
    )
    canonical = canonical.with_columns(error_message=_scrubbed(canonical["error_message"]))
    canonical = canonical.select(
        [
            pl.col(c).cast(t) if c in canonical.columns else pl.lit(None, dtype=t).alias(c)
            for c, t in LOG_SCHEMA.items()
        ]
    )
    dropped = (
        pl.col("_routed").is_not_null()
        & (pl.col("_routed") != pl.col("_llm_provider"))
        & gateway_cost.is_null()
    )
    ledger = f.select(
        pl.lit(PROVENANCE).alias("provenance"),
        pl.col("request_id"),
        started.alias("started_at"),
        pl.col("spend").cast(MONEY, strict=False).alias("recorded_cost_usd"),
        pl.col("model").alias("source_model"),
        pl.col("custom_llm_provider").alias("source_provider"),
        pl.when(dropped)
        .then(pl.lit(["gateway_cost_dropped"], dtype=pl.List(pl.String)))
        .otherwise(pl.lit([], dtype=pl.List(pl.String)))
        .alias("evidence"),
    )
    return canonical, ledger, skipped


def _strip_prefix(rules: NameRules) -> Callable[[str | None, str | None], str | None]:
    """LiteLLM's model string without its provider prefix (``openai/gpt-image-1`` -> ``gpt-image-1``)."""

    def strip(model: str | None, provider: str | None) -> str | None:
        if not model:
            return None
        if provider and model.startswith(provider + "/"):
            return model[len(provider) + 1 :]
        head, sep, tail = model.partition("/")
        if sep and head in rules.providers:
            return tail
        return model

    return strip


def _scrubbed(messages: pl.Series) -> pl.Series:
    distinct = messages.drop_nulls().unique()
    if distinct.is_empty():
        return messages
    cleaned = {m: scrub(m) for m in distinct.to_list()}
    return messages.replace_strict(cleaned, default=None, return_dtype=pl.String)


# --- the import -------------------------------------------------------------------------------------------------


def _signature(source: str, table: str, since: dt.datetime | None) -> str:
    parts = urlsplit(source)
    where = f"{parts.hostname}:{parts.port}{parts.path}" if parts.scheme else str(Path(source).resolve())
    text = f"{where}|{table}|{since.isoformat() if since else ''}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _is_dsn(source: str) -> bool:
    return urlsplit(source).scheme in ("postgresql", "postgres")


def import_litellm(
    source: str | Path | None,
    out: str | Path,
    *,
    since: dt.datetime | dt.date | None = None,
    table: str = SPEND_LOGS_TABLE,
    catalog: Catalog | None = None,
    names: str | Path | None = None,
    chunk_rows: int = CHUNK_ROWS,
    connections: int = CONNECTIONS,
    progress: Callable[[Mapping[str, Any]], None] | None = None,
) -> ImportSummary:
    """Import LiteLLM's spend logs into ``out``; returns ``{"rows_read", "imported", "skipped", "out"}``.

        ``source``: a PostgreSQL DSN (``postgresql://user@host:5432/litellm``; None: ``$DATABASE_URL``, as the
        proxy reads it), or a JSON Lines file of rows as LiteLLM inserts them. ``since``: only rows whose
        ``startTime`` is at or after it (a date is midnight UTC). ``names``: the names file (default
        ``data/imports/litellm.yaml``). ``connections``: how many days are read from PostgreSQL at once, each on its
    own connection (the server's JSON decompression sets the pace). Rows already in ``out`` are skipped ("already imported"); an import
        interrupted before it finished resumes at the day it was in. Unusable input (a DSN that cannot connect, a
        missing table, a file that is not JSON Lines) is one :class:`~imgkit.errors.SpecError`.
    """
    if source is None:
        source = os.environ.get("DATABASE_URL")
        if not source:
            raise InvalidParameterError(
                "DSN", None, "a PostgreSQL DSN (postgresql://user@host:5432/db) or $DATABASE_URL"
            )
    source = str(source)
    if isinstance(connections, bool) or not isinstance(connections, int) or connections < 1:
        raise InvalidParameterError("connections", connections, "a whole number of connections, 1 or more")
    if isinstance(since, dt.date) and not isinstance(since, dt.datetime):
        since = dt.datetime(since.year, since.month, since.day, tzinfo=dt.UTC)
    if not _is_dsn(source) and not Path(source).is_file():
        raise InvalidParameterError(
            "source",
            display_dsn(source),
            "a postgresql:// DSN or a JSON Lines file of LiteLLM spend-log rows",
        )
    cat = catalog or load_catalog()
    rules = load_name_rules(cat, names or default_rules_path(SOURCE))
    signature = _signature(source, table, since)
    summary = ImportSummary(Path(out))
    prices: dict[tuple[Any, ...], dict[str, Any]] = {}  # unit prices of the combinations met (pricing.recost)
    with ImportStore(out, PROVENANCE) as store:
        done = _days_done(store, signature)
        if _is_dsn(source):
            conn = _connect(source)
            try:
                columns = _table_columns(conn, source, table)
                bounds = _day_bounds(conn, table, since)
                slices = []
                for day in _days(bounds) if bounds else []:
                    if day.isoformat() in done:
                        continue
                    low = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
                    low = max(low, since) if since else low
                    high = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) + dt.timedelta(days=1)
                    slices.append(
                        (day.isoformat(), litellm_query(columns, table=table, since=low, until=high))
                    )
                for name, batches in _read_slices(source, conn, slices, connections):
                    _import_batches(batches, store, rules, cat, summary, signature, name, chunk_rows, progress,
                                    prices)  # fmt: skip
            finally:
                conn.close()
        else:
            batches = read_spend_rows(source, chunk_rows=chunk_rows)
            if since is not None:
                cutoff = since.astimezone(dt.UTC).replace(tzinfo=None)
                batches = (b.filter(pl.col("startTime") >= cutoff) for b in batches)
            _import_batches(batches, store, rules, cat, summary, signature, "file", chunk_rows, progress,
                            prices)  # fmt: skip
        store.finish(SOURCE, summary, signature=signature)
    return summary


def _days(bounds: tuple[dt.date, dt.date]) -> list[dt.date]:
    low, high = bounds
    return [low + dt.timedelta(days=i) for i in range((high - low).days + 1)]


def _days_done(store: ImportStore, signature: str) -> set[str]:
    """Days an unfinished import of the same query completed (an import that finished: none)."""
    entries = [e for e in store.runs(SOURCE) if e.get("signature") == signature]
    if not entries or entries[-1].get("finished"):
        return set()
    last_run = entries[-1]["run"]
    return {e["slice"] for e in entries if e.get("run") == last_run and e.get("slice_done")}


def _import_batches(
    batches: Iterator[pl.DataFrame],
    store: ImportStore,
    rules: NameRules,
    catalog: Catalog,
    summary: ImportSummary,
    signature: str,
    slice_name: str,
    chunk_rows: int,
    progress: Callable[[Mapping[str, Any]], None] | None,
    prices: dict[tuple[Any, ...], dict[str, Any]],
) -> None:
    pending: list[pl.DataFrame] = []
    pending_rows = 0

    def flush(last: bool) -> None:
        nonlocal pending, pending_rows
        raw = pl.concat(pending) if pending else None
        pending, pending_rows = [], 0
        canonical = ledger = None
        if raw is not None and raw.height:
            summary["rows_read"] += raw.height
            canonical, ledger, skipped = litellm_records(raw, rules)
            summary.skip(skipped)
            fresh = store.new_rows(canonical)
            summary.skip({"already imported": canonical.height - fresh.height})
            if fresh.height != canonical.height:
                ledger = ledger.join(
                    fresh.select("provenance", "request_id"), on=["provenance", "request_id"], how="semi"
                )
            canonical = recost(fresh, catalog, cache=prices)
            summary["imported"] += canonical.height
            summary.count("cache_hits", int((canonical["outcome"] == OUTCOME_CACHE_HIT).sum()))
        if (canonical is not None and canonical.height) or last:
            store.commit(
                SOURCE, canonical if canonical is not None else pl.DataFrame(schema=LOG_SCHEMA), ledger,
                signature=signature, slice=slice_name, slice_done=last,
            )  # fmt: skip
        if progress is not None:
            progress(summary)

    for batch in batches:
        pending.append(batch)
        pending_rows += batch.height
        if pending_rows >= chunk_rows:
            flush(last=False)
    flush(last=True)
