"""Frontiers (issue 6 §3) and their plots (§5): published readers, dominance, joins, costs, recommendations, CLI.

Expected figures come from /work/shared: RATINGS.md §9.1 and check C11 (LMArena's rating-vs-price frontier),
PRICING.md §3 and §5 (per-image prices), the LMArena files in data/votes/lmarena_published and the seed page.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from decimal import Decimal

import polars as pl
import pytest

from imgkit.analysis import published
from imgkit.analysis.frontier import (
    catalog_costs,
    costs_with_published,
    frontier_inputs,
    frontier_sources,
    pareto_frontier,
    provenance_caption,
    recommend,
    times_with_published,
)
from imgkit.cli import main as cli_main
from imgkit.errors import InvalidParameterError
from imgkit.formats import format_value
from imgkit.plots.frontier import LABEL_GID, label_overlaps, plot_rating_vs_cost, plot_rating_vs_latency
from imgkit.report_text import frontier_conclusions, frontier_line

C11_FRONTIER = {"flux-1-dev-fp8", "photon", "imagen-3.0-generate-002"}
LMARENA_DATE = dt.date(2025, 12, 17)


@pytest.fixture
def lmarena_shared(votes_dir):
    folder = votes_dir / "lmarena_published"
    board = json.loads((folder / "leaderboard-image.json").read_text(encoding="utf-8"))
    with (folder / "t2i_rating_vs_price.csv").open(encoding="utf-8") as fh:
        priced = list(csv.DictReader(fh))
    return board, priced


@pytest.fixture
def seed_text(shared_dir):
    return next((shared_dir / "seeds").glob("*.txt")).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def lmarena_frame():
    """LMArena ratings (full) joined with LMArena's own $/image: the shipped published data."""
    return frontier_inputs(
        published.lmarena_leaderboard("full"), published.lmarena_prices(), rating_provenance="published"
    )


def _options(**columns) -> pl.DataFrame:
    """A small options frame: model, rating, ci_low, ci_high, cost_usd (Decimal strings) and p50_ms."""
    frame = pl.DataFrame({k: v for k, v in columns.items() if k != "cost_usd"})
    if "cost_usd" in columns:
        costs = [None if c is None else Decimal(c) for c in columns["cost_usd"]]
        frame = frame.with_columns(pl.Series("cost_usd", costs, dtype=pl.Decimal(20, 10)))
    return frame


def _by(frame: pl.DataFrame, key: str = "model") -> dict[str, dict]:
    return {row[key]: row for row in frame.to_dicts()}


#: catalog costs on the day PRICING.md's figures were checked: gpt-image-1-mini and gpt-image-1.5, whose published
#: prices these tests check, were shut down on 2026-12-01 (OAI-DEPRECATIONS) and are not priced after it
PRICED_ON = dt.date(2026, 11, 24)


# --- published readers -----------------------------------------------------------------------------------


def test_shipped_lmarena_files_are_the_shared_published_files(repo_dir, votes_dir):
    for name in ("leaderboard-image.json", "scatterplot-data.json", "t2i_rating_vs_price.csv"):
        shipped = repo_dir / "data" / "published" / "lmarena" / name
        assert shipped.read_bytes() == (votes_dir / "lmarena_published" / name).read_bytes()


def test_lmarena_source_names_commit_and_date():
    meta = published.lmarena_source()
    assert "c9558b60647217fafa878cb7ee14f8f43c355594" in meta["source_url"]
    assert meta["source_date"] == LMARENA_DATE
    assert meta["checked"] == dt.date(2026, 11, 25)


@pytest.mark.parametrize(
    ("category", "models"), [("full", 34), ("is_preset_generation", 8), ("not_preset_generation", 34)]
)
def test_lmarena_leaderboard_categories_anchor_dalle3_at_978(category, models):
    board = published.lmarena_leaderboard(category)
    assert board.height == models
    assert _by(board)["dall-e-3"]["rating"] == 978.0
    assert (
        board.filter(~((pl.col("ci_low") < pl.col("rating")) & (pl.col("rating") < pl.col("ci_high")))).height
        == 0
    )
    assert set(board["provenance"]) == {"published"} and set(board["source_date"]) == {LMARENA_DATE}


def test_lmarena_leaderboard_equals_the_shared_json(lmarena_shared):
    board, _ = lmarena_shared
    frame = published.lmarena_leaderboard(None)
    assert frame.height == sum(len(v) for v in board.values())
    for row in frame.iter_rows(named=True):
        entry = board[row["category"]][row["model"]]
        assert (row["rating"], row["ci_low"], row["ci_high"]) == (
            entry["rating"],
            entry["rating_q025"],
            entry["rating_q975"],
        )


def test_lmarena_leaderboard_unknown_category_names_the_allowed_ones():
    with pytest.raises(Exception, match="not_preset_generation"):
        published.lmarena_leaderboard("portraits")


