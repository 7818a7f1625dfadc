"""Readers for the published figures shipped in ``data/published/``: pure functions, one tidy frame each.

Every frame carries ``source`` (a short title), ``source_url``, ``source_date`` (the date the source was
published, or checked when it gives no date) and ``provenance`` (``published``; ``derived`` for joins made
from published files), so that a figure or a report can say where each number comes from.

* :func:`lmarena_leaderboard`: LMArena text-to-image ratings with 95 % intervals (``rating_q025`` /
  ``rating_q975`` become ``ci_low`` / ``ci_high``) per category (``full``, ``is_preset_generation``,
  ``not_preset_generation``); the file has no vote counts, so ``votes`` is null.
* :func:`lmarena_prices`: the $/image LMArena shows on its scatter plot for the image models of the
  leaderboard (``input_token_price`` = ``output_token_price`` = $/image there), exact ``Decimal``.
* :func:`lmarena_rating_vs_price`: the derived join of the 8 priced models with their ``pareto`` flag.
* :func:`seed_performance` / :func:`seed_arena`: latency and arena figures from the product seed page.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from imgkit.errors import CatalogError, UnknownNameError
from imgkit.money import MONEY, MONEY_SCALE
from imgkit.provenance import Provenance
from imgkit.records.schema import ColumnType

__all__ = [
    "BESIDE_FIGURES",
    "LMARENA_CATEGORIES",
    "lmarena_leaderboard",
    "lmarena_prices",
    "lmarena_rating_vs_price",
    "lmarena_source",
    "measured_beside_published",
    "published_dir",
    "seed_arena",
    "seed_performance",
]

#: the categories of LMArena's image leaderboard file, ``full`` first (the headline board)
LMARENA_CATEGORIES = ("full", "is_preset_generation", "not_preset_generation")


def published_dir() -> Path:
    """The repository's ``data/published`` (or the copy packed beside the package)."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "data" / "published", here.parents[1] / "_data" / "published"):
        if candidate.is_dir():
            return candidate
    raise CatalogError(str(here.parents[2] / "data" / "published"), "", "published data directory not found")


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except OSError as exc:
        raise CatalogError(str(path), "", f"cannot read: {exc.strerror}") from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError(str(path), "", f"cannot read: {exc.strerror}") from None


def _lmarena_dir(directory: str | Path | None) -> Path:
    return Path(directory) if directory else published_dir() / "lmarena"


def lmarena_source(directory: str | Path | None = None) -> dict[str, Any]:
    """``{"source", "source_url", "source_date", "checked"}`` from the folder's ``SOURCE.yaml``."""
    path = _lmarena_dir(directory) / "SOURCE.yaml"
    meta = (_read_yaml(path) or {}).get("source") or {}
    for key in ("title", "url", "published"):
        if key not in meta:
            raise CatalogError(str(path), f"source.{key}", "missing")
    commit = str(meta.get("commit", ""))
    return {
        "source": f"LMArena (lmarena/arena-catalog{' @ ' + commit[:8] if commit else ''})",
        "source_url": str(meta["url"]),
        "source_date": _date(meta["published"]),
        "checked": _date(meta["checked"]) if meta.get("checked") else None,
    }


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _with_source(frame: pl.DataFrame, meta: dict[str, Any], provenance: str) -> pl.DataFrame:
    return frame.with_columns(
        pl.lit(meta["source"]).alias("source"),
        pl.lit(meta["source_url"]).alias("source_url"),
        pl.lit(meta["source_date"], dtype=pl.Date).alias("source_date"),
        pl.lit(provenance).alias("provenance"),
    )


