"""Quality against cost and speed: join ratings with $/image and generation time, find the Pareto frontier.

Inputs (pure polars frames, each tagged with where its numbers come from):

* **ratings**: one row per model with ``model, rating`` and optionally ``ci_low, ci_high, votes``: one's own
  fit (:class:`~imgkit.analysis.ratings.RatingsResult` or its ``table``; ``measured``) or a published
  leaderboard (:func:`imgkit.analysis.published.lmarena_leaderboard`; ``published``).
* **costs** per image: :func:`catalog_costs` (``pricing.quote`` for one quality and size, per offering),
  a performance table's ``cost_per_image_usd`` (``measured`` / ``simulated``), or
  :func:`imgkit.analysis.published.lmarena_prices`.
* **latency**: a performance table (``latency_p50_ms``) or the published seed figures.

:func:`frontier_inputs` joins them into one row per *option* (a model, or a model at a provider when costs or
times are per provider, as Artificial Analysis plots one point per endpoint) with the columns
``rating, ci_low, ci_high, cost_usd, p50_ms, p95_ms`` and, per input, ``<input>_provenance``,
``<input>_source``, ``<input>_source_date`` (input = rating, cost, latency).

Dominance (RATINGS §9.1, LMArena's ``isParetoOptimal``): option *j* dominates *i* when ``rating_j >= rating_i``
and ``cost_j <= cost_i`` with at least one strict. Exact ties on both axes dominate neither way (both stay on
the frontier). With ``statistical=True`` *j* dominates *i* only when also ``ci_low_j >= ci_high_i``; a
point-estimate dominance that the intervals do not confirm is reported in ``unresolved_with`` instead (and a
missing interval leaves the comparison unresolved). Options without a rating or without a value on the
axis are excluded with a reason, never silently dropped. Costs are compared exactly (``Decimal``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from imgkit.analysis.published import Snapshot
from imgkit.analysis.published import published_dir as _published_dir
from imgkit.catalog import Catalog, load_catalog, parse_wxh
from imgkit.errors import ImgkitError, InvalidParameterError
from imgkit.money import MONEY, usd_text
from imgkit.provenance import Provenance
from imgkit.records.rundir import RunDirectory
from imgkit.records.schema import ColumnType

__all__ = [
    "ARENA_CATALOG",
    "COST_SOURCES",
    "DEFAULT_QUALITY",
    "INPUTS",
    "LATENCY_SOURCES",
    "OBJECTIVES",
    "FrontierSources",
    "Recommendation",
    "catalog_costs",
    "combine_provenance",
    "costs_with_published",
    "frontier_inputs",
    "frontier_sources",
    "pareto_frontier",
    "passed_over",
    "provenance_caption",
    "quality_bands",
    "recommend",
    "run_targets",
    "snapshot_ratings",
    "times_with_published",
]

#: the tier :func:`catalog_costs` prices when a model's default quality is ``auto``
DEFAULT_QUALITY = "medium"
#: the inputs whose provenance the joined frame carries
INPUTS = ("rating", "cost", "latency")
#: what :func:`recommend` optimises: (column kind, direction)
OBJECTIVES = {"max_quality": "quality", "min_cost": "cost", "min_latency": "latency"}

_TAG_COLUMNS = ("provenance", "source", "source_url", "source_date")
_AXIS_NAMES = {"cost": "cost per image", "latency": "generation time"}


def combine_provenance(kinds: Iterable[str | None]) -> str:
    """Distinct provenance kinds joined by ``+`` (sorted, as the performance table writes them)."""
    return "+".join(sorted({str(k) for k in kinds if k}))


# --- inputs ----------------------------------------------------------------------------------------------


def catalog_costs(
    models: Sequence[str] | None = None,
    *,
    quality: str | Mapping[str, str] | None = None,
    size: str = "1024x1024",
    mode: str = "generate",
    method: Literal["auto", "table", "tokens"] = "auto",
    on: dt.date | None = None,
    catalog: Catalog | None = None,
) -> pl.DataFrame:
    """Cost of one image per catalog offering (model x provider) by :func:`imgkit.pricing.quote`.

    ``quality``: one tier for every model, or ``{model: quality}``; ``None`` takes each model's default
    quality, and ``medium`` where that default is ``auto`` (the provider picks, so no exact price exists;
    ``cost_note`` says so). Models without a quality parameter are priced without one; offerings that do not
    serve ``mode`` are left out. An offering that cannot be priced this way (the quality is not offered, the
    model was retired on or before ``on`` (default today), no price row, a price known only as a range) keeps
    a row with a null ``cost_usd`` and the reason in ``cost_note`` (a range as ``a range, $low to $high``). Columns: ``model, provider, quality, size, cost_usd, cost_method,
    cost_note, provenance, source, source_date`` (the latest date the price's sources were checked).
    """
    from imgkit.pricing import quote

    cat = catalog or load_catalog()
    width, height = parse_wxh(size)
    wanted = set(models) if models is not None else None
    rows = []
    for (provider, model_id), offering in sorted(cat.offerings.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if wanted is not None and model_id not in wanted:
            continue
        if mode not in offering.modes:
            continue
        model = cat.model(model_id)
        q = quality.get(model_id) if isinstance(quality, Mapping) else quality
        row: dict[str, Any] = {"model": model_id, "provider": provider, "quality": q, "size": size}
        row.update(cost_usd=None, cost_method=None, cost_note=None, provenance=None, source=None)
        row["source_date"] = None
        assumed_tier = None
        if q is None and model.qualities:
            q = model.default_quality if model.default_quality in model.qualities else DEFAULT_QUALITY
            row["quality"] = q
            if model.default_quality != q:
                assumed_tier = f"default quality {model.default_quality!r} priced as {q!r}"
        lifecycle = cat.lifecycle(model_id, provider, on)
        if lifecycle.state == "retired":
            row["cost_note"] = f"retired on {lifecycle.date}"
        elif not model.qualities:
            row["quality"] = None
        elif q is not None and q not in model.qualities:
            row["cost_note"] = f"quality {q!r} not offered ({', '.join(model.qualities)})"
        if row["cost_note"] is None:
            try:
                price = cat.price(model_id, provider, on=on)
                cost = quote(
                    model_id,
                    provider,
                    mode=mode,
                    quality=row["quality"],
                    width=width,
                    height=height,
                    method=method,
                    on=on,
                    catalog=cat,
                )
            except ImgkitError as exc:
                row["cost_note"] = str(exc)
            else:
                row["cost_method"] = cost.method
                if cost.total_usd is None and cost.low_usd is not None and cost.high_usd is not None:
                    why = (cost.unknown_reason or "").split(":")[0].split(";")[0].strip()
                    row["cost_note"] = f"a range, ${cost.low_usd:.4g} to ${cost.high_usd:.4g}" + (
                        f": {why}" if why else ""
                    )
                elif cost.total_usd is None:
                    row["cost_note"] = cost.unknown_reason
                else:
                    row["cost_usd"] = cost.total_usd
                    row["cost_note"] = assumed_tier
                    row["provenance"] = combine_provenance(ln.provenance for ln in cost.lines)
                    row["source"] = f"imgkit catalog, {cat.provider(provider).name} prices"
                    checked = [cat.sources[t].checked for t in price.source if t in cat.sources]
                    row["source_date"] = max(checked) if checked else None
        rows.append(row)
    schema: dict[str, ColumnType] = {
        "model": pl.String,
        "provider": pl.String,
        "quality": pl.String,
        "size": pl.String,
        "cost_usd": MONEY,
        "cost_method": pl.String,
        "cost_note": pl.String,
        "provenance": pl.String,
        "source": pl.String,
        "source_date": pl.Date,
    }
    return pl.DataFrame(rows, schema=schema)


def costs_with_published(quoted: pl.DataFrame, published: pl.DataFrame) -> pl.DataFrame:
    """Cost per image: ``quoted`` (e.g. :func:`catalog_costs`), then ``published`` prices (e.g.
    :func:`imgkit.analysis.published.lmarena_prices`) for the models ``quoted`` does not price.

    A published price with a ``price_source`` URL names the seller it was read from: that host becomes the
    option's provider (LMArena cites e.g. replicate.com for photon), so it is not mistaken for a catalog offer.
    """
    missing = published.filter(~pl.col("model").is_in(quoted["model"].implode()))
    if "price_source" in missing.columns:
        missing = missing.with_columns(provider=pl.col("price_source").str.extract(r"://([^/]+)"))
    return pl.concat([quoted, missing], how="diagonal_relaxed")


def times_with_published(measured: pl.DataFrame | None, published: pl.DataFrame) -> pl.DataFrame:
    """Generation times per provider x model: the ``measured`` rows (a performance table, or None), then the
    ``published`` figures (e.g. :func:`imgkit.analysis.published.seed_performance`) for the pairs it lacks."""
    keep = ["provider", "model", "latency_p50_ms", "latency_p95_ms", *_TAG_COLUMNS]
    published = published.select(c for c in keep if c in published.columns)
    if measured is None:
        return published
    published = published.join(measured, on=["provider", "model"], how="anti")
    return pl.concat([measured, published], how="diagonal_relaxed")


def _tag(
    frame: pl.DataFrame, prefix: str, provenance: str, source: str | None, source_date: dt.date | None
) -> pl.DataFrame:
    """Rename ``provenance/source/source_url/source_date`` to ``<prefix>_...`` (defaults where missing)."""
    frame = frame.rename({c: f"{prefix}_{c}" for c in _TAG_COLUMNS if c in frame.columns})
    defaults = {
        f"{prefix}_provenance": pl.lit(str(provenance), dtype=pl.String),
        f"{prefix}_source": pl.lit(source, dtype=pl.String),
        f"{prefix}_source_date": pl.lit(source_date, dtype=pl.Date),
    }
    return frame.with_columns(
        expr.alias(name) for name, expr in defaults.items() if name not in frame.columns
    )


def _require(frame: pl.DataFrame, what: str, *alternatives: Sequence[str]) -> None:
    for columns in alternatives:
        if all(c in frame.columns for c in columns):
            return
    wanted = " or ".join(", ".join(c) for c in alternatives)
    raise InvalidParameterError(f"{what} columns", sorted(frame.columns), wanted)


def _ratings_frame(ratings: Any, provenance: str, source: str | None) -> pl.DataFrame:
    from imgkit.analysis.ratings import RatingsResult

    if isinstance(ratings, RatingsResult):
        source = source or ratings.caption()
        ratings = ratings.table
    _require(ratings, "ratings", ("model", "rating"))
    frame = ratings.with_columns(
        *(pl.lit(None, dtype=pl.Float64).alias(c) for c in ("ci_low", "ci_high") if c not in ratings.columns)
    )
    extra = ("votes", "category", "leaderboard_name", "catalog_note")
    keep = ["model", "rating", "ci_low", "ci_high", *(c for c in extra if c in frame.columns)]
    frame = frame.select(*keep, *(c for c in _TAG_COLUMNS if c in frame.columns))
    frame = frame.with_columns(pl.col("rating", "ci_low", "ci_high").cast(pl.Float64))
    _unique(frame, ["model"], "ratings")
    return _tag(frame, "rating", provenance, source, None)


def _cost_frame(costs: pl.DataFrame, source: str | None) -> pl.DataFrame:
    _require(costs, "costs", ("model", "cost_usd"), ("model", "cost_per_image_usd"))
    if "cost_usd" not in costs.columns:
        costs = costs.rename({"cost_per_image_usd": "cost_usd"})
    keys = [c for c in ("model", "provider") if c in costs.columns]
    extra = [c for c in ("quality", "size", "cost_method", "cost_note") if c in costs.columns]
    frame = costs.select(
        *keys, pl.col("cost_usd").cast(MONEY), *extra, *(c for c in _TAG_COLUMNS if c in costs.columns)
    )
    _unique(frame, keys, "costs")
    return _tag(frame, "cost", Provenance.MEASURED, source, None)


def _latency_frame(latency: pl.DataFrame, source: str | None) -> pl.DataFrame:
    _require(latency, "latency", ("model", "p50_ms"), ("model", "latency_p50_ms"))
    latency = latency.rename(
        {c: c.removeprefix("latency_") for c in latency.columns if c.startswith("latency_p")}
    )
    keys = [c for c in ("model", "provider") if c in latency.columns]
    if "p95_ms" not in latency.columns:
        latency = latency.with_columns(pl.lit(None, dtype=pl.Float64).alias("p95_ms"))
    tags = [c for c in _TAG_COLUMNS if c in latency.columns]
    frame = latency.select(*keys, pl.col("p50_ms", "p95_ms").cast(pl.Float64), *tags)
    _unique(frame, keys, "latency")
    return _tag(frame, "latency", Provenance.MEASURED, source, None)


def _unique(frame: pl.DataFrame, keys: Sequence[str], what: str) -> None:
    dup = frame.group_by(keys).len().filter(pl.col("len") > 1)
    if dup.height:
        first = dup.row(0, named=True)
        raise InvalidParameterError(
            f"{what} rows",
            {k: first[k] for k in keys},
            f"one row per {' x '.join(keys)} (filter or group the input first)",
        )


def run_targets(run_dir: str | Path) -> pl.DataFrame:
    """A run directory's performance per target, with the target's label as ``model`` (and no provider).

    The labels are the names ``imgkit vote`` writes, so a run's own votes, costs and times join option by
    option: ``frontier_inputs(fit_bradley_terry(votes), run_targets(d), run_targets(d))``. Costs are the
    logged cost per delivered image, times the logged percentiles, tagged with the log's provenance.
    """
    from imgkit.analysis.performance import performance_table

    table = performance_table(RunDirectory(run_dir).scan(), by="target")
    return table.rename({"target": "model"})


# --- gathering the inputs ------------------------------------------------------------------------------------

#: ``leaderboard`` name of the 2025-12-17 arena-catalog folder (data/published/lmarena/: its categories and
#: LMArena's own $/image)
ARENA_CATALOG = "arena-catalog"
#: where costs per image may come from (or a request log's path)
COST_SOURCES = ("lmarena", "catalog", "log", "run")
#: where generation times may come from (or a request log's path)
LATENCY_SOURCES = ("published", "seed", "log", "run")


@dataclass(frozen=True)
class FrontierSources:
    """Ratings, costs per image and generation times gathered for a frontier, each tagged with its origin.

    Made by :func:`frontier_sources`; :meth:`options` joins them (:func:`frontier_inputs`). ``costs`` and
    ``latency`` are None where not asked for; ``cost_basis`` says what catalog quotes priced (``quality
    medium, 1024x1024``).
    """

    ratings: Any
    rating_provenance: str
    rating_source: str | None
    costs: pl.DataFrame | None = None
    latency: pl.DataFrame | None = None
    cost_basis: str | None = None
    snapshot: Snapshot | None = None

    def staleness(self, today: dt.date | None = None) -> str | None:
        """The published snapshot's staleness warning on ``today`` (None: fresh, or not a published board)."""
        return self.snapshot.staleness(today) if self.snapshot is not None else None

    def options(
        self, aliases: Mapping[str, str] | None = None, *, costs: bool = True, latency: bool = True
    ) -> pl.DataFrame:
        """One row per option (:func:`frontier_inputs`); ``costs=False`` or ``latency=False`` leaves an input
        out (the cost frontier needs no times, the time frontier no costs). A leaderboard name without a
        catalog model has ``cost_note`` "not in the catalog" (the alias table's reason is in ``catalog_note``)."""
        frame = frontier_inputs(
            self.ratings,
            self.costs if costs else None,
            self.latency if latency else None,
            aliases=aliases,
            rating_provenance=self.rating_provenance,
            rating_source=self.rating_source,
        )
        if "catalog_note" in frame.columns and "cost_note" in frame.columns:
            missing = pl.col("cost_usd").is_null() & pl.col("catalog_note").is_not_null()
            frame = frame.with_columns(
                pl.when(missing)
                .then(pl.lit("not in the catalog"))
                .otherwise(pl.col("cost_note"))
                .alias("cost_note")
            )
        return frame

    def inputs_used(
        self, options: pl.DataFrame, by_cost: pl.DataFrame | None = None, by_time: pl.DataFrame | None = None
    ) -> list[dict[str, Any]]:
        """``input, options, where from`` rows for a report: how many options each input places and its
        provenance caption."""
        rated = options.filter(pl.col("rating").is_not_null())["model"].n_unique()
        rows = [
            {"input": "ratings", "options": int(rated), "where from": provenance_caption(options, ["rating"])}
        ]
        if by_cost is not None:
            caption = provenance_caption(by_cost, ["cost"])
            caption += f"; {self.cost_basis}" if self.cost_basis else ""
            count = int(by_cost["cost_usd"].is_not_null().sum())
            rows.append({"input": "cost per image", "options": count, "where from": caption})
        if by_time is not None:
            count = int(by_time["p50_ms"].is_not_null().sum())
            caption = provenance_caption(by_time, ["latency"])
            rows.append({"input": "generation time (p50)", "options": count, "where from": caption})
        return rows


def frontier_sources(
    ratings: str | Path | None = None,
    *,
    run_dir: str | Path | None = None,
    costs: str | Path | None = None,
    latency: str | Path | None = None,
    category: str = "full",
    leaderboard_dir: str | Path | None = None,
    leaderboard: str | None = None,
    board: str = "text-to-image",
    leaderboards_dir: str | Path | None = None,
    rating_provenance: str = Provenance.MEASURED,
    bootstrap: int = 0,
    seed: int = 0,
    quality: str | None = None,
    size: str = "1024x1024",
    on: dt.date | None = None,
    log_path: str | Path | None = None,
    log_mapping: str | Path | None = None,
    fill_published: bool = False,
    describe_logs: bool = False,
) -> FrontierSources:
    """Gather what a frontier joins: ratings, costs per image and generation times (``imgkit frontier`` and
    the ``elo_vs_speed`` report, each with its own defaults).

    * ``ratings``: a votes file (Bradley–Terry fitted here: bootstrap intervals of ``bootstrap`` rounds seeded
      ``seed``, or sandwich intervals when 0; ``rating_provenance`` says whose votes), a ratings table
      (``model, rating[, ci_low, ci_high]``, CSV or Parquet) or the JSON of ``imgkit ratings --json``; None:
      the votes of ``run_dir`` (``votes.csv`` from ``imgkit vote``), else a published snapshot: ``leaderboard``
      (a snapshot id or an arena, :func:`~imgkit.analysis.published.find_snapshot`; default the newest LMArena
      snapshot of ``board``, from ``leaderboards_dir``, default the shipped folder), its names mapped to catalog
      ids by the alias table (the ``model`` column is the
      catalog id where there is one, ``leaderboard_name`` the board's name); with ``leaderboard_dir`` the
      arena-catalog folder of 2025-12-17 (its ``category``, and LMArena's $/image as costs).
    * ``costs``: ``lmarena`` (published $/image), ``catalog`` (:func:`catalog_costs` at ``quality``, ``size``,
      ``on``), ``log`` (the cost per successful image in ``log_path``, per provider x model), ``run`` (per
      target of ``run_dir``) or a log's path; None: ``run`` with a ``run_dir``, ``lmarena`` beside the
      arena-catalog folder, else ``catalog`` (the edit mode's prices for an ``image-edit`` board).
    * ``latency``: ``seed`` (the seed page's published times), ``log``, ``run`` or a log's path; None: ``run``
      with a ``run_dir``, else no times.

    ``fill_published``: published figures fill what the chosen source lacks: LMArena's $/image for models
    the catalog does not sell (not beside a dated snapshot: those prices name the 2025-12-17 board's models), the published times (seed page, then the gateway's
    model pages: the first copy of each provider x model) for provider x model pairs a log lacks. Logs are read
    once each, with ``log_mapping`` (:func:`imgkit.records.scan.scan_log`), and named in captions by
    their file name (``run/log.jsonl``), or with ``describe_logs`` by their description (``simulated from
    provider_log.parquet, 1,000 requests, 2026-01-01 – 2026-01-30``). A missing file or votes a run does not
    have yet are refused naming the parameter.
    """
    from imgkit.analysis.published import (
        find_snapshot,
        lmarena_leaderboard,
        lmarena_prices,
        published_performance,
    )
    from imgkit.analysis.published import leaderboard as read_leaderboard

    tables: dict[str, pl.DataFrame] = {}  # per log read: its table per provider x model (or per target)
    source: str | None
    if run_dir is not None:
        run = RunDirectory(run_dir)
        if ratings is None and not run.votes_path.is_file():
            raise InvalidParameterError(
                "run_dir", str(run_dir), f"a run with votes ({run.votes_path}: none yet; imgkit vote)"
            )
        ratings = ratings if ratings is not None else run.votes_path
        source = _log_caption(run.scan(), run.log_label) if describe_logs else run.log_label
        tables["run"] = run_targets(run_dir).with_columns(source=pl.lit(source, dtype=pl.String))
    if leaderboard == ARENA_CATALOG:
        leaderboard, leaderboard_dir = None, leaderboard_dir or _published_dir() / "lmarena"
    published_board = ratings is None and leaderboard_dir is not None  # the arena-catalog folder
    snapshot = None
    if published_board:
        fitted = lmarena_leaderboard(category, leaderboard_dir)
        provenance, source = str(Provenance.PUBLISHED), None
    elif ratings is None:
        snapshot = find_snapshot(leaderboard, board, leaderboards_dir)
        fitted = snapshot_ratings(read_leaderboard(snapshot.id, board, leaderboards_dir))
        provenance, source = str(Provenance.PUBLISHED), None
    else:
        fitted, source = _load_ratings(Path(ratings), bootstrap, seed)
        provenance = str(rating_provenance)

    def log_table(choice: str | Path, what: str) -> pl.DataFrame:
        if choice == "run" and "run" not in tables:
            raise InvalidParameterError(what, "run", "run together with a run_dir")
        if choice == "log" and log_path is None:
            raise InvalidParameterError(what, "log", "log together with a log_path")
        key = str(log_path if choice == "log" else choice)
        if key not in tables:
            tables[key] = _log_table(Path(key), log_mapping, what, describe_logs)
        return tables[key]

    if costs is None:
        costs = "run" if "run" in tables else "lmarena" if published_board else "catalog"
    cost_basis = None
    if costs == "lmarena":
        cost_frame = lmarena_prices(leaderboard_dir)
    elif costs == "catalog":
        mode = "edit" if snapshot is not None and snapshot.board == "image-edit" else "generate"
        cost_frame = catalog_costs(quality=quality, size=size, on=on, mode=mode)
        cost_basis = f"quality {quality}, {size}" if quality else f"each model's default quality, {size}"
        cost_basis += f", {mode}, priced on {on or dt.date.today()}"
        if fill_published and snapshot is None:  # LMArena's 2025 $/image names the 2025 board's models
            cost_frame = costs_with_published(cost_frame, lmarena_prices(leaderboard_dir))
    else:
        cost_frame = log_table(costs, "costs")
    if latency is None and "run" in tables:
        latency = "run"
    time_frame = None
    if latency in ("seed", "published"):
        time_frame = published_performance(first_copy_only=True)
    elif latency is not None:
        time_frame = log_table(latency, "latency")
        if fill_published and latency != "run":
            time_frame = times_with_published(time_frame, published_performance(first_copy_only=True))
    return FrontierSources(fitted, provenance, source, cost_frame, time_frame, cost_basis, snapshot)


def snapshot_ratings(board: pl.DataFrame) -> pl.DataFrame:
    """A leaderboard snapshot (:func:`imgkit.analysis.published.leaderboard`) as frontier ratings: one row per
    catalog id (its alias table's primary row) and per name without an id; ``model`` is the catalog id
    where there is one, ``leaderboard_name`` the name as the board prints it."""
    return board.filter(pl.col("use")).with_columns(
        pl.col("model").alias("leaderboard_name"),
        pl.coalesce("catalog_id", "model").alias("model"),
        pl.when(pl.col("catalog_id").is_null())
        .then(pl.format("not in the catalog: {}", "why_none"))
        .alias("catalog_note"),
    )


def _load_ratings(path: Path, bootstrap: int, seed: int) -> tuple[Any, str]:
    """Ratings from ``path`` and the source text they are captioned with (votes are fitted here)."""
    import json

    from imgkit.analysis.ratings import fit_bradley_terry, read_votes

    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidParameterError("ratings", str(path), f"a readable JSON file ({exc})") from None
        rows = doc.get("ratings") if isinstance(doc, dict) else doc
        if not isinstance(rows, list):
            raise InvalidParameterError("ratings", str(path), 'a JSON list or {"ratings": [...]}')
        return pl.DataFrame(rows), path.name
    table = read_votes(path)
    if "rating" in table.columns:
        return table, path.name
    ci = "bootstrap" if bootstrap else "sandwich"
    result = fit_bradley_terry(table, ci=ci, bootstrap=bootstrap, seed=seed)
    return result, result.caption(source=path.name)


def _log_table(path: Path, mapping: str | Path | None, what: str, describe: bool) -> pl.DataFrame:
    """Per provider x model of a request log: cost per successful image and generation-time percentiles,
    with the log's file name (or its description) as their source."""
    from imgkit.analysis.performance import performance_table
    from imgkit.records.scan import scan_log

    if not path.exists():
        allowed = ", ".join(COST_SOURCES if what == "costs" else LATENCY_SOURCES)
        raise InvalidParameterError(what, str(path), f"{allowed} or an existing request log")
    log = scan_log(path, mapping=mapping)
    source = _log_caption(log, path.name) if describe else path.name
    return performance_table(log, by=("provider", "model")).with_columns(
        source=pl.lit(source, dtype=pl.String)
    )


def _log_caption(log: pl.LazyFrame, name: str) -> str:
    """``simulated from provider_log.parquet, 1,000 requests, 2026-01-01 – 2026-01-30``."""
    from imgkit.analysis.performance import describe_log, log_summary

    return describe_log(log_summary(log), name)


def frontier_inputs(
    ratings: Any,
    costs: pl.DataFrame | None = None,
    latency: pl.DataFrame | None = None,
    *,
    aliases: Mapping[str, str] | None = None,
    rating_provenance: str = Provenance.MEASURED,
    rating_source: str | None = None,
    cost_source: str | None = None,
    latency_source: str | None = None,
) -> pl.DataFrame:
    """One row per option: every rated model and every costed or timed model (x provider), joined.

    An option is a model, or a model at a provider when the costs or times are per provider. A rated model
    without a cost or time row keeps one row with nulls there; a costed or timed model without a rating
    gets a row with a null rating, so :func:`pareto_frontier` can say why it is excluded (nothing is
    dropped silently). ``aliases`` maps rating model names to the names the cost and latency frames use
    (e.g. a leaderboard's id to a catalog id); ``model`` keeps the rating's name, ``catalog_model`` the
    joined name. Frames without provenance columns get ``rating_provenance`` (ratings) or ``measured``
    (costs and times from a log) and the given ``*_source``. Columns: ``option, model, catalog_model,
    provider, rating, ci_low, ci_high, cost_usd, p50_ms, p95_ms`` (nulls where unknown), any ``quality,
    size, cost_method, cost_note, votes, category`` the inputs carry, then the tags of each input
    (``<input>_provenance``, ``_source``, ``_source_url``, ``_source_date``; null where the value is).
    """
    frame = _ratings_frame(ratings, rating_provenance, rating_source)
    frame = frame.with_columns(pl.col("model").replace(dict(aliases or {})).alias("catalog_model"))
    _unique(frame, ["catalog_model"], "ratings (after aliases)")
    parts: dict[str, pl.DataFrame] = {}
    if costs is not None:
        parts["cost"] = _cost_frame(costs, cost_source).rename({"model": "catalog_model"})
    if latency is not None:
        parts["latency"] = _latency_frame(latency, latency_source).rename({"model": "catalog_model"})
    options = _options(frame, parts.values())
    out = options.join(frame, on="catalog_model", how="left")
    for kind, part in parts.items():
        out = _join_part(out, part, kind)
    if "cost" not in parts:
        out = _tag(out.with_columns(pl.lit(None, dtype=MONEY).alias("cost_usd")), "cost", "", None, None)
    if "latency" not in parts:
        out = out.with_columns(pl.lit(None, dtype=pl.Float64).alias(c) for c in ("p50_ms", "p95_ms"))
        out = _tag(out, "latency", "", None, None)
    named = pl.coalesce("model", "catalog_model")
    option = (
        pl.when(pl.col("provider").is_not_null())
        .then(pl.format("{} @ {}", named, "provider"))
        .otherwise(named)
    )
    # a tag says where a value comes from: none where there is no value
    tagged = {
        "rating": pl.col("rating"),
        "cost": pl.col("cost_usd"),
        "latency": pl.coalesce("p50_ms", "p95_ms"),
    }
    out = out.with_columns(
        named.alias("model"),
        option.alias("option"),
        *(
            pl.when(value.is_null())
            .then(pl.lit(None, dtype=out.schema[tag]))
            .otherwise(pl.col(tag))
            .alias(tag)
            for kind, value in tagged.items()
            for tag in (f"{kind}_{t}" for t in _TAG_COLUMNS)
            if tag in out.columns
        ),
    )
    first = ["option", "model", "catalog_model", "provider", "rating", "ci_low", "ci_high", "cost_usd"]
    first += ["p50_ms", "p95_ms"]
    tags = [f"{kind}_{t}" for kind in INPUTS for t in _TAG_COLUMNS if f"{kind}_{t}" in out.columns]
    rest = [c for c in out.columns if c not in (*first, *tags)]
    return out.select(*first, *rest, *tags)


def _join_part(out: pl.DataFrame, part: pl.DataFrame, kind: str) -> pl.DataFrame:
    """Left-join one input's values onto the options: a row with a provider matches that model at that
    provider; a row without one (a provider-neutral price or time) matches the model at every provider that
    has no row of its own."""
    if "provider" not in part.columns:
        return out.join(part, on="catalog_model", how="left", suffix=f"_{kind}")
    keys = ["catalog_model", "provider"]
    own = part.filter(pl.col("provider").is_not_null())
    neutral = part.filter(pl.col("provider").is_null()).drop("provider")
    fill = (
        out.select(keys)
        .join(own.select(keys), on=keys, how="anti", nulls_equal=True)
        .join(neutral, on="catalog_model")
        .select(part.columns)
    )
    lookup = pl.concat([own, fill], how="vertical_relaxed")
    return out.join(lookup, on=keys, how="left", suffix=f"_{kind}", nulls_equal=True)


def _options(ratings: pl.DataFrame, parts: Iterable[pl.DataFrame]) -> pl.DataFrame:
    """``catalog_model, provider`` of every option, in a stable order (rated models first, best first).

    A model that has per-provider rows anywhere is offered per provider only; otherwise it is one option
    with a null provider.
    """
    keys = [ratings.select("catalog_model", pl.lit(None, dtype=pl.String).alias("provider"))]
    for part in parts:
        provider = pl.col("provider") if "provider" in part.columns else pl.lit(None, dtype=pl.String)
        keys.append(part.select("catalog_model", provider.cast(pl.String).alias("provider")))
    options = pl.concat(keys).unique(maintain_order=True)
    per_provider = options.filter(pl.col("provider").is_not_null())["catalog_model"].implode()
    return options.filter(pl.col("provider").is_not_null() | ~pl.col("catalog_model").is_in(per_provider))


def provenance_caption(frame: pl.DataFrame, kinds: Sequence[str] = INPUTS, max_sources: int = 3) -> str:
    """Where the numbers come from, e.g. ``rating: published, LMArena (...), 2025-12-17; cost: ...``.

    Per input: its provenance kinds, up to ``max_sources`` source names (then "and N more"; one's own logs
    and votes before published sources, so a log is never hidden behind many published pages) and the
    source date or date range, over the rows that have a value.
    """
    parts = []
    for kind in kinds:
        col = f"{kind}_provenance"
        if col not in frame.columns:
            continue
        used = frame.filter(pl.col(col).is_not_null() & (pl.col(col) != ""))
        if not used.height:
            continue
        text = f"{kind}: {combine_provenance(used[col].to_list())}"
        src, date = f"{kind}_source", f"{kind}_source_date"
        names: list[str] = []
        if src in used.columns:
            published_only = {
                s: all(k == Provenance.PUBLISHED for k in str(p).split("+"))
                for s, p in zip(used[src].to_list(), used[col].to_list(), strict=True)
                if s
            }
            names = sorted(published_only, key=lambda s: (published_only[s], s))
        if names:
            more = len(names) - max_sources
            text += ", " + "; ".join(names[:max_sources]) + (f" and {more} more" if more > 0 else "")
        dates = sorted({d for d in used[date].to_list() if d}) if date in used.columns else []
        if dates:
            text += f", {dates[0]}" + (f" to {dates[-1]}" if dates[-1] != dates[0] else "")
        parts.append(text)
    return "; ".join(parts) if parts else "no provenance recorded"


# --- the frontier ----------------------------------------------------------------------------------------


def _axis(cost: str | None, latency: str | None) -> tuple[str, str]:
    if cost is not None and latency is not None:
        raise InvalidParameterError("axis", f"cost={cost!r}, latency={latency!r}", "either cost or latency")
    return ("latency", latency) if latency is not None else ("cost", cost or "cost_usd")


def _ranks(values: Sequence[Any]) -> np.ndarray:
    """Dense ranks of non-null values (exact for ``Decimal``); -1 for nulls."""
    order = {v: i for i, v in enumerate(sorted({v for v in values if v is not None}))}
    return np.array([order[v] if v is not None else -1 for v in values], dtype=np.int64)


def _floats(frame: pl.DataFrame, column: str | None) -> np.ndarray:
    if column is None or column not in frame.columns:
        return np.full(frame.height, np.nan)
    return frame[column].cast(pl.Float64).fill_null(np.nan).to_numpy().astype(float)


def pareto_frontier(
    frame: pl.DataFrame,
    quality: str = "rating",
    cost: str | None = None,
    latency: str | None = None,
    *,
    statistical: bool = False,
    key: str | None = None,
    ci_low: str = "ci_low",
    ci_high: str = "ci_high",
) -> pl.DataFrame:
    """The frame with ``on_frontier, status, dominated_by, unresolved_with, excluded_reason`` added.

    Higher ``quality`` is better; lower ``cost`` (default ``cost_usd``) or ``latency`` (e.g. ``p50_ms``) is
    better. ``status`` is ``frontier``, ``dominated``, ``unresolved`` (kept on the frontier only because the
    intervals cannot confirm a point-estimate dominance) or ``excluded`` (``on_frontier`` null, with
    ``excluded_reason``). ``key`` names the options in the lists (default ``option``, else ``model``).
    """
    kind, axis = _axis(cost, latency)
    key = key or ("option" if "option" in frame.columns else "model")
    for col in (quality, axis, key):
        if col not in frame.columns:
            raise InvalidParameterError("column", col, sorted(frame.columns))
    n = frame.height
    q = _floats(frame, quality)
    values = frame[axis].to_list()
    values = [None if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in values]
    reasons: list[str | None] = [None] * n
    notes = frame["cost_note"].to_list() if kind == "cost" and "cost_note" in frame.columns else [None] * n
    for i in range(n):
        if np.isnan(q[i]):
            reasons[i] = f"no {quality}"
        elif values[i] is None:
            reasons[i] = f"no {_AXIS_NAMES[kind]}" + (f" ({notes[i]})" if notes[i] else "")
        elif values[i] < 0:
            reasons[i] = f"negative {_AXIS_NAMES[kind]} {values[i]}"
    ok = np.array([r is None for r in reasons])
    c = _ranks([v if ok[i] else None for i, v in enumerate(values)])
    # dominates[j, i]: option j dominates option i on the point estimates
    qj, qi, cj, ci = q[:, None], q[None, :], c[:, None], c[None, :]
    both = ok[:, None] & ok[None, :]
    dominates = both & (qj >= qi) & (cj <= ci) & ((qj > qi) | (cj < ci))
    if statistical:
        lo, hi = _floats(frame, ci_low), _floats(frame, ci_high)
        with np.errstate(invalid="ignore"):
            confirmed = dominates & (lo[:, None] >= hi[None, :])
    else:
        confirmed = dominates
    unresolved = dominates & ~confirmed
    names = frame[key].cast(pl.String).to_list()
    order = sorted(range(n), key=lambda j: (c[j], -q[j] if not np.isnan(q[j]) else 0.0, names[j]))

    def listed(matrix: np.ndarray, i: int) -> list[str]:
        return [names[j] for j in order if matrix[j, i]]

    dominated_by = [listed(confirmed, i) for i in range(n)]
    unresolved_with = [listed(unresolved, i) for i in range(n)]
    on_frontier = [None if not ok[i] else not dominated_by[i] for i in range(n)]
    status = [
        "excluded"
        if not ok[i]
        else "dominated"
        if dominated_by[i]
        else "unresolved"
        if unresolved_with[i]
        else "frontier"
        for i in range(n)
    ]
    return frame.with_columns(
        pl.Series("on_frontier", on_frontier, dtype=pl.Boolean),
        pl.Series("status", status, dtype=pl.String),
        pl.Series("dominated_by", dominated_by, dtype=pl.List(pl.String)),
        pl.Series("unresolved_with", unresolved_with, dtype=pl.List(pl.String)),
        pl.Series("excluded_reason", reasons, dtype=pl.String),
    )


# --- recommendation --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recommendation:
    """The best option under the constraints, or ``None`` with the reason none qualifies.

    ``candidates``: every option with ``qualifies`` and ``rejected_because`` (the constraints it fails).
    ``close_calls``: options whose intervals overlap the choice's on the objective (quality objective only),
    i.e. the lead is not beyond the confidence intervals.
    """

    choice: dict[str, Any] | None
    reason: str
    objective: str
    constraints: dict[str, Any]
    candidates: pl.DataFrame
    close_calls: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "choice": self.choice,
            "reason": self.reason,
            "objective": self.objective,
            "constraints": self.constraints,
            "close_calls": list(self.close_calls),
            "candidates": self.candidates.select(
                c for c in self.candidates.columns if c in ("option", "qualifies", "rejected_because")
            ).to_dicts(),
        }


