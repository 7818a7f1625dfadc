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
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from imgkit.errors import CatalogError, InvalidParameterError, UnknownNameError
from imgkit.money import MONEY, MONEY_SCALE
from imgkit.provenance import Provenance
from imgkit.records.schema import ColumnType

__all__ = [
    "BESIDE_FIGURES",
    "BOARDS",
    "DEFAULT_ARENA",
    "LMARENA_CATEGORIES",
    "STALE_AFTER_DAYS",
    "Snapshot",
    "find_snapshot",
    "gateway_performance",
    "leaderboard",
    "leaderboard_aliases",
    "leaderboard_snapshots",
    "lmarena_leaderboard",
    "lmarena_prices",
    "lmarena_rating_vs_price",
    "lmarena_source",
    "measured_beside_published",
    "parse_day",
    "published_dir",
    "published_performance",
    "seed_arena",
    "seed_performance",
    "snapshots_table",
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
    except (yaml.YAMLError, ValueError) as exc:
        raise CatalogError(str(path), "", f"not valid YAML: {exc}") from None


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


def parse_day(value: Any, field: str = "today") -> dt.date | None:
    """A day given as a date or ``YYYY-MM-DD`` text (None stays None): how reports take ``today``."""
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InvalidParameterError(field, value, "a date YYYY-MM-DD") from None


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
    requests, successes, success_rate, approximate, copy, notes`` + source columns (``source_date`` = the
    date checked; ``published_on`` = the date the source gives, null when it gives none). Figures published as
    P95 only have null p50.
    """
    return _performance_file("seed_figures.yaml", directory)


def _performance_file(name: str, directory: str | Path | None) -> pl.DataFrame:
    path = (Path(directory) if directory else published_dir()) / name
    doc = _read_yaml(path) or {}
    rows = []
    for i, entry in enumerate(doc.get("performance") or []):
        gen, ttfb = entry.get("generation_ms") or {}, entry.get("ttfb_ms") or {}
        where = f"performance[{i}].source"
        src = (doc.get("sources") or {}).get(entry.get("source", ""))
        rows.append(
            {
                "provider": entry["provider"],
                "model": entry["model"],
                "via": entry.get("via") or entry.get("measured_by"),
                "window": entry.get("window"),
                "latency_p50_ms": _float(gen.get("p50")),
                "latency_p95_ms": _float(gen.get("p95")),
                "ttfb_p50_ms": _float(ttfb.get("p50")),
                "ttfb_p95_ms": _float(ttfb.get("p95")),
                "requests": entry.get("requests"),
                "successes": entry.get("successes"),
                "success_rate": _percent(entry.get("success_rate_shown"), path, f"performance[{i}]"),
                "approximate": bool(entry.get("approximate", False)),
                "copy": entry.get("copy"),
                "figure_set": doc.get("figure_set") or path.stem,
                "notes": entry.get("notes"),
                **_seed_source(doc, entry.get("source", ""), path, where),
                "published_on": _date(src["published"]) if src and src.get("published") else None,
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
        "success_rate": pl.Float64,
        "approximate": pl.Boolean,
        "copy": pl.String,
        "figure_set": pl.String,
        "notes": pl.String,
        "source": pl.String,
        "source_url": pl.String,
        "source_date": pl.Date,
        "published_on": pl.Date,
        "provenance": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def _percent(value: Any, path: Path, where: str) -> float | None:
    """``"97.1%"`` as printed -> 0.971 (None when the page prints none)."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        return float(Decimal(text.removesuffix("%")) / 100) if text.endswith("%") else float(text)
    except ArithmeticError:
        raise CatalogError(
            str(path), f"{where}.success_rate_shown", f"{value!r} is not a percentage"
        ) from None


#: the figures :func:`measured_beside_published` sets side by side
BESIDE_FIGURES = (
    "latency_p50_ms",
    "latency_p95_ms",
    "ttfb_p50_ms",
    "ttfb_p95_ms",
    "requests",
    "successes",
    "success_rate",
)


def measured_beside_published(
    measured: pl.DataFrame, published: pl.DataFrame | None = None, *, same_pairs: bool = False
) -> pl.DataFrame:
    """A log's figures per provider x model (a performance table by ``provider, model`` with a ``source``
    column) beside the published ones (default :func:`published_performance`: the seed page's and the
    gateway's model pages', every copy), sorted by provider, model and provenance: ``provider, model,
    provenance, latency_p50_ms ... successes, source``; a published source says its date (``published
    2026-11-24``) or ``undated``, and the date it was checked. ``same_pairs`` keeps only the published
    figures of the provider x model pairs ``measured`` has."""
    published = published_performance() if published is None else published
    if same_pairs:
        published = published.join(measured.select("provider", "model").unique(), on=["provider", "model"])
    if "published_on" not in published.columns:
        published = published.with_columns(pl.lit(None, dtype=pl.Date).alias("published_on"))
    label = (
        pl.when(pl.col("published_on").is_not_null())
        .then(pl.format("{}, published {}, checked {}", "source", "published_on", "source_date"))
        .otherwise(pl.format("{}, undated, checked {}", "source", "source_date"))
    )
    return pl.concat(
        [
            measured.select("provider", "model", "provenance", *BESIDE_FIGURES, "source"),
            published.select("provider", "model", "provenance", *BESIDE_FIGURES, label.alias("source")),
        ],
        how="vertical_relaxed",
    ).sort("provider", "model", "provenance", maintain_order=True)


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


# --- the gateway's model pages --------------------------------------------------------------------------------


def gateway_performance(
    directory: str | Path | None = None, *, first_copy_only: bool = False
) -> pl.DataFrame:
    """Per-provider figures the gateway publishes on its model pages (``gateway_performance.yaml``).

    Same columns as :func:`seed_performance`, plus ``success_rate`` (as printed, 0-1), ``copy`` (which stored
    page copy) and ``published_on`` (null: the copies show no date; ``source_date`` is the date they were
    read). Copies of one page that disagree are separate rows; ``first_copy_only`` keeps the first copy of
    each provider x model, the one the simulator's profiles are fitted to.
    """
    frame = _performance_file("gateway_performance.yaml", directory)
    if first_copy_only:
        frame = frame.unique(["provider", "model"], keep="first", maintain_order=True)
    return frame


def published_performance(
    directory: str | Path | None = None, *, first_copy_only: bool = False
) -> pl.DataFrame:
    """Every published performance figure: the seed page's, then the gateway's model pages' (one frame)."""
    frames = [seed_performance(directory), gateway_performance(directory, first_copy_only=first_copy_only)]
    frame = pl.concat(frames, how="diagonal_relaxed")
    if first_copy_only:
        frame = frame.unique(["provider", "model"], keep="first", maintain_order=True)
    return frame


# --- leaderboard snapshots ----------------------------------------------------------------------------------

#: the boards a snapshot rates
BOARDS = ("text-to-image", "image-edit")
#: the arena a frontier reads by default (its newest snapshot of the board)
DEFAULT_ARENA = "lmarena"
#: a snapshot older than this many days is called out as stale
STALE_AFTER_DAYS = 90
_MARK_ORDER = {"primary": 0, "copy": 1, "secondary": 2}


def _leaderboards_dir(directory: str | Path | None) -> Path:
    return Path(directory) if directory else published_dir() / "leaderboards"


@dataclass(frozen=True)
class Snapshot:
    """One dated leaderboard as published: which arena and board, when, how it was rated and where read.

    ``date`` is the leaderboard's own date (for a month-only date, the month's last day, the youngest it can
    be; ``date_precision`` says so); ``None`` when undated. ``mark``: ``primary``, ``copy`` or ``secondary``,
    as the catalog marks its sources.
    """

    id: str
    arena: str
    arena_name: str
    board: str
    date: dt.date | None
    date_precision: str
    date_text: str
    method: str
    scale: str
    title: str
    url: str
    mark: str
    checked: dt.date
    path: Path
    copy_url: str | None = None

    def age_days(self, today: dt.date | None = None) -> int | None:
        """Days from the leaderboard's date to ``today`` (default: the real today); None when undated."""
        return None if self.date is None else ((today or dt.date.today()) - self.date).days

    def staleness(self, today: dt.date | None = None, limit_days: int = STALE_AFTER_DAYS) -> str | None:
        """A one-line warning when the snapshot is older than ``limit_days`` on ``today`` (or undated); None
        while it is fresh."""
        age = self.age_days(today)
        if age is not None and age <= limit_days:
            return None
        when = (today or dt.date.today()).isoformat()
        if age is None:
            return f"undated ({self.id}): its age on {when} is unknown, so treat it as stale"
        least = "at least " if self.date_precision == "month" else ""
        return (
            f"stale: {self.arena_name} {self.board} of {self.date_text}, {least}{age} days old on {when} "
            f"(over {limit_days}); newer ratings may exist"
        )

    def caption(self, today: dt.date | None = None) -> str:
        """``LMArena text-to-image 2026-10-07 (60 days old), copy of <url>, checked 2026-12-06``."""
        age = self.age_days(today)
        old = (
            "undated"
            if age is None
            else f"{'at least ' if self.date_precision == 'month' else ''}{age} days old"
        )
        return (
            f"{self.arena_name} {self.board} {self.date_text} ({old}), {self.mark}: {self.url}, "
            f"checked {self.checked}"
        )

    def to_dict(self, today: dt.date | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "arena": self.arena,
            "board": self.board,
            "leaderboard_date": self.date_text,
            "age_days": self.age_days(today),
            "stale": self.staleness(today),
            "mark": self.mark,
            "source_url": self.url,
            "copy_url": self.copy_url,
            "checked": self.checked.isoformat(),
            "method": self.method,
        }


def _snapshot_date(text: Any, precision: str, path: Path) -> dt.date | None:
    if text in (None, ""):
        return None
    text = str(text)
    try:
        if precision == "month":
            first = dt.date.fromisoformat(f"{text}-01")
            nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            return nxt - dt.timedelta(days=1)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CatalogError(
            str(path), "date", f"{text!r} is not a date YYYY-MM-DD (or YYYY-MM with month precision)"
        ) from None


def _read_snapshot(path: Path) -> tuple[Snapshot, list[dict[str, Any]]]:
    doc = _read_yaml(path) or {}
    for key in ("id", "arena", "board", "method", "source", "entries"):
        if key not in doc:
            raise CatalogError(str(path), key, "missing")
    src = doc["source"]
    for key in ("url", "mark", "checked", "title"):
        if key not in src:
            raise CatalogError(str(path), f"source.{key}", "missing")
    if src["mark"] not in _MARK_ORDER:
        raise CatalogError(str(path), "source.mark", f"{src['mark']!r}; allowed: {', '.join(_MARK_ORDER)}")
    if doc["board"] not in BOARDS:
        raise CatalogError(str(path), "board", f"{doc['board']!r}; allowed: {', '.join(BOARDS)}")
    precision = str(doc.get("date_precision", "day"))
    snap = Snapshot(
        id=str(doc["id"]),
        arena=str(doc["arena"]),
        arena_name=str(doc.get("arena_name", doc["arena"])),
        board=str(doc["board"]),
        date=_snapshot_date(doc.get("date"), precision, path),
        date_precision=precision,
        date_text=str(doc.get("date") or "undated"),
        method=str(doc["method"]),
        scale=str(doc.get("scale", "")),
        title=str(src["title"]),
        url=str(src["url"]),
        mark=str(src["mark"]),
        checked=_date(src["checked"]),
        path=path,
        copy_url=src.get("copy_url"),
    )
    return snap, list(doc["entries"] or [])


def leaderboard_snapshots(directory: str | Path | None = None) -> list[Snapshot]:
    """Every shipped leaderboard snapshot, newest first (undated last)."""
    folder = _leaderboards_dir(directory)
    snaps = [_read_snapshot(p)[0] for p in sorted(folder.glob("*.yaml")) if p.name != "aliases.yaml"]
    return sorted(snaps, key=lambda s: (s.date is None, -(s.date.toordinal() if s.date else 0), s.id))


def snapshots_table(today: dt.date | None = None, directory: str | Path | None = None) -> pl.DataFrame:
    """Every shipped snapshot as a table, newest first: ``id, arena, board, leaderboard_date, age_days, stale, mark,
    source_url, copy_url, checked, method`` (``stale``: the warning when over 90 days on ``today``)."""
    rows = [s.to_dict(today) for s in leaderboard_snapshots(directory)]
    return pl.DataFrame(
        rows, schema_overrides={"age_days": pl.Int64, "stale": pl.String, "copy_url": pl.String}
    )


def find_snapshot(
    leaderboard: str | None = None, board: str = "text-to-image", directory: str | Path | None = None
) -> Snapshot:
    """The snapshot ``leaderboard`` names: a snapshot id, or an arena (``lmarena``, ``artificial-analysis``,
    ``lumenfall``) for its newest snapshot of ``board``; None: the newest LMArena snapshot of ``board``.
    Among snapshots of one date the better-marked source (primary, copy, secondary) wins."""
    if board not in BOARDS:
        raise InvalidParameterError("board", board, ", ".join(BOARDS))
    snaps = leaderboard_snapshots(directory)
    by_id = {s.id: s for s in snaps}
    if leaderboard in by_id:
        return by_id[leaderboard]
    arena = leaderboard or DEFAULT_ARENA
    arenas = sorted({s.arena for s in snaps})
    if arena not in arenas:
        raise UnknownNameError("leaderboard", leaderboard, [*arenas, *by_id], context="snapshot id or arena")
    fitting = [s for s in snaps if s.arena == arena and s.board == board]
    if not fitting:
        boards = sorted({s.board for s in snaps if s.arena == arena})
        raise InvalidParameterError("board", board, f"a board {arena} has a snapshot of: {', '.join(boards)}")
    newest = max((s.date for s in fitting if s.date is not None), default=None)
    fitting = [s for s in fitting if s.date == newest] or fitting
    return min(fitting, key=lambda s: (_MARK_ORDER[s.mark], s.id))


def leaderboard_aliases(directory: str | Path | None = None) -> pl.DataFrame:
    """The alias table: ``arena, name, catalog_id`` (null: no catalog model), ``primary`` (the row a
    frontier uses where several names map to one id), ``note``, ``why_none``."""
    path = _leaderboards_dir(directory) / "aliases.yaml"
    rows = (_read_yaml(path) or {}).get("aliases") or []
    for i, row in enumerate(rows):
        for key in ("arena", "name"):
            if not row.get(key):
                raise CatalogError(str(path), f"aliases[{i}].{key}", "missing")
        if row.get("catalog_id") is None and not row.get("why_none"):
            raise CatalogError(str(path), f"aliases[{i}].why_none", "a name without a catalog id says why")
    schema = {
        "arena": pl.String,
        "name": pl.String,
        "catalog_id": pl.String,
        "primary": pl.Boolean,
        "note": pl.String,
        "why_none": pl.String,
    }
    frame = pl.DataFrame([{k: row.get(k) for k in schema} for row in rows], schema=schema).with_columns(
        pl.col("primary").fill_null(False)
    )
    dup = frame.group_by("arena", "name").len().filter(pl.col("len") > 1)
    if dup.height:
        raise CatalogError(str(path), "aliases", f"{dup['name'][0]!r} listed twice for {dup['arena'][0]}")
    return frame


def leaderboard(
    leaderboard: str | None = None,
    board: str = "text-to-image",
    directory: str | Path | None = None,
) -> pl.DataFrame:
    """One snapshot's rows (:func:`find_snapshot`), best first, with each name's catalog id.

    Columns: ``model`` (the leaderboard's name), ``catalog_id`` (null: none, ``why_none`` says why), ``use`` (the row that rates its
    catalog id: the alias table's primary row, else the most-voted mapped row; names without an id are
    used as themselves), ``rating, ci_low, ci_high, votes, rank, organization, snapshot, board`` and the
    source columns (``source_date`` = the leaderboard's date, ``mark``). A name the alias table lacks is
    refused: every name of a shipped snapshot is listed there.
    """
    snap = find_snapshot(leaderboard, board, directory)
    _, entries = _read_snapshot(snap.path)
    aliases = leaderboard_aliases(directory).filter(pl.col("arena") == snap.arena)
    known = {r["name"]: r for r in aliases.iter_rows(named=True)}
    rows = []
    for i, e in enumerate(entries):
        if e.get("name") not in known:
            raise CatalogError(
                str(snap.path), f"entries[{i}].name", f"{e.get('name')!r} is not in aliases.yaml"
            )
        alias = known[e["name"]]
        rows.append(
            {
                "model": e["name"],
                "catalog_id": alias["catalog_id"],
                "why_none": alias["why_none"],
                "primary": alias["primary"],
                "rating": _float(e.get("rating")),
                "ci_low": _float(e.get("ci_low")),
                "ci_high": _float(e.get("ci_high")),
                "votes": e.get("votes"),
                "rank": e.get("rank"),
                "organization": e.get("organization"),
            }
        )
    schema = {
        "model": pl.String,
        "catalog_id": pl.String,
        "why_none": pl.String,
        "primary": pl.Boolean,
        "rating": pl.Float64,
        "ci_low": pl.Float64,
        "ci_high": pl.Float64,
        "votes": pl.Int64,
        "rank": pl.Int64,
        "organization": pl.String,
    }
    frame = pl.DataFrame(rows, schema=schema).sort(
        "rating", descending=True, nulls_last=True, maintain_order=True
    )
    chosen = (
        frame.filter(pl.col("catalog_id").is_not_null())
        .sort("primary", "votes", "rating", descending=True, nulls_last=True)
        .unique("catalog_id", keep="first")["model"]
    )
    frame = frame.with_columns(
        use=pl.col("catalog_id").is_null() | pl.col("model").is_in(chosen.implode()),
        snapshot=pl.lit(snap.id),
        board=pl.lit(snap.board),
        mark=pl.lit(snap.mark),
    ).drop("primary")
    meta = {
        "source": f"{snap.arena_name} {snap.board} ({snap.mark})",
        "source_url": snap.url,
        "source_date": snap.date,
    }
    return _with_source(frame, meta, Provenance.PUBLISHED)
