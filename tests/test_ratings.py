"""Bradley–Terry ratings: the checks of RATINGS.md §11 against published data in ../shared/data/votes."""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pandas as pd
import polars as pl
import pytest

from imgkit.analysis.ratings import (
    ELO_PER_NAT,
    anchor_ratings,
    category_leaderboards,
    fit_bradley_terry,
    fit_by_category,
    normalise_votes,
    online_elo,
    parse_anchor,
    rank_by_interval,
    read_votes,
    win_rate_matrices,
)
from imgkit.cli import main as cli_main
from imgkit.errors import InvalidParameterError, UnknownNameError

# --- helpers -------------------------------------------------------------------------------------------------


def ratings_of(result) -> dict[str, float]:
    return dict(result.table.select("model", "rating").iter_rows())


def theta_of(result) -> dict[str, float]:
    return {m: (r - 1000.0) / ELO_PER_NAT for m, r in ratings_of(result).items()}


def evalica_votes(votes_dir, name: str) -> pl.DataFrame:
    return read_votes(votes_dir / "evalica_toy" / f"{name}.csv")


def evalica_golden(votes_dir, name: str, algorithm: str) -> dict[str, float]:
    golden = pl.read_csv(
        votes_dir / "evalica_toy" / f"{name}-golden.csv", schema_overrides={"item": pl.String}
    )
    return dict(golden.filter(pl.col("algorithm") == algorithm).select("item", "score").iter_rows())


def votes_frame(*rows: tuple[str, str, str]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["model_a", "model_b", "winner"], orient="row")


def genai_counts(votes_dir, table: str) -> pl.DataFrame:
    """GenAI-Arena text-to-image counts with per-pair ties imputed as the README says: t_ij = n_ij·f_i·f_j,
    the per-model factors set by iterative proportional fitting to the per-model tie totals."""
    folder = votes_dir / "genai_arena_20240220"
    pairs = pl.read_csv(folder / f"pairs_t2i_generation_{table}.csv")
    totals = dict(
        pl.read_csv(folder / f"ties_t2i_generation_{table}.csv").select("model", "ties").iter_rows()
    )
    index = {m: k for k, m in enumerate(totals)}
    i = np.array([index[m] for m in pairs["model_a"]])
    j = np.array([index[m] for m in pairs["model_b"]])
    n = pairs["n_decisive"].to_numpy().astype(float)
    target = np.array(list(totals.values()), dtype=float)
    factor = np.ones(len(totals))
    for _ in range(500):
        per_model = np.bincount(i, n * factor[j], len(totals)) + np.bincount(j, n * factor[i], len(totals))
        factor = np.sqrt(factor * target / per_model)
    ties = n * factor[i] * factor[j]
    assert np.bincount(i, ties, len(totals)) + np.bincount(j, ties, len(totals)) == pytest.approx(target)
    return pairs.select("model_a", "model_b", "a_wins", "b_wins").with_columns(ties=pl.Series(ties))


def genai_published(votes_dir, table: str) -> dict[str, float]:
    path = votes_dir / "genai_arena_20240220" / f"ratings_t2i_generation_{table}.csv"
    return dict(pl.read_csv(path).select("model", "rating").iter_rows())


def lmarena(votes_dir) -> dict:
    return json.loads((votes_dir / "lmarena_published" / "leaderboard-image.json").read_text())


# --- C1, C2: choix test cases --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["testcase-pairwise-1.json", "testcase-pairwise-2.json"])
def test_choix_maximum_likelihood_estimates(votes_dir, case):
    data = json.loads((votes_dir / "choix_testcases" / case).read_text())
    votes = votes_frame(*((str(winner), str(loser), "model_a") for winner, loser in data["data"]))
    theta = theta_of(fit_bradley_terry(votes, ci="none"))
    assert [theta[str(k)] for k in range(data["n_items"])] == pytest.approx(data["ml_est"], abs=1e-8)


def test_choix_case_2_on_the_elo_scale(votes_dir):
    data = json.loads((votes_dir / "choix_testcases" / "testcase-pairwise-2.json").read_text())
    votes = votes_frame(*((str(winner), str(loser), "model_a") for winner, loser in data["data"]))
    assert ratings_of(fit_bradley_terry(votes, ci="none")) == pytest.approx(
        {"0": 1072.90, "1": 927.10, "2": 1000.00}, abs=0.005
    )


# --- C3–C6: evalica golden scores ----------------------------------------------------------------------------

