"""OpenAI's organization Usage API (images) and Costs API pages, as imgkit's request log and billed money.

The Usage API (``GET /v1/organization/usage/images``) counts images and requests per time bucket, grouped by
``model``, ``size``, ``source`` (``image.generation``, ``image.edit``, ``image.variation``), ``project_id``,
``user_id``, ``api_key_id``; it has **no per-request rows, no quality and no tokens**. Each result becomes
``num_model_requests`` canonical rows started at the bucket's start, the bucket's images spread over them
(``images // requests`` each, one more for the first ``images % requests``: an assumption, said here). Without
a quality, a model whose price depends on it cannot be priced per request: those rows' exact cost is unknown
(``unpriced`` in a reconciliation), never a guess.

The Costs API (``GET /v1/organization/costs``) gives money per day and ``line_item`` (``"gpt-image-1 image,
output"``; the model is the line item's first word when the catalog knows it) and ``project_id``, with
``quantity`` and ``quantity_unit`` in current versions: imported as billed money, the third column of
``imgkit reconcile``. OpenAI says Usage "may not always reconcile perfectly" with Costs, and that Costs
reconciles to the invoice: so traffic is reconciled per day and model, the level both support.

Input: one page (``{"object": "page", "data": [bucket, ...]}``), a JSON array of pages, or JSON Lines of
pages; a bucket's list is ``results`` (OpenAI's examples and SDK) or ``result`` (its reference pages).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import polars as pl

from imgkit._files import read_utf8
from imgkit.catalog import Catalog, load_catalog
from imgkit.errors import SpecError
from imgkit.money import MONEY
from imgkit.pricing import recost
from imgkit.records.importers._names import NameRules, default_rules_path, load_name_rules
from imgkit.records.importers._store import BILLED_SCHEMA, ImportStore, ImportSummary
from imgkit.records.schema import LOG_SCHEMA, ColumnType

__all__ = ["import_openai_usage", "read_costs", "read_usage"]

SOURCE = "openai-usage"
PROVENANCE = f"imported:{SOURCE}"
_MODES = {"image.generation": "generate", "image.edit": "edit", "image.variation": "edit"}
_GROUPS = ("model", "size", "source", "project_id", "user_id", "api_key_id")


def _pages(path: str | Path) -> Iterator[tuple[str, Any]]:
    """(where, page) for each page in the file: an object, an array of them, or JSON Lines."""
    file = str(path)
    text = read_utf8(path, SpecError)
    try:
        data = json.loads(text)
    except ValueError:
        data = None
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                yield f"line {number}", json.loads(line)
            except ValueError as exc:
                raise SpecError(
                    file, f"line {number}", f"not JSON ({exc}); allowed: a page of the API"
                ) from None
        return
    if isinstance(data, list):
        for i, page in enumerate(data):
            yield f"[{i}]", page
    else:
        yield "", data


def _buckets(path: str | Path, kind: str) -> Iterator[tuple[str, dict[str, Any], list[Any]]]:
    file = str(path)
    for where, page in _pages(path):
        prefix = f"{where}." if where else ""
        if not isinstance(page, dict) or not isinstance(page.get("data"), list):
            raise SpecError(
                file,
                where or "<root>",
                f'not a {kind} page; allowed: {{"object": "page", "data": [bucket, ...]}}',
            )
        for i, bucket in enumerate(page["data"]):
            at = f"{prefix}data[{i}]"
            if not isinstance(bucket, dict):
                raise SpecError(file, at, "a bucket object is expected")
            start = bucket.get("start_time")
            if isinstance(start, bool) or not isinstance(start, int):
                raise SpecError(
                    file, f"{at}.start_time", f"{start!r} is not allowed; allowed: Unix seconds (an integer)"
                )
            results = bucket.get("results", bucket.get("result", []))
            if not isinstance(results, list):
                raise SpecError(file, f"{at}.results", "a list of results is expected")
            yield at, bucket, results


def _count(file: str, where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SpecError(file, where, f"{value!r} is not allowed; allowed: a whole number, 0 or more")
    return value


def _text(file: str, where: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise SpecError(file, where, f"{value!r} is not allowed; allowed: text or null")


def read_usage(path: str | Path) -> pl.DataFrame:
    """One row per Usage result: ``start_time`` (UTC), ``images``, ``requests`` and the grouping fields."""
    file = str(path)
    rows = []
    for at, bucket, results in _buckets(path, "Usage API"):
        for j, result in enumerate(results):
            where = f"{at}.results[{j}]"
            if not isinstance(result, dict):
                raise SpecError(file, where, "a result object is expected")
            row = {
                "start_time": dt.datetime.fromtimestamp(bucket["start_time"], dt.UTC),
                "images": _count(file, f"{where}.images", result.get("images")),
                "requests": _count(file, f"{where}.num_model_requests", result.get("num_model_requests")),
            }
            for name in _GROUPS:
                row[name] = _text(file, f"{where}.{name}", result.get(name))
            source = row["source"]
            if source is not None and source not in _MODES:
                raise SpecError(
                    file, f"{where}.source", f"{source!r} is not allowed; allowed: {', '.join(_MODES)}"
                )
            rows.append(row)
    schema: dict[str, ColumnType] = {
        "start_time": pl.Datetime("us", "UTC"),
        "images": pl.Int64,
        "requests": pl.Int64,
    }
    schema |= dict.fromkeys(_GROUPS, pl.String)
    return pl.DataFrame(rows, schema=schema, orient="row")


def _amount(file: str, where: str, value: Any) -> Decimal:
    """``amount.value`` (a JSON number or a string, as clients see both) as an exact Decimal."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SpecError(file, where, f"{value!r} is not allowed; allowed: a number or decimal text")
    try:
        amount = Decimal(str(value))  # a float's shortest decimal form, never its binary expansion
    except InvalidOperation:
        raise SpecError(file, where, f"{value!r} is not allowed; allowed: a number or decimal text") from None
    if not amount.is_finite():
        raise SpecError(file, where, f"{value!r} is not allowed; allowed: a finite amount")
    return amount


