"""Reconciliation: what a source recorded for imported traffic, against imgkit's exact cost and what was billed.

Input: imported requests (canonical rows, :mod:`imgkit.records.schema`), the import's ledger (what the source
recorded per request: ``recorded_cost_usd`` and the evidence its row shows, see
:mod:`imgkit.records.importers`), and optionally money billed per day (OpenAI's Costs API). Each request is
re-costed exactly by :func:`imgkit.pricing.recost` with the catalog as it is now, and flagged:

=============================  ==================================================================================
flag                           when
=============================  ==================================================================================
``recorded_zero``              the source recorded $0 for a request imgkit prices above $0
``image_tokens_at_text_rate``  the recorded cost is the output tokens priced at the model's text rate (the
                               published text-output rate, where it differs from the image rate) and not at
                               the image rate
``flat_price``                 every request of a model at a provider was recorded at one price while the
                               exact costs differ (a size- or quality-dependent model priced flat)
``gateway_cost_dropped``       the request went through a gateway whose own charge the source did not keep
                               (LiteLLM: an ``api_base`` of another provider than the one it priced)
``unknown_model``              the catalog lacks the model, or its offering at that provider: exact cost null
``unpriced``                   the catalog knows the model but the request lacks what its price depends on
                               (size, quality): exact cost null
=============================  ==================================================================================

"Equal" in the flags allows :data:`TOLERANCE_USD` (a source that stores money as a binary float is off by
its rounding); the differences themselves are exact. Money is ``Decimal``: a group's ``exact_usd`` is null
when any of its requests cannot be priced, and ``totals.difference_usd`` is recorded minus exact over the
requests that have both, so the recorded spend of ``unknown_requests`` is never compared with a guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import polars as pl

from imgkit.catalog import Catalog, load_catalog
from imgkit.errors import InvalidParameterError
from imgkit.money import MONEY, MONEY_TOTAL, plain_usd
from imgkit.pricing import recost
from imgkit.records.schema import OUTCOME_CACHE_HIT

__all__ = [
    "FLAGS",
    "MIX_KEYS",
    "RECONCILE_KEYS",
    "TOLERANCE_USD",
    "Reconciliation",
    "reconcile",
    "reconcile_requests",
    "traffic_workload",
    "volume_mix",
    "with_billed",
    "workload_from_mix",
]

#: every flag, in the order a row lists them
FLAGS = (
    "recorded_zero",
    "image_tokens_at_text_rate",
    "flat_price",
    "gateway_cost_dropped",
    "unknown_model",
    "unpriced",
)
#: the columns a reconciliation may be grouped by
RECONCILE_KEYS = ("day", "month", "provider", "model", "mode", "quality", "size", "outcome", "provenance")
#: two amounts within this many USD are "equal" for the flags (binary-float storage of the source)
TOLERANCE_USD = Decimal("0.000000001")
_SUM = MONEY_TOTAL
_LEDGER = {
    "provenance": pl.String,
    "request_id": pl.String,
    "recorded_cost_usd": MONEY,
    "evidence": pl.List(pl.String),
}


def _offered(catalog: Catalog, provider: str | None, model: str | None) -> bool:
    return model in catalog.models and (provider is None or (provider, model) in catalog.offerings)


def reconcile_requests(
    requests: pl.LazyFrame | pl.DataFrame,
    ledger: pl.LazyFrame | pl.DataFrame | None = None,
    catalog: Catalog | None = None,
) -> pl.DataFrame:
    """One row per imported request: its keys, ``recorded_usd``, ``exact_usd``, ``difference_usd``,
    ``cost_method`` and ``flags`` (a list, :data:`FLAGS` order)."""
    cat = catalog or load_catalog()
    lf = requests.lazy()
    if ledger is not None:
        lf = lf.join(
            ledger.lazy().select(list(_LEDGER)),
            on=["provenance", "request_id"],
            how="left",
            nulls_equal=False,
        )
    else:
        lf = lf.with_columns(
            pl.lit(None, dtype=MONEY).alias("recorded_cost_usd"),
            pl.lit([], dtype=pl.List(pl.String)).alias("evidence"),
        )
    frame = lf.collect()
    exact = recost(frame, cat)
    as_text = frame.with_columns(
        output_text_tokens=pl.col("output_image_tokens").fill_null(0)
        + pl.col("output_text_tokens").fill_null(0),
        output_image_tokens=pl.when(pl.col("output_image_tokens").is_not_null()).then(pl.lit(0, pl.Int64)),
    )
    text_rate = recost(as_text, cat)["actual_cost_usd"]
    offered = frame.select("provider", "model").unique()
    offered = offered.with_columns(
        _offered=pl.Series([_offered(cat, p, m) for p, m in offered.iter_rows()], dtype=pl.Boolean)
    )
    out = frame.with_columns(
        exact_usd=exact["actual_cost_usd"].cast(MONEY),
        cost_method=exact["cost_method"],
        _text_rate=text_rate.cast(MONEY),
        recorded_usd=pl.col("recorded_cost_usd"),
        day=pl.col("started_at").dt.date(),
        month=pl.col("started_at").dt.strftime("%Y-%m"),
    ).join(offered, on=["provider", "model"], how="left", nulls_equal=True, maintain_order="left")
    tol = pl.lit(TOLERANCE_USD, dtype=_SUM)
    recorded, exact_usd, text = (pl.col(c).cast(_SUM) for c in ("recorded_usd", "exact_usd", "_text_rate"))
    near = lambda a, b: (a - b).abs() <= tol  # noqa: E731
    ok_priced = (pl.col("outcome") == "ok") & exact_usd.is_not_null() & recorded.is_not_null()
    group = ["provider", "model"]
    flat = (
        ok_priced
        & (recorded > tol)
        & (recorded.filter(ok_priced & (recorded > tol)).n_unique().over(group) == 1)
        & (exact_usd.filter(ok_priced & (recorded > tol)).n_unique().over(group) >= 2)
        & ~near(recorded, exact_usd)
    )
    outputs = pl.col("output_image_tokens").fill_null(0) + pl.col("output_text_tokens").fill_null(0)
    flags = {
        "recorded_zero": ok_priced & (recorded.abs() <= tol) & (exact_usd > tol),
        "image_tokens_at_text_rate": ok_priced
        & (outputs > 0)
        & text.is_not_null()
        & ~near(text, exact_usd)
        & near(recorded, text),
        "flat_price": flat,
        "gateway_cost_dropped": pl.col("evidence").list.contains("gateway_cost_dropped").fill_null(False),
        "unknown_model": exact_usd.is_null() & ~pl.col("_offered").fill_null(False),
        "unpriced": exact_usd.is_null() & pl.col("_offered").fill_null(False),
    }
    flag_list = pl.concat_list(
        [
            pl.when(expr.fill_null(False)).then(pl.lit(name)).otherwise(pl.lit(None, pl.String))
            for name, expr in flags.items()
        ]
    ).list.drop_nulls()
    out = out.with_columns(
        flags=flag_list,
        difference_usd=(recorded - exact_usd).cast(_SUM),
    )
    keep = [*dict.fromkeys([*RECONCILE_KEYS, "request_id", "started_at"])]
    return out.select(*keep, "recorded_usd", "exact_usd", "difference_usd", "cost_method", "flags")


@dataclass(frozen=True)
class Reconciliation:
    """``rows``: one per group (keys, requests, recorded_usd, exact_usd, difference_usd, [billed_usd], flags);
    ``totals``: recorded_usd, exact_usd, difference_usd, unknown_requests (and billed_usd)."""

    rows: pl.DataFrame
    totals: dict[str, Any]
    by: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        """The shape ``imgkit reconcile --json`` prints: money as decimal strings (exact), dates as ISO."""
        rows = [{k: _jsonable(v) for k, v in row.items()} for row in self.rows.to_dicts()]
        return {"rows": rows, "totals": {k: _jsonable(v) for k, v in self.totals.items()}}

    def largest_differences_first(self) -> pl.DataFrame:
        return self.rows.sort(
            pl.col("difference_usd").abs(), pl.col("recorded_usd"), descending=True, nulls_last=True
        )


def _usd(value: Decimal | None) -> str | None:
    """An amount as a plain decimal string without trailing zeros (``"0.002188"``, ``"0"``)."""
    if value is None:
        return None
    return format(plain_usd(Decimal(value)), "f")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _usd(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def group_keys(by: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"day,provider,model"`` (or a list) as checked grouping keys."""
    if by is None:
        return ("day", "provider", "model")
    names = [n.strip() for n in by.split(",")] if isinstance(by, str) else [str(n) for n in by]
    names = [n for n in names if n]
    for name in names:
        if name not in RECONCILE_KEYS:
            raise InvalidParameterError("by", name, RECONCILE_KEYS)
    if not names:
        raise InvalidParameterError("by", by, f"one or more of {', '.join(RECONCILE_KEYS)}")
    return tuple(dict.fromkeys(names))


