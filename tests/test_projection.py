"""Cost projections (issue 6 §4) and their plots (§5): hand-checked against published prices in PRICING.md.

Published figures used (PRICING.md §1, §2, §3.1; checked 2026-11-24):
gpt-image-1-mini low 1024x1024 = $0.005 per image, medium = $0.011, high = $0.036; its token rates are
$2/M text in and $8/M image out, and low 1024x1024 is 272 output tokens. gpt-image-1.5 low 1024x1024 =
$0.009; the Batch API is exactly half of every rate.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import json
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import polars as pl
import pytest

from imgkit.analysis.performance import performance_table
from imgkit.analysis.projection import (
    Workload,
    break_even,
    load_workload,
    measured_reliability,
    parse_workload,
    project,
    projection_caption,
    resolve_options,
    sensitivity,
    summarise,
)
from imgkit.analysis.synthetic import synthetic_log
from imgkit.catalog import load_catalog
from imgkit.cli import main
from imgkit.errors import SpecError
from imgkit.report_text import exact_percent, projection_conclusions, workload_inputs

MINI_LOW_SQUARE_USD = Decimal("0.005")  # PRICING.md §3.1
MINI_HIGH_SQUARE_USD = Decimal("0.036")  # PRICING.md §3.1
MINI_IMAGE_OUT_PER_TOKEN_USD = Decimal("8") / 1_000_000  # §1
MINI_TEXT_IN_PER_TOKEN_USD = Decimal("2") / 1_000_000  # §1
LOW_SQUARE_OUTPUT_TOKENS = 272  # §2
GI15_LOW_SQUARE_USD = Decimal("0.009")  # §3.1
BATCH_MULTIPLIER = Decimal("0.5")  # §1: "Batch API = exactly half of every rate"
MINI = {"model": "gpt-image-1-mini", "provider": "openai"}
LOW_SQUARE = {"share": "1", "quality": "low", "size": "1024x1024"}


def workload(**overrides) -> dict:
    """A one-component workload: 10,000 requests a month of gpt-image-1-mini low 1024x1024.

    It starts in December 2025 so that a horizon of up to 12 months ends before OpenAI shut gpt-image-1-mini and
    gpt-image-1.5 down on 2026-12-01 (OAI-DEPRECATIONS): the published figures these tests check are theirs.
    """
    data = {
        "name": "test",
        "start": "2025-12",
        "volume": {"requests_per_month": 10000},
        "mix": [dict(LOW_SQUARE)],
        "targets": [dict(MINI)],
    }
    data.update(copy.deepcopy(overrides))
    return data


def total(frame: pl.DataFrame, option: str | None = None) -> Decimal:
    rows = frame if option is None else frame.filter(pl.col("option") == option)
    return sum(rows["cost_usd"].to_list(), Decimal(0))


def monthly(frame: pl.DataFrame) -> list[Decimal]:
    per = frame.group_by("month").agg(pl.col("cost_usd").sum()).sort("month")
    return per["cost_usd"].to_list()


# --- exact projections from published prices ------------------------------------------------------------


def test_published_per_image_price_times_volume_is_exact():
    frame = project(parse_workload(workload()), 3)
    assert monthly(frame) == [10000 * MINI_LOW_SQUARE_USD] * 3
    assert total(frame) == Decimal("150")
    assert frame["cost_usd"].dtype == pl.Decimal(38, 10)
    assert set(frame["price_method"]) == {"per_image_table"}
    assert frame["month_start"].to_list() == [dt.date(2025, 12, 1), dt.date(2026, 1, 1), dt.date(2026, 2, 1)]


def test_token_billing_tier_uses_output_tokens_and_prompt_tokens():
    data = workload(prompt_tokens=60, targets=[{**MINI, "method": "tokens"}])
    per_request = LOW_SQUARE_OUTPUT_TOKENS * MINI_IMAGE_OUT_PER_TOKEN_USD + 60 * MINI_TEXT_IN_PER_TOKEN_USD
    assert per_request == Decimal("0.002296")
    assert total(project(parse_workload(data), 1)) == 10000 * per_request


@pytest.mark.parametrize(
    ("growth", "volumes"),
    [
        ("0", [10000, 10000, 10000]),
        ("0.1", [10000, 11000, 12100]),  # compounding: 10,000 x 1.1^(m - 1)
        ("-0.5", [10000, 5000, 2500]),
    ],
)
def test_growth_compounds_monthly(growth, volumes):
    frame = project(
        parse_workload(workload(volume={"requests_per_month": 10000, "growth_per_month": growth})), 3
    )
    assert frame["requests"].to_list() == [Decimal(v) for v in volumes]
    assert monthly(frame) == [v * MINI_LOW_SQUARE_USD for v in volumes]


def test_images_per_month_divides_by_the_mean_n_of_the_mix():
    mix = [
        {"share": "0.5", "quality": "low", "n": 1, "label": "single"},
        {"share": "0.5", "quality": "low", "n": 3, "label": "triple"},
    ]
    frame = project(parse_workload(workload(volume={"images_per_month": 20000}, mix=mix)), 1)
    # mean n = 2, so 10,000 requests, 5,000 of each; images = 5,000 + 15,000
    assert frame["requests"].to_list() == [Decimal(5000), Decimal(5000)]
    assert sum(frame["images"].to_list()) == Decimal(20000)
    assert total(frame) == 20000 * MINI_LOW_SQUARE_USD


def test_mix_components_add_up():
    mix = [
        {"share": "0.6", "quality": "low", "label": "thumbs"},
        {"share": "0.4", "quality": "high", "label": "hero"},
    ]
    frame = project(parse_workload(workload(mix=mix)), 1)
    by = dict(zip(frame["component"], frame["cost_usd"], strict=True))
    assert by == {"thumbs": 6000 * MINI_LOW_SQUARE_USD, "hero": 4000 * MINI_HIGH_SQUARE_USD}


# --- failures and retries --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("billed_failure_share", "billed_per_request"),
    [
        # f = 0.1, at most 3 attempts: success 1 - 0.1^3 = 0.999; attempts 1 + 0.1 + 0.01 = 1.11
        ("0", Decimal("0.999")),  # only successes billed
        ("1", Decimal("1.11")),  # every attempt billed
        ("0.5", Decimal("0.999") + Decimal("0.5") * Decimal("0.111")),
    ],
)
def test_failures_and_retries_expected_attempts(billed_failure_share, billed_per_request):
    reliability = {"failure_rate": "0.1", "max_attempts": 3, "billed_failure_share": billed_failure_share}
    frame = project(parse_workload(workload(reliability=reliability)), 1)
    row = frame.row(0, named=True)
    assert row["attempts"] == Decimal("11100")
    assert row["images"] == Decimal("9990")
    assert row["cost_usd"] == 10000 * billed_per_request * MINI_LOW_SQUARE_USD


def test_measured_failure_rate_from_a_log_replaces_the_assumed_one():
    perf = performance_table(synthetic_log(400, seed=3))
    measured = perf.filter((pl.col("provider") == "openai") & (pl.col("model") == "gpt-image-1-mini"))
    attempts, successes = sum(measured["attempts"]), sum(measured["successes"])
    assert 0 < attempts - successes < attempts
    data = workload(
        reliability={"failure_rate": "0.5", "max_attempts": 2},
        targets=[dict(MINI), {"model": "gpt-image-1-mini", "provider": "lumenfall"}],
    )
    frame = project(parse_workload(data), 1, performance=perf)
    with decimal.localcontext(prec=60):
        f = Decimal(attempts - successes) / Decimal(attempts)
        expected = (10000 * (1 - f**2) * MINI_LOW_SQUARE_USD).quantize(Decimal("1e-10"))
    openai, lumenfall = frame.row(0, named=True), frame.row(1, named=True)
    assert openai["cost_usd"] == expected
    assert openai["reliability_provenance"] == "simulated"
    # lumenfall is not in the log: the assumed 50 % failure rate, 2 attempts -> success 0.75
    assert lumenfall["cost_usd"] == 10000 * Decimal("0.75") * MINI_LOW_SQUARE_USD
    assert lumenfall["reliability_provenance"] == "assumed"


def test_measured_reliability_reads_the_given_logs_else_the_workloads_own(tmp_path):
    logs = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    synthetic_log(200, seed=1).write_parquet(logs[0])
    synthetic_log(300, seed=2).write_parquet(logs[1])
    assert measured_reliability(parse_workload(workload())) is None  # no log: the assumed rate holds
    given = measured_reliability(parse_workload(workload()), logs)
    both = pl.concat([synthetic_log(200, seed=1), synthetic_log(300, seed=2)], how="vertical_relaxed")
    assert given.performance.equals(performance_table(both, by=("provider", "model")))
    assert given.logs == tuple(map(str, logs)) and given.provenance == "simulated"
    assert given.describe().startswith("simulated from a.parquet, b.parquet, 500 requests, ")
    own = replace(parse_workload(workload()), reliability_log=str(logs[1]))
    assert measured_reliability(own).logs == (str(logs[1]),)
    assert measured_reliability(own, [logs[0]]).logs == (str(logs[0]),)  # given logs come first


# --- batch share -----------------------------------------------------------------------------------------


def test_batch_share_only_where_the_offering_has_a_batch_price():
    data = workload(
        batch_share="0.4",
        targets=[
            {"model": "gpt-image-1.5", "provider": "openai"},
            {"model": "gpt-image-1-mini", "provider": "lumenfall"},
        ],
    )
    frame = project(parse_workload(data), 1)
    openai, lumenfall = frame.row(0, named=True), frame.row(1, named=True)
    unit = Decimal("0.6") * GI15_LOW_SQUARE_USD + Decimal("0.4") * GI15_LOW_SQUARE_USD * BATCH_MULTIPLIER
    assert openai["cost_usd"] == 10000 * unit == Decimal("72")
    assert openai["batch_share"] == Decimal("0.4")
    assert lumenfall["batch_share"] == 0
    assert lumenfall["cost_usd"] == 10000 * MINI_LOW_SQUARE_USD
    assert "no Batch API price at lumenfall" in lumenfall["note"]


def test_each_row_names_the_sources_of_its_price_and_the_batch_sources_only_where_batched():
    cat = load_catalog()
    gi15 = {"model": "gpt-image-1.5", "provider": "openai"}
    targets = [{**gi15, "label": "interactive"}, {**gi15, "label": "batched", "batch_share": "1"}]
    frame = project(parse_workload(workload(targets=targets)), 1)
    rows = {r["option"]: r for r in frame.iter_rows(named=True)}
    price = cat.price("gpt-image-1.5", "openai")
    interactive = rows["interactive"]["price_sources"].split("+")
    batched = rows["batched"]["price_sources"].split("+")
    assert interactive == list(price.source)
    assert batched == [*price.source, *(t for t in price.batch.source if t not in price.source)]
    oldest = min(cat.sources[t].checked for t in batched)
    assert rows["batched"]["price_checked"] == oldest
    assert summarise(frame).filter(pl.col("option") == "batched")["price_sources"].item() == "+".join(batched)


def test_no_batch_note_when_no_batch_share_is_asked_for():
    data = workload(targets=[{"model": "gpt-image-1-mini", "provider": "lumenfall"}])
    assert project(parse_workload(data), 1)["note"].to_list() == [None]


def test_streamed_partial_images_are_never_batched():
    mix = [{"share": "1", "quality": "low", "partial_images": 1}]
    data = workload(mix=mix, batch_share="1", targets=[{"model": "gpt-image-1.5", "provider": "openai"}])
    row = project(parse_workload(data), 1).row(0, named=True)
    assert row["batch_share"] == 0
    assert "partial images" in row["note"]
    # the published $0.009 plus 100 image output tokens per partial image at $32/M (§2); no discount
    assert (
        row["cost_usd"] == 10000 * (GI15_LOW_SQUARE_USD + 100 * Decimal("32") / 1_000_000) == Decimal("122")
    )


# --- break-even ----------------------------------------------------------------------------------------------


def test_break_even_month_with_a_setup_cost():
    targets = [
        {"model": "gpt-image-1.5", "provider": "openai", "label": "interactive"},
        {
            "model": "gpt-image-1.5",
            "provider": "openai",
            "label": "batch",
            "batch_share": "1",
            "setup_usd": 200,
        },
    ]
    frame = project(parse_workload(workload(targets=targets)), 6)
    row = break_even(frame, "interactive", "batch").row(0, named=True)
    # interactive: $90 a month; batch: $45 a month + $200 once -> cumulative 360 < 380 at month 4, 450 > 425 at 5
    assert row["cheaper_first"] == "interactive"
    assert row["break_even_month"] == 5
    assert (row["cumulative_a_usd"], row["cumulative_b_usd"]) == (Decimal(450), Decimal(425))
    assert row["setup_b_usd"] == Decimal(200)
    payback = Decimal(200) / (GI15_LOW_SQUARE_USD - GI15_LOW_SQUARE_USD * BATCH_MULTIPLIER)
    assert row["payback_requests"] == payback.quantize(Decimal("1e-6"))  # 44,444.444444 requests
    assert "cross in month 5" in row["explanation"]


def test_break_even_volume_with_a_monthly_fee_and_none_within_the_horizon():
    targets = [
        {**MINI, "label": "table"},
        {**MINI, "label": "tokens", "method": "tokens", "fixed_usd_per_month": 100},
    ]
    frame = project(parse_workload(workload(targets=targets)), 3)
    row = break_even(frame).row(0, named=True)
    token_price = LOW_SQUARE_OUTPUT_TOKENS * MINI_IMAGE_OUT_PER_TOKEN_USD
    volume = (Decimal(100) / (MINI_LOW_SQUARE_USD - token_price)).quantize(Decimal("1e-6"))
    assert row["break_even_requests_per_month"] == volume  # about 35,411 requests a month
    assert row["cheaper_first"] == "table"  # 10,000 requests: $50 against $21.76 + $100
    assert row["break_even_month"] is None
    assert "stays cheaper over all 3 months" in row["explanation"]


def test_break_even_between_linear_options_never_crosses():
    targets = [dict(MINI), {"model": "gpt-image-1.5", "provider": "openai"}]
    row = break_even(project(parse_workload(workload(targets=targets)), 12)).row(0, named=True)
    assert row["break_even_month"] is None and row["break_even_requests_per_month"] is None
    assert "never cross" in row["explanation"]


# --- sensitivity ---------------------------------------------------------------------------------------------


def test_sensitivity_direction_and_magnitude():
    mix = [
        {"share": "0.5", "quality": "low", "label": "low"},
        {"share": "0.5", "quality": "high", "label": "high"},
    ]
    w = parse_workload(workload(mix=mix))
    frame = sensitivity(w, 1, delta="0.1")
    rows = {r["assumption"]: r for r in frame.to_dicts()}
    base = 5000 * MINI_LOW_SQUARE_USD + 5000 * MINI_HIGH_SQUARE_USD
    assert base == Decimal("205")
    assert {r["total_usd"] for r in rows.values()} == {base}
    for name in ("volume", "price"):  # linear: ±10 % of the total
        assert (rows[name]["low_total_usd"], rows[name]["high_total_usd"]) == (
            base * Decimal("0.9"),
            base * Decimal("1.1"),
        )
    # the high share 0.5 -> 0.55 (low share 0.45): 10,000 x (0.45 x 0.005 + 0.55 x 0.036)
    high_up = 10000 * (Decimal("0.45") * MINI_LOW_SQUARE_USD + Decimal("0.55") * MINI_HIGH_SQUARE_USD)
    assert rows["share: high"]["high_total_usd"] == high_up == Decimal("220.5")
    assert rows["share: low"]["change_high_usd"] < 0  # more of the cheap component costs less
    assert rows["failure_rate"]["swing_usd"] == 0  # nothing fails as stated
    assert frame["assumption"][0] in ("volume", "price")  # largest swing first
    assert frame["swing_usd"].to_list() == sorted(frame["swing_usd"].to_list(), reverse=True)


@pytest.mark.parametrize(("billed", "direction"), [("0", -1), ("1", 1)])
def test_sensitivity_to_failures_depends_on_whether_failures_are_billed(billed, direction):
    w = parse_workload(
        workload(reliability={"failure_rate": "0.2", "max_attempts": 2, "billed_failure_share": billed})
    )
    row = sensitivity(w, 1).filter(pl.col("assumption") == "failure_rate").row(0, named=True)
    assert (row["change_high_usd"] > 0) - (row["change_high_usd"] < 0) == direction


# --- the workload file ---------------------------------------------------------------------------------------


def test_mix_shares_must_sum_to_one(tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text(
        "name: t\nvolume: {requests_per_month: 100}\n"
        "mix:\n  - {share: 0.5, quality: low}\n  - {share: 0.3, quality: high}\n"
        "targets: [{model: gpt-image-1-mini, provider: openai}]\n"
    )
    with pytest.raises(SpecError) as exc:
        load_workload(path)
    assert (exc.value.file, exc.value.key_path) == (str(path), "mix")
    assert "0.5 + 0.3 sum to 0.8" in exc.value.problem


def test_unquoted_yaml_decimals_are_read_exactly(tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text(
        "name: t\nvolume: {requests_per_month: 100, growth_per_month: 0.1}\n"
        "mix: [{share: 0.7, quality: low, label: a}, {share: 0.3, quality: low, label: b}]\n"
        "targets: [{model: gpt-image-1-mini, provider: openai}]\n"
    )
    w = load_workload(path)
    assert w.growth_per_month == Decimal("0.1")
    assert [c.share for c in w.mix] == [Decimal("0.7"), Decimal("0.3")]


@pytest.mark.parametrize(
    ("change", "key_path", "text"),
    [
        (lambda d: d["mix"][0].update(share=1.0), "mix[0].share", "1.0 is a binary float"),
        (lambda d: d["volume"].update(growth_per_month=0.05), "volume.growth_per_month", "binary float"),
        (lambda d: d["targets"][0].update(setup_usd=99.5), "targets[0].setup_usd", "99.5"),
        (lambda d: d["targets"][0].update(model="gpt-nope"), "targets[0].model", "gpt-nope"),
        (lambda d: d["targets"].append("everything"), "targets[1]", "'everything'"),
        (lambda d: d["mix"][0].update(quality="auto"), "mix[0].quality", "auto"),
        (lambda d: d["mix"][0].update(size="big"), "mix[0].size", "big"),
        (lambda d: d.update(start="2027-13"), "start", "2027-13"),
        (lambda d: d["reliability"].update(max_attempts=0), "reliability.max_attempts", "got 0"),
        (lambda d: d["volume"].update(images_per_month=5), "volume", "exactly one of"),
        (lambda d: d["mix"][0].update(mode="edit"), "mix[0]", "input_images"),
    ],
)
def test_bad_workloads_name_the_key_path_and_the_value(change, key_path, text):
    data = workload(reliability={})
    change(data)
    with pytest.raises(SpecError) as exc:
        parse_workload(data, file="w.yaml")
    assert exc.value.file == "w.yaml"
    assert exc.value.key_path == key_path
    assert text in exc.value.problem


def test_a_listed_target_that_cannot_price_the_mix_is_an_error():
    w = parse_workload(
        workload(targets=[dict(MINI), {"model": "gpt-image-1-mini", "provider": "fal"}]), file="w.yaml"
    )
    with pytest.raises(SpecError) as exc:
        resolve_options(w)
    assert exc.value.key_path == "targets[1]"
    assert "mode='generate'" in exc.value.problem


def test_targets_all_prices_every_offering_and_says_why_others_are_left_out():
    mix = [{"share": "1", "quality": "low", "partial_images": 1}]
    # June 2026: after DALL-E's shutdown (2026-05-12), before gpt-image-1-mini's (2026-12-01)
    options, skipped = resolve_options(parse_workload(workload(start="2026-06", mix=mix, targets="all")))
    names = {o.name for o in options}
    reasons = {row["option"]: row["reason"] for row in skipped}
    assert {"gpt-image-1-mini @ openai", "gpt-image-1.5 @ openai"} <= names
    assert "dall-e-3 @ openai" in reasons and reasons["dall-e-3 @ openai"].startswith("retired on 2026-05-12")
    assert "partial_images" in reasons["flux-1-dev @ fal"]  # flux has no partial images
    assert "mode='generate'" in reasons["gpt-image-1-mini @ fal"]  # fal serves mini for edits only
    assert not names & set(reasons)


def test_retired_models_count_from_the_projection_start():
    early = parse_workload(workload(start="2026-01", targets="all"))
    late = parse_workload(workload(start="2027-01", targets="all"))
    assert "gpt-image-1 @ openai" in {o.name for o in resolve_options(early)[0]}
    assert "gpt-image-1 @ openai" not in {o.name for o in resolve_options(late)[0]}


def test_example_workload_projects(repo_dir):
    frame = project(repo_dir / "data" / "workloads" / "example.yaml", 2)
    summary = summarise(frame)
    assert summary["total_cost_usd"].to_list() == sorted(summary["total_cost_usd"].to_list())
    for option, value in summary.select("option", "total_cost_usd").iter_rows():
        assert value == total(frame, option)


# --- the report's words --------------------------------------------------------------------------------------


def _two_options(fee_usd: str = "0") -> Workload:
    """gpt-image-1-mini low ($50 a month, plus ``fee_usd``) against gpt-image-1.5 low ($90 a month, $100 setup)."""
    return parse_workload(
        workload(
            targets=[
                {**MINI, "fixed_usd_per_month": fee_usd},
                {"model": "gpt-image-1.5", "provider": "openai", "setup_usd": "100"},
            ]
        )
    )


def test_projection_conclusions_name_the_cheapest_the_dearest_and_what_moves_the_bill():
    w = _two_options()
    frame = project(w, 2)
    totals, pairs, tornado = summarise(frame), break_even(frame), sensitivity(w, 2)
    mini = "gpt-image-1-mini @ openai"
    lines = projection_conclusions(w, 2, "w.yaml", totals, pairs, tornado, mini, "CAPTION")
    top = tornado.filter(pl.col("option") == mini).row(0, named=True)
    assert lines == [
        f"Over 2 months (test, w.yaml) the cheapest option is {mini}: $100.00 in total, $50.00 in month 1 "
        "rising to $50.00 in month 2, $0.005 per image.",
        "The dearest, gpt-image-1.5 @ openai, costs $280.00 (2.8× the cheapest); 2 options compared.",
        "No two options' cumulative costs cross within 2 months.",  # linear in volume: no crossing
        f"For {mini}, the total moves most with volume (base {top['base_value']}): {top['delta']} changes it "
        f"by $20.00 from low to high (20 % of $100.00).",
        "Where the numbers come from: CAPTION.",
    ]


def test_projection_conclusions_state_each_break_even():
    w = _two_options(fee_usd="60")  # $110 a month against $100 + $90 a month: equal after 5 months
    frame = project(w, 6)
    pairs = break_even(frame)
    (row,) = pairs.to_dicts()
    assert row["break_even_month"] == 5
    lines = projection_conclusions(
        w, 6, "w.yaml", summarise(frame), pairs, sensitivity(w, 6), "gpt-image-1.5 @ openai", "C"
    )
    assert f"Break-even: {row['explanation']}." in lines
    assert not any(line.startswith("No two options") for line in lines)


def test_workload_inputs_state_the_assumptions_exactly_and_the_measured_rates(tmp_path):
    synthetic_log(200, seed=1).write_parquet(tmp_path / "log.parquet")
    w = parse_workload(
        workload(
            volume={"requests_per_month": 10000, "growth_per_month": "0.125"},
            reliability={"failure_rate": "0.02", "max_attempts": 3},
        )
    )
    frame = project(w, 2)
    reliability = measured_reliability(w, [tmp_path / "log.parquet"])
    rows = {r["input"]: r for r in workload_inputs(w, frame, summarise(frame), reliability)}
    assert rows["volume"]["value"] == "10,000 requests/month, growing 12.5 % a month"
    assert rows["mix"]["value"] == "generate low 1024x1024 100 % (generate, low, 1024x1024)"
    assert (
        rows["reliability"]["value"] == "attempt failure rate 2 %, up to 3 attempts, 0 % of failures billed"
    )
    assert rows["batch share"]["value"] == "0 % (targets may override)"
    assert rows["prices"] == {
        "input": "prices",
        "value": "imgkit catalog, per month from 2025-12-01",
        "provenance": "published",
    }
    assert rows["measured failure rates"]["value"] == reliability.describe()
    assert rows["measured failure rates"]["provenance"] == "simulated"
    assert {r["provenance"] for k, r in rows.items() if k in ("volume", "mix", "reliability")} == {"assumed"}
    assert "measured failure rates" not in {r["input"] for r in workload_inputs(w, frame, summarise(frame))}


@pytest.mark.parametrize(
    ("share", "text"), [("0.05", "5 %"), ("0.125", "12.5 %"), ("1", "100 %"), ("0", "0 %")]
)
def test_a_stated_share_is_shown_as_stated(share, text):
    assert exact_percent(Decimal(share)) == text


# --- plots ---------------------------------------------------------------------------------------------------


def test_plots_are_drawn_with_a_provenance_caption(tmp_path):
    from imgkit.plots.projection import plot_projection, plot_projection_mix, plot_sensitivity

    targets = [dict(MINI), {"model": "gpt-image-1.5", "provider": "openai", "setup_usd": 10}]
    w = parse_workload(workload(targets=targets))
    frame = project(w, 3)
    caption = projection_caption(frame, "w.yaml")
    assert caption.startswith("workload w.yaml: volume assumed, mix assumed, reliability assumed")
    cat = load_catalog()
    tags = {t for row in frame["price_sources"].drop_nulls() for t in row.split("+")}
    oldest = min(cat.sources[t].checked for t in tags)
    assert f"prices published (imgkit catalog; oldest source check {oldest})" in caption
    assert "fees and setup assumed" in caption
    figures = {
        "monthly": plot_projection(frame, source="w.yaml"),
        "cumulative": plot_projection(frame, cumulative=True, source="w.yaml"),
        "mix": plot_projection_mix(frame, source="w.yaml"),
        "sensitivity": plot_sensitivity(sensitivity(w, 3), projection=frame, source="w.yaml"),
    }
    for name, fig in figures.items():
        text = fig._supxlabel.get_text().replace("\n", " ")
        assert "assumed" in text and "published" in text, name
        fig.savefig(tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 5000
    assert len(figures["monthly"].axes[0].lines) == 2


def test_identical_series_do_not_hide_each_other(repo_dir):
    # the example workload prices gpt-image-2 and gpt-image-2.5-flare at OpenAI identically (the same token rates
    # and the same assumed token table)
    from imgkit.plots.projection import plot_projection

    frame = project(repo_dir / "data" / "workloads" / "example.yaml", 6)
    a, b = "gpt-image-2 @ openai", "gpt-image-2.5-flare @ openai"
    assert summarise(frame).filter(pl.col("option").is_in([a, b]))["total_cost_usd"].n_unique() == 1
    for cumulative in (False, True):
        ax = plot_projection(frame, cumulative=cumulative).axes[0]
        lines = {line.get_label(): line for line in ax.get_lines()}
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        first, second = (a, b) if a in lines else (b, a)
        assert first in legend and f"{second} (same as {first})" in legend
        shown, hidden = lines[first], lines[f"{second} (same as {first})"]
        assert list(shown.get_ydata()) == list(hidden.get_ydata())  # the same numbers ...
        assert (shown.get_linestyle(), shown.get_marker()) != (hidden.get_linestyle(), hidden.get_marker())
        assert hidden.get_zorder() > shown.get_zorder()  # ... drawn so that both are seen
        distinct = [label for label in legend if "same as" not in label]
        assert len(distinct) == len({tuple(line.get_ydata()) for line in ax.get_lines()})


# --- CLI -----------------------------------------------------------------------------------------------------


def write_workload(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "w.yaml"
    path.write_text(text)
    return path


SIMPLE = """
name: simple
start: 2025-12
volume: {requests_per_month: 10000}
mix: [{share: 1, quality: low, size: 1024x1024}]
reliability: {failure_rate: "0.1", max_attempts: 2}
targets:
  - {model: gpt-image-1-mini, provider: openai, label: interactive}
  - {model: gpt-image-1.5, provider: openai, label: gi15 batch, batch_share: 1, setup_usd: 100}