RATINGS_C3_C5 = {
    "simple": {"0": 801.22, "1": 965.98, "2": 966.69, "3": 1129.87, "4": 1136.24},
    "food": {"Burger": 972.77, "Pasta": 947.78, "Pizza": 902.91, "Sushi": 1016.74, "Tacos": 1159.80},
}


@pytest.mark.parametrize("name", ["simple", "food"])
def test_bradley_terry_matches_evalica_golden_strengths(votes_dir, name):
    theta = theta_of(fit_bradley_terry(evalica_votes(votes_dir, name), ci="none"))
    total = sum(math.exp(t) for t in theta.values())
    strengths = {m: math.exp(t) / total for m, t in theta.items()}
    assert strengths == pytest.approx(evalica_golden(votes_dir, name, "bradley_terry"), rel=1e-6)


@pytest.mark.parametrize("name", ["simple", "food"])
def test_bradley_terry_ratings_on_the_elo_scale(votes_dir, name):
    result = fit_bradley_terry(evalica_votes(votes_dir, name), ci="none")
    assert ratings_of(result) == pytest.approx(RATINGS_C3_C5[name], abs=0.005)


@pytest.mark.parametrize("name", ["simple", "food"])
def test_online_elo_matches_evalica_golden_in_file_order(votes_dir, name):
    result = fit_bradley_terry(evalica_votes(votes_dir, name), ci="none")
    got = dict(result.table.select("model", "online_elo").iter_rows())
    assert got == pytest.approx(evalica_golden(votes_dir, name, "elo"), rel=1e-12)


def test_online_elo_function_equals_the_column_of_the_fit(votes_dir):
    votes = evalica_votes(votes_dir, "food")
    column = dict(fit_bradley_terry(votes, ci="none").table.select("model", "online_elo").iter_rows())
    assert dict(online_elo(votes).iter_rows()) == pytest.approx(column, rel=1e-15)


def test_online_elo_follows_timestamps_not_file_order(votes_dir):
    votes = evalica_votes(votes_dir, "food")
    reversed_in_time = votes.with_columns(timestamp=pl.int_range(pl.len(), 0, -1))
    tacos = dict(online_elo(reversed_in_time).iter_rows())["Tacos"]
    assert tacos == pytest.approx(1013.4275, abs=5e-5)  # RATINGS.md §6: reversed order


# --- C7: Wikipedia example (arena-rank test) -------------------------------------------------------------------


def test_wikipedia_four_team_example_from_counts():
    counts = pl.DataFrame(
        {
            "model_a": ["A", "A", "B", "C"],
            "model_b": ["B", "D", "C", "D"],
            "a_wins": [2, 1, 5, 1],
            "b_wins": [3, 4, 3, 3],
        }
    )
    result = fit_bradley_terry(counts, ci="none")
    theta = theta_of(result)
    geometric_mean = math.exp(sum(theta.values()) / 4)
    strengths = {m: math.exp(t) / geometric_mean for m, t in theta.items()}
    assert strengths == pytest.approx({"A": 0.640, "B": 1.043, "C": 0.660, "D": 2.270}, rel=1e-3)
    assert ratings_of(result) == pytest.approx(
        {"A": 922.43, "B": 1007.37, "C": 927.77, "D": 1142.44}, abs=0.005
    )


# --- C8, C9: tie conventions and the guard when ties are dropped ----------------------------------------------


def test_ties_dropped_has_no_finite_mle_and_is_flagged_not_returned_as_numbers(votes_dir):
    decisive = evalica_votes(votes_dir, "simple").filter(pl.col("winner") != "tie")
    result = fit_bradley_terry(decisive, bootstrap=50)
    flags = dict(result.table.select("model", "flags").iter_rows())
    assert "only_wins" in flags["4"] and "only_losses" in flags["0"]
    assert all("regularised" in f for f in flags.values())
    assert result.l2 > 0 and any("no finite maximum-likelihood" in w for w in result.warnings)
    assert np.isfinite(result.table.select("rating", "ci_low", "ci_high").to_numpy()).all()


def test_tie_as_two_comparisons_shrinks_toward_the_centre(votes_dir):
    votes = evalica_votes(votes_dir, "simple")
    tie = pl.col("winner") == "tie"
    counts = votes.select(
        model_a=pl.col("left"),
        model_b=pl.col("right"),
        a_wins=((pl.col("winner") == "left") | tie).cast(pl.Int64),
        b_wins=((pl.col("winner") == "right") | tie).cast(pl.Int64),
    )
    result = fit_bradley_terry(counts, ci="none")
    assert ratings_of(result) == pytest.approx(
        {"0": 870.24, "1": 979.93, "2": 978.21, "3": 1092.15, "4": 1079.46}, abs=0.005
    )