def _money(value: Any, name: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, float) or isinstance(value, bool):
        raise InvalidParameterError(name, value, "a Decimal, an integer or a decimal string (money is exact)")
    try:
        money = Decimal(str(value))
    except ArithmeticError:
        raise InvalidParameterError(name, value, "a decimal amount in USD") from None
    if not money.is_finite() or money < 0:
        raise InvalidParameterError(name, value, "a non-negative amount in USD")
    return money


def _describe(row: Mapping[str, Any], quality: str, cost: str, latency: str) -> str:
    parts = []
    if row.get(quality) is not None:
        ci = ""
        if row.get("ci_low") is not None and row.get("ci_high") is not None:
            ci = f", 95 % CI {row['ci_low']:.1f}–{row['ci_high']:.1f}"
        parts.append(f"rating {row[quality]:.1f}{ci}")
    if row.get(cost) is not None:
        parts.append(f"{usd_text(row[cost])}/image")
    if row.get(latency) is not None:
        parts.append(f"{_stat(latency)} {row[latency] / 1000:.1f} s")
    return ", ".join(parts)


def recommend(
    frame: pl.DataFrame,
    quality_floor: float | None = None,
    latency_ceiling_ms: float | None = None,
    budget_usd_per_image: Decimal | str | int | None = None,
    objective: str = "max_quality",
    *,
    quality: str = "rating",
    cost: str = "cost_usd",
    latency: str = "p50_ms",
    key: str | None = None,
) -> Recommendation:
    """The best option meeting every constraint, by ``objective``, and why (or why none qualifies).

    Objectives: ``max_quality`` (ties: cheaper, then faster), ``min_cost`` (ties: better, then faster),
    ``min_latency`` (ties: better, then cheaper). A constraint or objective on a value an option lacks
    rejects that option ("no cost per image known"). The budget is exact money (``Decimal``/str/int).
    """
    if objective not in OBJECTIVES:
        raise InvalidParameterError("objective", objective, sorted(OBJECTIVES))
    budget = _money(budget_usd_per_image, "budget_usd_per_image")
    key = key or ("option" if "option" in frame.columns else "model")
    columns = {"quality": quality, "cost": cost, "latency": latency}
    needed = {
        "quality": quality_floor is not None,
        "cost": budget is not None,
        "latency": latency_ceiling_ms is not None,
    }
    needed[OBJECTIVES[objective]] = True
    for kind, wanted in needed.items():
        if wanted and columns[kind] not in frame.columns:
            raise InvalidParameterError("column", columns[kind], sorted(frame.columns))
    constraints = {
        "quality_floor": quality_floor,
        "latency_ceiling_ms": latency_ceiling_ms,
        "budget_usd_per_image": budget,
    }
    rows = frame.to_dicts()
    rejected: list[list[str]] = []
    excess: list[float] = []  # relative distance to the constraints, for the nearest miss
    for row in rows:
        why, over = [], 0.0
        for kind, wanted in needed.items():
            if wanted and row.get(columns[kind]) is None:
                why.append(f"no {_AXIS_NAMES.get(kind, 'rating')} known")
        if quality_floor is not None and row.get(quality) is not None and row[quality] < quality_floor:
            why.append(f"rating {row[quality]:.1f} < floor {quality_floor:g}")
            over += (quality_floor - row[quality]) / max(abs(quality_floor), 1.0)
        if budget is not None and row.get(cost) is not None and row[cost] > budget:
            why.append(f"{usd_text(row[cost])}/image > budget {usd_text(budget)}")
            over += float((row[cost] - budget) / budget) if budget else float("inf")
        if (
            latency_ceiling_ms is not None
            and row.get(latency) is not None
            and row[latency] > latency_ceiling_ms
        ):
            why.append(f"{_stat(latency)} {row[latency]:,.0f} ms > ceiling {latency_ceiling_ms:,.0f} ms")
            over += (row[latency] - latency_ceiling_ms) / max(latency_ceiling_ms, 1.0)
        rejected.append(why)
        excess.append(over)
    candidates = frame.with_columns(
        pl.Series("qualifies", [not w for w in rejected], dtype=pl.Boolean),
        pl.Series("rejected_because", ["; ".join(w) for w in rejected], dtype=pl.String),
    )
    qualified = [row for row, why in zip(rows, rejected, strict=True) if not why]
    stated = _constraint_text(quality_floor, latency_ceiling_ms, budget, _stat(latency))
    if not qualified:
        reason = _none_reason(rows, rejected, excess, stated, key)
        return Recommendation(None, reason, objective, constraints, candidates)

    def rank(row: Mapping[str, Any]) -> tuple:
        big = float("inf")
        q = -row[quality] if row.get(quality) is not None else big
        c = row[cost] if row.get(cost) is not None else Decimal("Infinity")
        t = row[latency] if row.get(latency) is not None else big
        return {"max_quality": (q, c, t), "min_cost": (c, q, t), "min_latency": (t, q, c)}[objective]

    qualified.sort(key=lambda r: (rank(r), str(r[key])))
    best = qualified[0]
    close = _close_calls(best, qualified[1:], objective, quality, key)
    what = {
        "max_quality": "highest rating",
        "min_cost": "cheapest",
        "min_latency": f"fastest ({_stat(latency)})",
    }[objective]
    reason = (
        f"{best[key]}: {what} of {len(qualified)} qualifying option{'s' * (len(qualified) > 1)}"
        f"{f' ({stated})' if stated else ''}: {_describe(best, quality, cost, latency)}"
    )
    if len(qualified) > 1:
        runner = qualified[1]
        reason += f"; next: {runner[key]} ({_describe(runner, quality, cost, latency)})"
    if close:
        reason += f"; not beyond the 95 % intervals of {', '.join(close)}"
    return Recommendation(best, reason, objective, constraints, candidates, tuple(close))