def test_lmarena_prices_are_exact_decimals_of_the_published_join(lmarena_shared):
    _, priced = lmarena_shared
    prices = _by(published.lmarena_prices())
    assert set(prices) == {row["model"] for row in priced}
    for row in priced:
        assert prices[row["model"]]["cost_usd"] == Decimal(row["price_usd_per_image"])
    assert prices["flux-1-dev-fp8"]["cost_usd"] == Decimal("0.014")
    assert prices["photon"]["price_source"] == "https://replicate.com/pricing"


def test_lmarena_rating_vs_price_keeps_pareto_flag_and_is_derived(lmarena_shared):
    frame = published.lmarena_rating_vs_price()
    assert set(frame.filter("pareto")["model"]) == C11_FRONTIER
    assert set(frame["provenance"]) == {"derived"}


def test_seed_performance_matches_the_seed_page(seed_text):
    row = _by(published.seed_performance().filter(pl.col("provider") == "openai"))["gpt-image-1-mini"]
    page = {
        "latency_p50_ms": re.search(r"openai\n([\d,]+)ms p95", seed_text).group(1),
        "latency_p95_ms": re.search(r"ms p95: ([\d,]+)ms", seed_text).group(1),
        "ttfb_p50_ms": re.search(r"Time to First Byte\n\nopenai\n([\d,]+)ms", seed_text).group(1),
        "ttfb_p95_ms": re.search(r"Time to First Byte\n\nopenai\n[\d,]+ms\np95: ([\d,]+)ms", seed_text).group(
            1
        ),
    }
    for column, text in page.items():
        assert row[column] == float(text.replace(",", "")), column
    successes, requests = re.search(r"(\d+) / (\d+) requests", seed_text).groups()
    assert (row["successes"], row["requests"]) == (int(successes), int(requests)) == (133, 137)
    assert row["source_date"] == dt.date(2026, 11, 24) and row["provenance"] == "published"


def test_seed_arena_keeps_both_disputed_figures(seed_text):
    arena = published.seed_arena()
    t2i = _by(arena, "board")["text-to-image"]
    assert (t2i["elo"], t2i["elo_alternative"], t2i["rank"]) == (1255.0, 1247.0, 12)
    assert "1255 Elo" in seed_text and "Elo rating of 1247" in seed_text
    editing = _by(arena, "board")["image-editing"]
    assert (editing["elo"], editing["rank"]) == (1185.0, 15) and "1185 Elo" in seed_text
    portraits = _by(arena, "board")["portraits"]
    assert (portraits["win_rate"], portraits["rank"], portraits["of"]) == (0.696, 3, 19)
    assert "#3 out of 19 with a 69.6% win rate" in seed_text
    assert set(arena["method"].str.contains("TrueSkill")) == {True}


# --- C11 and dominance ------------------------------------------------------------------------------------


def test_c11_lmarena_frontier_from_shipped_data(lmarena_frame):
    result = pareto_frontier(lmarena_frame)
    assert set(result.filter(pl.col("on_frontier"))["option"]) == C11_FRONTIER
    priced = result.filter(pl.col("status") != "excluded")
    assert priced.height == 8
    assert _by(priced, "option")["recraft-v3"]["dominated_by"] == ["photon", "imagen-3.0-generate-002"]


def test_c11_frontier_holds_beyond_the_intervals(lmarena_frame):
    result = pareto_frontier(lmarena_frame, statistical=True)
    assert set(result.filter(pl.col("status") == "frontier")["option"]) == C11_FRONTIER
    assert result.filter(pl.col("status") == "unresolved").height == 0


def test_c11_from_the_derived_join_agrees_with_its_pareto_flag():
    frame = published.lmarena_rating_vs_price()
    result = pareto_frontier(frame)
    assert result["on_frontier"].to_list() == frame["pareto"].to_list()


@pytest.mark.parametrize(
    ("case", "ratings", "costs", "frontier"),
    [
        ("exact tie on both axes: neither dominates", [1000.0, 1000.0], ["0.04", "0.04"], {"a", "b"}),
        ("same rating, cheaper dominates", [1000.0, 1000.0], ["0.03", "0.04"], {"a"}),
        ("same cost, better rating dominates", [1010.0, 1000.0], ["0.04", "0.04"], {"a"}),
        ("better and dearer: both on the frontier", [1010.0, 1000.0], ["0.05", "0.04"], {"a", "b"}),
        ("better and cheaper: strict dominance", [1010.0, 1000.0], ["0.03", "0.04"], {"a"}),
    ],
)
def test_point_dominance(case, ratings, costs, frontier):
    result = pareto_frontier(_options(model=["a", "b"], rating=ratings, cost_usd=costs))
    assert set(result.filter(pl.col("on_frontier"))["model"]) == frontier, case


def test_costs_compare_as_exact_decimals():
    # 0.1 + 0.2 == 0.3 exactly; in binary floats 0.1 + 0.2 > 0.3 would make "b" look dearer
    a, b = Decimal("0.3"), Decimal("0.1") + Decimal("0.2")
    result = pareto_frontier(_options(model=["a", "b"], rating=[1000.0, 1000.0], cost_usd=[str(a), str(b)]))
    assert result["status"].to_list() == ["frontier", "frontier"]
    one_tenth_of_a_nano = _options(
        model=["a", "b"], rating=[1000.0, 1000.0], cost_usd=["0.04", "0.0400000001"]
    )
    assert pareto_frontier(one_tenth_of_a_nano)["status"].to_list() == ["frontier", "dominated"]