# --- C10: GenAI-Arena text-to-image ----------------------------------------------------------------------------

GENAI_REFIT = {  # README of data/votes, ties by proportional fitting, unpenalised BT
    "anony": [1147.83, 1073.72, 1022.78, 974.96, 926.48, 854.23],
    "full": [1147.69, 1064.65, 1033.32, 971.03, 910.93, 872.37],
}


@pytest.mark.parametrize("table", ["anony", "full"])
def test_genai_arena_t2i_within_six_elo_of_published_in_the_same_order(votes_dir, table):
    published = genai_published(votes_dir, table)
    result = fit_bradley_terry(genai_counts(votes_dir, table), ci="none")
    got = ratings_of(result)
    assert result.table["model"].to_list() == list(published)  # published files are sorted by rating
    assert max(abs(got[m] - published[m]) for m in published) <= 6.0
    assert [got[m] for m in published] == pytest.approx(GENAI_REFIT[table], abs=0.006)


def test_genai_arena_t2i_ties_dropped_spreads_the_ratings(votes_dir):
    counts = genai_counts(votes_dir, "anony").with_columns(ties=pl.lit(0.0))
    got = fit_bradley_terry(counts, ci="none").table["rating"]
    assert (got.max(), got.min()) == pytest.approx((1207.6, 784.5), abs=0.05)


def test_genai_arena_t2i_intervals_comparable_to_published_bootstrap(votes_dir):
    folder = votes_dir / "genai_arena_20240220"
    published = pl.read_csv(folder / "ratings_t2i_generation_anony.csv")
    width_published = (published["ci_high"] - published["ci_low"]).mean()
    result = fit_bradley_terry(genai_counts(votes_dir, "anony"), bootstrap=300, seed=0)
    width = (result.table["ci_high"] - result.table["ci_low"]).mean()
    assert 0.7 < width / width_published < 1.3
    assert (result.table["ci_low"] <= result.table["rating"]).all()
    assert (result.table["rating"] <= result.table["ci_high"]).all()


# --- C11: LMArena published image leaderboard ------------------------------------------------------------------


def test_lmarena_anchor_dall_e_3_is_978_in_every_category_with_intervals_around_ratings(votes_dir):
    board = lmarena(votes_dir)
    assert sorted(board) == ["full", "is_preset_generation", "not_preset_generation"]
    for models in board.values():
        assert models["dall-e-3"]["rating"] == 978.0
        assert all(m["rating_q025"] < m["rating"] < m["rating_q975"] for m in models.values())


@pytest.mark.parametrize("category", ["full", "is_preset_generation", "not_preset_generation"])
def test_lmarena_board_is_a_centred_fit_shifted_once_to_the_anchor(votes_dir, category):
    rows = lmarena(votes_dir)[category]
    published = pl.DataFrame(
        {
            "model": list(rows),
            "rating": [r["rating"] for r in rows.values()],
            "ci_low": [r["rating_q025"] for r in rows.values()],
            "ci_high": [r["rating_q975"] for r in rows.values()],
        }
    )
    centred = published.with_columns(
        pl.col("rating", "ci_low", "ci_high") - published["rating"].mean() + 1000
    )
    anchored = anchor_ratings(centred, "dall-e-3", 978.0)
    assert anchored["rating"].to_list() == pytest.approx(published["rating"].to_list(), abs=1e-9)
    assert (anchored["ci_high"] - anchored["ci_low"]).to_list() == pytest.approx(
        (published["ci_high"] - published["ci_low"]).to_list(), abs=1e-9
    )
    dalle = anchored.filter(pl.col("model") == "dall-e-3").row(0, named=True)
    assert dalle["ci_low"] < 978.0 < dalle["ci_high"]  # non-zero width: not anchored per replicate


# --- ranks ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lower", "upper", "groups", "expected"),
    [
        ([1100, 1090, 1050], [1140, 1120, 1080], None, [1, 1, 3]),  # RATINGS.md §7.3
        ([1100, 1090, 1050], [1140, 1120, 1080], ["x", "x", "y"], [1, 1, 1]),
        ([10, 5, 0], [10, 5, 0], None, [1, 2, 3]),
    ],
)
def test_rank_by_interval_counts_models_clearly_better(lower, upper, groups, expected):
    assert rank_by_interval(lower, upper, groups).tolist() == expected


# --- invariances (RATINGS.md §11.2) ----------------------------------------------------------------------------


def per_vote(votes: pl.DataFrame) -> pl.DataFrame:
    """evalica rows as canonical per-vote rows."""
    winner = pl.col("winner").replace({"left": "model_a", "right": "model_b"})
    return votes.select(model_a=pl.col("left"), model_b=pl.col("right"), winner=winner)


