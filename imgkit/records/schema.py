"""The canonical request-log schema: one record per attempt.

The journal on disk is JSON Lines (``log.jsonl``), one attempt per line, appended and fsync'd before the next
attempt starts; a process killed at any moment leaves every completed line readable (a torn last line is
skipped by the reader). Parquet (partitioned by ``provider``/``date`` for large logs) is the analysis format.

Each attempt is announced before its request leaves: a ``sent`` record (outcome ``"sent"``, ``final`` false,
the quote reserved for it in ``estimated_cost_usd``), then, once it ends, its outcome record (same
``item_id`` and ``attempt``). A ``sent`` record is not an attempt: readers (:func:`imgkit.records.scan.scan_log`
and everything built on it) leave them out; the runner reads them on resume, where a ``sent``
record that no outcome record follows is a request that was in flight when the process died: possibly
billed (its quote counts as spent), its item sent again.

Every journal record carries the version of this schema it was written in (``"v"``, the first field of every
line; a record without it is version 1, from before records carried one). The columns below are the current
version's; readers bring older records to it (:mod:`imgkit.records.migrations`), so frames always hold the
columns below and no version column.

Money columns are exact: decimal strings in the journal, :data:`imgkit.money.MONEY` (one amount at 1e-10 USD)
in frames. Times are UTC. Durations are milliseconds (``*_ms``) from the attempt's ``started_at``.

Columns (name: type, meaning)
-----------------------------
run_id: str                 the run this attempt belongs to
item_id: str                stable id of the work item (prompt × target × repeat); resume skips finished ones
prompt_id: str              the prompt's id in the experiment spec (null outside runs)
target: str                 the target's label in the spec, e.g. "gpt-image-2/openai/low/1024x1024"
repeat: int                 0-based repeat index of the item
category: str               the prompt's category, when the spec gives one
attempt: int                1-based attempt number of the item
final: bool                 true on the item's last attempt (ok, or the error that ended it)
started_at: datetime        request sent (UTC)
first_byte_at: datetime     first response byte received
first_partial_at: datetime  first streamed partial image received (streaming only)
ended_at: datetime          response complete (images decoded and stored) or failure seen
latency_ms: float           ended_at - started_at: generation time as the client sees it
ttfb_ms: float              first_byte_at - started_at
first_partial_ms: float     first_partial_at - started_at
outcome: str                "ok", or an error class: rate_limit, timeout, unavailable, content_policy,
                            bad_request, authentication, malformed_response, cancelled; "sent" on the
                            record written before the request leaves (not an attempt: see above);
                            "cache_hit" on an imported request a gateway answered from its own cache
                            (LiteLLM's cache_hit): no provider was called, nothing was billed ($0,
                            not_billed), and it is no attempt at a provider (left out of success rates and
                            generation-time percentiles)
http_status: int            last HTTP status seen (null when no response)
provider: str               catalog provider id (openai, fal, lumenfall, simulator...)
model: str                  catalog model id
provider_model_id: str      the id the provider received
mode: str                   "generate" or "edit"
quality: str                resolved quality (echoed by the provider when it echoes)
size: str                   resolved "WxH"
width, height: int          resolved output dimensions in px
n: int                      images requested
streamed: bool              stream=true was used
partial_images: int         partial images requested
requested_params: str       JSON object of the parameters as asked
resolved_params: str        JSON object of the fields the provider received (no secrets, ever)
request_id: str             provider / gateway request id
input_text_tokens, input_image_tokens, output_image_tokens, output_text_tokens: int   from ``usage``
estimated_cost_usd: decimal the quote reserved before sending (the high end of a range when size or quality
                            is auto)
actual_cost_usd: decimal    the bill (null when unknown; never a silent 0)
cost_method: str            tokens (from usage) | per_image_table | per_megapixel | gateway_metadata |
                            provider_charge (the provider's own bill: BFL's cost) | not_billed | unknown
images_count: int           images received
images: str                 JSON list of {sha256, path, width, height, bytes, format}; blobs live on disk
error_message: str          redacted provider message
retry_after_s: float        the provider's retry hint, when given
provenance: str             "measured" for real providers, "simulated" for the simulator
batch_id: str               the provider's batch id when the request went through a Batch API (null: sent
                            interactively); started_at is then when the batch was submitted, ended_at when
                            its result was available, latency_ms the batch's turnaround, ttfb_ms null
"""