def passed_over(
    recommendation: Recommendation, quality: str = "rating", key: str | None = None
) -> pl.DataFrame:
    """What the recommendation passed over: every option rated higher than the choice (all rated options
    when nothing qualifies), best first, with ``rejected_because`` (the constraints it fails, e.g. over
    budget, or no cost per image known for a retired offering)."""
    frame = recommendation.candidates
    key = key or ("option" if "option" in frame.columns else "model")
    rated = frame.filter(pl.col(quality).is_not_null())
    choice = recommendation.choice
    if choice is not None and choice.get(quality) is not None:
        rated = rated.filter((pl.col(quality) > choice[quality]) & (pl.col(key) != choice[key]))
    rated = rated.filter(~pl.col("qualifies")).sort(quality, descending=True)
    notes = [c for c in ("catalog_note", "cost_note") if c in rated.columns]
    if "catalog_note" in rated.columns and "cost_note" in rated.columns:  # the longer reason says it already
        rated = rated.with_columns(
            pl.when(pl.col("catalog_note").is_not_null())
            .then(None)
            .otherwise(pl.col("cost_note"))
            .alias("cost_note")
        )
    if notes:
        rated = rated.with_columns(
            pl.concat_str(
                "rejected_because", *(pl.col(c) for c in notes), separator="; ", ignore_nulls=True
            ).alias("rejected_because")
        )
    return rated