def test_swapping_seats_leaves_ratings_unchanged(votes_dir):
    votes = per_vote(evalica_votes(votes_dir, "food"))
    swapped = votes.select(
        model_a=pl.col("model_b"),
        model_b=pl.col("model_a"),
        winner=pl.col("winner").replace({"model_a": "model_b", "model_b": "model_a"}),
    )
    assert ratings_of(fit_bradley_terry(swapped, ci="none")) == pytest.approx(
        ratings_of(fit_bradley_terry(votes, ci="none")), abs=1e-9
    )


def test_duplicating_every_vote_keeps_ratings_and_divides_sandwich_widths_by_root_two(votes_dir):
    votes = per_vote(evalica_votes(votes_dir, "food"))
    once = fit_bradley_terry(votes, ci="sandwich")
    twice = fit_bradley_terry(pl.concat([votes, votes]), ci="sandwich")
    assert ratings_of(twice) == pytest.approx(ratings_of(once), abs=1e-9)
    width = lambda r: (r.table["ci_high"] - r.table["ci_low"]).to_numpy()  # noqa: E731
    assert width(twice) == pytest.approx(width(once) / math.sqrt(2), rel=1e-9)


def test_more_votes_give_narrower_bootstrap_intervals_by_about_root_two(votes_dir):
    counts = genai_counts(votes_dir, "anony")
    doubled = counts.with_columns(pl.col("a_wins", "b_wins", "ties") * 2)
    width = lambda r: (r.table["ci_high"] - r.table["ci_low"]).mean()  # noqa: E731
    ratio = width(fit_bradley_terry(doubled, bootstrap=300)) / width(fit_bradley_terry(counts, bootstrap=300))
    assert ratio == pytest.approx(1 / math.sqrt(2), rel=0.1)


def test_one_row_per_vote_equals_aggregated_counts(votes_dir):
    votes = per_vote(evalica_votes(votes_dir, "food"))
    counts = votes.group_by("model_a", "model_b").agg(
        a_wins=(pl.col("winner") == "model_a").sum(),
        b_wins=(pl.col("winner") == "model_b").sum(),
        ties=(pl.col("winner") == "tie").sum(),
    )
    assert ratings_of(fit_bradley_terry(counts, ci="none")) == pytest.approx(
        ratings_of(fit_bradley_terry(votes, ci="none")), abs=1e-9
    )


def test_vote_order_changes_online_elo_but_not_bradley_terry(votes_dir):
    votes = evalica_votes(votes_dir, "food")
    shuffled = votes.sample(fraction=1.0, shuffle=True, seed=3)
    a, b = fit_bradley_terry(votes, ci="none"), fit_bradley_terry(shuffled, ci="none")
    assert ratings_of(a) == pytest.approx(ratings_of(b), abs=1e-9)
    assert a.table.sort("model")["online_elo"].to_list() != b.table.sort("model")["online_elo"].to_list()


def test_relabelling_models_permutes_ratings(votes_dir):
    votes = per_vote(evalica_votes(votes_dir, "food"))
    rename = {"Burger": "zeta", "Pasta": "alpha", "Pizza": "mu", "Sushi": "beta", "Tacos": "omega"}
    relabelled = votes.with_columns(pl.col("model_a", "model_b").replace(rename))
    got = ratings_of(fit_bradley_terry(relabelled, ci="none"))
    expected = {rename[m]: r for m, r in ratings_of(fit_bradley_terry(votes, ci="none")).items()}
    assert got == pytest.approx(expected, abs=1e-9)


def test_centred_fit_has_mean_exactly_1000(votes_dir):
    result = fit_bradley_terry(genai_counts(votes_dir, "full"), ci="none")
    assert result.table["rating"].mean() == pytest.approx(1000.0, abs=1e-9)


@pytest.mark.parametrize("ci", ["bootstrap", "sandwich"])
def test_anchor_shifts_point_and_bounds_by_one_constant(votes_dir, ci):
    votes = evalica_votes(votes_dir, "food")
    centred = fit_bradley_terry(votes, ci=ci, bootstrap=200)
    anchored = fit_bradley_terry(votes, ci=ci, bootstrap=200, anchor="Pizza=978")
    shift = 978.0 - ratings_of(centred)["Pizza"]
    base = centred.table.sort("model").select("rating", "ci_low", "ci_high").to_numpy()
    moved = anchored.table.sort("model").select("rating", "ci_low", "ci_high").to_numpy()
    assert moved == pytest.approx(base + shift, abs=1e-9)
    assert ratings_of(anchored)["Pizza"] == 978.0
    assert anchored.anchor == ("Pizza", 978.0)
    if ci == "bootstrap":
        np.testing.assert_allclose(anchored.replicates, centred.replicates + shift, atol=1e-9)


