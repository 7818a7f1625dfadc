"""Pricing is exact and says how it got there: every figure below is from shared/reference/PRICING.md."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import json
import shutil
from decimal import Decimal as D
from pathlib import Path

import polars as pl
import pytest

from imgkit import pricing
from imgkit.catalog import load_catalog
from imgkit.errors import InvalidParameterError, UnknownNameError, UnknownPriceError
from imgkit.money import MONEY
from imgkit.pricing import (
    Cost,
    bill_response,
    cost_from_record,
    cost_from_response,
    cost_from_usage,
    count_prompt_tokens,
    input_image_tokens,
    recost,
)

#: the published figures these tests check are of models OpenAI shut down since (DALL-E on 2026-05-12, gpt-image-1
#: on 2026-10-23, gpt-image-1-mini and gpt-image-1.5 on 2026-12-01: OAI-PY, OAI-GI1-PAGE, OAI-DEPRECATIONS): a
#: quote after a shutdown is refused, so these quotes are priced on a day every one of them was offered
PRICED_ON = dt.date(2026, 5, 1)


def quote(*args, **kw) -> Cost:
    """:func:`imgkit.pricing.quote` on :data:`PRICED_ON` unless the test names another day."""
    kw.setdefault("on", PRICED_ON)
    return pricing.quote(*args, **kw)


def quote_request(*args, **kw) -> Cost:
    """:func:`imgkit.pricing.quote_request` on :data:`PRICED_ON` unless the test names another day."""
    kw.setdefault("on", PRICED_ON)
    return pricing.quote_request(*args, **kw)


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def rates(cat, model, provider="openai"):
    return cat.price(model, provider).tokens


def lines_of(cost: Cost, method: str):
    return [ln for ln in cost.lines if ln.method == method]


# --- §1 token rates (USD per 1M tokens) -------------------------------------------------------------------

_USAGE_OF_ONE_MILLION = {
    "text_in": {
        "input_tokens": 1_000_000,
        "input_tokens_details": {"text_tokens": 1_000_000, "image_tokens": 0},
    },
    "image_in": {
        "input_tokens": 1_000_000,
        "input_tokens_details": {"text_tokens": 0, "image_tokens": 1_000_000},
    },
    "image_out": {"output_tokens": 1_000_000},
    "text_out": {
        "output_tokens": 1_000_000,
        "output_tokens_details": {"image_tokens": 0, "text_tokens": 1_000_000},
    },
    "cached_text_in": {
        "input_tokens": 1_000_000,
        "input_tokens_details": {
            "text_tokens": 1_000_000,
            "image_tokens": 0,
            "cached_text_tokens": 1_000_000,
        },
    },
    "cached_image_in": {
        "input_tokens": 1_000_000,
        "input_tokens_details": {
            "text_tokens": 0,
            "image_tokens": 1_000_000,
            "cached_image_tokens": 1_000_000,
        },
    },
}
_PUBLISHED_RATES = {  # PRICING.md §1: text in, cached text in, image in, cached image in, image out, text out
    "gpt-image-1": ("5.00", "1.25", "10.00", "2.50", "40.00", None),
    "gpt-image-1-mini": ("2.00", "0.20", "2.50", "0.25", "8.00", None),
    "gpt-image-1.5": ("5.00", "1.25", "8.00", "2.00", "32.00", "10.00"),
    "gpt-image-2": ("5.00", "1.25", "8.00", "2.00", "30.00", None),
}
_KINDS = ("text_in", "cached_text_in", "image_in", "cached_image_in", "image_out", "text_out")


@pytest.mark.parametrize(
    ("model", "kind", "rate"),
    [
        (m, k, r)
        for m, rs in _PUBLISHED_RATES.items()
        for k, r in zip(_KINDS, rs, strict=True)
        if r is not None
    ],
)
def test_one_million_tokens_cost_the_published_rate(cat, model, kind, rate):
    cost = cost_from_usage(_USAGE_OF_ONE_MILLION[kind], rates(cat, model))
    assert cost.total_usd == D(rate) and cost.method == "tokens"


@pytest.mark.parametrize("model", ["gpt-image-1", "gpt-image-1-mini", "gpt-image-2"])
def test_output_text_without_a_published_rate_bills_at_the_image_rate(cat, model):
    cost = cost_from_usage(_USAGE_OF_ONE_MILLION["text_out"], rates(cat, model))
    assert cost.total_usd == D(_PUBLISHED_RATES[model][4])
    assert any("upper bound" in n for n in cost.notes)


@pytest.mark.parametrize("model", ["gpt-image-1", "gpt-image-1.5", "gpt-image-2"])
def test_batch_is_half_of_every_rate(cat, model):
    full = quote(model, quality="high", width=1024, height=1024, method="tokens")
    half = quote(model, quality="high", width=1024, height=1024, method="tokens", batch=True)
    assert half.total_usd * 2 == full.total_usd
    assert lines_of(half, "batch")[0].provenance == cat.price(model, "openai").batch.provenance


# --- §3.1 / §3.3 / §5.2 / §6 published per-image prices ----------------------------------------------------

_OPENAI_TABLE = {  # §3.1: model, quality -> (1024x1024, 1024x1536, 1536x1024)
    ("gpt-image-1", "low"): ("0.011", "0.016", "0.016"),
    ("gpt-image-1", "medium"): ("0.042", "0.063", "0.063"),
    ("gpt-image-1", "high"): ("0.167", "0.25", "0.25"),
    ("gpt-image-1-mini", "low"): ("0.005", "0.006", "0.006"),
    ("gpt-image-1-mini", "medium"): ("0.011", "0.015", "0.015"),
    ("gpt-image-1-mini", "high"): ("0.036", "0.052", "0.052"),
    ("gpt-image-1.5", "low"): ("0.009", "0.013", "0.013"),
    ("gpt-image-1.5", "medium"): ("0.034", "0.05", "0.05"),
    ("gpt-image-1.5", "high"): ("0.133", "0.2", "0.2"),
}
_SIZES = ((1024, 1024), (1024, 1536), (1536, 1024))
_OPENAI_CELLS = [
    (m, q, w, h, D(p)) for (m, q), ps in _OPENAI_TABLE.items() for (w, h), p in zip(_SIZES, ps, strict=True)
]


@pytest.mark.parametrize(("model", "quality", "width", "height", "usd"), _OPENAI_CELLS)
def test_openai_per_image_table(model, quality, width, height, usd):
    cost = quote(model, "openai", quality=quality, width=width, height=height)
    assert cost.total_usd == usd and cost.method == "per_image_table"
    assert cost.lines[0].basis == "published per-image price"


@pytest.mark.parametrize(
    ("quality", "width", "height", "usd"), [c[1:] for c in _OPENAI_CELLS if c[0] == "gpt-image-1-mini"]
)
def test_gateway_charges_the_provider_price_without_markup(quality, width, height, usd):
    cost = quote("gpt-image-1-mini", "lumenfall", quality=quality, width=width, height=height)
    assert cost.total_usd == usd
    assert any("no markup" in n for n in cost.notes)


@pytest.mark.parametrize(
    ("model", "quality", "width", "height", "usd"),
    [
        ("dall-e-3", "standard", 1024, 1024, "0.040"),
        ("dall-e-3", "standard", 1024, 1792, "0.080"),
        ("dall-e-3", "standard", 1792, 1024, "0.080"),
        ("dall-e-3", "hd", 1024, 1024, "0.080"),
        ("dall-e-3", "hd", 1024, 1792, "0.120"),
        ("dall-e-3", "hd", 1792, 1024, "0.120"),
        ("dall-e-2", "standard", 1024, 1024, "0.020"),
        ("dall-e-2", "standard", 512, 512, "0.018"),
        ("dall-e-2", "standard", 256, 256, "0.016"),
    ],
)
def test_dall_e_table_is_the_bill(model, quality, width, height, usd):
    assert quote(model, quality=quality, width=width, height=height).total_usd == D(usd)
    body = {"created": 1, "data": [{"url": "https://x"}], "size": f"{width}x{height}"}
    bill = cost_from_response(body, model=model, requested_quality=quality)
    assert bill.total_usd == D(usd) and bill.method == "per_image_table"


@pytest.mark.parametrize(
    ("model", "quality", "width", "height", "usd"),
    [
        ("gpt-image-1-mini", "low", 1024, 1024, "0.005"),
        ("gpt-image-1-mini", "low", 1024, 1536, "0.006"),
        ("gpt-image-1-mini", "medium", 1024, 1024, "0.011"),
        ("gpt-image-1-mini", "medium", 1536, 1024, "0.015"),
        ("gpt-image-1-mini", "high", 1024, 1024, "0.036"),
        ("gpt-image-1-mini", "high", 1024, 1536, "0.052"),
        ("gpt-image-1.5", "low", 1024, 1024, "0.009"),
        ("gpt-image-1.5", "low", 1536, 1024, "0.013"),
        ("gpt-image-1.5", "medium", 1024, 1024, "0.034"),
        ("gpt-image-1.5", "medium", 1024, 1536, "0.051"),
        ("gpt-image-1.5", "medium", 1536, 1024, "0.050"),
        ("gpt-image-1.5", "high", 1024, 1024, "0.133"),
        ("gpt-image-1.5", "high", 1024, 1536, "0.200"),
        ("gpt-image-1.5", "high", 1536, 1024, "0.199"),
        ("gpt-image-1", "low", 1024, 1024, "0.011"),
        ("gpt-image-1", "low", 1536, 1024, "0.016"),
        ("gpt-image-1", "medium", 1024, 1024, "0.042"),
        ("gpt-image-1", "medium", 1024, 1536, "0.063"),
        ("gpt-image-1", "high", 1024, 1024, "0.167"),
        ("gpt-image-1", "high", 1536, 1024, "0.25"),
    ],
)
def test_fal_gpt_image_per_image_prices(model, quality, width, height, usd):
    mode = "edit" if model == "gpt-image-1-mini" else "generate"
    cost = quote(model, "fal", mode=mode, quality=quality, width=width, height=height)
    (line,) = lines_of(cost, "per_image_table")
    assert line.amount_usd == D(usd)


@pytest.mark.parametrize(
    ("model", "usd_per_mp"), [("flux-1-dev", "0.025"), ("flux-1-schnell", "0.003"), ("flux-1-pro", "0.05")]
)
def test_fal_per_megapixel_rates(model, usd_per_mp):
    cost = quote(model, width=1024, height=1024)
    assert cost.total_usd == D(usd_per_mp) and cost.method == "per_megapixel"


def test_fal_flux_pro_v1_1_is_per_image():
    assert quote("flux-1.1-pro", width=1920, height=1080).total_usd == D("0.04")


def test_fal_rounds_the_request_total_up_to_the_cent():
    cost = quote("gpt-image-1", "fal", quality="low", width=1024, height=1024)
    assert cost.total_usd == D("0.02")
    assert lines_of(cost, "rounding")[0].amount_usd == D("0.009")


# --- §3.2 the table against token math ---------------------------------------------------------------------

_EXACT = {  # §3.2: exact value (ratio) per size 1024x1024, 1024x1536, 1536x1024
    ("gpt-image-1", "low"): (("0.01088", "1.011"), ("0.01632", "0.980"), ("0.016", "1.000")),
    ("gpt-image-1", "medium"): (("0.04224", "0.994"), ("0.06336", "0.994"), ("0.06272", "1.004")),
    ("gpt-image-1", "high"): (("0.1664", "1.004"), ("0.2496", "1.002"), ("0.24832", "1.007")),
    ("gpt-image-1.5", "low"): (("0.008704", "1.034"), ("0.013056", "0.996"), ("0.0128", "1.016")),
    ("gpt-image-1.5", "medium"): (("0.033792", "1.006"), ("0.050688", "0.986"), ("0.050176", "0.996")),
    ("gpt-image-1.5", "high"): (("0.13312", "0.999"), ("0.19968", "1.002"), ("0.198656", "1.007")),
    ("gpt-image-1-mini", "low"): (("0.002176", "2.298"), ("0.003264", "1.838"), ("0.0032", "1.875")),
    ("gpt-image-1-mini", "medium"): (("0.008448", "1.302"), ("0.012672", "1.184"), ("0.012544", "1.196")),
    ("gpt-image-1-mini", "high"): (("0.03328", "1.082"), ("0.04992", "1.042"), ("0.049664", "1.047")),
}


@pytest.mark.parametrize(
    ("model", "quality", "width", "height", "exact", "ratio"),
    [
        (m, q, w, h, D(e), r)
        for (m, q), cells in _EXACT.items()
        for (w, h), (e, r) in zip(_SIZES, cells, strict=True)
    ],
)
def test_token_math_gives_the_exact_value_and_the_published_ratio(
    model, quality, width, height, exact, ratio
):
    tokens = quote(model, quality=quality, width=width, height=height, method="tokens")
    table = quote(model, quality=quality, width=width, height=height, method="table")
    assert tokens.total_usd == exact and tokens.method == "tokens"
    assert f"{table.total_usd / exact:.3f}" == ratio
    assert any(f"published per-image price would be {table.total_usd}" in n for n in tokens.notes)


def test_mini_quote_states_which_method_it_used():
    table = quote("gpt-image-1-mini", quality="low", width=1024, height=1024)
    tokens = quote("gpt-image-1-mini", quality="low", width=1024, height=1024, method="tokens")
    assert (table.method, table.lines[0].basis) == ("per_image_table", "published per-image price")
    assert any("table / tokens = 2.298" in n for n in table.notes)
    assert tokens.method == "tokens" and tokens.lines[0].basis.startswith("estimate")


# --- §7 worked examples E1-E19 -----------------------------------------------------------------------------


def test_e1_published_edit_usage(cat):
    usage = {
        "input_tokens": 219,
        "output_tokens": 272,
        "total_tokens": 491,
        "input_tokens_details": {"text_tokens": 25, "image_tokens": 194},
    }
    cost = cost_from_usage(usage, rates(cat, "gpt-image-1"))
    assert [ln.amount_usd for ln in cost.lines] == [D("0.000125"), D("0.00194"), D("0.01088")]
    assert cost.total_usd == D("0.012945")


def test_e2_spec_example_usage_without_output_details(cat):
    usage = {
        "input_tokens": 50,
        "output_tokens": 50,
        "total_tokens": 100,
        "input_tokens_details": {"text_tokens": 10, "image_tokens": 40},
    }
    assert cost_from_usage(usage, rates(cat, "gpt-image-1.5")).total_usd == D("0.00197")


def test_e3_reasoning_text_tokens_bill_at_the_text_rate(cat):
    usage = {"output_tokens": 4599, "output_tokens_details": {"image_tokens": 4160, "text_tokens": 439}}
    assert cost_from_usage(usage, rates(cat, "gpt-image-1.5")).total_usd == D("0.13751")


def test_e4_missing_output_details_bill_all_output_as_image(cat):
    cost = cost_from_usage({"output_tokens": 4599}, rates(cat, "gpt-image-1.5"))
    assert cost.total_usd == D("0.147168")


def test_e5_partial_images_add_100_output_tokens_each():
    cost = quote("gpt-image-1", quality="medium", width=1024, height=1024, partial_images=3, method="tokens")
    assert cost.total_usd == D("0.05424")
    (partials,) = [ln for ln in cost.lines if ln.item == "partial image output tokens"]
    assert partials.amount_usd == D("0.012")


def test_e6_batch_landscape_high():
    cost = quote("gpt-image-1", quality="high", width=1536, height=1024, method="tokens", batch=True)
    assert cost.total_usd == D("0.12416")


def test_e7_input_image_estimate_low_fidelity():
    cost = quote(
        "gpt-image-1", mode="edit", quality="low", width=1024, height=1024, input_images=[(1024, 1536)]
    )
    (line,) = [ln for ln in cost.lines if ln.item == "input image tokens"]
    assert (line.quantity, line.amount_usd) == (323, D("0.00323"))
    assert "512x768 -> 2 tiles -> 323" in line.basis


def test_e8_input_image_estimate_high_fidelity():
    cost = quote(
        "gpt-image-1",
        mode="edit",
        quality="low",
        width=1024,
        height=1024,
        input_images=[(1024, 1536)],
        input_fidelity="high",
    )
    inputs = [ln for ln in cost.lines if ln.item.startswith("input image tokens")]
    assert sum(ln.quantity for ln in inputs) == 6563
    assert sum(ln.amount_usd for ln in inputs) == D("0.06563")
    assert "4096 / 6144" in inputs[1].basis  # the older constants are named


def test_e9_mini_table_versus_usage(cat):
    assert quote("gpt-image-1-mini", quality="low", width=1024, height=1024).total_usd == D("0.005")
    assert cost_from_usage({"output_tokens": 272}, rates(cat, "gpt-image-1-mini")).total_usd == D("0.002176")


@pytest.mark.parametrize(
    ("example", "model", "width", "height", "n", "usd"),
    [
        ("E10", "flux-1-dev", 1024, 768, 1, "0.025"),
        ("E11", "flux-1-dev", 1920, 1080, 1, "0.05"),
        ("E12", "flux-1-dev", 1025, 1024, 1, "0.05"),
        ("E13", "flux-1-dev", 1024, 768, 4, "0.10"),
        ("E14", "flux-1-schnell", 1024, 768, 1, "0.003"),
        ("E14", "flux-1-pro", 2048, 2048, 1, "0.20"),
    ],
)
def test_e10_to_e14_fal_megapixels_round_up_per_image(example, model, width, height, n, usd):
    assert quote(model, width=width, height=height, n=n).total_usd == D(usd)
    body = {"images": [{"url": "u", "width": width, "height": height, "content_type": "image/jpeg"}] * n}
    assert cost_from_response(body, model=model, provider="fal").total_usd == D(usd)


def test_e10_flux_default_size_is_landscape_4_3():
    cost = quote("flux-1-dev")
    assert cost.total_usd == D("0.025") and any("1024x768" in n for n in cost.notes)


@pytest.mark.parametrize(
    ("example", "quality", "width", "height", "unrounded", "usd"),
    [("E15", "low", 1024, 1024, "0.0055375", "0.01"), ("E16", "high", 1024, 1536, "0.0525375", "0.06")],
)
def test_e15_e16_fal_mini_edit_tokens_table_and_cent_rounding(
    example, quality, width, height, unrounded, usd
):
    cost = quote(
        "gpt-image-1-mini",
        "fal",
        mode="edit",
        quality=quality,
        width=width,
        height=height,
        prompt_tokens=100,
        input_images=[(1024, 1024)],
    )
    before = sum(ln.amount_usd for ln in cost.lines if ln.method != "rounding")
    assert before == D(unrounded) and cost.total_usd == D(usd)
    assert "approximation of 135" in next(ln for ln in cost.lines if ln.item == "input image tokens").basis


def test_e15_prompt_of_400_characters_is_100_tokens():
    assert count_prompt_tokens("x" * 400) == 100


@pytest.mark.parametrize(
    ("example", "model", "quality", "width", "height", "usd"),
    [("E17", "dall-e-3", "hd", 1792, 1024, "0.12"), ("E18", "dall-e-2", "standard", 512, 512, "0.018")],
)
def test_e17_e18_dall_e_is_exact_not_a_per_pixel_float(example, model, quality, width, height, usd):
    cost = quote(model, quality=quality, width=width, height=height)
    assert cost.total_usd == D(usd) and isinstance(cost.total_usd, D)


def test_e19_same_model_three_prices():
    kw = {"quality": "medium", "width": 1024, "height": 1536}
    assert quote("gpt-image-1.5", "openai", **kw).total_usd == D("0.05")
    assert quote("gpt-image-1.5", "fal", **kw).total_usd == D("0.051")
    assert quote("gpt-image-1.5", "openai", method="tokens", **kw).total_usd == D("0.050688")


# --- input image tokens (§4.1) -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height", "fidelity", "tokens"),
    [
        (1024, 1024, None, 194),
        (1024, 1536, None, 323),
        (1536, 1024, None, 323),
        (1024, 1025, None, 194),  # long side rounded down (CF-1281361)
        (1025, 1024, None, 194),
        (512, 513, None, 323),
        (1024, 1024, "high", 194 + 4160),
        (1024, 1536, "high", 323 + 6240),
    ],
)
def test_tile_rule(cat, width, height, fidelity, tokens):
    assert input_image_tokens(cat.model("gpt-image-1"), width, height, fidelity) == tokens


def test_n_images_bill_the_input_again_for_each_image():
    one = quote(
        "gpt-image-1", mode="edit", quality="low", width=1024, height=1024, input_images=[(1024, 1024)]
    )
    four = quote(
        "gpt-image-1", mode="edit", quality="low", width=1024, height=1024, n=4, input_images=[(1024, 1024)]
    )
    assert four.total_usd == 4 * one.total_usd
    (line,) = [ln for ln in four.lines if ln.item == "input image tokens"]
    assert line.quantity == 4 * 194 and "CF-1381388" in line.basis and line.provenance == "community"


def test_gpt_image_2_edits_assume_high_fidelity():
    cost = quote(
        "gpt-image-2", mode="edit", quality="low", width=1024, height=1024, input_images=[(1024, 1024)]
    )
    (extra,) = [ln for ln in cost.lines if "input_fidelity=high" in ln.item]
    assert extra.quantity == 4160 and extra.provenance == "assumed"


def test_mini_refuses_high_input_fidelity():
    with pytest.raises(InvalidParameterError, match="input_fidelity='high'"):
        quote(
            "gpt-image-1-mini", mode="edit", quality="low", input_images=[(1024, 1024)], input_fidelity="high"
        )


@pytest.mark.parametrize(("text", "tokens"), [("", 0), ("abcd", 1), ("abcde", 2), ("a photo of a cat", 4)])
def test_prompt_token_approximation(text, tokens):
    assert count_prompt_tokens(text) == tokens


def test_prompt_estimate_is_labelled():
    cost = quote("gpt-image-1.5", quality="low", width=1024, height=1024, prompt="a" * 40)
    (line,) = [ln for ln in cost.lines if ln.item == "input text tokens"]
    assert line.quantity == 10 and "ceil(characters / 4)" in line.basis


# --- auto: a range or a refusal, never a guess --------------------------------------------------------------


@pytest.mark.parametrize("quality", [None, "auto"])
def test_auto_quality_is_a_range_not_a_tier(quality):
    cost = quote("gpt-image-1", quality=quality, width=1024, height=1024)
    assert cost.total_usd is None and (cost.low_usd, cost.high_usd) == (D("0.011"), D("0.167"))
    assert "quality 'auto'" in cost.unknown_reason


def test_auto_size_is_a_range():
    cost = quote("gpt-image-1.5", quality="high")
    assert cost.total_usd is None and (cost.low_usd, cost.high_usd) == (D("0.133"), D("0.2"))
    assert "size 'auto'" in cost.unknown_reason


def test_auto_quality_is_refused_for_a_model_without_it():
    with pytest.raises(UnknownNameError, match="quality='auto'"):
        quote("dall-e-3", quality="auto", width=1024, height=1024)


def test_unsupported_quality_names_what_is_allowed():
    with pytest.raises(UnknownNameError, match="allowed: auto, high, low, medium"):
        quote("gpt-image-1", quality="ultra", width=1024, height=1024)


def test_response_echo_wins_over_the_request(cat):
    body = {"created": 1, "data": [{"b64_json": "..."}], "quality": "medium", "size": "1024x1536"}
    cost = cost_from_response(body, model="gpt-image-1", requested_quality="auto", requested_size="auto")
    assert cost.total_usd == D("0.063")


def test_response_without_usage_or_echo_is_a_range_not_zero():
    cost = cost_from_response({"created": 1, "data": [{"b64_json": "..."}]}, model="gpt-image-1-mini")
    assert cost.total_usd is None and cost.method == "unknown"
    assert (cost.low_usd, cost.high_usd) == (D("0.005"), D("0.052"))


# --- unknown is explicit ---------------------------------------------------------------------------------------


def test_explicit_method_without_that_price_raises():
    with pytest.raises(UnknownPriceError, match="no tokens price for dall-e-3"):
        quote("dall-e-3", quality="hd", width=1024, height=1024, method="tokens")


def test_batch_without_a_batch_price_raises():
    with pytest.raises(UnknownPriceError, match="no batch price"):
        quote("flux-1-dev", width=1024, height=768, batch=True)


def test_usage_with_an_unpriced_token_kind_is_unknown(cat):
    usage = {"input_tokens": 10, "input_tokens_details": {"text_tokens": 0, "image_tokens": 10}}
    cost = cost_from_usage(usage, rates(cat, "gpt-image-1.5", "fal"))
    assert cost.total_usd is None and cost.method == "unknown" and "image_in" in cost.unknown_reason


def test_unknown_model_in_a_log_is_unknown_not_zero():
    cost = cost_from_record({"provider": "openai", "model": "gpt-image-9", "images_count": 1})
    assert cost.total_usd is None and cost.method == "unknown" and "gpt-image-9" in cost.unknown_reason


def test_fal_response_without_dimensions_is_unknown():
    cost = cost_from_response({"images": [{"url": "u"}]}, model="flux-1-dev", provider="fal")
    assert cost.total_usd is None and "no dimensions" in cost.unknown_reason


def test_remainder_of_output_tokens_bills_as_text(cat):
    usage = {"output_tokens": 4600, "output_tokens_details": {"image_tokens": 4160, "text_tokens": 439}}
    cost = cost_from_usage(usage, rates(cat, "gpt-image-1.5"))
    assert cost.total_usd == D("0.13752") and any("not itemised" in n for n in cost.notes)


# --- bills from response bodies --------------------------------------------------------------------------------


def test_openai_response_with_usage_is_billed_by_tokens():
    body = {
        "created": 1,
        "data": [{"b64_json": "..."}],
        "quality": "low",
        "size": "1024x1024",
        "usage": {
            "input_tokens": 219,
            "output_tokens": 272,
            "total_tokens": 491,
            "input_tokens_details": {"text_tokens": 25, "image_tokens": 194},
        },
    }
    cost = cost_from_response(body, model="gpt-image-1")
    assert cost.total_usd == D("0.012945") and cost.method == "tokens"
    assert all(ln.basis == "usage" for ln in cost.lines)


def test_gateway_metadata_cost_is_the_bill_and_is_compared():
    body = {
        "id": "req_1",
        "created": 1,
        "data": [{"url": "https://media"}],
        "quality": "low",
        "size": "1024x1024",
        "metadata": {"provider": "openai", "cost": D("0.006"), "cost_currency": "USD"},
    }
    cost = cost_from_response(body, model="gpt-image-1-mini", provider="lumenfall")
    assert cost.total_usd == D("0.006") and cost.method == "gateway_metadata"
    assert any("computed from the catalog: 0.005" in n and "differs by 0.001" in n for n in cost.notes)


def test_gateway_dry_run_micros():
    body = {"estimated": True, "total_cost_micros": 5000, "currency": "USD", "components": []}
    cost = cost_from_response(body, model="gpt-image-1-mini", provider="lumenfall")
    assert cost.total_usd == D("0.005") and cost.method == "gateway_metadata"


def test_fal_gpt_image_response_uses_returned_size_and_requested_quality():
    body = {"images": [{"url": "u", "width": 1024, "height": 1536, "content_type": "image/png"}]}
    cost = cost_from_response(
        body, model="gpt-image-1-mini", provider="fal", requested_quality="high", prompt_tokens=100,
        input_images=[(1024, 1024)],
    )  # fmt: skip
    assert cost.total_usd == D("0.06")  # E16 as a bill


def test_error_response_from_openai_is_not_billed():
    cost = cost_from_response({"error": {"message": "blocked"}}, model="gpt-image-1")
    assert cost.total_usd == 0 and cost.method == "not_billed"


def test_every_amount_is_a_decimal():
    cost = quote("gpt-image-1", mode="edit", quality="high", width=1024, height=1536, n=3,
                 partial_images=2, input_images=[(800, 600)], prompt="cat", batch=True)  # fmt: skip
    for ln in cost.lines:
        assert all(isinstance(v, D) for v in (ln.quantity, ln.rate_usd, ln.amount_usd))
    assert cost.total_usd == sum(ln.amount_usd for ln in cost.lines)


# --- prices by date --------------------------------------------------------------------------------------------


@pytest.fixture
def dated_catalog(tmp_path):
    """A catalog copy where dall-e-3 had a (hypothetical) earlier price schedule ending on 2024-01-01."""
    root = tmp_path / "catalog"
    shutil.copytree(Path(load_catalog().root), root)
    anchor = "      - provenance: published\n        source: [DALLE-CANVAS, DALLE-DISCOVER, LITELLM]\n"
    path = root / "openai.yaml"
    text = path.read_text()
    assert text.count(anchor) == 2
    earlier = (
        "      - provenance: assumed\n        valid_to: 2024-01-01\n        source: [DALLE-CANVAS]\n"
        "        per_image:\n          - {quality: hd, size: 1792x1024, usd: 0.2}\n"
    )
    current = anchor.replace("published\n", "published\n        valid_from: 2024-01-01\n")
    path.write_text(text.replace(anchor, earlier + current, 1))
    return load_catalog(root)


def test_price_in_force_on_the_date(dated_catalog):
    kw = {"quality": "hd", "width": 1792, "height": 1024, "catalog": dated_catalog}
    assert quote("dall-e-3", on=dt.date(2023, 12, 31), **kw).total_usd == D("0.2")
    assert quote("dall-e-3", on=dt.date(2024, 1, 1), **kw).total_usd == D("0.12")


def test_old_log_rows_are_recosted_at_their_dates_price(dated_catalog):
    frame = pl.DataFrame(
        {
            "provider": ["openai"] * 3,
            "model": ["dall-e-3"] * 3,
            "quality": ["hd"] * 3,
            "size": ["1792x1024"] * 3,
            "images_count": [1, 1, 1],
            "started_at": [
                dt.datetime(2023, 6, 1, tzinfo=dt.UTC),
                dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
                None,
            ],
        }
    )
    out = recost(frame, dated_catalog)
    assert out["actual_cost_usd"].to_list() == [D("0.2"), D("0.12"), D("0.12")]
    assert [cost_from_record(r, dated_catalog).total_usd for r in frame.to_dicts()] == [
        D("0.2"),
        D("0.12"),
        D("0.12"),
    ]


# --- vectorised re-costing ---------------------------------------------------------------------------------------

_T = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
_LOG_ROWS = [
    # usage rows (OpenAI), including reasoning text and a gateway row whose bill is kept
    {"provider": "openai", "model": "gpt-image-1", "input_text_tokens": 25, "input_image_tokens": 194,
     "output_image_tokens": 272, "output_text_tokens": 0, "images_count": 1},
    {"provider": "openai", "model": "gpt-image-1.5", "output_image_tokens": 4160, "output_text_tokens": 439},
    {"provider": "lumenfall", "model": "gpt-image-1-mini", "cost_method": "gateway_metadata",
     "actual_cost_usd": D("0.0061"), "quality": "low", "size": "1024x1024", "images_count": 1},
    {"provider": "lumenfall", "model": "gpt-image-1-mini", "output_image_tokens": 272, "images_count": 1},
    # no usage: tables, token estimate, per-megapixel, rounding, ranges, partials
    {"provider": "openai", "model": "dall-e-3", "quality": "hd", "size": "1792x1024", "images_count": 1},
    {"provider": "openai", "model": "dall-e-3", "size": "1024x1024", "images_count": 1},  # quality not known
    {"provider": "openai", "model": "gpt-image-1-mini", "quality": "high", "width": 1024, "height": 1536,
     "images_count": 2, "partial_images": 3},
    {"provider": "openai", "model": "gpt-image-2", "quality": "high", "size": "2048x1152", "images_count": 1},
    {"provider": "openai", "model": "gpt-image-1", "quality": None, "size": "1024x1024", "images_count": 1},
    {"provider": "fal", "model": "flux-1-dev", "width": 1920, "height": 1080, "images_count": 4},
    {"provider": "fal", "model": "flux-1-dev", "size": "1025x1024", "n": 1},
    {"provider": "fal", "model": "flux-1-dev", "quality": "high", "size": "auto", "images_count": 1},
    {"provider": "fal", "model": "flux-1.1-pro", "size": "1024x768", "images_count": 3},
    {"provider": "fal", "model": "gpt-image-1-mini", "quality": "low", "size": "1024x1024", "images_count": 1},
    {"provider": "fal", "model": "gpt-image-1.5", "quality": "medium", "size": "1024x1536", "images_count": 2},
    # failed attempts and unknowns
    {"provider": "openai", "model": "gpt-image-1", "outcome": "rate_limit", "images_count": 0},
    {"provider": "openai", "model": "gpt-image-9", "quality": "low", "size": "1024x1024", "images_count": 1},
    {"provider": "fal", "model": "flux-1-dev", "images_count": 1},
]  # fmt: skip


def _log_frame() -> pl.DataFrame:
    rows = [{"started_at": _T, "outcome": "ok", **r} for r in _LOG_ROWS]
    schema = {
        "provider": pl.String, "model": pl.String, "quality": pl.String, "size": pl.String,
        "width": pl.Int32, "height": pl.Int32, "n": pl.Int32, "images_count": pl.Int32,
        "partial_images": pl.Int32, "outcome": pl.String, "started_at": pl.Datetime("us", "UTC"),
        "input_text_tokens": pl.Int64, "input_image_tokens": pl.Int64, "output_image_tokens": pl.Int64,
        "output_text_tokens": pl.Int64, "cost_method": pl.String, "actual_cost_usd": MONEY,
    }  # fmt: skip
    return pl.DataFrame(rows, schema=schema)


def test_recost_equals_the_per_row_function_case_by_case():
    frame = _log_frame()
    out = recost(frame)
    expected = [cost_from_record(r) for r in frame.to_dicts()]
    assert out.select("actual_cost_usd", "cost_method").rows() == [(c.total_usd, c.method) for c in expected]
    assert out.schema["actual_cost_usd"] == MONEY


def test_recost_figures():
    got = recost(_log_frame())["actual_cost_usd"].to_list()
    assert got[:2] == [D("0.012945"), D("0.13751")]  # E1, E3
    assert got[2] == D("0.0061")  # the gateway's logged bill is kept
    assert got[4] == D("0.12")  # E17
    assert got[6] == 2 * (D("0.052") + 300 * D("8") / 10**6)  # table + 3 partial images x 100 tokens
    assert got[9:11] == [D("0.2"), D("0.05")]  # 4 x 2 MP (E11); E12
    assert got[13] == D("0.01")  # fal request total rounded up to the cent
    assert got[15] == 0


def test_recost_marks_what_it_cannot_price():
    out = recost(_log_frame())
    methods = out["cost_method"].to_list()
    unknown = [i for i, m in enumerate(methods) if m == "unknown"]
    # quality not logged, quality auto, size auto, unknown model, no size at all
    assert unknown == [5, 8, 11, 16, 17]
    assert out["actual_cost_usd"].gather(unknown).null_count() == 5
    assert methods[15] == "not_billed"


@pytest.mark.parametrize("logged_quality", ["auto", None, ""])
def test_a_dalle_row_without_a_known_quality_is_a_range_never_the_standard_price(logged_quality):
    # published (PRICING.md): dall-e-3 1024x1792 standard $0.080, hd $0.120 per image; n=5 -> $0.40 or $0.60
    row = {
        "provider": "openai",
        "model": "dall-e-3",
        "quality": logged_quality,
        "size": "1024x1792",
        "n": 5,
        "images_count": 5,
        "outcome": "ok",
        "started_at": _T,
    }
    with pytest.raises(UnknownNameError):  # quote refuses auto for dall-e-3 ...
        quote("dall-e-3", quality="auto", width=1024, height=1792, n=5)
    cost = cost_from_record(row)  # ... and the bill of an auto row is not the lowest tier either
    assert (cost.total_usd, cost.method) == (None, "unknown")
    assert (cost.low_usd, cost.high_usd) == (D("0.40"), D("0.60"))
    frame = pl.DataFrame([row], schema={**{k: pl.String for k in ("provider", "model", "quality", "size",
                                                                  "outcome")},
                                        "n": pl.Int32, "images_count": pl.Int32,
                                        "started_at": pl.Datetime("us", "UTC")})  # fmt: skip
    out = recost(frame)
    assert out.select("actual_cost_usd", "cost_method").row(0) == (None, "unknown")
    # an echoed quality is a bill
    assert cost_from_record({**row, "quality": "hd"}).total_usd == D("0.60")
    assert recost(frame.with_columns(quality=pl.lit("standard")))["actual_cost_usd"][0] == D("0.40")


def test_recost_keeps_lazy_frames_lazy_and_tolerates_missing_columns():
    lazy = pl.LazyFrame({"provider": ["fal"], "model": ["flux-1-schnell"], "size": ["1024x768"], "n": [2]})
    out = recost(lazy)
    assert isinstance(out, pl.LazyFrame)
    assert out.collect().row(0, named=True)["actual_cost_usd"] == D("0.006")


def test_recost_equals_the_loop_on_a_synthetic_log(repo_dir):
    spec = importlib.util.spec_from_file_location("bench_recost", repo_dir / "bench" / "bench_recost.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.main(rows=3000, loop_rows=3000, repeats=1)
    assert result["mismatches"] == 0 and result["loop_rows"] == 3000
    assert {"tokens", "per_image_table", "per_megapixel", "gateway_metadata", "not_billed"} <= set(
        result["methods"]
    )


# --- command line ------------------------------------------------------------------------------------------------


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    from imgkit.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_models_json_lists_cheapest_published_price(capsys):
    code, out, _ = run_cli(capsys, "models", "--json")
    models = {m["id"]: m for m in json.loads(out)["models"]}
    assert code == 0
    assert models["gpt-image-1-mini"]["cheapest_per_image_usd"] == "0.005"
    assert models["flux-1-dev"]["per_megapixel_usd"] == {"fal": "0.025"}
    assert models["dall-e-3"]["status"] == "retired" and models["dall-e-3"]["status_date"] == "2026-05-12"


def test_cli_models_filters_by_provider(capsys):
    _, out, _ = run_cli(capsys, "models", "--provider", "lumenfall", "--json")
    assert [m["id"] for m in json.loads(out)["models"]] == ["gpt-image-1-mini", "gemini-3-pro-image"]


def test_cli_cost_of_a_saved_response(capsys, tmp_path):
    path = tmp_path / "response.json"
    path.write_text(
        '{"created": 1, "data": [{"b64_json": "..."}], "quality": "low", "size": "1024x1024",'
        ' "usage": {"input_tokens": 219, "output_tokens": 272, "total_tokens": 491,'
        ' "input_tokens_details": {"text_tokens": 25, "image_tokens": 194}}}'
    )
    code, out, _ = run_cli(capsys, "cost", str(path), "--model", "gpt-image-1", "--json")
    result = json.loads(out)
    assert code == 0 and result["total_usd"] == "0.012945" and result["method"] == "tokens"
    assert [ln["amount_usd"] for ln in result["lines"]] == ["0.000125", "0.00194", "0.01088"]


def test_cli_cost_keeps_gateway_money_exact(capsys, tmp_path):
    path = tmp_path / "gateway.json"
    path.write_text('{"created": 1, "data": [], "metadata": {"cost": 0.1, "cost_currency": "USD"}}')
    _, out, _ = run_cli(
        capsys, "cost", str(path), "--model", "gpt-image-1-mini", "--provider", "lumenfall", "--json"
    )
    assert json.loads(out)["total_usd"] == "0.1"


def test_cli_cost_table_output(capsys, tmp_path):
    path = tmp_path / "dalle.json"
    path.write_text('{"created": 1, "data": [{"url": "https://x"}], "size": "1792x1024"}')
    code, out, _ = run_cli(capsys, "cost", str(path), "--model", "dall-e-3", "--quality", "hd")
    assert code == 0 and "total_usd: 0.12" in out and "published per-image price" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("cost", "{missing}", "--model", "dall-e-3"), "RESPONSE="),
        (("cost", "{notjson}", "--model", "dall-e-3"), "notjson.json: line 1, column 2: not JSON"),
        (("cost", "{dalle}", "--model", "dall-e-4"), "did you mean dall-e-3"),
        (("cost", "{dalle}", "--model", "dall-e-3", "--on", "yesterday"), "on='yesterday'"),
        (("models", "--provider", "openia"), "did you mean openai"),
    ],
)
def test_cli_errors_are_one_line_and_exit_2(capsys, tmp_path, argv, message):
    (tmp_path / "notjson.json").write_text("{nope")
    (tmp_path / "dalle.json").write_text('{"created": 1, "data": [{"url": "x"}], "size": "1024x1024"}')
    names = {k: str(tmp_path / f"{k}.json") for k in ("missing", "notjson", "dalle")}
    code, out, err = run_cli(capsys, *(a.format(**names) for a in argv))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("imgkit: error: ") and message in err


def test_quote_request_prices_what_params_resolved():
    from imgkit.params import ImageRequest, resolve

    resolved = resolve(
        ImageRequest(model="gpt-image-1.5", quality="medium", aspect_ratio="2:3", resolution="1K")
    )
    cost = quote_request(resolved.priced())
    assert (resolved.width, resolved.height) == (1024, 1536) and cost.total_usd == D("0.05")  # E19


def test_quote_request_prices_the_objects_it_is_handed_without_a_second_look_up(cat):
    from imgkit.params import resolve_priced

    request = resolve_priced(
        "gpt-image-1-mini", "openai", quality="low", width=1024, height=1024, catalog=cat
    )
    assert quote_request(request).total_usd == D("0.005")  # PRICING.md §3.1
    price = request.offering.prices[0]
    rows = tuple(
        r.model_copy(update={"usd": D("0.007")}) if r.usd == D("0.005") else r for r in price.per_image
    )
    edited = request.offering.model_copy(update={"prices": (price.model_copy(update={"per_image": rows}),)})
    cost = quote_request(dataclasses.replace(request, offering=edited))
    assert cost.total_usd == D("0.007")  # the offering handed in, not the catalog's


@pytest.mark.parametrize(
    "model", ["gpt-image-1", "gpt-image-1-mini", "gpt-image-2", "dall-e-3", "flux-1-dev"]
)
def test_one_quality_rule_for_requests_quotes_and_bills(cat, model):
    from imgkit.params import ImageRequest, resolve, resolve_priced

    provider = cat.providers_for(model)[0]
    for quality in (None, "auto", *cat.model(model).qualities, "hd", "ultra"):
        try:
            expected = resolve(ImageRequest(model, "a cat", provider=provider, quality=quality), cat).quality
        except InvalidParameterError:
            with pytest.raises(InvalidParameterError):
                resolve_priced(model, provider, quality=quality, catalog=cat)
        else:
            assert resolve_priced(model, provider, quality=quality, catalog=cat).quality == expected


def test_a_bill_of_a_priced_request_is_the_bill_from_names(cat):
    from imgkit.params import resolve_priced

    request = resolve_priced(
        "gpt-image-1", "fal", mode="edit", quality="low", width=1024, height=1024,
        input_images=[(1024, 1536)], prompt="a" * 40, catalog=cat,
    )  # fmt: skip
    body = {"images": [{"url": "u", "width": 1024, "height": 1024, "content_type": "image/png"}]}
    by_names = cost_from_response(
        body, model="gpt-image-1", provider="fal", requested_quality="low", requested_size="1024x1024",
        prompt_tokens=10, input_images=[(1024, 1536)], catalog=cat,
    )  # fmt: skip
    assert bill_response(body, request) == by_names and by_names.total_usd is not None
    assert any(ln.item == "input text tokens" for ln in by_names.lines)  # fal reports no usage: estimated


def test_cli_quote_json(capsys):
    code, out, _ = run_cli(capsys, "quote", "--on", "2026-05-01", "gpt-image-1.5", "--provider", "fal", "--quality", "medium",
                           "--size", "1024x1536", "--json")  # fmt: skip
    result = json.loads(out)
    assert code == 0 and result["total_usd"] == "0.051" and result["method"] == "per_image_table"  # E19
    assert result["lines"][0]["basis"] == "published per-image price"
    assert (result["width"], result["height"], result["provider"]) == (1024, 1536, "fal")


def test_cli_quote_edit_counts_the_real_input_image(capsys, tmp_path):
    from PIL import Image

    path = tmp_path / "input.png"
    Image.new("RGB", (1024, 1536), "white").save(path)
    code, out, _ = run_cli(capsys, "quote", "--on", "2026-05-01", "gpt-image-1", "--quality", "low", "--size", "1024x1024",
                           "--input-image", str(path), "--input-fidelity", "high", "--json")  # fmt: skip
    result = json.loads(out)
    inputs = [ln for ln in result["lines"] if ln["item"].startswith("input image tokens")]
    assert code == 0 and sum(D(ln["amount_usd"]) for ln in inputs) == D("0.06563")  # E8


def test_cli_quote_auto_gives_a_range(capsys):
    code, out, _ = run_cli(capsys, "quote", "--on", "2026-05-01", "gpt-image-1-mini", "--json")
    result = json.loads(out)
    assert code == 0 and result["total_usd"] is None
    assert (result["low_usd"], result["high_usd"]) == ("0.005", "0.052") and "auto" in result[
        "unknown_reason"
    ]


def test_cli_quote_table_output(capsys):
    code, out, _ = run_cli(
        capsys, "quote", "--on", "2026-05-01", "flux-1-dev", "--size", "1920x1088", "--n", "4"
    )
    assert code == 0 and "total_usd: 0.2" in out and "= 2 MP" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("quote", "gpt-image-9"), "did you mean"),
        (("quote", "gpt-image-1", "--size", "1024x1024x3"), "size='1024x1024x3'"),
        (
            ("quote", "--on", "2026-05-01", "dall-e-3", "--quality", "hd", "--method", "tokens"),
            "no tokens price for dall-e-3",
        ),
        (("quote", "gpt-image-1", "--input-image", "{missing}"), "input_image="),
        (("quote", "gpt-image-1", "--quality", "low"), "gpt-image-1 at openai: shut down on 2026-10-23"),
    ],
)
def test_cli_quote_errors_are_one_line_and_exit_2(capsys, tmp_path, argv, message):
    code, out, err = run_cli(capsys, *(a.format(missing=str(tmp_path / "none.png")) for a in argv))
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err


# --- where a figure comes from ---------------------------------------------------------------------------------


def test_a_quote_names_the_sources_of_the_price_it_used(cat):
    cost = quote("gpt-image-1-mini", "openai", quality="low", width=1024, height=1024, catalog=cat)
    price = cat.price("gpt-image-1-mini", "openai")
    assert cost.total_usd == D("0.005") and cost.sources == price.source
    assert all(tag in cat.sources for tag in cost.sources)


def test_token_math_adds_the_models_published_token_counts_to_the_sources(cat):
    cost = quote(
        "gpt-image-1-mini", "openai", quality="low", width=1024, height=1024, method="tokens", catalog=cat
    )
    output_tokens = cat.model("gpt-image-1-mini").output_tokens
    assert output_tokens.source and set(output_tokens.source) <= set(cost.sources)
    assert len(cost.sources) == len(set(cost.sources))  # each once


def test_batch_and_rounding_add_their_own_sources(cat):
    batch = quote("gpt-image-1.5", "openai", quality="low", width=1024, height=1024, batch=True, catalog=cat)
    assert "OAI-BATCH-TWEET" in batch.sources  # the secondary source of the batch rate stays visible
    assert (
        "OAI-BATCH-TWEET"
        not in quote("gpt-image-1.5", "openai", quality="low", width=1024, height=1024, catalog=cat).sources
    )
    fal = quote(
        "gpt-image-1-mini",
        "fal",
        mode="edit",
        quality="low",
        width=1024,
        height=1024,
        input_images=[(1024, 1024)],
        catalog=cat,
    )
    price = cat.price("gpt-image-1-mini", "fal")
    assert price.rounding.source and set(price.rounding.source) <= set(fal.sources)


def test_a_range_and_a_bill_from_usage_carry_sources_and_a_gateway_charge_none(cat):
    auto = quote("gpt-image-1-mini", "openai", quality="auto", width=1024, height=1024, catalog=cat)
    assert auto.total_usd is None and auto.sources
    usage = {"input_tokens": 25, "output_tokens": 272, "input_tokens_details": {"text_tokens": 25}}
    bill = cost_from_response({"data": [{}], "usage": usage}, model="gpt-image-1", catalog=cat)
    assert bill.total_usd is not None and bill.sources[: len(cat.price("gpt-image-1", "openai").source)]
    gateway = cost_from_response(
        {"data": [], "metadata": {"cost": 0.1}}, model="gpt-image-1-mini", provider="lumenfall", catalog=cat
    )
    assert gateway.method == "gateway_metadata" and gateway.sources == ()  # measured: the gateway's own bill


def test_source_records_flag_a_source_checked_more_than_the_stale_limit_ago(cat):
    from imgkit.catalog import STALE_AFTER_DAYS

    checked = cat.sources["OAI-PRICING"].checked
    fresh = cat.source_records(["OAI-PRICING", "NO-SUCH-TAG"], today=checked + dt.timedelta(STALE_AFTER_DAYS))
    stale = cat.source_records(["OAI-PRICING"], today=checked + dt.timedelta(STALE_AFTER_DAYS + 1))
    assert [(r["tag"], r["age_days"], r["stale"]) for r in fresh] == [
        ("OAI-PRICING", STALE_AFTER_DAYS, False)
    ]
    assert stale[0]["stale"] and stale[0]["url"].startswith("https://")


def test_cli_quote_prints_and_returns_its_sources(capsys):
    code, out, _ = run_cli(
        capsys, "quote", "--on", "2026-05-01", "gpt-image-1-mini", "--quality", "low", "--size", "1024x1024"
    )
    assert code == 0 and "source (primary): OpenAI API pricing page (checked 20" in out
    code, out, _ = run_cli(
        capsys,
        "quote",
        "--on",
        "2026-05-01",
        "gpt-image-1-mini",
        "--quality",
        "low",
        "--size",
        "1024x1024",
        "--json",
    )
    first = json.loads(out)["sources"][0]
    assert first["tag"] == "OAI-PRICING" and set(first) == {
        "tag",
        "title",
        "url",
        "mark",
        "checked",
        "seen",
        "age_days",
        "stale",
    }
