"""Leaderboard snapshots, the alias table, the frontier on today's market and the published performance figures
(issue 14, ratings half).

Sources named per row: LMARENA-DS = LMArena's dataset lmarena-ai/leaderboard-dataset (CC BY 4.0) as copied verbatim
in ukitako1030/EVAL@1fca0535 (text_to_image 2026-10-07, image_edit 2026-10-06); LMARENA-3P = third-party
transcriptions of lmarena.ai/leaderboard/text-to-image; AA-0923 = Avo-Sarkissian/AI-Frontier-Database@005d573d
(scrape of artificialanalysis.ai/text-to-image, 2026-09-23); AA-0818 = amant03/ai-news@00b679fe / @bfdc478d (AA
leaderboards, 2026-08-18); LF-LB = lumenfall.ai/leaderboard ("As of July 2026"); LF-PERF = the gateway's model
pages (lumenfall.ai/models/...); ARENA-CATALOG = lmarena/arena-catalog@c9558b60 (2025-12-17); the catalog's own
price sources for costs (data/catalog/*.yaml).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import polars as pl
import pytest

from imgkit.analysis import published
from imgkit.analysis.frontier import (
    frontier_sources,
    pareto_frontier,
    passed_over,
    quality_bands,
    recommend,
)
from imgkit.catalog import load_catalog
from imgkit.cli import main as cli_main
from imgkit.errors import CatalogError, InvalidParameterError, UnknownNameError
from imgkit.report_text import frontier_conclusions, recommendation_rule

#: the day the shipped data was compiled and checked
CHECKED = dt.date(2026, 12, 6)


# --- snapshots -------------------------------------------------------------------------------------------------

SNAPSHOTS = [
    # id, arena, board, date, rows, mark, source url (source)
    ("lmarena-text-to-image-2026-10-07", "lmarena", "text-to-image", "2026-10-07", 82, "copy",
     "https://huggingface.co/datasets/lmarena-ai/leaderboard-dataset"),  # LMARENA-DS
    ("lmarena-image-edit-2026-10-06", "lmarena", "image-edit", "2026-10-06", 59, "copy",
     "https://huggingface.co/datasets/lmarena-ai/leaderboard-dataset"),  # LMARENA-DS
    ("lmarena-text-to-image-2026-09-30-thirdparty", "lmarena", "text-to-image", "2026-09-30", 50, "secondary",
     "https://lmarena.ai/leaderboard/text-to-image"),  # LMARENA-3P
    ("lmarena-text-to-image-2026-08-25-thirdparty", "lmarena", "text-to-image", "2026-08-25", 50, "secondary",
     "https://lmarena.ai/leaderboard/text-to-image"),  # LMARENA-3P
    ("lmarena-text-to-image-2026-08-13-thirdparty", "lmarena", "text-to-image", "2026-08-13", 50, "secondary",
     "https://lmarena.ai/leaderboard/text-to-image"),  # LMARENA-3P
    ("lmarena-text-to-image-2025-12-17", "lmarena", "text-to-image", "2025-12-17", 34, "primary",
     "https://github.com/lmarena/arena-catalog/tree/c9558b60647217fafa878cb7ee14f8f43c355594/data"),  # ARENA-CATALOG
    ("artificial-analysis-text-to-image-2026-09-23", "artificial-analysis", "text-to-image", "2026-09-23", 161,
     "secondary", "https://artificialanalysis.ai/text-to-image"),  # AA-0923
    ("artificial-analysis-text-to-image-2026-08-18", "artificial-analysis", "text-to-image", "2026-08-18", 147,
     "secondary", "https://artificialanalysis.ai/image/leaderboard/text-to-image"),  # AA-0818
    ("artificial-analysis-image-edit-2026-08-18", "artificial-analysis", "image-edit", "2026-08-18", 69,
     "secondary", "https://artificialanalysis.ai/image/leaderboard/image-editing"),  # AA-0818
    ("lumenfall-text-to-image-2026-07", "lumenfall", "text-to-image", "2026-07", 4, "secondary",
     "https://lumenfall.ai/leaderboard"),  # LF-LB
]  # fmt: skip


@pytest.mark.parametrize(("sid", "arena", "board", "date", "rows", "mark", "url"), SNAPSHOTS)
def test_each_snapshot_is_dated_sourced_marked_and_checked(sid, arena, board, date, rows, mark, url):
    snap = published.find_snapshot(sid)
    assert (snap.arena, snap.board, snap.date_text, snap.mark, snap.url) == (arena, board, date, mark, url)
    assert snap.checked == CHECKED and snap.method.strip()
    frame = published.leaderboard(sid)
    assert frame.height == rows and frame["snapshot"].unique().to_list() == [sid]
    assert frame["source_url"].unique().to_list() == [url]


def test_every_shipped_snapshot_is_in_the_table_and_newest_first():
    snaps = published.leaderboard_snapshots()
    assert {s.id for s in snaps} == {row[0] for row in SNAPSHOTS}
    dates = [s.date for s in snaps]
    assert dates == sorted(dates, reverse=True)


GOLDEN_ROWS = [
    # snapshot, name, rating, ci_low, ci_high, votes (source)
    ("lmarena-text-to-image-2026-10-07", "gpt-image-2.5-sunburst", 1424.5539886327658, 1417.728086984543,
     1431.3798902809883, 17752),  # LMARENA-DS, #1
    ("lmarena-text-to-image-2026-10-07", "gpt-image-2 (medium)", 1383.0374000262734, 1378.9547654137152,
     1387.1200346388318, 93334),  # LMARENA-DS, #3
    ("lmarena-text-to-image-2026-10-07", "dall-e-3", 967.79, None, None, 238743),  # LMARENA-DS: no longer 978.0
    ("lmarena-image-edit-2026-10-06", "gpt-image-2.5-sunburst", 1523.57, None, None, 59825),  # LMARENA-DS, #1
    ("artificial-analysis-text-to-image-2026-09-23", "GPT Image 2.5 Sunburst (max)", 1196.49, None, None, None),
    ("artificial-analysis-text-to-image-2026-08-18", "GPT Image 2 (high)", 1369, 1359, 1379, 14451),  # AA-0818
    ("artificial-analysis-text-to-image-2026-08-18", "FLUX.1 [schnell]", 1000, 1000, 1000, 12878),  # AA anchor
    ("lumenfall-text-to-image-2026-07", "Nano Banana 2", 1285, None, None, None),  # LF-LB, TrueSkill scale
]  # fmt: skip


@pytest.mark.parametrize(("sid", "name", "rating", "low", "high", "votes"), GOLDEN_ROWS)
def test_golden_leaderboard_rows(sid, name, rating, low, high, votes):
    row = published.leaderboard(sid).filter(pl.col("model") == name).row(0, named=True)
    assert row["rating"] == pytest.approx(rating, abs=0.01)
    if low is not None:
        assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert row["votes"] == votes


def test_lmarena_2026_intervals_are_symmetric_as_the_closed_form_method_gives():
    # ratings.md §7: 0 of 82 text-to-image rows differ by more than 0.001 (LMARENA-DS)
    board = published.leaderboard("lmarena-text-to-image-2026-10-07")
    gap = (pl.col("ci_high") - pl.col("rating")) - (pl.col("rating") - pl.col("ci_low"))
    assert board.select(gap.abs().max()).item() < 0.001


def test_the_2025_snapshot_is_the_arena_catalog_board_kept_for_history():
    old = published.leaderboard("lmarena-text-to-image-2025-12-17").select("model", "rating")
    folder = published.lmarena_leaderboard("full").select("model", "rating")
    joined = old.join(folder, on="model", suffix="_folder")
    assert joined.height == folder.height == 34
    assert (joined["rating"] - joined["rating_folder"]).abs().max() < 1e-6


@pytest.mark.parametrize(
    ("leaderboard", "board", "expected"),
    [
        (None, "text-to-image", "lmarena-text-to-image-2026-10-07"),  # LMArena newest is the default
        (None, "image-edit", "lmarena-image-edit-2026-10-06"),
        ("artificial-analysis", "text-to-image", "artificial-analysis-text-to-image-2026-09-23"),
        ("artificial-analysis", "image-edit", "artificial-analysis-image-edit-2026-08-18"),
        ("lumenfall", "text-to-image", "lumenfall-text-to-image-2026-07"),
        (
            "lmarena-text-to-image-2026-08-13-thirdparty",
            "text-to-image",
            "lmarena-text-to-image-2026-08-13-thirdparty",
        ),
    ],
)
def test_find_snapshot_by_arena_or_id(leaderboard, board, expected):
    assert published.find_snapshot(leaderboard, board).id == expected


def test_unknown_leaderboard_and_missing_board_are_refused_naming_what_is_allowed():
    with pytest.raises(UnknownNameError, match=r"leaderboard=.*videoarena.*lmarena"):
        published.find_snapshot("videoarena")
    with pytest.raises(InvalidParameterError, match=r"board=.*image-edit.*text-to-image"):
        published.find_snapshot("lumenfall", "image-edit")
    with pytest.raises(InvalidParameterError, match=r"board=.*sculpture"):
        published.find_snapshot(None, "sculpture")


# --- staleness: a computed age against a given today -------------------------------------------------------------


@pytest.mark.parametrize(
    ("sid", "today", "expected"),
    [
        ("lmarena-text-to-image-2026-10-07", dt.date(2026, 12, 6), None),  # 60 days
        ("lmarena-text-to-image-2026-10-07", dt.date(2027, 1, 5), None),  # 90 days: not over
        ("lmarena-text-to-image-2026-10-07", dt.date(2027, 1, 6), "2026-10-07, 91 days old on 2027-01-06"),
        (
            "artificial-analysis-image-edit-2026-08-18",
            dt.date(2026, 12, 6),
            "2026-08-18, 110 days old on 2026-12-06",
        ),
        (
            "lumenfall-text-to-image-2026-07",
            dt.date(2026, 12, 6),
            "2026-07, at least 128 days old on 2026-12-06",
        ),
    ],
)
def test_a_snapshot_over_90_days_old_is_called_out(sid, today, expected):
    snap = published.find_snapshot(sid)
    warning = snap.staleness(today)
    if expected is None:
        assert warning is None
    else:
        assert warning.startswith("stale: ") and expected in warning and "(over 90)" in warning


def test_staleness_is_computed_not_hard_coded():
    snap = published.find_snapshot()
    ages = {snap.age_days(dt.date(2026, 10, 7) + dt.timedelta(days=n)) for n in (0, 1, 400)}
    assert ages == {0, 1, 400}


def test_cli_frontier_calls_out_a_stale_snapshot_on_a_fake_today(capsys):
    assert cli_main(["frontier", "--on", "2027-03-01"]) == 0
    out = capsys.readouterr().out
    assert "WARNING: stale: LMArena text-to-image of 2026-10-07, 145 days old on 2027-03-01 (over 90)" in out
    assert cli_main(["frontier", "--on", "2026-12-06", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["snapshot"]["age_days"] == 60 and doc["snapshot"]["stale"] is None
    assert doc["snapshot"]["id"] == "lmarena-text-to-image-2026-10-07" and doc["snapshot"]["mark"] == "copy"


def test_report_conclusion_carries_the_staleness_warning():
    sources = frontier_sources(on=dt.date(2027, 3, 1))
    options = sources.options()
    by_cost = pareto_frontier(sources.options(latency=False), cost="cost_usd")
    by_time = pareto_frontier(sources.options(costs=False), latency="p50_ms")
    lines = frontier_conclusions(
        by_cost, by_time, recommend(options), options, staleness=sources.staleness(dt.date(2027, 3, 1))
    )
    assert lines[-1].startswith(
        "Warning: the leaderboard is stale: LMArena text-to-image of 2026-10-07, 145 days"
    )


# --- the alias table ---------------------------------------------------------------------------------------------


def test_every_alias_target_is_a_catalog_model():
    aliases = published.leaderboard_aliases()
    targets = set(aliases["catalog_id"].drop_nulls())
    assert targets and targets <= set(load_catalog().models)


def test_names_without_a_catalog_id_are_listed_with_why():
    aliases = published.leaderboard_aliases()
    none = aliases.filter(pl.col("catalog_id").is_null())
    assert none.height > 0 and none["why_none"].str.len_chars().min() > 0
    assert (
        aliases.filter(pl.col("catalog_id").is_not_null())["why_none"].null_count()
        == aliases.filter(pl.col("catalog_id").is_not_null()).height
    )


def test_every_name_of_every_snapshot_is_in_the_alias_table():
    aliases = published.leaderboard_aliases()
    for snap in published.leaderboard_snapshots():
        names = set(published.leaderboard(snap.id)["model"])  # refused if a name were missing
        listed = set(aliases.filter(pl.col("arena") == snap.arena)["name"])
        assert names <= listed, snap.id


def test_each_catalog_id_is_rated_by_one_row_per_snapshot():
    for snap in published.leaderboard_snapshots():
        used = published.leaderboard(snap.id).filter(pl.col("use") & pl.col("catalog_id").is_not_null())
        assert used["catalog_id"].is_unique().all(), snap.id


ALIASES = [
    # arena, leaderboard name, catalog id or None (why, from ratings.md §2 and §4)
    ("lmarena", "gpt-image-2 (medium)", "gpt-image-2"),  # LMArena rates quality=medium only
    ("lmarena", "gemini-3-pro-image-preview (nano-banana-pro)", "gemini-3-pro-image"),  # primary: 1K default
    ("lmarena", "gemini-3-pro-image-2k (nano-banana-pro)", "gemini-3-pro-image"),  # variant, not primary
    ("lmarena", "seedream-4-2k", "seedream-4"),
    ("lmarena", "flux-1-dev-fp8", None),  # fp8 serving, deliberately not flux-1-dev
    ("lmarena", "gemini-nano-banana-2.1", None),  # no API id or price found
    ("lmarena", "seedream-5.0-pro", None),  # served, but not in the catalog
    ("artificial-analysis", "GPT Image 2 (high)", "gpt-image-2"),
    ("artificial-analysis", "DALLE 3 HD", "dall-e-3"),  # quality=hd variant, not primary
    ("artificial-analysis", "Imagen 4 Fast", "imagen-4-fast"),  # AA only
    ("artificial-analysis", "Midjourney v7 Alpha", None),  # no public API
    ("lumenfall", "Nano Banana 2", "gemini-3.1-flash-image"),
]


@pytest.mark.parametrize(("arena", "name", "catalog_id"), ALIASES)
def test_alias_rows(arena, name, catalog_id):
    row = published.leaderboard_aliases().filter((pl.col("arena") == arena) & (pl.col("name") == name))
    assert row.height == 1 and row["catalog_id"][0] == catalog_id


def test_primary_rows_decide_which_name_rates_an_id():
    board = published.leaderboard("lmarena-text-to-image-2026-10-07")
    used = {r["catalog_id"]: r["model"] for r in board.filter(pl.col("use")).iter_rows(named=True)}
    assert (
        used["gemini-3-pro-image"] == "gemini-3-pro-image-preview (nano-banana-pro)"
    )  # 1234.07, not the 2k row
    assert used["seedream-4"] == "seedream-4-2k"
    assert used["qwen-image"] == "qwen-image"  # not qwen-image-prompt-extend


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("id: x\narena: lmarena\nboard: text-to-image\nmethod: m\nentries: []\n", "source"),
        (
            "id: x\narena: lmarena\nboard: video\nmethod: m\nsource: {title: t, url: u, mark: copy, checked: 2026-12-06}"
            "\nentries: []\n",
            "board",
        ),
        (
            "id: x\narena: lmarena\nboard: text-to-image\nmethod: m\nsource: {title: t, url: u, mark: blog, "
            "checked: 2026-12-06}\nentries: []\n",
            "source.mark",
        ),
        (
            "id: x\narena: lmarena\nboard: text-to-image\ndate: '2026-13-01'\nmethod: m\nsource: {title: t, url: u, "
            "mark: copy, checked: 2026-12-06}\nentries: []\n",
            "date",
        ),
    ],
)
def test_malformed_snapshot_files_are_refused_naming_the_field(tmp_path, body, where):
    (tmp_path / "aliases.yaml").write_text("aliases: []\n")
    (tmp_path / "x.yaml").write_text(body)
    with pytest.raises(CatalogError, match=f"x.yaml: {where}"):
        published.leaderboard_snapshots(tmp_path)


def test_a_name_missing_from_the_alias_table_is_refused(tmp_path):
    (tmp_path / "aliases.yaml").write_text(
        "aliases:\n- {arena: lmarena, name: a, catalog_id: null, why_none: test}\n"
    )
    (tmp_path / "x.yaml").write_text(
        "id: x\narena: lmarena\nboard: text-to-image\ndate: 2026-10-07\nmethod: m\n"
        "source: {title: t, url: u, mark: copy, checked: 2026-12-06}\n"
        "entries:\n- {name: a, rating: 1000}\n- {name: b, rating: 990}\n"
    )
    with pytest.raises(CatalogError, match=r"entries\[1\].name: 'b' is not in aliases.yaml"):
        published.leaderboard("x", directory=tmp_path)


def test_an_alias_without_an_id_must_say_why(tmp_path):
    (tmp_path / "aliases.yaml").write_text("aliases:\n- {arena: lmarena, name: a, catalog_id: null}\n")
    with pytest.raises(CatalogError, match=r"aliases\[0\].why_none"):
        published.leaderboard_aliases(tmp_path)


# --- the frontier on today's market (golden rows on the shipped data) --------------------------------------------


@pytest.fixture(scope="module")
def market():
    sources = frontier_sources(on=CHECKED)
    return sources, pareto_frontier(sources.options(), cost="cost_usd")


FRONTIER = [
    # option, rating (LMARENA-DS 2026-10-07), $/image at the catalog's default request on 2026-12-06 (source)
    (
        "gpt-image-2.5-sunburst @ openai",
        1424.5539886327658,
        "0.03168",
    ),  # 1,056 output tokens x $30/1M (medium 1024²)
    ("flux-2-pro @ fal", 1153.319815, "0.03"),  # fal: $0.03 first megapixel
    ("qwen-image @ fal", 1056.820858, "0.02"),  # fal: $0.02 per megapixel
]


def test_golden_frontier_rows_on_the_shipped_data(market):
    _, result = market
    rows = {r["option"]: r for r in result.filter(pl.col("on_frontier")).iter_rows(named=True)}
    assert set(rows) == {option for option, _, _ in FRONTIER}
    for option, rating, usd in FRONTIER:
        assert rows[option]["rating"] == pytest.approx(rating) and rows[option]["cost_usd"] == Decimal(usd)
        assert rows[option]["rating_source_date"] == dt.date(2026, 10, 7)


def test_every_rated_catalog_offering_is_shown_with_its_price_or_why_not(market):
    _, result = market
    rated = result.filter(pl.col("rating").is_not_null() & pl.col("provider").is_not_null())
    catalog = load_catalog()
    expected = {
        (m, p)
        for (p, m) in catalog.offerings
        if m in set(rated["model"]) and "generate" in catalog.offerings[p, m].modes
    }
    assert set(zip(rated["model"], rated["provider"], strict=True)) == expected
    no_price = rated.filter(pl.col("cost_usd").is_null())
    assert (no_price["excluded_reason"].str.starts_with("no cost per image (")).all()


@pytest.mark.parametrize(
    ("option", "why"),
    [
        ("gpt-image-1.5 @ openai", "retired on 2026-12-01"),  # OpenAI shut it down (catalog lifecycle)
        ("gpt-image-1 @ openai", "retired on 2026-10-23"),
        ("imagen-4 @ gemini-api", "retired on 2026-08-17"),
    ],
)
def test_retired_offerings_are_excluded_with_their_date(market, option, why):
    _, result = market
    row = result.filter(pl.col("option") == option).row(0, named=True)
    assert row["status"] == "excluded" and why in row["excluded_reason"]


def test_names_without_a_catalog_model_stay_visible(market):
    sources, result = market
    row = result.filter(pl.col("model") == "grok-imagine-image-2.0 (canvas)").row(0, named=True)
    assert row["status"] == "excluded" and row["provider"] is None
    assert sources.ratings.filter(pl.col("model") == "grok-imagine-image-2.0 (canvas)")["catalog_note"][
        0
    ].startswith("not in the catalog: ")


def test_other_boards_are_never_mixed_on_one_scale():
    sources = frontier_sources(leaderboard="artificial-analysis", on=CHECKED)
    assert sources.ratings["snapshot"].unique().to_list() == ["artificial-analysis-text-to-image-2026-09-23"]
    top = sources.options().sort("rating", descending=True, nulls_last=True).row(0, named=True)
    assert top["model"] == "gpt-image-2.5-sunburst" and top["rating"] == pytest.approx(
        1196.49
    )  # AA-0923 scale
    assert top["rating_source"] == "Artificial Analysis text-to-image (secondary)"


def test_the_edit_board_prices_the_edit_mode():
    sources = frontier_sources(board="image-edit", on=CHECKED)
    assert sources.snapshot.id == "lmarena-image-edit-2026-10-06"
    assert "edit" in sources.cost_basis
    assert set(sources.costs["model"]).isdisjoint({"flux-1.1-pro", "recraft-v3", "imagen-4"})  # generate-only


# --- quality bands -----------------------------------------------------------------------------------------------

BANDS = [
    # band, option, $/image (LMARENA-DS 2026-10-07 terciles of the 22 rated, priced models: 8, 7, 7; catalog prices)
    (1, "gpt-image-2.5-sunburst @ openai", "0.03168"),
    (1, "gpt-image-2.5-flare @ openai", "0.03168"),
    (1, "gpt-image-2 @ openai", "0.03168"),
    (2, "flux-2-pro @ fal", "0.03"),
    (2, "seedream-4 @ fal", "0.03"),
    (2, "seedream-3 @ fal", "0.03"),
    (3, "qwen-image @ fal", "0.02"),
    (3, "flux-1-kontext-pro @ bfl", "0.04"),
    (3, "recraft-v3 @ fal", "0.04"),
]


def test_three_cheapest_per_quality_band_on_the_shipped_data(market):
    _, result = market
    bands = quality_bands(result)
    got = [(r["band"], r["option"], str(r["cost_usd"].normalize())) for r in bands.iter_rows(named=True)]
    assert got == [(b, o, str(Decimal(u))) for b, o, u in BANDS]
    ranges = bands.group_by("band").agg(pl.col("band_low").first(), pl.col("band_high").first()).sort("band")
    assert ranges["band_high"][1] < ranges["band_low"][0] and ranges["band_high"][2] < ranges["band_low"][1]


def test_bands_are_equal_count_groups():
    frame = pl.DataFrame(
        {
            "option": list("abcdefg"),
            "model": list("abcdefg"),
            "provider": ["p"] * 7,
            "rating": [7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0],
            "ci_low": [None] * 7,
            "ci_high": [None] * 7,
            "cost_usd": [Decimal(x) for x in ("7", "6", "5", "4", "3", "2", "1")],
        },
        schema_overrides={"ci_low": pl.Float64, "ci_high": pl.Float64},
    )
    bands = quality_bands(frame, bands=3, per_band=1)
    assert bands["option"].to_list() == ["c", "e", "g"]  # groups abc, de, fg: the cheapest of each


def test_cli_bands(capsys):
    assert cli_main(["frontier", "--bands", "3", "--on", "2026-12-06"]) == 0
    out = capsys.readouterr().out
    assert "3 quality bands (terciles of the rated, priced models by rating" in out
    assert cli_main(["frontier", "--bands", "0"]) == 2


# --- the recommendation: which model to use today -----------------------------------------------------------------


def test_default_recommendation_and_what_it_passed_over():
    sources = frontier_sources(costs="catalog", quality="medium", latency="published", on=CHECKED)
    options = sources.options()
    choice = recommend(options, 1050.0, 30000.0, "0.05")
    assert (
        choice.choice["option"] == "flux-2-flex @ fal"
    )  # LF-PERF flux.2-flex copy A: fal p50 15,813 ms; $0.05
    passed = passed_over(choice)
    first = passed.row(0, named=True)
    assert first["option"] == "gpt-image-2.5-sunburst @ openai"
    assert first["rejected_because"] == "no generation time known"  # no published figure: never guessed
    gpt2 = passed.filter(pl.col("option") == "gpt-image-2 @ openai").row(0, named=True)
    assert (
        gpt2["rejected_because"] == "p50 58,739 ms > ceiling 30,000 ms"
    )  # LF-PERF openai/gpt-image-2 copy A
    assert (passed["rating"] > choice.choice["rating"]).all()
    relaxed = recommend(options, 1050.0, None, "0.05")
    assert relaxed.choice["option"] == "gpt-image-2.5-sunburst @ openai"
    assert recommendation_rule(choice) == (
        "Rule: the highest-rated option that is rated at least 1050, at most $0.05 per image, a median generation "
        "time of at most 30.0 s; an option lacking a value the rule needs is passed over, never guessed."
    )


# --- published performance (the gateway's model pages) ---------------------------------------------------------

GATEWAY = [
    # provider, model, copy, p50 ms, p95 ms, success (LF-PERF page copies, undated)
    ("gemini-api", "gemini-3-pro-image", "google/gemini-3-pro-image-preview#A", 19586, 35647, 0.93),
    ("vertex-ai", "gemini-3-pro-image", "google/gemini-3-pro-image-preview#A", 25988, 102922, 0.674),
    ("gemini-api", "gemini-3-pro-image", "google/gemini-3-pro-image-preview#B", 21949, 32966, 0.692),
    ("openai", "gpt-image-2", "openai/gpt-image-2#A", 58739, 142760, 0.837),
    ("fal", "flux-2-klein-4b", "black-forest-labs/flux.2-klein-4b#A", 900, 2262, 1.0),
]


@pytest.mark.parametrize(("provider", "model", "copy", "p50", "p95", "success"), GATEWAY)
def test_gateway_figures_are_published_undated_and_each_copy_its_own_row(
    provider, model, copy, p50, p95, success
):
    frame = published.gateway_performance().filter(
        (pl.col("provider") == provider) & (pl.col("model") == model) & (pl.col("copy") == copy)
    )
    row = frame.row(0, named=True)
    assert (row["latency_p50_ms"], row["latency_p95_ms"]) == (p50, p95)
    assert row["success_rate"] == pytest.approx(success)
    assert row["provenance"] == "published" and row["published_on"] is None and row["source_date"] == CHECKED


def test_first_copy_only_keeps_one_figure_per_pair():
    every = published.gateway_performance()
    first = published.gateway_performance(first_copy_only=True)
    assert (every.height, first.height) == (48, 34)
    row = first.filter((pl.col("provider") == "gemini-api") & (pl.col("model") == "gemini-3-pro-image"))
    assert row["copy"].to_list() == ["google/gemini-3-pro-image-preview#A"]


def test_cli_perf_shows_published_figures_beside_the_log(repo_dir, capsys):
    log = str(repo_dir / "data" / "samples" / "provider_log.parquet")
    assert cli_main(["perf", log, "--published", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    pairs = {(r["provider"], r["model"]) for r in doc["published"]}
    assert pairs == {("openai", "gpt-image-1-mini")}  # the only logged pair anyone publishes figures for
    assert all(
        r["provenance"] == "published" and ", undated, checked " in r["source"] for r in doc["published"]
    )
    assert cli_main(["perf", log, "--published"]) == 0
    assert (
        "published for the same provider x model (2 figures; not measured by you)" in capsys.readouterr().out
    )