def reconcile(
    requests: pl.LazyFrame | pl.DataFrame,
    ledger: pl.LazyFrame | pl.DataFrame | None = None,
    *,
    by: str | Sequence[str] | None = None,
    billed: pl.LazyFrame | pl.DataFrame | None = None,
    catalog: Catalog | None = None,
) -> Reconciliation:
    """Recorded vs exact (vs billed) spend per group of ``by`` (default day, provider, model).

    ``billed``: money billed per day (``day``, and ``provider``/``model`` where known, ``billed_usd``), summed
    per group on the keys it shares with ``by`` -- a group billed but without requests is shown too.
    """
    keys = group_keys(by)
    per_request = reconcile_requests(requests, ledger, catalog)
    return _grouped(per_request, keys, billed)


def _grouped(per_request: pl.DataFrame, keys: tuple[str, ...], billed: Any) -> Reconciliation:
    recorded, exact = pl.col("recorded_usd").cast(_SUM), pl.col("exact_usd").cast(_SUM)
    grouped = (
        per_request.group_by(list(keys))
        .agg(
            pl.len().cast(pl.Int64).alias("requests"),
            pl.when(recorded.is_not_null().any()).then(recorded.sum()).alias("recorded_usd"),
            pl.when(exact.is_null().any()).then(None).otherwise(exact.sum()).alias("exact_usd"),
            *[pl.col("flags").list.contains(f).any().alias(f"_flag_{f}") for f in FLAGS],
        )
        .with_columns(
            difference_usd=pl.col("recorded_usd") - pl.col("exact_usd"),
            flags=pl.concat_list(
                [
                    pl.when(pl.col(f"_flag_{f}")).then(pl.lit(f)).otherwise(pl.lit(None, pl.String))
                    for f in FLAGS
                ]
            ).list.drop_nulls(),
        )
    )
    both = per_request.filter(pl.col("recorded_usd").is_not_null() & pl.col("exact_usd").is_not_null())
    totals: dict[str, Any] = {
        "recorded_usd": per_request["recorded_usd"].cast(_SUM).sum()
        if per_request["recorded_usd"].is_not_null().any()
        else None,
        "exact_usd": per_request["exact_usd"].cast(_SUM).drop_nulls().sum(),
        "difference_usd": (both["recorded_usd"].cast(_SUM) - both["exact_usd"].cast(_SUM)).sum(),
        "unknown_requests": int(per_request["exact_usd"].is_null().sum()),
    }
    return with_billed(grouped, keys, totals, billed)