def _stat(latency: str) -> str:
    """``p50`` for ``p50_ms``/``latency_p50_ms``: how the constraint and the reason name the time."""
    return latency.removeprefix("latency_").removesuffix("_ms")


def _constraint_text(floor: float | None, ceiling: float | None, budget: Decimal | None, stat: str) -> str:
    parts = []
    if floor is not None:
        parts.append(f"rating >= {floor:g}")
    if budget is not None:
        parts.append(f"<= {usd_text(budget)}/image")
    if ceiling is not None:
        parts.append(f"{stat} <= {ceiling:,.0f} ms")
    return ", ".join(parts)


def _close_calls(
    best: Mapping[str, Any], others: Sequence[Mapping[str, Any]], objective: str, quality: str, key: str
) -> list[str]:
    """Options whose rating interval overlaps the choice's (only meaningful for ``max_quality``)."""
    if objective != "max_quality" or best.get("ci_low") is None:
        return []
    return [
        str(o[key])
        for o in others
        if o.get("ci_high") is not None and o["ci_high"] >= best["ci_low"] and o.get(quality) is not None
    ]


def _none_reason(
    rows: Sequence[Mapping[str, Any]], rejected: list[list[str]], excess: list[float], stated: str, key: str
) -> str:
    """Why nothing qualifies: how many options each constraint rejects, and the nearest miss.

    The nearest miss has the fewest unknown values, then the fewest failed constraints, then the smallest
    relative excess over them.
    """
    if not rows:
        return "no options to choose from"
    counts: dict[str, int] = {}
    for why in rejected:
        for w in why:
            label = w
            for marker, text in (("floor", "below the rating floor"), ("budget", "over budget")):
                label = text if marker in w else label
            label = "over the latency ceiling" if "ceiling" in w else label
            counts[label] = counts.get(label, 0) + 1
    summary = ", ".join(f"{n} {label}" for label, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def miss(i: int) -> tuple:
        return (sum(w.startswith("no ") for w in rejected[i]), len(rejected[i]), excess[i])

    nearest = min(range(len(rows)), key=miss)
    return (
        f"no option qualifies{f' ({stated})' if stated else ''}: {summary}; "
        f"nearest: {rows[nearest][key]} ({'; '.join(rejected[nearest])})"
    )


# --- quality bands --------------------------------------------------------------------------------------------


def quality_bands(frame: pl.DataFrame, bands: int = 3, per_band: int = 3) -> pl.DataFrame:
    """The ``per_band`` cheapest models in each quality band of a frontier frame (rating and ``cost_usd``).

    Rule: the rated models that have a price (one row per model: its cheapest route, ties by provider name)
    are ranked by rating and cut into ``bands`` groups of equal count (terciles for 3; the top band takes
    any remainder first), ``band`` 1 being the best rated; within a band the cheapest first (ties: better
    rated). Columns: ``band, band_low, band_high`` (the band's rating range), ``option, model, provider,
    rating, ci_low, ci_high, cost_usd`` and the rating and cost tags."""
    if bands < 1 or per_band < 1:
        raise InvalidParameterError("bands", (bands, per_band), "at least one band and one option per band")
    priced = frame.filter(pl.col("rating").is_not_null() & pl.col("cost_usd").is_not_null())
    cheapest = priced.sort("cost_usd", "provider", nulls_last=True).unique("model", keep="first")
    ranked = cheapest.sort("rating", "model", descending=[True, False])
    n = ranked.height
    base, extra = divmod(n, bands)
    sizes = [base + (1 if i < extra else 0) for i in range(bands)]
    labels = [band for band, size in enumerate(sizes, start=1) for _ in range(size)]
    ranked = ranked.with_columns(pl.Series("band", labels, dtype=pl.Int64))
    ranges = ranked.group_by("band").agg(
        pl.col("rating").min().alias("band_low"), pl.col("rating").max().alias("band_high")
    )
    out = (
        ranked.join(ranges, on="band")
        .sort("band", "cost_usd", "rating", descending=[False, False, True])
        .group_by("band", maintain_order=True)
        .head(per_band)
    )
    tags = [
        f"{kind}_{t}" for kind in ("rating", "cost") for t in _TAG_COLUMNS if f"{kind}_{t}" in out.columns
    ]
    first = ["band", "band_low", "band_high", "option", "model", "provider", "rating", "ci_low", "ci_high"]
    return out.select(*first, "cost_usd", *tags)