def test_predicted_win_rates_are_complementary_and_observed_match_counts(votes_dir):
    result = fit_bradley_terry(evalica_votes(votes_dir, "food"), ci="none")
    models, observed, predicted = win_rate_matrices(result)
    assert predicted + predicted.T == pytest.approx(np.ones_like(predicted), abs=1e-12)
    assert np.diag(predicted) == pytest.approx(np.full(len(models), 0.5))
    off_diagonal = ~np.eye(len(models), dtype=bool)
    assert (observed + observed.T)[off_diagonal] == pytest.approx(np.ones(off_diagonal.sum()))
    assert np.isnan(np.diag(observed)).all()
    tacos_burger = result.pairwise.filter(
        (pl.col("model") == "Tacos") & (pl.col("opponent") == "Burger")
    ).row(0, named=True)
    assert observed[models.index("Tacos"), models.index("Burger")] == pytest.approx(
        (tacos_burger["wins"] + 0.5 * tacos_burger["ties"]) / tacos_burger["votes"]
    )


def test_bootstrap_intervals_contain_the_point_and_are_reproducible_with_a_seed(votes_dir):
    counts = genai_counts(votes_dir, "anony")
    a = fit_bradley_terry(counts, bootstrap=100, seed=7)
    b = fit_bradley_terry(counts, bootstrap=100, seed=7)
    c = fit_bradley_terry(counts, bootstrap=100, seed=8)
    assert a.table.equals(b.table) and np.array_equal(a.replicates, b.replicates)
    assert not a.table.equals(c.table)
    table = a.table
    assert ((table["ci_low"] <= table["rating"]) & (table["rating"] <= table["ci_high"])).all()


def test_degenerate_bootstrap_replicates_are_counted_and_left_out():
    counts = pl.DataFrame(  # the Wikipedia example: D's two losses are often missing from a resample
        {
            "model_a": ["A", "A", "B", "C"],
            "model_b": ["B", "D", "C", "D"],
            "a_wins": [2, 1, 5, 1],
            "b_wins": [3, 4, 3, 3],
        }
    )
    result = fit_bradley_terry(counts, bootstrap=400, seed=0)
    assert 0 < result.degenerate_replicates < 400
    assert np.isnan(result.replicates).any(axis=1).sum() == result.degenerate_replicates
    assert np.isfinite(result.table.select("ci_low", "ci_high").to_numpy()).all()
    assert any("400 bootstrap replicates had no finite MLE" in w for w in result.warnings)


def test_sandwich_and_bootstrap_intervals_agree_on_real_data(votes_dir):
    counts = genai_counts(votes_dir, "full")
    width = lambda r: (r.table["ci_high"] - r.table["ci_low"]).mean()  # noqa: E731
    ratio = width(fit_bradley_terry(counts, ci="sandwich")) / width(fit_bradley_terry(counts, bootstrap=400))
    assert ratio == pytest.approx(1.0, rel=0.15)


# --- guards (RATINGS.md §7.4) -----------------------------------------------------------------------------------

CYCLE = [("A", "B", "model_a"), ("B", "C", "model_a"), ("C", "A", "model_a")]
TWO_PAIRS = [("A", "B", "model_a"), ("B", "A", "model_a"), ("C", "D", "model_a"), ("D", "C", "model_a")]
GUARDS = {
    "only wins": (
        [*CYCLE, ("D", "A", "model_a"), ("B", "D", "model_b"), ("D", "C", "model_a")],
        {"D": "only_wins"},
    ),
    "only losses": ([*CYCLE, ("E", "A", "model_b"), ("B", "E", "model_a")], {"E": "only_losses"}),
    "single vote": ([("A", "B", "model_a")], {"A": "only_wins", "B": "only_losses"}),
    "disconnected": (
        TWO_PAIRS,
        {"A": "disconnected", "C": "disconnected"},
    ),
    "one-way groups": (
        [*TWO_PAIRS, ("A", "C", "model_a")],
        {"A": "one_way_group", "D": "one_way_group"},
    ),
}