def read_costs(path: str | Path, names: NameRules | None = None) -> pl.DataFrame:
    """Costs API results as billed money (:data:`~imgkit.records.importers._store.BILLED_SCHEMA` + ``key``)."""
    file = str(path)
    rules = names or load_name_rules(load_catalog(), default_rules_path("openai"))
    rows = []
    for at, bucket, results in _buckets(path, "Costs API"):
        day = dt.datetime.fromtimestamp(bucket["start_time"], dt.UTC).date()
        for j, result in enumerate(results):
            where = f"{at}.results[{j}]"
            if not isinstance(result, dict) or not isinstance(result.get("amount"), dict):
                raise SpecError(file, f"{where}.amount", "an amount object {value, currency} is expected")
            currency = str(result["amount"].get("currency") or "usd").lower()
            if currency != "usd":
                raise SpecError(
                    file, f"{where}.amount.currency", f"{currency!r} is not allowed; allowed: usd"
                )
            line_item = _text(file, f"{where}.line_item", result.get("line_item"))
            first = line_item.split()[0].rstrip(",") if line_item else None
            model = rules.model(first, "openai") if first else None
            quantity = result.get("quantity")
            rows.append(
                {
                    "day": day,
                    "provider": "openai",
                    "model": model if rules.known(model) else None,
                    "line_item": line_item,
                    "project_id": _text(file, f"{where}.project_id", result.get("project_id")),
                    "billed_usd": _amount(file, f"{where}.amount.value", result["amount"].get("value")),
                    "quantity": None if quantity is None else _amount(file, f"{where}.quantity", quantity),
                    "quantity_unit": _text(file, f"{where}.quantity_unit", result.get("quantity_unit")),
                    "key": "|".join(
                        str(x)
                        for x in (
                            bucket["start_time"],
                            line_item,
                            result.get("project_id"),
                            result.get("api_key_id"),
                            result.get("user_id"),
                            result.get("api_source"),
                        )
                    ),
                }
            )
    return pl.DataFrame(rows, schema={**BILLED_SCHEMA, "key": pl.String}, orient="row")