def with_billed(
    grouped: pl.DataFrame, keys: tuple[str, ...], totals: dict[str, Any], billed: Any
) -> Reconciliation:
    """The reconciliation from its groups (keys, requests, recorded_usd, exact_usd, difference_usd, flags)
    and totals, with the money ``billed`` per day summed on the keys it shares with ``keys`` (a group billed
    but without requests is shown too), the rows in the keys' order; the same for every engine."""
    columns = [*keys, "requests", "recorded_usd", "exact_usd", "difference_usd"]
    if billed is not None:
        billed_frame = billed.lazy().collect() if not isinstance(billed, pl.DataFrame) else billed
        billed_frame = billed_frame.with_columns(month=pl.col("day").dt.strftime("%Y-%m"))
        shared = [k for k in keys if k in billed_frame.columns]
        per_key = billed_frame.group_by(shared).agg(pl.col("billed_usd").cast(_SUM).sum()) if shared else None
        if per_key is not None:
            grouped = grouped.join(per_key, on=shared, how="full", coalesce=True, nulls_equal=True)
            grouped = grouped.with_columns(pl.col("requests").fill_null(0), pl.col("flags").fill_null([]))
        else:
            grouped = grouped.with_columns(pl.lit(None, dtype=_SUM).alias("billed_usd"))
        totals["billed_usd"] = billed_frame["billed_usd"].cast(_SUM).sum()
        columns.append("billed_usd")
    columns.append("flags")
    rows = grouped.select(columns).sort(list(keys), nulls_last=True)
    return Reconciliation(rows, totals, keys)


def flag_counts(per_request: pl.DataFrame) -> Mapping[str, int]:
    """Requests per flag (flags in :data:`FLAGS` order; flags no request has left out)."""
    counts = per_request.select(pl.col("flags").explode().drop_nulls().value_counts()).unnest("flags")
    found = dict(counts.iter_rows()) if counts.height else {}
    return {f: int(found[f]) for f in FLAGS if f in found}


#: the columns of a volume mix (:func:`volume_mix`), in its sort order
MIX_KEYS = ("month", "mode", "quality", "size", "n")