@pytest.mark.parametrize(
    ("b_ci_high", "status", "dominated_by", "unresolved_with"),
    [
        (1005.0, "dominated", ["a"], []),  # a's lower bound 1005 >= b's upper bound 1005: confirmed
        (1006.0, "unresolved", [], ["a"]),  # intervals overlap: not beyond them
    ],
)
def test_statistical_dominance_uses_the_intervals(b_ci_high, status, dominated_by, unresolved_with):
    frame = _options(
        model=["a", "b"],
        rating=[1010.0, 1000.0],
        ci_low=[1005.0, 995.0],
        ci_high=[1015.0, b_ci_high],
        cost_usd=["0.02", "0.03"],
    )
    b = _by(pareto_frontier(frame, statistical=True))["b"]
    assert (b["status"], b["dominated_by"], b["unresolved_with"]) == (status, dominated_by, unresolved_with)
    assert b["on_frontier"] is (status == "unresolved")
    assert _by(pareto_frontier(frame))["b"]["status"] == "dominated"  # point estimates alone


def test_statistical_dominance_without_intervals_is_unresolved():
    frame = _options(model=["a", "b"], rating=[1010.0, 1000.0], cost_usd=["0.02", "0.03"])
    b = _by(pareto_frontier(frame, statistical=True))["b"]
    assert (b["status"], b["unresolved_with"]) == ("unresolved", ["a"])


def test_latency_frontier_prefers_faster():
    frame = _options(
        model=["fast", "slow", "slower-better"],
        rating=[1000.0, 990.0, 1020.0],
        p50_ms=[5000.0, 9000.0, 20000.0],
    )
    result = pareto_frontier(frame, latency="p50_ms")
    assert _by(result)["slow"]["dominated_by"] == ["fast"]
    assert set(result.filter("on_frontier")["model"]) == {"fast", "slower-better"}


def test_excluded_options_carry_reasons():
    frame = _options(
        model=["ok", "unrated", "unpriced", "negative"],
        rating=[1000.0, None, 1010.0, 1005.0],
        cost_usd=["0.02", "0.01", None, "-0.01"],
    ).with_columns(pl.Series("cost_note", [None, None, "retired on 2026-05-12", None]))
    result = _by(pareto_frontier(frame))
    assert result["unrated"]["excluded_reason"] == "no rating"
    assert result["unpriced"]["excluded_reason"] == "no cost per image (retired on 2026-05-12)"
    assert result["negative"]["excluded_reason"].startswith("negative cost per image")
    assert [result[m]["on_frontier"] for m in ("unrated", "unpriced", "negative")] == [None, None, None]
    assert result["ok"]["status"] == "frontier"


def test_pareto_frontier_rejects_cost_and_latency_at_once():
    with pytest.raises(InvalidParameterError):
        pareto_frontier(
            _options(model=["a"], rating=[1.0], cost_usd=["1"], p50_ms=[1.0]),
            cost="cost_usd",
            latency="p50_ms",
        )


# --- inputs: catalog costs and the join ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "provider", "quality", "size", "usd", "provenance"),
    [  # PRICING.md §3.1 (OpenAI table), §5.2 (fal)
        ("gpt-image-1.5", "openai", "medium", "1024x1024", "0.034", "published"),
        ("gpt-image-1.5", "openai", "high", "1024x1536", "0.2", "published"),
        ("gpt-image-1-mini", "openai", "low", "1024x1024", "0.005", "published"),
        ("gpt-image-1-mini", "openai", "high", "1536x1024", "0.052", "published"),
        (
            "gpt-image-1.5",
            "fal",
            "medium",
            "1024x1536",
            "0.051",
            "published",
        ),  # fal rounds each size on its own
        ("gpt-image-1.5", "fal", "high", "1536x1024", "0.199", "published"),
        ("flux-1-dev", "fal", None, "1024x1024", "0.025", "published"),  # $0.025 per MP, 1 MP
        ("flux-1-dev", "fal", None, "1536x1024", "0.05", "published"),  # 1.5 MP rounds up to 2
        ("flux-1-schnell", "fal", None, "1024x1024", "0.003", "published"),
        (
            "flux-1.1-pro",
            "fal",
            None,
            "1024x1024",
            "0.04",
            "unverified",
        ),  # LITELLM-FAL, SKILLSPOOL: secondary only
    ],
)
def test_catalog_costs_equal_published_prices(model, provider, quality, size, usd, provenance):
    row = _by(catalog_costs([model], quality=quality, size=size, on=PRICED_ON), "provider")[provider]
    assert row["cost_usd"] == Decimal(usd)
    assert row["provenance"] == provenance and row["source_date"] is not None