def lmarena_leaderboard(category: str | None = "full", directory: str | Path | None = None) -> pl.DataFrame:
    """LMArena's published image leaderboard: ``category, model, rating, ci_low, ci_high, votes`` + source.

    ``category=None`` returns every category (tidy: one row per category x model), best first per category.
    """
    folder = _lmarena_dir(directory)
    data = _read_json(folder / "leaderboard-image.json")
    categories = list(data)
    wanted = categories if category is None else [category]
    if category is not None and category not in data:
        raise UnknownNameError("category", category, categories, context="LMArena leaderboard-image.json")
    rows = [
        {
            "category": cat,
            "model": model,
            "rating": float(entry["rating"]),
            "ci_low": float(entry["rating_q025"]),
            "ci_high": float(entry["rating_q975"]),
            "votes": entry.get("votes") or entry.get("num_battles"),
        }
        for cat in wanted
        for model, entry in data[cat].items()
    ]
    schema = {
        "category": pl.String,
        "model": pl.String,
        "rating": pl.Float64,
        "ci_low": pl.Float64,
        "ci_high": pl.Float64,
        "votes": pl.Int64,
    }
    frame = pl.DataFrame(rows, schema=schema).sort(
        ["category", "rating"], descending=[False, True], maintain_order=True
    )
    return _with_source(frame, lmarena_source(folder), Provenance.PUBLISHED)


def lmarena_prices(directory: str | Path | None = None) -> pl.DataFrame:
    """$/image as shown on LMArena's scatter plot, for the models of the image leaderboard.

    Columns: ``model, display_name, organization, license, cost_usd`` (exact ``Decimal``), ``price_source``
    (the URL LMArena cites), ``hidden`` and the source columns. An entry whose input and output prices differ
    is not a $/image entry and is left out.
    """
    folder = _lmarena_dir(directory)
    board = _read_json(folder / "leaderboard-image.json")
    image_models = {m for entries in board.values() for m in entries}
    rows = [
        {
            "model": e["model_api_name"],
            "display_name": e.get("name"),
            "organization": e.get("organization"),
            "license": e.get("license"),
            "cost_usd": Decimal(str(e["output_token_price"])),
            "price_source": e.get("price_source"),
            "hidden": bool(e.get("hidden", False)),
        }
        for e in _read_json(folder / "scatterplot-data.json")
        if e.get("model_api_name") in image_models
        and Decimal(str(e["input_token_price"])) == Decimal(str(e["output_token_price"]))
    ]
    schema: dict[str, ColumnType] = {
        "model": pl.String,
        "display_name": pl.String,
        "organization": pl.String,
        "license": pl.String,
        "cost_usd": MONEY,
        "price_source": pl.String,
        "hidden": pl.Boolean,
    }
    frame = pl.DataFrame(rows, schema=schema).sort("model")
    return _with_source(frame, lmarena_source(folder), Provenance.PUBLISHED)


def lmarena_rating_vs_price(directory: str | Path | None = None) -> pl.DataFrame:
    """The shipped join of the priced models (category ``full``) with LMArena's ``pareto`` flag (derived)."""
    folder = _lmarena_dir(directory)
    frame = pl.read_csv(
        folder / "t2i_rating_vs_price.csv",
        schema_overrides={"price_usd_per_image": pl.String, "pareto": pl.Boolean},
    )
    frame = frame.select(
        "model",
        "display_name",
        "organization",
        "rating",
        pl.col("rating_q025").alias("ci_low"),
        pl.col("rating_q975").alias("ci_high"),
        pl.col("price_usd_per_image").str.to_decimal(scale=MONEY_SCALE).cast(MONEY).alias("cost_usd"),
        "price_source",
        "pareto",
    )
    return _with_source(frame, lmarena_source(folder), Provenance.DERIVED)


# --- the product seed page ------------------------------------------------------------------------------


def _seed(directory: str | Path | None) -> tuple[dict[str, Any], Path]:
    path = (Path(directory) if directory else published_dir()) / "seed_figures.yaml"
    return _read_yaml(path) or {}, path


def _seed_source(doc: dict[str, Any], tag: str, path: Path, where: str) -> dict[str, Any]:
    src = (doc.get("sources") or {}).get(tag)
    if src is None:
        raise CatalogError(str(path), where, f"unknown source tag {tag!r}")
    return {"source": src["title"], "source_url": src.get("url"), "source_date": _date(src["checked"])}