@pytest.mark.parametrize("case", list(GUARDS))
def test_guard_gives_finite_flagged_ratings_with_a_reason(case):
    rows, expected = GUARDS[case]
    result = fit_bradley_terry(votes_frame(*rows), bootstrap=100)
    table = result.table
    assert np.isfinite(table.select("rating", "ci_low", "ci_high", "online_elo").to_numpy()).all()
    flags = dict(table.select("model", "flags").iter_rows())
    notes = dict(table.select("model", "note").iter_rows())
    for model, flag in expected.items():
        assert flag in flags[model] and "regularised" in flags[model]
        assert notes[model]
    assert result.l2 > 0 and result.warnings


def test_single_tie_vote_is_identified_and_flagged_as_few_votes():
    result = fit_bradley_terry(votes_frame(("A", "B", "tie")), bootstrap=20)
    assert ratings_of(result) == pytest.approx({"A": 1000.0, "B": 1000.0})
    assert result.l2 == 0
    assert result.table["flags"].to_list() == [["few_votes"], ["few_votes"]]
    assert result.table["note"][0] == "only 1 vote: provisional"


def test_disconnected_groups_are_ranked_within_their_group():
    rows = [("A", "B", "model_a"), ("A", "B", "model_a"), ("B", "A", "model_a")]
    rows += [("C", "D", "model_a"), ("C", "D", "model_a"), ("D", "C", "model_a")]
    result = fit_bradley_terry(votes_frame(*rows), ci="sandwich")
    ranks = dict(result.table.select("model", "rank").iter_rows())
    assert ranks["A"] == ranks["C"] == 1
    assert any("never met each other" in w for w in result.warnings)


# --- input ---------------------------------------------------------------------------------------------------


def test_unknown_winner_label_is_rejected_with_row_value_and_allowed_labels():
    votes = votes_frame(("A", "B", "model_a"), ("B", "C", "tie"), ("C", "A", "draw"))
    with pytest.raises(InvalidParameterError) as err:
        fit_bradley_terry(votes)
    message = str(err.value)
    assert "winner (row 3)='draw'" in message and "tie (bothbad)" in message and "model_b" in message


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        (pl.DataFrame({"model_a": ["A"], "model_b": ["B"], "a_wins": [1], "b_wins": [-2]}), "b_wins (row 1)"),
        (
            pl.DataFrame({"model_a": ["A", None], "model_b": ["B", "A"], "winner": ["tie", "tie"]}),
            "model_a (row 2)",
        ),
        (pl.DataFrame({"model_a": ["A"], "model_b": ["B"], "result": ["tie"]}), "votes columns"),
    ],
)
def test_malformed_votes_are_rejected_naming_the_field(frame, field):
    with pytest.raises(InvalidParameterError) as err:
        normalise_votes(frame)
    assert err.value.field == field


def test_both_tie_labels_count_as_half_a_win_and_self_pairs_are_dropped():
    votes = votes_frame(
        ("A", "B", "tie"), ("B", "A", "tie (bothbad)"), ("A", "A", "model_a"), ("A", "B", "model_a")
    )
    result = fit_bradley_terry(votes, ci="none")
    row = result.table.filter(pl.col("model") == "A").row(0, named=True)
    assert (row["votes"], row["wins"], row["ties"]) == (3, 1, 2)
    assert result.self_pairs_dropped == 1 and any("self-pair" in w for w in result.warnings)
    assert ratings_of(result)["A"] - 1000 == pytest.approx(ELO_PER_NAT * math.log(2) / 2)  # P = 2/3


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_files_and_pandas_frames_read_like_polars_frames(votes_dir, tmp_path, suffix):
    votes = per_vote(evalica_votes(votes_dir, "simple"))
    path = tmp_path / f"votes{suffix}"
    votes.write_csv(path) if suffix == ".csv" else votes.write_parquet(path)
    expected = ratings_of(fit_bradley_terry(votes, ci="none"))
    assert ratings_of(fit_bradley_terry(path, ci="none")) == pytest.approx(expected, abs=1e-12)
    assert ratings_of(fit_bradley_terry(votes.to_pandas(), ci="none")) == pytest.approx(expected, abs=1e-12)
    assert isinstance(votes.to_pandas(), pd.DataFrame)


@pytest.mark.parametrize(
    ("text", "expected"), [("dall-e-3=978", ("dall-e-3", 978.0)), ("a=b=1.5", ("a=b", 1.5))]
)
def test_parse_anchor(text, expected):
    assert parse_anchor(text) == expected


@pytest.mark.parametrize("text", ["dall-e-3", "=978", "x=high", "x=nan"])
def test_parse_anchor_rejects_malformed_text(text):
    with pytest.raises(InvalidParameterError):
        parse_anchor(text)