def test_catalog_costs_default_auto_quality_is_priced_as_medium_and_says_so():
    row = _by(catalog_costs(["gpt-image-1-mini"], on=PRICED_ON), "provider")["openai"]
    assert (row["quality"], row["cost_usd"]) == ("medium", Decimal("0.011"))
    assert row["cost_note"] == "default quality 'auto' priced as 'medium'"


def test_catalog_costs_retired_model_depends_on_the_date():
    retired = catalog_costs(["dall-e-3"], on=dt.date(2026, 6, 1)).row(0, named=True)
    assert (retired["cost_usd"], retired["cost_note"]) == (None, "retired on 2026-05-12")
    before = catalog_costs(["dall-e-3"], on=dt.date(2026, 1, 1)).row(0, named=True)
    assert (before["quality"], before["cost_usd"]) == ("standard", Decimal("0.04"))  # PRICING §3.3


def test_catalog_costs_quality_not_offered_keeps_a_reason():
    row = catalog_costs(["dall-e-3"], quality="low", on=dt.date(2026, 1, 1)).row(0, named=True)
    assert row["cost_usd"] is None and "quality 'low' not offered" in row["cost_note"]


def test_frontier_inputs_joins_published_ratings_catalog_costs_and_seed_times(lmarena_shared):
    board, _ = lmarena_shared
    frame = frontier_inputs(
        published.lmarena_leaderboard(),
        catalog_costs(quality="low", on=PRICED_ON),
        published.seed_performance(),
        rating_provenance="published",
    )
    mini = _by(frame, "option")["gpt-image-1-mini @ openai"]
    assert mini["rating"] == board["full"]["gpt-image-1-mini"]["rating"]
    assert (mini["cost_usd"], mini["p50_ms"], mini["p95_ms"]) == (Decimal("0.005"), 17840.0, 46372.0)
    assert (mini["rating_provenance"], mini["cost_provenance"], mini["latency_provenance"]) == (
        "published",
    ) * 3
    assert (mini["rating_source_date"], mini["latency_source_date"]) == (LMARENA_DATE, dt.date(2026, 11, 24))
    assert mini["latency_source"].startswith("Lumenfall model page")
    unrated = _by(frame, "option")["flux-1-schnell @ fal"]  # in the catalog, not on LMArena: kept
    assert unrated["rating"] is None and unrated["rating_provenance"] is None
    unpriced = _by(frame, "option")["bagel"]  # rated, not in the catalog: one row without provider
    assert (
        unpriced["provider"] is None and unpriced["cost_usd"] is None and unpriced["cost_provenance"] is None
    )


def test_frontier_inputs_aliases_map_rating_names_to_catalog_ids():
    frame = frontier_inputs(
        published.lmarena_leaderboard(),
        catalog_costs(["flux-1-dev"]),
        aliases={"flux-1-dev-fp8": "flux-1-dev"},
    )
    row = _by(frame, "option")["flux-1-dev-fp8 @ fal"]
    assert (row["catalog_model"], row["cost_usd"]) == ("flux-1-dev", Decimal("0.025"))


def test_frontier_inputs_from_a_log_is_measured_per_provider():
    ratings = pl.DataFrame({"model": ["m"], "rating": [1000.0]})
    log = pl.DataFrame(
        {
            "provider": ["x", "y"],
            "model": ["m", "m"],
            "cost_per_image_usd": [Decimal("0.01"), Decimal("0.02")],
            "latency_p50_ms": [100.0, 200.0],
            "latency_p95_ms": [300.0, 400.0],
            "provenance": ["simulated"] * 2,
        }
    )
    frame = frontier_inputs(ratings, log, log, cost_source="log.jsonl")
    assert frame["option"].to_list() == ["m @ x", "m @ y"]
    assert frame["cost_provenance"].to_list() == ["simulated", "simulated"]
    assert frame["p95_ms"].to_list() == [300.0, 400.0]
    assert provenance_caption(frame) == "rating: measured; cost: simulated, log.jsonl; latency: simulated"


def test_a_provider_neutral_cost_applies_to_the_model_at_every_provider_without_its_own_row():
    ratings = pl.DataFrame({"model": ["m", "k"], "rating": [1000.0, 990.0]})
    costs = pl.DataFrame(
        {
            "model": ["m", "m", "k"],
            "provider": ["x", None, None],
            "cost_usd": [Decimal("0.01"), Decimal("0.03"), Decimal("0.002")],
            "provenance": ["measured", "published", "published"],
        }
    )
    times = pl.DataFrame({"model": ["m", "m"], "provider": ["x", "y"], "latency_p50_ms": [100.0, 200.0]})
    rows = _by(frontier_inputs(ratings, costs, times), "option")
    assert sorted(rows) == ["k", "m @ x", "m @ y"]
    assert (rows["m @ x"]["cost_usd"], rows["m @ x"]["cost_provenance"]) == (Decimal("0.01"), "measured")
    assert (rows["m @ y"]["cost_usd"], rows["m @ y"]["cost_provenance"]) == (Decimal("0.03"), "published")
    assert (rows["k"]["cost_usd"], rows["k"]["cost_provenance"]) == (Decimal("0.002"), "published")