def seed_performance(directory: str | Path | None = None) -> pl.DataFrame:
    """Latency and success figures of the seed page: one row per (provider, model) figure.

    Columns: ``provider, model, via, window, latency_p50_ms, latency_p95_ms, ttfb_p50_ms, ttfb_p95_ms,
    requests, successes, approximate, notes`` + source columns (``source_date`` = the date checked; the page
    gives none). Figures published as P95 only have null p50.
    """
    doc, path = _seed(directory)
    rows = []
    for i, entry in enumerate(doc.get("performance") or []):
        gen, ttfb = entry.get("generation_ms") or {}, entry.get("ttfb_ms") or {}
        rows.append(
            {
                "provider": entry["provider"],
                "model": entry["model"],
                "via": entry.get("via"),
                "window": entry.get("window"),
                "latency_p50_ms": _float(gen.get("p50")),
                "latency_p95_ms": _float(gen.get("p95")),
                "ttfb_p50_ms": _float(ttfb.get("p50")),
                "ttfb_p95_ms": _float(ttfb.get("p95")),
                "requests": entry.get("requests"),
                "successes": entry.get("successes"),
                "approximate": bool(entry.get("approximate", False)),
                "notes": entry.get("notes"),
                **_seed_source(doc, entry.get("source", ""), path, f"performance[{i}].source"),
                "provenance": entry.get("kind", Provenance.PUBLISHED),
            }
        )
    schema = {
        "provider": pl.String,
        "model": pl.String,
        "via": pl.String,
        "window": pl.String,
        "latency_p50_ms": pl.Float64,
        "latency_p95_ms": pl.Float64,
        "ttfb_p50_ms": pl.Float64,
        "ttfb_p95_ms": pl.Float64,
        "requests": pl.Int64,
        "successes": pl.Int64,
        "approximate": pl.Boolean,
        "notes": pl.String,
        "source": pl.String,
        "source_url": pl.String,
        "source_date": pl.Date,
        "provenance": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


#: the figures :func:`measured_beside_published` sets side by side
BESIDE_FIGURES = ("latency_p50_ms", "latency_p95_ms", "ttfb_p50_ms", "ttfb_p95_ms", "requests", "successes")


def measured_beside_published(measured: pl.DataFrame, published: pl.DataFrame | None = None) -> pl.DataFrame:
    """A log's figures per provider x model (a performance table by ``provider, model`` with a ``source``
    column) above the published ones (default :func:`seed_performance`), sorted by provider, model and
    provenance: ``provider, model, provenance, latency_p50_ms ... successes, source`` (a published source
    with the date it was checked)."""
    published = seed_performance() if published is None else published
    return pl.concat(
        [
            measured.select("provider", "model", "provenance", *BESIDE_FIGURES, "source"),
            published.select(
                "provider",
                "model",
                "provenance",
                *BESIDE_FIGURES,
                pl.format("{}, checked {}", "source", "source_date").alias("source"),
            ),
        ],
        how="vertical_relaxed",
    ).sort("provider", "model", "provenance")


def seed_arena(directory: str | Path | None = None) -> pl.DataFrame:
    """Arena figures of the seed page: ``model, board, rank, of, elo, elo_alternative, win_rate, disputed``.

    These come from a different arena and scale (TrueSkill, conservative ``1000 + 10 (mu - 3 sigma)``, see
    ``method``); never mix them with Bradley–Terry ratings on one axis.
    """
    doc, path = _seed(directory)
    arena = doc.get("arena") or {}
    rows = []
    for i, entry in enumerate(arena.get("entries") or []):
        rows.append(
            {
                "model": entry["model"],
                "board": entry["board"],
                "rank": entry.get("rank"),
                "of": entry.get("of"),
                "elo": _float(entry.get("elo")),
                "elo_alternative": _float(entry.get("elo_alternative")),
                "win_rate": _float(entry.get("win_rate")),
                "disputed": entry.get("disputed"),
                "method": arena.get("method"),
                **_seed_source(doc, entry.get("source", ""), path, f"arena.entries[{i}].source"),
                "provenance": entry.get("kind", Provenance.PUBLISHED),
            }
        )
    schema: dict[str, ColumnType] = {
        "model": pl.String,
        "board": pl.String,
        "rank": pl.Int64,
        "of": pl.Int64,
        "elo": pl.Float64,
        "elo_alternative": pl.Float64,
        "win_rate": pl.Float64,
        "disputed": pl.String,
        "method": pl.String,
        "source": pl.String,
        "source_url": pl.String,
        "source_date": pl.Date,
        "provenance": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