def _expand(usage: pl.DataFrame, rules: NameRules) -> tuple[pl.DataFrame, int]:
    """One canonical row per request of each result; (rows, results with images but no requests)."""
    orphan = usage.filter((pl.col("requests") == 0) & (pl.col("images") > 0)).height
    usage = usage.filter(pl.col("requests") > 0)
    model = rules.map_column(usage, lambda m: rules.model(m, "openai"), "model") if usage.height else None
    key = pl.concat_str(
        [pl.col("start_time").dt.epoch("s").cast(pl.String), *[pl.col(g).fill_null("") for g in _GROUPS]],
        separator="/",
    )
    rows = (
        usage.with_columns(_model=model, _key=key, _k=pl.int_ranges(0, pl.col("requests")))
        .explode("_k")
        .with_columns(
            images_count=(
                pl.col("images") // pl.col("requests")
                + (pl.col("_k") < pl.col("images") % pl.col("requests")).cast(pl.Int64)
            ),
        )
    )
    size = pl.col("size")
    wxh = size.str.extract_groups(r"^(\d+)x(\d+)$")
    canonical = rows.select(
        pl.lit(PROVENANCE).alias("run_id"),
        (pl.col("_key") + "#" + pl.col("_k").cast(pl.String)).alias("request_id"),
        pl.lit(1, pl.Int32).alias("attempt"),
        pl.lit(True).alias("final"),
        pl.col("start_time").alias("started_at"),
        pl.lit("ok").alias("outcome"),
        pl.lit("openai").alias("provider"),
        pl.col("_model").alias("model"),
        pl.col("model").alias("provider_model_id"),
        pl.col("source").replace_strict(_MODES, default=None).alias("mode"),
        size.alias("size"),
        wxh.struct.field("1").cast(pl.Int32, strict=False).alias("width"),
        wxh.struct.field("2").cast(pl.Int32, strict=False).alias("height"),
        pl.col("images_count").cast(pl.Int32).alias("n"),
        pl.col("images_count").cast(pl.Int32),
        pl.lit(PROVENANCE).alias("provenance"),
    ).with_columns(item_id=pl.col("request_id"))
    canonical = canonical.select(
        [
            pl.col(c).cast(t) if c in canonical.columns else pl.lit(None, dtype=t).alias(c)
            for c, t in LOG_SCHEMA.items()
        ]
    )
    return canonical, orphan


def import_openai_usage(
    usage: str | Path,
    out: str | Path,
    *,
    costs: str | Path | None = None,
    catalog: Catalog | None = None,
    names: str | Path | None = None,
) -> ImportSummary:
    """Import a Usage API export (and a Costs API export) into ``out``; see the module doc.

    ``rows_read`` counts Usage results (and Costs results); ``imported`` the request rows written.
    Re-importing the same pages adds nothing (request ids are the bucket, its grouping and an index; billed
    money is keyed by bucket and line item).
    """
    cat = catalog or load_catalog()
    rules = load_name_rules(cat, names or default_rules_path("openai"))
    frame = read_usage(usage)
    billed = read_costs(costs, rules) if costs is not None else None
    summary = ImportSummary(Path(out))
    summary["rows_read"] = frame.height + (billed.height if billed is not None else 0)
    canonical, orphan = _expand(frame, rules)
    summary.skip({"images without requests": orphan})
    with ImportStore(out, PROVENANCE) as store:
        fresh = store.new_rows(canonical)
        summary.skip({"already imported": canonical.height - fresh.height})
        fresh = recost(fresh, cat)
        ledger = fresh.select(
            "provenance", "request_id", "started_at",
            pl.lit(None, dtype=MONEY).alias("recorded_cost_usd"),
            pl.col("provider_model_id").alias("source_model"),
            pl.lit("openai").alias("source_provider"),
            pl.lit([], dtype=pl.List(pl.String)).alias("evidence"),
        )  # fmt: skip
        new_billed = None
        if billed is not None:
            new_billed = store.new_billed(billed)
            summary.skip({"already imported": billed.height - new_billed.height})
        summary["imported"] = fresh.height
        store.commit(SOURCE, fresh, ledger, new_billed)
        store.finish(SOURCE, summary)
    return summary
