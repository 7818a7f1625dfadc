"""The price-comparison report prices every offering both ways and keeps each figure's provenance."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from imgkit.cli import main
from imgkit.price_table import price_table, write_price_report

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
    assert (tmp_path / "b" / "prices.csv").read_text().startswith("provider,model,")