"""


def test_cli_project_json_has_exact_money_as_strings(tmp_path, capsys):
    path = write_workload(tmp_path, SIMPLE)
    assert main(["project", str(path), "--months", "2", "--json", "--break-even", "--sensitivity"]) == 0
    out = json.loads(capsys.readouterr().out)
    summary = {row["option"]: row for row in out["summary"]}
    # success 1 - 0.1^2 = 0.99 of 10,000 requests a month, two months
    assert Decimal(summary["interactive"]["total_cost_usd"]) == 2 * 9900 * MINI_LOW_SQUARE_USD
    assert isinstance(summary["interactive"]["total_cost_usd"], str)
    gi15 = 2 * 9900 * GI15_LOW_SQUARE_USD * BATCH_MULTIPLIER + 100
    assert Decimal(summary["gi15 batch"]["total_cost_usd"]) == gi15
    assert out["months"] == 2 and out["break_even"] and out["sensitivity"]
    assert "reliability assumed" in out["caption"]


def test_cli_project_table_prints_rounded_totals_and_writes_plots(tmp_path, capsys):
    path = write_workload(tmp_path, SIMPLE)
    assert main(["project", str(path), "--months", "1", "--monthly", "--plot", str(tmp_path / "fig")]) == 0
    out = capsys.readouterr().out
    assert "$49.50" in out and "49.5000000000" not in out  # 9,900 x $0.005, to the cent
    assert "2025-12" in out
    assert sorted(p.name for p in (tmp_path / "fig").iterdir()) == [
        "projection_cumulative.png",
        "projection_mix.png",
        "projection_monthly.png",
    ]


def _cents(text: str) -> str:
    return f"${Decimal(text).quantize(Decimal('0.01'), ROUND_HALF_UP):,}"


def _four_significant(text: str) -> str:
    value = Decimal(text)
    return f"${value.quantize(Decimal(1).scaleb(value.adjusted() - 3), ROUND_HALF_UP).normalize():f}"


def test_cli_project_table_is_for_people_and_json_stays_exact(repo_dir, capsys):
    # the example: 3183425.304089 requests and 55576.1126888492 USD were printed as they are
    args = ["project", str(repo_dir / "data" / "workloads" / "example.yaml"), "--months", "12"]
    assert main([*args, "--json"]) == 0
    exact = {row["option"]: row for row in json.loads(capsys.readouterr().out)["summary"]}
    assert any(len(row["total_cost_usd"].split(".")[1]) > 2 for row in exact.values())  # exact, unrounded
    assert main(args) == 0
    lines = {line.split("  ")[0]: line for line in capsys.readouterr().out.splitlines()}
    for option, row in exact.items():
        cells = lines[option][len(option) :].split()
        requests, images, total, first, last, per_image = cells[:6]
        assert requests == f"{round(Decimal(row['requests'])):,}"  # whole requests, separators
        assert images == f"{round(Decimal(row['images'])):,}"
        assert total == _cents(row["total_cost_usd"]) and "," in total  # cents and separators
        assert first == _cents(row["month_1_cost_usd"]) and last == _cents(row["last_month_cost_usd"])
        assert per_image == _four_significant(row["cost_per_image_usd"])  # $/image: 4 significant digits


def test_cli_project_log_gives_measured_failure_rates(tmp_path, capsys):
    log = tmp_path / "log.parquet"
    synthetic_log(300, seed=5).write_parquet(log)
    path = write_workload(tmp_path, SIMPLE)
    assert main(["project", str(path), "--months", "1", "--json", "--log", str(log)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["failure_rate_logs"] == [str(log)]
    kinds = {row["option"]: row["reliability_provenance"] for row in out["rows"] if row["kind"] == "usage"}
    assert kinds == {"interactive": "simulated", "gi15 batch": "assumed"}


def test_cli_project_reads_the_workloads_reliability_log_beside_it(tmp_path, capsys):
    synthetic_log(300, seed=5).write_parquet(tmp_path / "log.parquet")
    path = write_workload(tmp_path, SIMPLE.replace("max_attempts: 2}", "max_attempts: 2, log: log.parquet}"))
    assert main(["project", str(path), "--months", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["failure_rate_logs"] == [str(tmp_path / "log.parquet")]
    assert "reliability assumed+simulated" in out["caption"]


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        (SIMPLE.replace("share: 1,", "share: 0.9,"), [], "mix: shares 0.9 sum to 0.9"),
        (SIMPLE, ["--months", "0"], "--months=0"),
        (SIMPLE, ["--sensitivity", "--delta", "ten"], "delta='ten'"),
        (SIMPLE.replace("label: interactive", "label: x, setup_usd: -5"), [], "targets[0].setup_usd"),
        ("name: [unclosed", [], "YAML syntax"),
    ],
)
def test_cli_project_bad_input_is_one_line_exit_2(tmp_path, capsys, text, args, message):
    path = write_workload(tmp_path, text)
    assert main(["project", str(path), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("imgkit: error:")
    assert message in err
