"""Any request export (CSV, Parquet, JSON Lines) through a mapping file: a gateway's, a proxy's, your own.

The mapping file (YAML) is the column mapping :func:`imgkit.records.scan.scan_log` reads (``columns``,
``units``, ``outcome``, ``constants``: the source's columns onto canonical ones, with units converted exactly),
plus what an import needs::

    source: openrouter            # provenance "imported:openrouter" (letters, digits, '-', '_')
    request_id: generation_id     # the source's request id: re-imports add nothing twice (required)
    recorded_cost: cost_total     # what the source recorded as the cost (optional; unit: recorded_cost_unit)
    recorded_cost_unit: usd       # usd | cents | micro_usd
    models:                       # the source's model names -> catalog model ids (optional)
      openai/gpt-image-1: gpt-image-1
    providers:                    # the source's provider names -> catalog provider ids (optional)
      OpenAI: openai
    columns: {created_at: started_at, generation_time_ms: latency_ms, model_permaslug: model,
              provider_name: provider, tokens_prompt: input_text_tokens, tokens_completion: output_image_tokens}
    outcome: {from: cancelled, values: {"false": ok, "true": cancelled}, default: ok}

``examples/import_openrouter.yaml`` is a worked example for OpenRouter's activity export. A row without a request id or a start time is skipped with its reason; the recorded cost goes to the
import's ledger, the canonical ``actual_cost_usd`` is imgkit's exact re-cost.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from imgkit.catalog import Catalog, load_catalog, load_yaml
from imgkit.errors import SpecError
from imgkit.money import MONEY
from imgkit.pricing import recost
from imgkit.records.importers._names import NameRules
from imgkit.records.importers._store import ImportStore, ImportSummary
from imgkit.records.scan import scan_log

__all__ = ["IMPORT_KEYS", "import_mapped", "load_import_mapping"]

#: the keys an import mapping adds to scan_log's column mapping
IMPORT_KEYS = ("source", "request_id", "recorded_cost", "recorded_cost_unit", "models", "providers")
_LOG_KEYS = ("columns", "units", "outcome", "constants")
_UNITS = ("usd", "cents", "micro_usd")


def load_import_mapping(path: str | Path) -> dict[str, Any]:
    """Read and check an import mapping (see the module doc); a problem is a SpecError naming the key."""
    file = str(path)
    raw = load_yaml(path, exact=False, error=SpecError)
    if not isinstance(raw, Mapping):
        raise SpecError(file, "", "a mapping is expected (source, request_id, columns, ...)")
    unknown = set(raw) - {*IMPORT_KEYS, *_LOG_KEYS}
    if unknown:
        raise SpecError(
            file, sorted(unknown)[0], f"unknown key; allowed: {', '.join([*IMPORT_KEYS, *_LOG_KEYS])}"
        )
    source = raw.get("source")
    if not isinstance(source, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", source):
        raise SpecError(
            file, "source", f"{source!r} is not allowed; allowed: a name of letters, digits, '-', '_'"
        )
    for key in ("request_id", "recorded_cost"):
        value = raw.get(key)
        if (key == "request_id" or value is not None) and not (isinstance(value, str) and value):
            raise SpecError(file, key, f"{value!r} is not allowed; allowed: a column of the source")
    unit = raw.get("recorded_cost_unit", "usd")
    if unit not in _UNITS:
        raise SpecError(file, "recorded_cost_unit", f"{unit!r} is not allowed; allowed: {', '.join(_UNITS)}")
    for key in ("models", "providers"):
        table = raw.get(key) or {}
        if not isinstance(table, Mapping) or not all(isinstance(v, str) for v in table.values()):
            raise SpecError(file, key, "a mapping of the source's names to catalog ids is expected")
    return dict(raw)


def import_mapped(
    path: str | Path,
    mapping: str | Path,
    out: str | Path,
    *,
    catalog: Catalog | None = None,
) -> ImportSummary:
    """Import a CSV, Parquet or JSON Lines export through an import mapping file into ``out``."""
    cat = catalog or load_catalog()
    spec = load_import_mapping(mapping)
    provenance = f"imported:{spec['source']}"
    log_mapping = {k: spec[k] for k in _LOG_KEYS if spec.get(k) is not None}
    columns = dict(log_mapping.get("columns") or {})
    columns[spec["request_id"]] = "request_id"
    log_mapping["columns"] = columns
    log_mapping.setdefault("constants", {})
    log_mapping["constants"] = {**log_mapping["constants"], "provenance": provenance}
    frame = scan_log(path, mapping=log_mapping).collect()
    recorded = None
    if spec.get("recorded_cost"):
        cost_map = {
            "columns": {spec["request_id"]: "request_id", spec["recorded_cost"]: "actual_cost_usd"},
            "units": {"actual_cost_usd": spec.get("recorded_cost_unit", "usd")},
            "constants": {"outcome": "ok"},
        }
        recorded = scan_log(path, mapping=cost_map).select("actual_cost_usd").collect()["actual_cost_usd"]
    summary = ImportSummary(Path(out))
    summary["rows_read"] = frame.height
    frame = frame.with_columns(
        _recorded=recorded if recorded is not None else pl.lit(None, dtype=MONEY),
        _source_model=pl.col("model"),
        _source_provider=pl.col("provider"),
        item_id=pl.coalesce("item_id", "request_id"),
        run_id=pl.coalesce("run_id", pl.lit(provenance)),
    )
    rules = NameRules(cat, dict(spec.get("providers") or {}), dict(spec.get("models") or {}))
    if frame.height:
        frame = frame.with_columns(provider=rules.map_column(frame, rules.provider, "provider"))
        frame = frame.with_columns(model=rules.map_column(frame, rules.model, "model", "provider"))
    reason = (
        pl.when(pl.col("request_id").is_null() | (pl.col("request_id") == ""))
        .then(pl.lit("no request id"))
        .when(pl.col("started_at").is_null())
        .then(pl.lit("no start time"))
    )
    frame = frame.with_columns(_skip=reason)
    summary.skip(dict(frame.filter(pl.col("_skip").is_not_null()).group_by("_skip").len().iter_rows()))
    frame = frame.filter(pl.col("_skip").is_null()).unique(["request_id"], keep="first", maintain_order=True)
    summary.skip(
        {
            "request id repeated in the file": summary["rows_read"]
            - frame.height
            - sum(summary["skipped"].values())
        }
    )
    with ImportStore(out, provenance) as store:
        fresh = store.new_rows(frame)
        summary.skip({"already imported": frame.height - fresh.height})
        ledger = fresh.select(
            "provenance", "request_id", "started_at",
            pl.col("_recorded").alias("recorded_cost_usd"),
            pl.col("_source_model").alias("source_model"),
            pl.col("_source_provider").alias("source_provider"),
            pl.lit([], dtype=pl.List(pl.String)).alias("evidence"),
        )  # fmt: skip
        canonical = recost(fresh.drop("_recorded", "_source_model", "_source_provider", "_skip"), cat)
        summary["imported"] = canonical.height
        store.commit(spec["source"], canonical, ledger)
        store.finish(spec["source"], summary)
    return summary