def test_unknown_anchor_model_suggests_close_names(votes_dir):
    with pytest.raises(UnknownNameError) as err:
        fit_bradley_terry(evalica_votes(votes_dir, "food"), ci="none", anchor="Taco=1000")
    assert err.value.suggestions == ["Tacos"]


# --- categories ----------------------------------------------------------------------------------------------


def categorised(votes_dir) -> pl.DataFrame:
    votes = per_vote(evalica_votes(votes_dir, "food"))
    return votes.with_columns(
        category=pl.when(pl.int_range(pl.len()) < 18).then(pl.lit("lunch")).otherwise(pl.lit("dinner"))
    )


def test_category_leaderboard_is_a_refit_on_that_category_only(votes_dir):
    votes = categorised(votes_dir)
    results = fit_by_category(votes, ci="none")
    assert sorted(results) == ["dinner", "lunch"]
    lunch_only = votes.filter(pl.col("category") == "lunch").drop("category")
    assert ratings_of(results["lunch"]) == pytest.approx(ratings_of(fit_bradley_terry(lunch_only, ci="none")))
    board = category_leaderboards(votes, ci="none")
    assert board.columns[0] == "category" and board.height == sum(r.table.height for r in results.values())


def test_unknown_category_is_rejected_with_the_known_ones(votes_dir):
    with pytest.raises(UnknownNameError) as err:
        fit_bradley_terry(categorised(votes_dir), category="brunch")
    assert err.value.allowed == ["dinner", "lunch"]


# --- CLI -----------------------------------------------------------------------------------------------------