def test_published_prices_fill_in_only_models_the_catalog_does_not_price():
    costs = costs_with_published(
        catalog_costs(quality="medium", size="1024x1024", on=PRICED_ON), published.lmarena_prices()
    )
    rows = {(r["model"], r["provider"]): r for r in costs.iter_rows(named=True)}
    assert rows["photon", "replicate.com"]["cost_usd"] == Decimal("0.03")  # LMArena's price, its seller
    assert rows["flux-1-dev-fp8", "fireworks.ai"]["cost_usd"] == Decimal("0.014")
    assert rows["gpt-image-1-mini", "openai"]["cost_usd"] == Decimal("0.011")  # PRICING.md, medium 1024²
    # the catalog knows dall-e-3 (retired, so unpriced today): LMArena's old price does not stand in for it
    assert [p for m, p in rows if m == "dall-e-3"] == ["openai"]


def test_measured_times_replace_published_ones_pair_by_pair():
    measured = pl.DataFrame(
        {
            "provider": ["openai"],
            "model": ["gpt-image-1-mini"],
            "latency_p50_ms": [1000.0],
            "provenance": ["measured"],
        }
    )
    times = times_with_published(measured, published.seed_performance())
    rows = {(r["provider"], r["model"]): r for r in times.iter_rows(named=True)}
    assert rows["openai", "gpt-image-1-mini"]["latency_p50_ms"] == 1000.0
    assert rows["openai", "gpt-image-1-mini"]["provenance"] == "measured"
    assert {k for k, r in rows.items() if r["provenance"] == "published"} == {
        ("lumenfall", "flux-1-schnell"),
        ("lumenfall", "gpt-image-1.5"),
    }
    alone = times_with_published(None, published.seed_performance())
    assert alone.filter(pl.col("model") == "gpt-image-1-mini")["latency_p50_ms"].to_list() == [17840.0]


# --- gathering the inputs: one function for imgkit frontier and the elo_vs_speed report -----------------------

SAMPLE_LOG = "data/samples/provider_log.parquet"
GENAI_VOTES = "data/votes/genai_arena_20240220/votes.csv"


def test_arena_catalog_folder_is_the_2025_board_and_its_prices(lmarena_frame):
    sources = frontier_sources(leaderboard_dir=published.published_dir() / "lmarena")
    assert (sources.rating_provenance, sources.rating_source, sources.latency) == ("published", None, None)
    assert sources.options().equals(lmarena_frame)


def test_catalog_quotes_filled_with_published_prices_and_said_so():
    # priced on a day gpt-image-1-mini was still sold (OpenAI shut it down on 2026-12-01: OAI-DEPRECATIONS)
    on = dt.date(2026, 6, 1)
    sources = frontier_sources(
        costs="catalog", quality="medium", fill_published=True, on=on, leaderboard="arena-catalog"
    )
    rows = {(r["model"], r["provider"]): r for r in sources.costs.iter_rows(named=True)}
    assert rows["gpt-image-1-mini", "openai"]["cost_usd"] == Decimal("0.011")  # PRICING.md, medium 1024²
    assert rows["photon", "replicate.com"]["cost_usd"] == Decimal("0.03")  # LMArena's, for a model not sold
    assert sources.cost_basis == "quality medium, 1024x1024, generate, priced on 2026-06-01"
    plain = frontier_sources(costs="catalog", on=on, leaderboard="arena-catalog")
    assert ("photon", "replicate.com") not in {
        (r["model"], r["provider"]) for r in plain.costs.iter_rows(named=True)
    }
    assert plain.cost_basis == "each model's default quality, 1024x1024, generate, priced on 2026-06-01"
    # beside a dated snapshot LMArena's 2025 $/image is never used: it names the 2025 board's models
    dated = frontier_sources(costs="catalog", quality="medium", fill_published=True, on=on)
    assert "replicate.com" not in set(dated.costs["provider"])


@pytest.mark.parametrize("describe", [False, True])
def test_a_logs_costs_and_times_are_measured_per_provider_with_published_times_beside(repo_dir, describe):
    from imgkit.analysis.performance import performance_table
    from imgkit.records.scan import scan_log

    log = repo_dir / SAMPLE_LOG
    sources = frontier_sources(
        costs="log", latency="log", log_path=log, fill_published=True, describe_logs=describe
    )
    measured = performance_table(scan_log(log), by=("provider", "model"))
    assert sources.costs.select("provider", "model", "cost_per_image_usd").equals(
        measured.select("provider", "model", "cost_per_image_usd")
    )
    description = "simulated from provider_log.parquet, 1,000 requests, 2026-01-01 – 2026-01-30"
    times = {(r["provider"], r["model"]): r for r in sources.latency.iter_rows(named=True)}
    assert times["lumenfall", "gpt-image-1.5"]["provenance"] == "published"  # the log has no such pair
    logged = {(r["provider"], r["model"]) for r in measured.iter_rows(named=True)}
    assert {k for k, r in times.items() if r["provenance"] == "simulated"} == logged
    caption = provenance_caption(sources.options(), ["latency"])
    assert (description in caption) is describe and "provider_log.parquet" in caption