def volume_mix(
    requests: pl.LazyFrame | pl.DataFrame, *, default_quality: str = "medium", default_size: str = "1024x1024"
) -> pl.DataFrame:
    """Requests, failures (an outcome other than ``ok``; a null outcome is none) and requests that logged no
    quality or size, per UTC month and (mode, quality, size, n), sorted: the volume and mix a projection
    takes from a log (missing quality or size: the defaults; n clipped to 1..128). Requests a gateway served
    from its cache (``cache_hit``) were billed by nobody and are left out."""
    frame = (
        requests.lazy()
        .filter(pl.col("outcome").ne_missing(OUTCOME_CACHE_HIT))
        .with_columns(
            month=pl.col("started_at").dt.strftime("%Y-%m"),
            _assumed=pl.col("quality").is_null() | pl.col("size").is_null(),
            mode=pl.col("mode").fill_null("generate"),
            quality=pl.col("quality").fill_null(default_quality),
            size=pl.col("size").fill_null(default_size),
            n=pl.col("n").fill_null(1).clip(1, 128).cast(pl.Int32),
        )
    )
    mix = frame.group_by(MIX_KEYS).agg(
        pl.len().cast(pl.Int64).alias("requests"),
        (pl.col("outcome") != "ok").sum().cast(pl.Int64).alias("failures"),
        pl.col("_assumed").sum().cast(pl.Int64).alias("assumed"),
    )
    return mix.sort(MIX_KEYS, nulls_last=True).collect()


def traffic_workload(
    requests: pl.LazyFrame | pl.DataFrame,
    *,
    name: str = "imported traffic",
    default_quality: str = "medium",
    default_size: str = "1024x1024",
    precision: int = 6,
) -> dict[str, Any]:
    """A workload (the format :func:`imgkit.analysis.projection.parse_workload` reads) with the imported
    traffic's volume and mix, to project what the same traffic costs on every other offering.

    Volume: requests per month, the mean over the months the log spans (``measured``); requests a gateway
    served from its cache (``cache_hit``) were billed by nobody and are left out. Mix: the shares of
    (mode, quality, size, n) among requests, rounded to ``precision`` decimals (the largest share takes the
    rounding so that they sum to exactly 1). A request that logged no quality or size takes
    ``default_quality``/``default_size`` and an edit one 1024x1024 input image: **assumed**, and said in
    the workload's ``description``. The failure rate is measured; targets: ``all``. The same on DuckDB or
    Spark: :func:`imgkit.analysis.engines.traffic_workload`.
    """
    lf = requests.lazy()
    mix = volume_mix(lf, default_quality=default_quality, default_size=default_size)
    prompt = lf.select(pl.col("input_text_tokens").median()).collect().item()
    return workload_from_mix(
        mix,
        prompt,
        name=name,
        default_quality=default_quality,
        default_size=default_size,
        precision=precision,
    )


def workload_from_mix(
    mix: pl.DataFrame,
    prompt_tokens_median: float | None,
    *,
    name: str = "imported traffic",
    default_quality: str = "medium",
    default_size: str = "1024x1024",
    precision: int = 6,
) -> dict[str, Any]:
    """:func:`traffic_workload` from a :func:`volume_mix` (computed by any engine) and the median prompt
    tokens of the requests (None: no request logged them)."""
    if mix.is_empty() or mix["requests"].sum() == 0:
        raise InvalidParameterError("requests", "an empty log", "a log with at least one request")
    months = mix["month"].n_unique()
    assumed = int(mix["assumed"].sum())
    mix_rows = (
        mix.group_by("mode", "quality", "size", "n")
        .agg(pl.col("requests").sum().alias("len"))
        .sort("len", "mode", "quality", "size", "n", descending=[True, False, False, False, False])
    )
    total = int(mix["requests"].sum())
    quantum = Decimal(1).scaleb(-precision)
    shares = [(Decimal(count) / total).quantize(quantum) for count in mix_rows["len"]]
    shares[0] += Decimal(1) - sum(shares)
    components = []
    for (mode, quality, size, n, _), share in zip(mix_rows.iter_rows(), shares, strict=True):
        if share <= 0:
            continue
        component: dict[str, Any] = {
            "label": f"{mode} {quality} {size}" + (f" x{n}" if n > 1 else ""),
            "share": str(share),
            "mode": mode,
            "quality": quality,
            "size": size,
            "n": int(n),
        }
        if mode == "edit":
            component["input_images"] = {"count": 1, "width": 1024, "height": 1024}
        components.append(component)
    spent = sum(Decimal(c["share"]) for c in components)
    components[0]["share"] = str(Decimal(components[0]["share"]) + Decimal(1) - spent)
    failures = int(mix["failures"].sum())
    return {
        "name": name,
        "description": (
            f"the volume and mix of {total:,} imported requests over {months} month(s) (measured); "
            f"{assumed:,} requests logged no quality or size and are counted as {default_quality} "
            f"{default_size} (assumed); edits as one 1024x1024 input image (assumed)"
        ),
        "provenance": "measured",
        "volume": {"requests_per_month": str((Decimal(total) / months).quantize(Decimal("0.000001")))},
        "prompt_tokens": int(prompt_tokens_median) if prompt_tokens_median is not None else 0,
        "mix": components,
        "reliability": {
            "failure_rate": str((Decimal(failures) / total).quantize(quantum)),
            "max_attempts": 1,
        },
        "targets": ["all"],
    }