from __future__ import annotations

from typing import TypeAlias

import polars as pl
from polars.datatypes import DataTypeClass

from imgkit.money import MONEY, MONEY_LIMIT, MONEY_SCALE

#: a column type as a polars schema holds it: a class (``pl.String``) or an instance (``pl.Decimal(20, 10)``)
ColumnType: TypeAlias = pl.DataType | DataTypeClass

TS = pl.Datetime("us", "UTC")

#: the version of the records this imgkit writes (see :mod:`imgkit.records.migrations` for every version)
SCHEMA_VERSION = 3
#: the field of a journal record holding its schema version (absent: version 1)
VERSION_FIELD = "v"

LOG_SCHEMA: dict[str, ColumnType] = {
    "run_id": pl.String,
    "item_id": pl.String,
    "prompt_id": pl.String,
    "target": pl.String,
    "repeat": pl.Int32,
    "category": pl.String,
    "attempt": pl.Int32,
    "final": pl.Boolean,
    "started_at": TS,
    "first_byte_at": TS,
    "first_partial_at": TS,
    "ended_at": TS,
    "latency_ms": pl.Float64,
    "ttfb_ms": pl.Float64,
    "first_partial_ms": pl.Float64,
    "outcome": pl.String,
    "http_status": pl.Int32,
    "provider": pl.String,
    "model": pl.String,
    "provider_model_id": pl.String,
    "mode": pl.String,
    "quality": pl.String,
    "size": pl.String,
    "width": pl.Int32,
    "height": pl.Int32,
    "n": pl.Int32,
    "streamed": pl.Boolean,
    "partial_images": pl.Int32,
    "requested_params": pl.String,
    "resolved_params": pl.String,
    "request_id": pl.String,
    "input_text_tokens": pl.Int64,
    "input_image_tokens": pl.Int64,
    "output_image_tokens": pl.Int64,
    "output_text_tokens": pl.Int64,
    "estimated_cost_usd": MONEY,
    "actual_cost_usd": MONEY,
    "cost_method": pl.String,
    "images_count": pl.Int32,
    "images": pl.String,
    "error_message": pl.String,
    "retry_after_s": pl.Float64,
    "provenance": pl.String,
    "batch_id": pl.String,
}

#: what a value of each column type must be, in words (for the messages that refuse one)
ALLOWED_VALUES: dict[ColumnType, str] = {
    pl.String: "text",
    pl.Int32: "a whole number (32 bits)",
    pl.Int64: "a whole number",
    pl.Float64: "a number",
    pl.Boolean: "true or false",
    TS: "an ISO 8601 time such as 2026-11-02T10:00:00Z",
    MONEY: f"a decimal amount below {MONEY_LIMIT:,} with at most {MONEY_SCALE} decimal places",
}

OUTCOME_OK = "ok"
#: a request stopped before it finished (Ctrl-C in a run, a cancelled task)
OUTCOME_CANCELLED = "cancelled"
#: the record written just before a request leaves: not an attempt, the announcement of one
OUTCOME_SENT = "sent"
#: an imported request a gateway served from its cache: no provider call, never billed, not an attempt
OUTCOME_CACHE_HIT = "cache_hit"

__all__ = [
    "ALLOWED_VALUES",
    "LOG_SCHEMA",
    "OUTCOME_CACHE_HIT",
    "OUTCOME_CANCELLED",
    "OUTCOME_OK",
    "OUTCOME_SENT",
    "SCHEMA_VERSION",
    "TS",
    "VERSION_FIELD",
]