def test_votes_are_fitted_with_sandwich_or_bootstrap_intervals_and_named(repo_dir):
    votes = repo_dir / GENAI_VOTES
    sandwich = frontier_sources(votes)
    assert sandwich.rating_provenance == "measured" and sandwich.costs is not None  # catalog quotes
    assert (
        sandwich.rating_source.startswith("votes.csv: ")
        and "sandwich 95 % intervals" in sandwich.rating_source
    )
    boot = frontier_sources(votes, bootstrap=20, seed=3, rating_provenance="published")
    assert "bootstrap 20, seed 3" in boot.rating_source and boot.rating_provenance == "published"
    assert boot.ratings.table["model"].sort().equals(sandwich.ratings.table["model"].sort())


def test_a_ratings_table_or_json_is_taken_as_it_is(tmp_path):
    rows = [{"model": "gpt-image-1.5", "rating": 1050.0}, {"model": "flux-1-schnell", "rating": 990.0}]
    (tmp_path / "r.json").write_text(json.dumps({"ratings": rows}))
    pl.DataFrame(rows).write_csv(tmp_path / "r.csv")
    for name in ("r.json", "r.csv"):
        sources = frontier_sources(tmp_path / name, costs="catalog", quality="low")
        assert sources.rating_source == name
        rated = sources.options().filter(pl.col("rating").is_not_null())
        assert dict(rated.select("model", "rating").unique().iter_rows()) == {
            "gpt-image-1.5": 1050.0,
            "flux-1-schnell": 990.0,
        }


@pytest.mark.parametrize(
    ("kwargs", "field", "allowed"),
    [
        ({"costs": "run"}, "costs", "run together with a run_dir"),
        ({"latency": "log"}, "latency", "log together with a log_path"),
        ({"costs": "no/such/log.jsonl"}, "costs", "lmarena, catalog, log, run or an existing request log"),
        ({"latency": "no/such/log.jsonl"}, "latency", "seed, log, run or an existing request log"),
    ],
)
def test_an_input_that_cannot_be_gathered_is_named(kwargs, field, allowed):
    with pytest.raises(InvalidParameterError, match=re.escape(field)) as caught:
        frontier_sources(**kwargs)
    assert allowed in str(caught.value)


def test_a_run_without_votes_is_refused_naming_the_run(tmp_path):
    with pytest.raises(InvalidParameterError, match=r"run_dir=.*votes.csv: none yet; imgkit vote"):
        frontier_sources(run_dir=tmp_path)


def test_inputs_used_counts_the_options_each_input_places():
    on = dt.date(2026, 12, 6)
    sources = frontier_sources(costs="catalog", quality="medium", latency="seed", fill_published=True, on=on)
    options = sources.options()
    by_cost = pareto_frontier(sources.options(latency=False), cost="cost_usd")
    by_time = pareto_frontier(sources.options(costs=False), latency="p50_ms")
    rows = {r["input"]: r for r in sources.inputs_used(options, by_cost, by_time)}
    assert list(rows) == ["ratings", "cost per image", "generation time (p50)"]
    assert rows["ratings"]["options"] == options.filter(pl.col("rating").is_not_null())["model"].n_unique()
    assert rows["cost per image"]["where from"].endswith(
        "; quality medium, 1024x1024, generate, priced on 2026-12-06"
    )
    assert rows["generation time (p50)"]["options"] == by_time["p50_ms"].is_not_null().sum() > 0


# --- the report's sentences --------------------------------------------------------------------------------------


def test_a_frontier_sentence_names_its_options_and_the_price_of_climbing_it():
    frame = pareto_frontier(
        _options(
            option=["cheap", "good", "worse"],
            rating=[1000.0, 1100.0, 990.0],
            cost_usd=["0.01", "0.04", "0.05"],
            ci_low=[None] * 3,
            ci_high=[None] * 3,
        ),
        cost="cost_usd",
    )
    line = frontier_line(frame, "cost_usd", "cost per image", lambda usd: format_value(usd, "price"))
    assert line == (
        "Quality vs cost per image: 2 of 3 placed options on the frontier, best rated first: good (1100, $0.04), "
        "cheap (1000, $0.01); 0 options lack a rating or a cost per image. Climbing the frontier from cheap to "
        "good buys 100 Elo for 4.0× the cost per image."
    )
    empty = frame.with_columns(status=pl.lit("excluded"))
    assert frontier_line(empty, "cost_usd", "cost per image", str) == (
        "Quality vs cost per image: no option has both a rating and a cost per image."
    )


