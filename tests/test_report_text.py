"""The reports' words, computed by the package (imgkit.report_text) rather than by notebook cells: which row
each sentence picks, and every figure in it formatted by imgkit.formats. The frontier's and the projection's
sentences are tested beside their analyses (test_frontier.py, test_projection.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest

from imgkit.analysis.performance import LogSummary, log_summary, performance_table
from imgkit.analysis.published import BESIDE_FIGURES, measured_beside_published, published_performance
from imgkit.analysis.ratings import (
    compare_with_published,
    fit_bradley_terry,
    read_votes,
    vote_diagnostics,
    win_rate_gap,
)
from imgkit.records.scan import scan_log
from imgkit.report_text import grid_conclusions, log_inputs, performance_conclusions, ratings_conclusions

SUMMARY = LogSummary(
    requests=600,
    attempts=640,
    first_started_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    last_started_at=dt.datetime(2026, 1, 30, tzinfo=dt.UTC),
    provenance=("measured",),
)


def _table(**columns) -> pl.DataFrame:
    """A performance table of three groups (provider, model) with the given columns over defaults."""
    base = {
        "provider": ["openai", "fal", "lumenfall"],
        "model": ["gpt-image-1-mini", "flux-1-schnell", "gpt-image-1.5"],
        "requests": [200, 250, 150],
        "successes": [196, 249, 140],
        "success_rate": [0.98, 0.996, 140 / 150],
        "success_ci_low": [0.949, 0.978, 0.881],
        "success_ci_high": [0.992, 0.999, 0.963],
        "latency_p50_ms": [17840.0, 1820.0, 32500.0],
        "latency_p95_ms": [46372.0, 4320.0, 61000.0],
        "cost_per_image_usd": [Decimal("0.005016"), Decimal("0.003"), None],
        "total_cost_usd": [Decimal("0.983136"), Decimal("0.747"), None],
    }
    base.update(columns)
    return pl.DataFrame(base, schema_overrides={"cost_per_image_usd": pl.Decimal(38, 10)})


# --- provider_performance ---------------------------------------------------------------------------------------


def test_performance_conclusions_pick_the_fastest_the_steadiest_and_the_cheapest():
    lines = performance_conclusions(_table(), ["provider", "model"], SUMMARY, "log.jsonl")
    assert lines == [
        "measured from log.jsonl, 600 requests, 2026-01-01 – 2026-01-30; 3 groups by provider, model.",
        "Fastest median: fal / flux-1-schnell at 1.82 s (p95 4.32 s), 17.9× quicker than the slowest, "
        "lumenfall / gpt-image-1.5 (32.5 s).",
        "Most reliable (highest lower bound): fal / flux-1-schnell, 99.6 % (249/250, 95 % CI 97.8–99.9 %); "
        "least: lumenfall / gpt-image-1.5, 93.3 % (140/150).",
        "Cheapest per successful image: fal / flux-1-schnell at $0.003; dearest: openai / gpt-image-1-mini at "
        "$0.005016.",
    ]


def test_performance_conclusions_leave_out_groups_without_a_success_and_unpriced_logs():
    table = _table(successes=[196, 0, 140], cost_per_image_usd=[None, None, None])
    lines = performance_conclusions(table, ["provider", "model"], SUMMARY, "log.jsonl")
    assert lines[0].endswith("; 2 groups by provider, model.")
    assert lines[1].startswith("Fastest median: openai / gpt-image-1-mini at 17.8 s")
    assert not any(line.startswith("Cheapest") for line in lines)


def test_performance_conclusions_compare_a_logged_pair_with_its_published_figures():
    published = published_performance()  # the seed page, then the gateway's model pages
    measured = _table().with_columns(source=pl.lit("log"))
    lines = performance_conclusions(
        _table(), ["provider", "model"], SUMMARY, "log.jsonl", measured, published
    )
    row = published.filter((pl.col("provider") == "openai") & (pl.col("model") == "gpt-image-1-mini")).row(
        0, named=True
    )
    assert (
        "openai / gpt-image-1-mini: measured p50 17.8 s and p95 46.4 s against the published 17.8 s and "
        f"46.4 s ({row['source']}, undated, checked {row['source_date']})."  # the page shows no date
    ) in lines
    timed = published.filter(pl.col("latency_p50_ms").is_not_null()).join(measured, on=["provider", "model"])
    assert sum(line.startswith(("openai /", "fal /", "lumenfall /")) for line in lines) == timed.height
    # the seed page and the gateway's copy A show the same gpt-image-1-mini figures: one line each, never merged
    assert timed.filter(pl.col("model") == "gpt-image-1-mini").height == 2


def test_log_inputs_name_the_log_the_window_and_each_published_figure_set():
    published = published_performance()
    rows = log_inputs(SUMMARY, "log.jsonl", ["provider", "model"], published, since="30d", period="week")
    assert rows[0] == {
        "input": "request log",
        "value": "log.jsonl",
        "provenance": "measured",
        "detail": "measured from log.jsonl, 600 requests, 2026-01-01 – 2026-01-30; 640 attempts",
    }
    assert (
        rows[1]["value"] == "since 30d, until end"
        and rows[1]["detail"] == "grouped by provider, model and week"
    )
    assert [r["value"] for r in rows[2:]] == [
        "the product seed page (the gateway's gpt-image-1-mini page and agent skill): 3 figures for 3 provider x "
        "model pairs",
        "the gateway's model pages (Lumenfall, per provider, 30-day window, undated copies): 48 figures for 34 "
        "provider x model pairs",  # gateway_performance.yaml: 48 rows from 28 page copies
    ]
    assert all(r["input"] == "published figures" and "undated" in r["detail"] for r in rows[2:])


def test_measured_figures_sit_above_the_published_ones_pair_by_pair(repo_dir):
    log = scan_log(repo_dir / "data" / "samples" / "provider_log.parquet")
    measured = performance_table(log, by=["provider", "model"]).with_columns(source=pl.lit("sample"))
    published = published_performance()
    beside = measured_beside_published(measured, published)
    assert beside.columns == ["provider", "model", "provenance", *BESIDE_FIGURES, "source"]
    assert beside.height == measured.height + published.height
    mini = beside.filter((pl.col("provider") == "openai") & (pl.col("model") == "gpt-image-1-mini"))
    # sorted: the seed page's figure and the gateway's copy A (identical figures, two sources), then the log's
    assert mini["provenance"].to_list() == ["published", "published", "simulated"]
    assert mini["source"][0].endswith(f", checked {published['source_date'][0]}")
    assert beside.equals(measured_beside_published(measured))  # every published figure by default
    same = measured_beside_published(measured, same_pairs=True)
    assert set(same.select("provider", "model").iter_rows()) == set(
        measured.select("provider", "model").iter_rows()
    )


# --- model_ratings ------------------------------------------------------------------------------------------------


REPO = Path(__file__).resolve().parents[1]
GENAI = REPO / "data" / "votes" / "genai_arena_20240220"


@pytest.fixture(scope="module")
def genai_fit():
    votes = read_votes(GENAI / "votes.csv")
    return votes, fit_bradley_terry(votes, ci="sandwich", bootstrap=0, category="text-to-image")


def test_the_win_rate_gap_weighs_each_pair_by_its_votes(genai_fit):
    _, result = genai_fit
    pairs = result.pairwise.filter(pl.col("model") < pl.col("opponent")).to_dicts()
    gaps = [abs(p["observed_win_rate"] - p["predicted_win_rate"]) for p in pairs]
    expected = sum(g * p["votes"] for g, p in zip(gaps, pairs, strict=True)) / sum(p["votes"] for p in pairs)
    gap = win_rate_gap(result)
    assert gap.weighted == pytest.approx(expected)
    assert gap.worst["gap"] == pytest.approx(max(gaps))


def test_a_refit_is_compared_with_published_ratings_model_by_model(genai_fit):
    _, result = genai_fit
    path = GENAI / "ratings_t2i_generation_anony.csv"
    comparison = compare_with_published(result.table, path)
    published = dict(read_votes(path).select("model", "rating").iter_rows())
    assert set(comparison["model"]) == set(published) & set(result.table["model"])
    for row in comparison.iter_rows(named=True):
        assert row["published_rating"] == published[row["model"]]
        assert row["difference"] == pytest.approx(row["rating"] - published[row["model"]])
    assert sorted(comparison["published_order"]) == list(range(1, comparison.height + 1))
    assert comparison.equals(compare_with_published(result.table, read_votes(path)))


def test_ratings_conclusions_name_the_leader_the_fit_and_each_check(genai_fit):
    votes, result = genai_fit
    checks = vote_diagnostics(votes, category="text-to-image")
    lines = ratings_conclusions(result, "CAPTION", checks)
    top = result.table.row(0, named=True)
    assert lines[0] == (
        f"{top['model']} rates highest at {top['rating']:.0f} "
        f"(95 % interval {top['ci_low']:.0f}–{top['ci_high']:.0f}) on CAPTION."
    )
    gap = win_rate_gap(result)
    assert f"within {100 * gap.weighted:.1f} percentage points" in lines[2]
    assert lines[3:] == [f"Vote check, {line}." for line in checks.lines()]


def test_ratings_conclusions_say_when_the_intervals_cannot_separate_the_leaders():
    votes = pl.DataFrame({"model_a": ["a", "b"] * 5, "model_b": ["b", "a"] * 5, "winner": ["model_a"] * 10})
    result = fit_bradley_terry(votes, ci="sandwich", bootstrap=0)  # 5 wins each way: a tie
    lines = ratings_conclusions(result, "C", vote_diagnostics(votes))
    other = next(m for m in ("a", "b") if m != result.table["model"][0])
    assert lines[1] == f"Not separable from it by the intervals: {other} share rank 1."


# --- comparison_grid ----------------------------------------------------------------------------------------------


def test_grid_conclusions_pick_the_fastest_and_the_cheapest_and_read_simulated_times():
    table = _table().with_columns(pl.col("latency_p50_ms") / 200)  # a simulated run at time_scale 0.005
    grid = SimpleNamespace(cells=12, failed=1)
    lines = grid_conclusions("demo", grid, table, ["model", "provider"], "SOURCE", 0.005)
    assert lines == [
        "demo: 12 cells, 3 targets, 1 failed cells; SOURCE.",
        "Fastest median: flux-1-schnell / fal at 0.01 s; slowest: gpt-image-1.5 / lumenfall at 0.16 s (17.9×).",
        "Cheapest image: flux-1-schnell / fal at $0.003; dearest: gpt-image-1-mini / openai at $0.005016 (1.7×); "
        "the run cost $1.73 in total.",
        "Simulated at time_scale 0.005: divide the times by it for the published scale (fastest median 1.8 s); "
        "placeholder images, nothing billed. Run the spec for real to judge the images.",
    ]
    assert len(grid_conclusions("demo", grid, table, ["model", "provider"], "SOURCE")) == 3  # not simulated


def test_a_real_sample_log_reads_end_to_end(repo_dir):
    log = scan_log(repo_dir / "data" / "samples" / "provider_log.parquet")
    keys = ["provider", "model", "quality"]
    lines = performance_conclusions(
        performance_table(log, by=keys), keys, log_summary(log), "provider_log.parquet"
    )
    assert lines[0].startswith("simulated from provider_log.parquet, 1,000 requests, 2026-01-01")
    assert all(line.endswith(".") for line in lines)
