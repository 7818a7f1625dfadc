"""The price-comparison report prices every offering both ways and keeps each figure's provenance."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pytest

from imgkit.cli import main
from imgkit.price_table import cheapest_routes, price_table, write_price_report

#: a day every model of PRICING.md was offered (DALL-E was shut down on 2026-05-12, gpt-image-1 on 2026-10-23,
#: gpt-image-1-mini and gpt-image-1.5 on 2026-12-01): a retired offering has no price row after its shutdown
PRICED_ON = dt.date(2026, 5, 1)


@pytest.fixture(scope="module")
def table():
    return price_table(on=PRICED_ON)


def _row(table, provider, model, quality, size):
    rows = [
        r
        for r in table.iter_rows(named=True)
        if (r["provider"], r["model"], r["quality"], r["size"]) == (provider, model, quality, size)
    ]
    assert len(rows) == 1
    return rows[0]


@pytest.mark.parametrize(
    ("provider", "model", "quality", "size", "request_usd", "published", "tokens", "ratio"),
    [
        ("openai", "gpt-image-1-mini", "low", "1024x1024", "0.005", "0.005", "0.002176", "2.298"),
        ("openai", "gpt-image-1", "high", "1536x1024", "0.25", "0.25", "0.24832", "1.007"),
        ("openai", "gpt-image-1.5", "medium", "1024x1536", "0.05", "0.05", "0.050688", "0.986"),
        ("openai", "dall-e-3", "hd", "1792x1024", "0.12", "0.12", None, None),
        ("fal", "flux-1-dev", "", "1024x768", "0.025", None, None, None),
        ("fal", "gpt-image-1.5", "medium", "1024x1536", "0.051", "0.051", None, None),
    ],
)
def test_rows_match_the_pricing_reference(
    table, provider, model, quality, size, request_usd, published, tokens, ratio
):
    r = _row(table, provider, model, quality, size)
    as_dec = lambda v: None if v is None else Decimal(v)  # noqa: E731
    assert r["request_usd"] == as_dec(request_usd)
    assert r["published_usd"] == as_dec(published)
    assert r["token_math_usd"] == as_dec(tokens)
    assert r["table_over_tokens"] == as_dec(ratio)


def test_assumed_token_tables_are_labelled(table):
    assert _row(table, "openai", "gpt-image-2", "high", "1024x1024")["token_math_kind"] == "assumed"
    assert _row(table, "openai", "gpt-image-1", "high", "1024x1024")["token_math_kind"] == "derived"


def test_every_offering_appears(table):
    from imgkit.catalog import load_catalog

    assert {(r["provider"], r["model"]) for r in table.iter_rows(named=True)} == set(load_catalog().offerings)


def test_report_files_and_cli(tmp_path, capsys):
    paths = write_price_report(tmp_path / "a", on=dt.date(2026, 6, 15))  # after OpenAI's notice of 2026-06-02
    md = paths["markdown"].read_text()
    assert (
        "| openai | gpt-image-1-mini | deprecated | low | 1024x1024 | 0.005 | per_image_table | 0.005 | 0.002176 | derived | 2.298 |"
        in md
    )
    assert "checked 2026-11-24" in md
    assert main(["prices", "--out", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "prices.csv").read_text().startswith("vendor,unit,provider,model,")


def test_the_report_groups_by_vendor_and_unit_and_names_the_cheapest_route(tmp_path):
    md = write_price_report(tmp_path, on=dt.date(2026, 12, 6))["markdown"].read_text()
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert "## Google" in headings and "### per image by resolution tier (and tokens)" in headings
    assert "## Black Forest Labs" in headings and "### first + additional megapixels" in headings
    assert "### credits per image" in headings and "## Cheapest route per model" in headings
    # BFL's unpublished rounding is a range in the table, never a guess (BFL-SKILL-172)
    assert "| bfl | flux-2-pro | active |  | 1024x1024 | 0.03072864 .. 0.045 | per_megapixel |" in md
    # gpt-image-1-mini was shut down on 2026-12-01 (OAI-DEPRECATIONS): listed, not priced, never the cheapest
    assert "| openai | gpt-image-1-mini | retired | low | 1024x1024 | - |" in md


@pytest.fixture(scope="module")
def today():
    return price_table(on=dt.date(2026, 12, 6))


@pytest.mark.parametrize(
    ("model", "quality", "provider", "usd", "routes"),
    [
        (
            "flux-1-schnell",
            "",
            "together",
            "0.0027",
            3,
        ),  # WORKFLOWLAB-TOGETHER against fal and Replicate ($0.003)
        (
            "gemini-3-pro-image",
            "",
            "gemini-api",
            "0.134",
            4,
        ),  # PORTKEY-807; fal $0.15; Vertex and the gateway tie
        ("gemini-2.5-flash-image", "", "fal", "0.039", 1),  # the Gemini API shut it down on 2026-10-02
        ("flux-2-pro", "", "fal", "0.03", 2),  # BFL's range 0.0307..0.045 competes with its high end
        ("sd-3.5-medium", "", "fal", "0.02", 2),  # FAL-SD35M-LLMS against Stability's 3.5 credits
        ("ideogram-3", "high", "fal", "0.09", 1),
    ],
)
def test_cheapest_routes(today, model, quality, provider, usd, routes):
    found = cheapest_routes(today).filter((pl.col("model") == model) & (pl.col("quality") == quality))
    row = found.row(0, named=True)
    assert (row["provider"], row["request_usd"], row["routes"]) == (provider, Decimal(usd), routes)


def test_a_retired_offering_keeps_its_rows_without_a_price(today):
    rows = today.filter((pl.col("model") == "imagen-4") & (pl.col("provider") == "gemini-api"))
    assert set(rows["status"]) == {"retired"} and rows["request_usd"].null_count() == rows.height
    assert set(rows["status_date"]) == {dt.date(2026, 8, 17)}


@pytest.mark.parametrize(
    ("provider", "model", "unit"),
    [
        ("openai", "gpt-image-2", "tokens"),
        ("openai", "gpt-image-1.5", "per image by quality x size (and tokens)"),
        ("gemini-api", "gemini-3.1-flash-image", "per image by resolution tier (and tokens)"),
        ("fal", "gemini-3.1-flash-image", "per image by resolution tier + add-ons"),
        ("bfl", "flux-2-pro", "first + additional megapixels"),
        ("replicate", "flux-2-max", "fee + megapixels"),
        ("fal", "ideogram-3", "per image by quality"),
        ("fal", "ideogram-4", "per megapixel by quality + add-ons"),
        ("stability", "sd-3.5-large", "credits per image"),
        ("fal", "seedream-4.5", "per image"),
    ],
)
def test_each_offering_names_its_billing_unit(today, provider, model, unit):
    rows = today.filter((pl.col("provider") == provider) & (pl.col("model") == model))
    assert set(rows["unit"]) == {unit}


def test_cli_prices_prints_groups_and_routes(capsys):
    assert main(["prices"]) == 0
    out = capsys.readouterr().out
    assert "Google: per image by resolution tier (and tokens)" in out
    assert "cheapest route per model" in out