def test_frontier_conclusions_say_where_the_numbers_come_from_and_warn_of_simulated_ones(repo_dir):
    sources = frontier_sources(latency="log", log_path=repo_dir / SAMPLE_LOG, costs="catalog", quality="low")
    options = sources.options()
    by_cost = pareto_frontier(sources.options(latency=False), cost="cost_usd")
    by_time = pareto_frontier(sources.options(costs=False), latency="p50_ms")
    choice = recommend(options, budget_usd_per_image="0.02")
    lines = frontier_conclusions(by_cost, by_time, choice, options)
    assert lines[0].startswith("Quality vs cost per image: ") and lines[1].startswith("Quality vs median gen")
    assert lines[2] == f"Recommended: {choice.reason}." and choice.choice is not None
    assert lines[3] == f"Where the numbers come from: {provenance_caption(options)}."
    assert lines[4].startswith("Simulated figures follow published profiles")
    published_only = frontier_conclusions(by_cost, by_time, choice, frontier_sources().options())
    assert len(published_only) == 4


def test_frontier_inputs_rejects_duplicate_ratings():
    with pytest.raises(InvalidParameterError, match="one row per"):
        frontier_inputs(published.lmarena_leaderboard(None))


def test_provenance_caption_states_source_and_date(lmarena_frame):
    caption = provenance_caption(lmarena_frame)
    assert caption.startswith("rating: published, LMArena (lmarena/arena-catalog @ c9558b60), 2025-12-17")
    assert "cost: published" in caption


# --- recommend ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def c11_options(lmarena_frame):
    return lmarena_frame.filter(pl.col("cost_usd").is_not_null()).with_columns(
        pl.Series("p50_ms", [float(i) * 1000 for i in range(1, 9)])
    )


@pytest.mark.parametrize(
    ("constraints", "objective", "choice"),
    [
        ({}, "max_quality", "imagen-3.0-generate-002"),
        ({"budget_usd_per_image": "0.03"}, "max_quality", "photon"),
        ({"budget_usd_per_image": Decimal("0.02")}, "max_quality", "flux-1-dev-fp8"),
        ({"quality_floor": 1020.0}, "min_cost", "photon"),
        ({"quality_floor": 1000.0, "budget_usd_per_image": 1}, "min_cost", "photon"),
    ],
)
def test_recommend_under_constraints(c11_options, constraints, objective, choice):
    result = recommend(c11_options, objective=objective, **constraints)
    assert result.choice["option"] == choice
    assert result.reason.startswith(choice)


def test_recommend_latency_ceiling_uses_the_time_column(c11_options):
    fastest_two = sorted(c11_options["p50_ms"].to_list())[:2]
    result = recommend(c11_options, latency_ceiling_ms=fastest_two[1])
    qualifying = set(result.candidates.filter("qualifies")["option"])
    assert qualifying == set(c11_options.filter(pl.col("p50_ms") <= fastest_two[1])["option"])
    assert "p50 <=" in result.reason


def test_recommend_with_no_qualifying_option_says_why(c11_options):
    result = recommend(c11_options, quality_floor=1050.0, budget_usd_per_image="0.02")
    assert result.choice is None
    assert result.reason.startswith("no option qualifies (rating >= 1050, <= $0.02/image)")
    assert "below the rating floor" in result.reason and "over budget" in result.reason
    rejected = _by(result.candidates, "option")["imagen-3.0-generate-002"]["rejected_because"]
    assert rejected == "$0.04/image > budget $0.02"


def test_recommend_reports_close_calls_within_the_intervals():
    frame = _options(
        model=["a", "b"],
        rating=[1010.0, 1008.0],
        ci_low=[1004.0, 1002.0],
        ci_high=[1016.0, 1014.0],
        cost_usd=["0.02", "0.01"],
    )
    result = recommend(frame)
    assert result.choice["model"] == "a" and result.close_calls == ("b",)


def test_recommend_refuses_a_float_budget(c11_options):
    with pytest.raises(InvalidParameterError, match="budget_usd_per_image"):
        recommend(c11_options, budget_usd_per_image=0.03)


# --- plots --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def c11_figure(lmarena_frame):
    return plot_rating_vs_cost(lmarena_frame)


def test_rating_vs_cost_figure_highlights_the_frontier(c11_figure, tmp_path):
    out = tmp_path / "frontier.png"
    c11_figure.savefig(out, dpi=60)
    assert out.stat().st_size > 10_000
    ax = c11_figure.axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlim()[0] > ax.get_xlim()[1]  # cheaper to the right
    staircase = next(line for line in ax.get_lines() if str(line.get_label()).startswith("frontier"))
    assert max(staircase.get_ydata()) == pytest.approx(1061.7528513110224)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "on the frontier" in legend and "dominated" in legend
    labels = {t.get_text() for t in ax.texts if t.get_gid() == LABEL_GID}
    assert labels == set(published.lmarena_prices()["model"])


def test_rating_vs_cost_labels_do_not_overlap(c11_figure):
    assert label_overlaps(c11_figure) == []


def test_crowded_labels_do_not_overlap():
    n = 12
    frame = _options(
        model=[f"model-number-{i}" for i in range(n)],
        rating=[1000.0 + i for i in range(n)],
        ci_low=[995.0 + i for i in range(n)],
        ci_high=[1005.0 + i for i in range(n)],
        cost_usd=["0.04"] * (n - 1) + ["0.01"],
    )
    fig = plot_rating_vs_cost(frame, statistical=True)
    assert label_overlaps(fig) == []
    assert "lower bound >= this option's upper bound" in fig.get_supxlabel()


