"""The catalog loads, validates, and holds the published figures of the pricing reference exactly."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from imgkit.catalog import load_catalog, load_yaml
from imgkit.errors import CatalogError, UnknownNameError, UnknownPriceError
from imgkit.provenance import Provenance


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def test_every_required_model_is_present(cat):
    for m in (
        "gpt-image-1-mini",
        "gpt-image-1.5",
        "gpt-image-2",
        "gpt-image-1",
        "dall-e-3",
        "dall-e-2",
        "flux-1-dev",
        "flux-1-schnell",
        "flux-1-pro",
        "flux-1.1-pro",
    ):
        assert m in cat.models


@pytest.mark.parametrize(
    ("model", "provider", "on", "state", "date", "first_replacement", "source"),
    [
        ("gpt-image-1", "openai", dt.date(2026, 12, 6), "retired", dt.date(2026, 10, 23), "gpt-image-2.5-sunburst", "OAI-GI1-PAGE"),
        ("gpt-image-1", "openai", dt.date(2026, 10, 22), "deprecated", dt.date(2026, 10, 23), "gpt-image-2.5-sunburst", "OAI-GI1-PAGE"),
        ("dall-e-3", "openai", dt.date(2026, 5, 12), "retired", dt.date(2026, 5, 12), "gpt-image-2.5-sunburst", "OAI-DALLE3-PAGE"),
        ("dall-e-2", "openai", dt.date(2026, 6, 1), "retired", dt.date(2026, 5, 12), "gpt-image-1-mini", "OAI-PY"),
        ("gpt-image-1-mini", "openai", dt.date(2026, 12, 1), "retired", dt.date(2026, 12, 1), "gpt-image-2.6-sunburst", "OAI-DEPRECATIONS"),
        ("gpt-image-1-mini", "openai", dt.date(2026, 11, 30), "deprecated", dt.date(2026, 12, 1), "gpt-image-2.6-sunburst", "OAI-DEPRECATIONS"),
        ("gpt-image-1.5", "fal", dt.date(2026, 12, 6), "retired", dt.date(2026, 12, 1), "gpt-image-2.6-sunburst", "OAI-DEPRECATIONS"),
        ("gemini-2.5-flash-image", "gemini-api", dt.date(2026, 12, 6), "retired", dt.date(2026, 10, 2), "gemini-3.1-flash-image-preview", "GEMINI-DEPRECATIONS"),
        ("imagen-4-ultra", "vertex-ai", dt.date(2026, 7, 1), "deprecated", dt.date(2026, 8, 17), "gemini-3-pro-image", "FIREBASE-IMAGEN-MIGRATION"),
        ("imagen-4", "gemini-api", dt.date(2026, 8, 17), "retired", dt.date(2026, 8, 17), "gemini-3.1-flash-image", "FIREBASE-IMAGEN-MIGRATION"),
        ("gpt-image-2", "openai", dt.date(2026, 12, 6), "active", None, None, None),
        ("gemini-3-pro-image", "gemini-api", dt.date(2026, 12, 6), "active", None, None, None),
    ],
)  # fmt: skip
def test_lifecycle_on_a_date(cat, model, provider, on, state, date, first_replacement, source):
    """Each offering's lifecycle comes from its dated events, each with a source (the tag named here)."""
    lc = cat.lifecycle(model, provider, on)
    assert (lc.state, lc.date) == (state, date)
    assert (lc.replacement[0] if lc.replacement else None) == first_replacement
    assert source is None or source in lc.sources


@pytest.mark.parametrize(
    ("model", "rates"),
    [
        ("gpt-image-1", ("5.00", "1.25", "10.00", "2.50", "40.00", None)),
        ("gpt-image-1-mini", ("2.00", "0.20", "2.50", "0.25", "8.00", None)),
        ("gpt-image-1.5", ("5.00", "1.25", "8.00", "2.00", "32.00", "10.00")),
        ("gpt-image-2", ("5.00", "1.25", "8.00", "2.00", "30.00", None)),
    ],
)
def test_openai_token_rates_per_million(cat, model, rates):
    t = cat.price(model, "openai").tokens
    got = (t.text_in, t.cached_text_in, t.image_in, t.cached_image_in, t.image_out, t.text_out)
    assert got == tuple(None if r is None else Decimal(r) for r in rates)


def test_money_is_never_a_binary_float(cat):
    for off in cat.offerings.values():
        for price in off.prices:
            for row in price.per_image:
                assert type(row.usd) is Decimal
    assert cat.price("dall-e-3", "openai").per_image[4].usd == Decimal("0.120")


def test_output_token_table_matches_the_guide(cat):
    table = cat.model("gpt-image-1").output_tokens.per_image
    assert table == {
        "low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
        "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
        "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208},
    }
    assert cat.model("gpt-image-2").output_tokens.provenance == Provenance.ASSUMED