def test_cli_json_on_evalica_food(votes_dir, capsys):
    path = votes_dir / "evalica_toy" / "food.csv"
    assert cli_main(["ratings", str(path), "--bootstrap", "200", "--seed", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    expected = fit_bradley_terry(path, bootstrap=200, seed=3)
    assert [r["model"] for r in out["ratings"]] == expected.table["model"].to_list()
    assert out["ratings"][0]["rating"] == pytest.approx(1159.80, abs=0.005)
    assert {"model", "rating", "ci_low", "ci_high", "rank", "votes", "online_elo"} <= set(out["ratings"][0])
    assert (out["n_votes"], out["method"], out["ci_method"], out["seed"]) == (
        30,
        "bradley_terry",
        "bootstrap",
        3,
    )
    assert isinstance(out["warnings"], list)


def test_cli_table_with_anchor_and_sandwich(votes_dir, capsys):
    path = votes_dir / "evalica_toy" / "food.csv"
    assert cli_main(["ratings", str(path), "--ci", "sandwich", "--anchor", "Tacos=1200"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "rank",
        "model",
        "rating",
        "ci_low",
        "ci_high",
        "votes",
        "W-L-T",
        "online_elo",
        "flags",
    ]
    assert lines[2].split()[1:3] == ["Tacos", "1200.0"]  # a rating, one decimal, no thousands separator
    assert any("anchor Tacos = 1200" in line and "sandwich" in line for line in lines)


def test_cli_category_option(votes_dir, tmp_path, capsys):
    path = tmp_path / "votes.csv"
    categorised(votes_dir).write_csv(path)
    assert cli_main(["ratings", str(path), "--category", "lunch", "--ci", "none", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["category"] == "lunch" and out["n_votes"] == 18


def test_cli_bad_label_is_one_error_line_and_exit_2(tmp_path, capsys):
    path = tmp_path / "votes.csv"
    path.write_text("model_a,model_b,winner\nA,B,model_a\nB,A,left\n")
    assert cli_main(["ratings", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{path}: row 2, winner: 'left' is not allowed" in err[0]


# --- plots ---------------------------------------------------------------------------------------------------


def test_rating_and_win_rate_figures_render_with_their_captions(votes_dir, tmp_path):
    from imgkit.plots.ratings import plot_ratings, plot_win_rates

    result = fit_bradley_terry(genai_counts(votes_dir, "anony"), bootstrap=100, seed=0)
    rows = lmarena(votes_dir)["full"]
    published = pl.DataFrame(
        {
            "model": list(rows),
            "rating": [r["rating"] for r in rows.values()],
            "ci_low": [r["rating_q025"] for r in rows.values()],
            "ci_high": [r["rating_q975"] for r in rows.values()],
        }
    )
    figures = {
        "measured.png": (plot_ratings(result), "measured: 1,451 votes, bootstrap 100, seed 0"),
        "published.png": (
            plot_ratings(published, caption="published: LMArena, 2025-12-17", top=15),
            "published: LMArena, 2025-12-17",
        ),
        "heatmap.png": (plot_win_rates(result), "measured: 1,451 votes, bootstrap 100, seed 0"),
    }
    for name, (figure, caption) in figures.items():
        figure.savefig(tmp_path / name, dpi=60)
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert caption in [t.get_text() for t in figure.findobj(match=lambda o: hasattr(o, "get_text"))]


def test_a_frame_without_caption_is_refused(votes_dir):
    from imgkit.plots.ratings import plot_ratings

    with pytest.raises(InvalidParameterError):
        plot_ratings(pl.DataFrame({"model": ["a"], "rating": [1000.0]}))


# --- benchmark smoke run -----------------------------------------------------------------------------------------


def test_benchmark_runs_at_tiny_size_and_agrees_with_the_notebook_baseline(repo_dir):
    spec = importlib.util.spec_from_file_location("bench_ratings", repo_dir / "bench" / "bench_ratings.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    figures = bench.main(
        votes=3000, models=6, rounds=20, baseline_rounds=4, baseline_measured_rounds=2, repeats=1
    )
    assert figures["max_rating_diff"] < 0.5 and figures["baseline_extrapolated"]


# --- checks on the votes themselves -----------------------------------------------------------------------------


def test_side_bias_check_on_evalica_food_counts_left_wins_exactly(votes_dir):
    from scipy.stats import binomtest

    from imgkit.analysis.ratings import vote_diagnostics

    raw = pl.read_csv(votes_dir / "evalica_toy" / "food.csv")  # counted here independently of imgkit
    left, right = (raw["winner"] == "left").sum(), (raw["winner"] == "right").sum()
    d = vote_diagnostics(evalica_votes(votes_dir, "food"))
    assert (d.a_wins, d.decisive, d.ties) == (left, left + right, (raw["winner"] == "tie").sum())
    assert d.a_share == pytest.approx(left / (left + right))
    assert d.position_p_value == pytest.approx(binomtest(left, left + right, 0.5).pvalue)
    assert not d.side_bias and "no side bias detected" in d.lines()[0]


def test_aggregated_counts_carry_no_seats_so_no_side_check(votes_dir):
    from imgkit.analysis.ratings import vote_diagnostics

    pairs = votes_dir / "genai_arena_20240220" / "pairs_t2i_generation_anony.csv"
    d = vote_diagnostics(pl.read_csv(pairs).select("model_a", "model_b", "a_wins", "b_wins"))
    assert d.a_share is None and d.position_p_value is None and not d.side_bias
    assert d.lines() == ["position: not checked (aggregated counts carry no seats)"]


def test_a_voter_who_always_picks_a_shows_a_side_bias_and_agreement_counts_alike_answers():
    from imgkit.analysis.ratings import vote_diagnostics

    models = ["m1", "m2", "m3", "m4"]
    rows = []
    for k, (x, y) in enumerate((x, y) for x in models for y in models if x != y):  # 12 ordered pairs
        pair_id = f"p{k}"
        rows.append({"model_a": x, "model_b": y, "winner": "model_a", "voter": "lazy", "pair_id": pair_id})
        # "fair" prefers the lower-numbered model; "tied" says tie on every pair
        fair = "model_a" if x < y else "model_b"
        rows.append({"model_a": x, "model_b": y, "winner": fair, "voter": "fair", "pair_id": pair_id})
        rows.append({"model_a": x, "model_b": y, "winner": "tie", "voter": "tied", "pair_id": pair_id})
    votes = pl.DataFrame(rows)
    lazy = vote_diagnostics(votes.filter(pl.col("voter") == "lazy"))
    assert lazy.a_share == 1.0 and lazy.side_bias and lazy.position_p_value < 0.001
    assert "side bias: A is chosen more often than chance" in lazy.lines()[0]
    both = vote_diagnostics(votes)
    # per item, three voters give three voter pairs; "lazy" and "fair" agree on the 6 pairs shown low-first
    assert (both.shared_items, both.voter_pairs) == (12, 36)
    assert both.agreement == pytest.approx(6 / 36)
    assert {v["voter"]: v["a_share"] for v in both.per_voter} == {"fair": 0.5, "lazy": 1.0, "tied": None}


def test_cli_ratings_prints_and_returns_the_vote_checks(votes_dir, capsys):
    food = str(votes_dir / "evalica_toy" / "food.csv")
    assert cli_main(["ratings", food, "--bootstrap", "20"]) == 0
    assert "position: A won 46.4% of 28 decisive votes" in capsys.readouterr().out
    assert cli_main(["ratings", food, "--bootstrap", "20", "--json"]) == 0
    diagnostics = json.loads(capsys.readouterr().out)["diagnostics"]
    assert diagnostics["decisive"] == 28 and diagnostics["side_bias"] is False