def test_figure_caption_states_provenance(c11_figure):
    caption = c11_figure.get_supxlabel().replace("\n", " ")
    assert "rating: published, LMArena (lmarena/arena-catalog @ c9558b60), 2025-12-17" in caption
    assert "cost: published" in caption and "point estimates" in caption


def test_rating_vs_latency_figure_with_seed_times():
    frame = frontier_inputs(
        published.lmarena_leaderboard(), None, published.seed_performance(), rating_provenance="published"
    )
    fig = plot_rating_vs_latency(frame)
    assert label_overlaps(fig) == []
    caption = fig.get_supxlabel().replace("\n", " ")
    assert "latency: published, Lumenfall model page for gpt-image-1-mini" in caption
    assert "not shown" in caption  # models without a time are counted, not silently dropped


# --- CLI ------------------------------------------------------------------------------------------------------


def test_cli_arena_catalog_is_c11_offline(capsys):
    assert cli_main(["frontier", "--leaderboard", "arena-catalog"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("frontier (cost)"))
    assert set(line.split(": ", 1)[1].split(", ")) == C11_FRONTIER
    assert "rating: published, LMArena" in out and "2025-12-17" in out


def test_cli_json_with_recommendation_and_plot(tmp_path, capsys):
    out_png = tmp_path / "f.png"
    args = ["frontier", "--leaderboard", "arena-catalog", "--json", "--statistical", "--budget-usd", "0.03"]
    args += ["--plot", str(out_png)]
    assert cli_main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc["frontier"]) == C11_FRONTIER and doc["statistical"] is True
    assert doc["recommendation"]["choice"]["option"] == "photon"
    assert doc["recommendation"]["choice"]["cost_usd"] == "0.0300000000"  # exact money as a string
    assert doc["excluded"] == {"no cost per image": 26}
    assert out_png.stat().st_size > 10_000


def test_cli_catalog_costs_latency_axis(capsys):
    args = [
        "frontier",
        "--leaderboard",
        "arena-catalog",
        "--costs",
        "catalog",
        "--quality",
        "low",
        "--axis",
        "latency",
        "--json",
        "--on",
        "2026-11-24",
    ]
    assert cli_main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    # the gateway's model pages (copy A): FLUX.2 [flex] at fal p50 15,813 ms, FLUX.2 [pro] at Replicate 14,131 ms;
    # on the 2025-12-17 board flux-2-flex 1155.5 > flux-2-pro 1150.5, and every other rated, timed option is slower
    assert doc["frontier"] == ["flux-2-flex @ fal", "flux-2-pro @ replicate"]
    assert "latency: published" in doc["caption"]


def test_cli_ratings_json_file_and_alias(tmp_path, capsys):
    path = tmp_path / "ratings.json"
    rows = [
        {"model": "ours-a", "rating": 1050.0, "ci_low": 1040.0, "ci_high": 1060.0},
        {"model": "ours-b", "rating": 950.0, "ci_low": 940.0, "ci_high": 960.0},
    ]
    path.write_text(json.dumps({"ratings": rows}))
    args = [
        "frontier",
        "--ratings",
        str(path),
        "--alias",
        "ours-a=gpt-image-1.5",
        "--alias",
        "ours-b=flux-1-schnell",
        "--quality",
        "medium",
        "--json",
        "--on",
        "2026-11-24",
    ]
    assert cli_main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    # flux-1-schnell costs $0.0027 at Together (secondary) against $0.003 at fal and Replicate
    assert set(doc["frontier"]) == {"ours-a @ openai", "ours-a @ fal", "ours-b @ together"}
    assert "rating: measured, ratings.json" in doc["caption"]


def test_cli_bad_budget_is_one_line_exit_2(capsys):
    assert cli_main(["frontier", "--budget-usd", "0.1.2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("imgkit: error:") and "budget_usd_per_image" in err and err.count("\n") == 1


def test_cli_fits_votes_then_joins_catalog_costs(repo_dir, capsys):
    votes = repo_dir / "data" / "votes" / "genai_arena_20240220" / "votes.csv"
    args = [
        "frontier",
        "--ratings",
        str(votes),
        "--costs",
        "catalog",
        "--quality",
        "medium",
        "--on",
        "2026-11-24",
    ]
    args += ["--alias", "PlayGroundV2=gpt-image-1.5", "--alias", "SDXLTurbo=flux-1-schnell"]
    assert cli_main(args) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("frontier (cost)"))
    assert set(line.split(": ", 1)[1].split(", ")) == {
        "PlayGroundV2 @ openai",
        "PlayGroundV2 @ fal",
        "SDXLTurbo @ together",  # flux-1-schnell: $0.0027 at Together (secondary) against $0.003 at fal
    }
    assert "rating: measured, votes.csv: " in out and "sandwich 95 % intervals" in out