def test_disputed_facts_keep_both_values(cat):
    extras = cat.model("gpt-image-1").input_image_tokens.fidelity_high_extra
    assert {(e.square, e.other, e.current) for e in extras} == {(4160, 6240, True), (4096, 6144, False)}
    assert any("input_fidelity disputed" in n for n in cat.model("gpt-image-1-mini").notes)
    assert any("unverified" in n for n in cat.price("gpt-image-1", "fal").notes)


def test_fal_rounding_is_data(cat):
    assert cat.price("gpt-image-1-mini", "fal").rounding.mode == "ceil"
    assert cat.price("gpt-image-1-mini", "fal").rounding.quantum == Decimal("0.01")
    assert cat.price("flux-1-dev", "fal").per_megapixel_usd == Decimal("0.025")
    assert cat.price("flux-1-dev", "fal").megapixel_px == 1_048_576


def test_every_price_cites_resolvable_dated_sources(cat):
    for (provider, model), off in cat.offerings.items():
        for price in off.prices:
            assert price.source, (provider, model)
            for tag in price.source:
                assert isinstance(cat.source(tag).checked, dt.date)


def test_each_provider_says_what_it_does_with_an_unsupported_size(cat):
    """Direct APIs refuse a WxH the model lacks; the gateway converts it (its page: size is "converted")."""
    assert {p.id: p.unsupported_size for p in cat.providers.values()} == {
        "openai": "refuse",
        "gemini-api": "refuse",
        "vertex-ai": "refuse",
        "bfl": "refuse",
        "fal": "refuse",
        "replicate": "refuse",
        "together": "refuse",
        "stability": "refuse",
        "lumenfall": "nearest",
    }


def test_unknown_names_suggest_close_matches(cat):
    with pytest.raises(UnknownNameError, match="did you mean gpt-image-1-mini"):
        cat.model("gpt-image-1-mni")
    with pytest.raises(UnknownNameError, match="provider='fal' is not allowed for model dall-e-3"):
        cat.offering("dall-e-3", "fal")


def test_price_outside_its_window_is_an_explicit_error(tmp_path):
    root = _copy_catalog(tmp_path)
    text = (
        (root / "openai.yaml")
        .read_text()
        .replace(
            "      - provenance: published\n        source: [DALLE-CANVAS",
            "      - provenance: published\n        valid_from: 2024-01-01\n        source: [DALLE-CANVAS",
            1,
        )
    )
    (root / "openai.yaml").write_text(text)
    cat = load_catalog(root)
    assert cat.price("dall-e-3", "openai", on=dt.date(2024, 3, 1)).per_image
    with pytest.raises(UnknownPriceError, match="no price for dall-e-3 at openai on 2023-06-01"):
        cat.price("dall-e-3", "openai", on=dt.date(2023, 6, 1))


def _copy_catalog(tmp_path: Path) -> Path:
    root = tmp_path / "catalog"
    shutil.copytree(Path(load_catalog().root), root)
    return root


@pytest.mark.parametrize(
    ("old", "new", "key_path", "problem"),
    [
        (
            "per_megapixel_usd: 0.025",
            "per_megapixel_usd: -0.025",
            "offerings[0].prices[0].per_megapixel_usd",
            "greater than or equal to 0",
        ),
        ("adapter: fal", "adapter: grpc", "provider.adapter", "Input should be 'openai', 'fal', 'gemini'"),
        (
            "  unsupported_size: refuse  # a 422 on image_size (FAL-JS schemas)\n",
            "",
            "provider.unsupported_size",
            "Field required",
        ),
        (
            "unsupported_size: refuse",
            "unsupported_size: round",
            "provider.unsupported_size",
            "'refuse' or 'nearest'",
        ),
        (
            "    modes: [generate]\n    endpoint: {generate: fal-ai/flux/dev}",
            "    modes: [generate]\n    colour: blue\n    endpoint: {generate: fal-ai/flux/dev}",
            "offerings[0].colour",
            "Extra inputs are not permitted",
        ),
        (
            "source: [FAL-PAGES-2026-03, FAL-PRICING-DOC]\n        per_megapixel_usd: 0.003",
            "source: [NOPE]\n        per_megapixel_usd: 0.003",
            "offerings[1].prices[0].source",
            "unknown source tag 'NOPE'",
        ),
    ],
)
def test_malformed_file_names_file_key_path_and_problem(tmp_path, old, new, key_path, problem):
    root = _copy_catalog(tmp_path)
    path = root / "fal.yaml"
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new, 1))
    with pytest.raises(CatalogError) as exc:
        load_catalog(root)
    assert exc.value.file == str(path) and exc.value.key_path == key_path and problem in exc.value.problem


def test_yaml_syntax_error_gives_line(tmp_path):
    root = _copy_catalog(tmp_path)
    (root / "fal.yaml").write_text("provider: [unclosed\n")
    with pytest.raises(CatalogError, match=r"fal.yaml: line 2, column 1: YAML syntax"):
        load_catalog(root)


def test_yaml_floats_load_as_exact_decimals(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("a: 0.119991\nb: 2.384185791015625e-08\n")
    assert load_yaml(p) == {"a": Decimal("0.119991"), "b": Decimal("2.384185791015625e-08")}
