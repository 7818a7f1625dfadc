"""``imgkit reconcile`` and the per-month volume mix on DuckDB or Spark: the same answers as
:mod:`imgkit.analysis.reconcile` on polars.

Re-costing splits where it is portable: the catalog prices the few distinct (provider, model, quality,
size, width, height, price window) of the log in Python (:func:`imgkit.pricing.recost_lookup`, exact);
the engine joins that small table to every request and does integer arithmetic in units of 1e-10 USD
(tokens x rates, images x unit prices, ceiling to the provider's quantum), then sums per group; the units
become ``Decimal`` here, and every difference, flag and total is computed in Python from the sums.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import polars as pl

from imgkit.analysis.engines.backends import connect, log_table, require_ibis
from imgkit.analysis.reconcile import (
    FLAGS,
    MIX_KEYS,
    Reconciliation,
    group_keys,
    with_billed,
    workload_from_mix,
)
from imgkit.analysis.reconcile import (
    reconcile as polars_reconcile,
)
from imgkit.analysis.reconcile import traffic_workload as polars_traffic_workload
from imgkit.analysis.reconcile import volume_mix as polars_volume_mix
from imgkit.catalog import Catalog, load_catalog
from imgkit.money import MONEY_QUANTUM, MONEY_TOTAL
from imgkit.pricing import price_boundaries, recost_lookup
from imgkit.records.schema import OUTCOME_OK, ColumnType

__all__ = ["reconcile", "traffic_workload", "volume_mix"]

_KEY_TYPES = {"width": pl.Int32, "height": pl.Int32, "_window": pl.Int32}


def _units_usd(units: Any) -> Decimal | None:
    return None if units is None else Decimal(int(units)) * MONEY_QUANTUM


def reconcile(
    source: Any,
    engine: str = "polars",
    ledger: pl.LazyFrame | pl.DataFrame | None = None,
    *,
    by: str | Sequence[str] | None = None,
    billed: pl.LazyFrame | pl.DataFrame | None = None,
    catalog: Catalog | None = None,
    connection: Any = None,
) -> Reconciliation:
    """:func:`imgkit.analysis.reconcile.reconcile` of the imported requests ``source`` on ``engine``.

    ``ledger`` (what the source recorded per request) and ``billed`` are small enough for Python and are
    read by polars; the requests are read and re-costed by the engine."""
    keys = group_keys(by)
    if engine == "polars":
        return polars_reconcile(_polars(source), ledger, by=keys, billed=billed, catalog=catalog)
    from imgkit.analysis.engines import expressions as ex

    ibis = require_ibis(engine)
    cat = catalog or load_catalog()
    con = connect(engine, connection)
    t = ex.canonical(log_table(engine, con, source))
    bounds, today = price_boundaries(cat), dt.date.today()
    distinct = con.to_polars(ex.recost_keys(t, bounds, today))
    distinct = distinct.with_columns(pl.col(c).cast(d) for c, d in _KEY_TYPES.items())
    lookup = recost_lookup(distinct, cat, bounds, today)
    offered = [
        m in cat.models and (p is None or (p, m) in cat.offerings)
        for p, m in zip(lookup["provider"], lookup["model"], strict=True)
    ]
    lookup = lookup.with_columns(pl.Series("_offered", offered, dtype=pl.Boolean))
    r = ex.recost_units(t, _table(engine, con, lookup), bounds, today)
    if ledger is not None:
        ledger_frame = (
            ledger.lazy()
            .select(
                "provenance",
                "request_id",
                pl.col("recorded_cost_usd").alias("recorded_usd"),
                pl.col("evidence").list.contains("gateway_cost_dropped").fill_null(False).alias("_dropped"),
            )
            .collect()
        )
        lg = _table(engine, con, ledger_frame)
        r = r.left_join(lg, [r.provenance == lg.provenance, r.request_id == lg.request_id])
        r = r.drop(*[c for c in ("provenance_right", "request_id_right") if c in r.columns])
        r = r.mutate(_evidence_dropped=r._dropped.fill_null(False))
    else:
        r = r.mutate(recorded_usd=ibis.null("decimal(20, 10)"), _evidence_dropped=ibis.literal(False))
    r = r.mutate(day=r.started_at.date(), month=r.started_at.strftime("%Y-%m"))
    # flat_price: a provider and model whose priced successes were all recorded at one price while their
    # exact costs differ
    tol = ex.TOLERANCE_UNITS
    recorded_units = (r.recorded_usd * ex.UNITS_PER_USD).cast("int64")
    priced = (r.outcome == OUTCOME_OK) & r._exact_units.notnull() & r.recorded_usd.notnull()
    r = r.mutate(_recorded_units=recorded_units, _priced=priced & (recorded_units > tol))
    flat = r.group_by(["provider", "model"]).aggregate(
        _prices=r._recorded_units.nunique(where=r._priced), _exacts=r._exact_units.nunique(where=r._priced)
    )
    r = r.left_join(flat, [r.provider.identical_to(flat.provider), r.model.identical_to(flat.model)])
    r = r.drop(*[c for c in ("provider_right", "model_right") if c in r.columns])
    r = r.mutate(_flat=r._priced & (r._prices == 1) & (r._exacts >= 2))
    sums = con.to_polars(ex.reconcile_sums(r, keys))
    return _from_sums(sums, keys, billed)


def _table(engine: str, con: Any, frame: pl.DataFrame) -> Any:
    """A small polars frame as a table on ``con``."""
    from imgkit.analysis.engines.backends import from_frame

    return from_frame(engine, con, frame)


def _from_sums(sums: pl.DataFrame, keys: tuple[str, ...], billed: Any) -> Reconciliation:
    rows = sums.to_dicts()
    out = []
    recorded_all: list[Decimal] = []
    exact_units, both_difference, unknown = 0, Decimal(0), 0
    for row in rows:
        recorded = row["recorded_usd"]
        recorded = None if recorded is None else Decimal(recorded)
        exact = _units_usd(row["_exact_units"]) if row["_unknown"] == 0 else None
        out.append(
            {
                **{k: row[k] for k in keys},
                "requests": int(row["requests"]),
                "recorded_usd": recorded,
                "exact_usd": exact,
                "difference_usd": None if recorded is None or exact is None else recorded - exact,
                "flags": [f for f in FLAGS if row[f"_flag_{f}"]],
            }
        )
        if recorded is not None:
            recorded_all.append(recorded)
        exact_units += int(row["_exact_units"] or 0)
        both_recorded = Decimal(row["_both_recorded"]) if row["_both_recorded"] is not None else Decimal(0)
        both_difference += both_recorded - (_units_usd(row["_both_exact"]) or Decimal(0))
        unknown += int(row["_unknown"])
    schema: dict[str, ColumnType] = {
        **sums.select(keys).schema,
        "requests": pl.Int64,
        "recorded_usd": MONEY_TOTAL,
        "exact_usd": MONEY_TOTAL,
        "difference_usd": MONEY_TOTAL,
        "flags": pl.List(pl.String),
    }
    grouped = pl.DataFrame(out, schema=schema, orient="row")
    total = {
        "recorded_usd": sum(recorded_all, Decimal(0)) if recorded_all else None,
        "exact_usd": _units_usd(exact_units),
        "difference_usd": both_difference,
        "unknown_requests": unknown,
    }
    return with_billed(grouped, keys, total, billed)


def volume_mix(
    source: Any,
    engine: str = "polars",
    *,
    default_quality: str = "medium",
    default_size: str = "1024x1024",
    connection: Any = None,
) -> pl.DataFrame:
    """:func:`imgkit.analysis.reconcile.volume_mix` computed where the log lives: requests, failures and
    requests with an assumed quality or size per month and (mode, quality, size, n), sorted."""
    if engine == "polars":
        return polars_volume_mix(_polars(source), default_quality=default_quality, default_size=default_size)
    from imgkit.analysis.engines import expressions as ex

    con = connect(engine, connection)
    t = ex.canonical(log_table(engine, con, source))
    return _mix(con, t, default_quality, default_size)


def _mix(con: Any, t: Any, default_quality: str, default_size: str) -> pl.DataFrame:
    from imgkit.analysis.engines import expressions as ex

    mix = con.to_polars(ex.volume_mix(t, default_quality=default_quality, default_size=default_size))
    mix = mix.with_columns(
        pl.col("requests", "failures", "assumed").cast(pl.Int64), pl.col("n").cast(pl.Int32)
    )
    return mix.select(*MIX_KEYS, "requests", "failures", "assumed").sort(MIX_KEYS, nulls_last=True)


def traffic_workload(
    source: Any,
    engine: str = "polars",
    *,
    name: str = "imported traffic",
    default_quality: str = "medium",
    default_size: str = "1024x1024",
    precision: int = 6,
    connection: Any = None,
) -> dict[str, Any]:
    """:func:`imgkit.analysis.reconcile.traffic_workload` with the volume mix and the median prompt tokens
    computed by ``engine`` (two aggregate queries); the workload is built from them by the same Python."""
    options = {"default_quality": default_quality, "default_size": default_size}
    if engine == "polars":
        return polars_traffic_workload(_polars(source), name=name, precision=precision, **options)
    from imgkit.analysis.engines import expressions as ex

    con = connect(engine, connection)
    t = ex.canonical(log_table(engine, con, source))
    mix = _mix(con, t, default_quality, default_size)
    prompt = con.to_polars(t.aggregate(median=t.input_text_tokens.median()))["median"][0]
    return workload_from_mix(mix, prompt, name=name, precision=precision, **options)


def _polars(source: Any) -> pl.LazyFrame:
    from imgkit.records.scan import scan_log

    return source.lazy() if isinstance(source, (pl.DataFrame, pl.LazyFrame)) else scan_log(source)
