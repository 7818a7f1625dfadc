"""The market in the catalog (issue 14): every billing unit priced exactly, lifecycles, parameter rules.

Each table row names the catalog source tag its figure comes from (``data/catalog``: URL, mark, date checked).
Quotes of offerings shut down since are priced on a date within their lifetime; a quote for a later date is
refused with the shutdown date and the replacement the vendor names.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from decimal import Decimal as D
from pathlib import Path

import polars as pl
import pytest

from imgkit import secret_policy
from imgkit.catalog import MARKS, load_catalog
from imgkit.cli import main
from imgkit.errors import CatalogError, RetiredOfferingError, UnknownPriceError
from imgkit.params import ImageRequest, resolve, size_parts
from imgkit.pricing import cost_from_record, quote, recost

TODAY = dt.date(2026, 12, 6)


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def _in_lifetime(cat, model: str, provider: str) -> dt.date:
    """Today, or the day before the offering's shutdown when it was shut down."""
    lc = cat.lifecycle(model, provider, TODAY)
    return TODAY if lc.state != "retired" else lc.date - dt.timedelta(days=1)


# --- the catalog is the market ------------------------------------------------------------------------------


def test_models_json_lists_at_least_30_models_and_8_providers(capsys):
    assert main(["models", "--json"]) == 0
    models = json.loads(capsys.readouterr().out)["models"]
    providers = {p for m in models for p in m["providers"]}
    assert len(models) >= 30 and len(providers) >= 8
    creators = {m["creator"] for m in models}
    assert {
        "OpenAI",
        "Google",
        "Black Forest Labs",
        "ByteDance",
        "Ideogram",
        "Recraft",
        "Alibaba",
    } <= creators
    assert "Stability AI" in creators


@pytest.mark.parametrize(
    ("provider", "models"),
    [
        ("openai", {"gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "gpt-image-2", "gpt-image-2.6-sunburst"}),
        ("gemini-api", {"gemini-2.5-flash-image", "gemini-3-pro-image", "gemini-3.1-flash-image", "imagen-4-fast", "imagen-4", "imagen-4-ultra"}),
        ("vertex-ai", {"gemini-3-pro-image", "imagen-4"}),
        ("bfl", {"flux-2-pro", "flux-2-max", "flux-2-flex", "flux-2-klein-4b", "flux-1-kontext-pro", "flux-1-kontext-max", "flux-1.1-pro", "flux-1.1-pro-ultra"}),
        ("fal", {"seedream-3", "seedream-4", "seedream-4.5", "ideogram-3", "recraft-v3", "recraft-v4", "qwen-image", "sd-3.5-large", "gemini-3-pro-image"}),
        ("replicate", {"flux-1-schnell", "flux-2-max"}),
        ("together", {"flux-1-schnell", "flux-1-dev"}),
        ("stability", {"sd-3.5-large", "sd-3.5-large-turbo", "sd-3.5-medium", "stable-image-ultra"}),
        ("lumenfall", {"gemini-3-pro-image"}),
    ],
)  # fmt: skip
def test_the_issue_s_models_are_served_where_it_says(cat, provider, models):
    assert models <= {m for (p, m) in cat.offerings if p == provider}


@pytest.mark.parametrize(
    ("provider", "model", "provider_model_id"),
    [  # the names each API takes (the sources in the provider files)
        ("gemini-api", "imagen-4-ultra", "imagen-4.0-ultra-generate-001"),
        ("gemini-api", "gemini-3-pro-image", "gemini-3-pro-image"),
        ("bfl", "flux-1.1-pro", "flux-pro-1.1"),
        ("bfl", "flux-1-kontext-pro", "flux-kontext-pro"),
        ("fal", "gemini-3.1-flash-image", "fal-ai/nano-banana-2"),
        ("fal", "flux-1-kontext-pro", "fal-ai/flux-pro/kontext"),
        ("fal", "ideogram-4", "ideogram/v4"),
        ("replicate", "flux-1-schnell", "black-forest-labs/flux-schnell"),
        ("together", "flux-1-schnell", "black-forest-labs/FLUX.1-schnell"),
        ("stability", "sd-3.5-large", "sd3.5-large"),
    ],
)
def test_provider_side_ids_are_the_names_each_api_takes(cat, provider, model, provider_model_id):
    assert cat.offering(model, provider).provider_model_id == provider_model_id


def test_every_source_is_marked_dated_and_the_marks_are_counted(cat):
    counts = {mark: sum(s.mark == mark for s in cat.sources.values()) for mark in MARKS}
    assert all(counts.values()) and sum(counts.values()) == len(cat.sources)
    for tag, source in cat.sources.items():
        assert isinstance(source.checked, dt.date) and source.checked <= TODAY, tag
        assert source.seen is None or source.seen <= source.checked, tag


def test_every_provider_key_is_known_to_the_secret_policy(cat):
    """Each provider's key variable and key header (BFL x-key, Gemini x-goog-api-key) are redacted."""
    for provider in cat.providers.values():
        assert set(provider.auth.env) <= set(secret_policy.KEY_ENV_VARS), provider.id
        if provider.auth.header:
            assert secret_policy.is_secret_header(provider.auth.header), provider.id


@pytest.mark.parametrize("key", sorted(load_catalog().offerings), ids=lambda k: f"{k[0]}-{k[1]}")
def test_every_offering_quotes_at_its_default_request_with_a_dated_source(cat, key):
    """Defaults: the offering's first mode, the model's default size and quality, on a date in its lifetime."""
    provider, model = key
    offering = cat.offerings[key]
    cost = quote(model, provider, mode=offering.modes[0], on=_in_lifetime(cat, model, provider), catalog=cat)
    assert cost.low_usd is not None and cost.low_usd > 0, cost.unknown_reason
    records = cat.source_records(cost.sources, today=TODAY)
    assert any(r["url"] and r["url"].startswith("https://") for r in records)
    assert all(isinstance(r["checked"], dt.date) and r["mark"] in MARKS for r in records)


# --- every billing unit, exact (golden quotes) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "model", "provider", "kw", "total"),
    [
        # per image by quality x size
        ("OAI-GUIDE", "gpt-image-1.5", "openai", dict(quality="high", width=1024, height=1024, on=dt.date(2026, 5, 1)), "0.133"),
        ("GEMINI-PRICING-QUOTED", "imagen-4-ultra", "gemini-api", dict(on=dt.date(2026, 8, 1)), "0.06"),
        ("FAL-SEEDREAM45-PG", "seedream-4.5", "fal", {}, "0.04"),
        # per image by resolution tier (the WxH of the model's table names the tier)
        ("XAIROUTER-31FI", "gemini-3.1-flash-image", "gemini-api", dict(width=688, height=384), "0.045"),
        ("XAIROUTER-31FI", "gemini-3.1-flash-image", "gemini-api", dict(width=1376, height=768), "0.067"),
        ("XAIROUTER-31FI", "gemini-3.1-flash-image", "gemini-api", dict(width=2752, height=1536), "0.101"),
        ("XAIROUTER-31FI", "gemini-3.1-flash-image", "gemini-api", dict(width=5504, height=3072), "0.151"),
        ("FAL-NB2-EDIT-LLMS", "gemini-3.1-flash-image", "fal", dict(width=512, height=512), "0.06"),
        ("FAL-NB2-EDIT-LLMS", "gemini-3.1-flash-image", "fal", dict(width=1024, height=1024), "0.08"),
        ("FAL-NB2-EDIT-LLMS", "gemini-3.1-flash-image", "fal", dict(width=2048, height=2048), "0.12"),
        ("FAL-NB2-EDIT-LLMS", "gemini-3.1-flash-image", "fal", dict(width=4096, height=4096), "0.16"),
        ("FAL-PAGES-2026-03", "gemini-3-pro-image", "fal", dict(width=2048, height=2048), "0.15"),
        ("FAL-PAGES-2026-03", "gemini-3-pro-image", "fal", dict(width=4096, height=4096), "0.30"),
        ("PORTKEY-807", "gemini-3-pro-image", "gemini-api", dict(width=1024, height=1024), "0.134"),
        ("EZKIT-FAL-GI2", "gpt-image-2", "fal", dict(quality="high", width=2048, height=2048), "0.428"),
        # tokens at the published per-resolution output-token counts (method tokens: both prices kept)
        ("VERTEX-31FI-C", "gemini-3.1-flash-image", "gemini-api", dict(width=688, height=384, method="tokens"), "0.04482"),
        ("VERTEX-31FI-C", "gemini-3.1-flash-image", "gemini-api", dict(width=1376, height=768, method="tokens"), "0.0672"),
        ("VERTEX-31FI-C", "gemini-3.1-flash-image", "gemini-api", dict(width=2752, height=1536, method="tokens"), "0.1008"),
        ("VERTEX-31FI-C", "gemini-3.1-flash-image", "gemini-api", dict(width=5504, height=3072, method="tokens"), "0.1512"),
        ("GEMINI-DISCUSS-121299", "gemini-3-pro-image", "gemini-api", dict(width=2048, height=2048, method="tokens"), "0.1344"),
        ("GEMINI-DISCUSS-121299", "gemini-3-pro-image", "gemini-api", dict(width=4096, height=4096, method="tokens"), "0.24"),
        ("GEMINI-PRICING-QUOTED", "gemini-2.5-flash-image", "gemini-api", dict(method="tokens", on=dt.date(2026, 10, 1)), "0.0387"),
        ("GEMINI-PRICING-QUOTED", "gemini-2.5-flash-image", "gemini-api", dict(on=dt.date(2026, 10, 1)), "0.039"),
        ("OAI-GI2-PAGE", "gpt-image-2", "openai", dict(quality="low", width=1024, height=1024), "0.00816"),
        # first megapixel + each additional megapixel (fal: 1 MP = 1024 x 1024, rounded up per image)
        ("FAL-FLUX-VS-QWEN", "flux-2-pro", "fal", dict(width=1024, height=1024), "0.03"),
        ("FAL-FLUX-VS-QWEN", "flux-2-pro", "fal", dict(width=1920, height=1088), "0.045"),
        ("VENICE-241", "flux-2-max", "fal", dict(mode="edit", width=1024, height=1024, input_images=[(1024, 1024)]), "0.10"),
        ("VENICE-241", "flux-2-max", "fal", dict(mode="edit", width=1024, height=1024, input_images=[(1024, 1024)] * 2), "0.13"),
        ("VENICE-241", "flux-2-max", "fal", dict(mode="edit", width=1024, height=1024, input_images=[(1024, 1024)] * 3), "0.16"),
        ("FAL-LLMS-FLUX-DEV", "flux-1-dev", "fal", dict(width=1920, height=1088), "0.05"),
        # BFL's own megapixel (1,000,000 px) where its unpublished rounding cannot matter
        ("BFL-SKILL-172", "flux-2-pro", "bfl", dict(width=1000, height=1000), "0.03"),
        ("BFL-SKILL-172", "flux-2-pro", "bfl", dict(mode="edit", width=1000, height=1000, input_images=[(1000, 1000)]), "0.045"),
        ("BFL-SKILL-172", "flux-2-max", "bfl", dict(mode="edit", width=1000, height=1000, input_images=[(1000, 1000)]), "0.10"),
        ("BFL-SKILL-172", "flux-2-klein-4b", "bfl", dict(mode="edit", width=1000, height=1000, input_images=[(1000, 1000)]), "0.015"),
        ("BFL-SKILL-172", "flux-2-klein-9b", "bfl", dict(mode="edit", width=1000, height=1000, input_images=[(1000, 1000)]), "0.017"),
        # a fee per run plus fractional megapixels (Replicate, 1 MP = 1,000,000 px)
        ("POLLINATIONS-14811", "flux-2-max", "replicate", dict(width=1024, height=1024), "0.07145728"),
        ("POLLINATIONS-14811", "flux-2-max", "replicate", dict(mode="edit", width=1024, height=1024, input_images=[(640, 480)]), "0.08067328"),
        # per image by speed tier, a request field (imgkit quality -> Ideogram rendering_speed)
        ("FAL-IDEO-CUSTOM-LLMS", "ideogram-3", "fal", dict(quality="low"), "0.03"),
        ("FAL-IDEO-CUSTOM-LLMS", "ideogram-3", "fal", dict(quality="medium"), "0.06"),
        ("FAL-IDEO-CUSTOM-LLMS", "ideogram-3", "fal", dict(quality="high"), "0.09"),
        # per megapixel by speed tier, plus an add-on on by default
        ("FAL-IDEO-V4-LLMS", "ideogram-4", "fal", dict(quality="high", width=1024, height=1024), "0.13"),
        ("FAL-IDEO-V4-LLMS", "ideogram-4", "fal", dict(quality="low", width=1024, height=1024, options={"enable_prompt_expansion": False}), "0.03"),
        # add-ons switched on by a provider field
        ("FAL-NB2-EDIT-LLMS", "gemini-3.1-flash-image", "fal", dict(width=1024, height=1024, options={"enable_web_search": True}), "0.095"),
        ("FAL-NB2-EDIT-LLMS", "gemini-3.1-flash-image", "fal", dict(width=1024, height=1024, options={"thinking_level": "high"}), "0.082"),
        # credits at the provider's credit value
        ("PUTER-STABILITY", "sd-3.5-large", "stability", {}, "0.065"),
        ("PUTER-STABILITY", "sd-3.5-large-turbo", "stability", {}, "0.04"),
        ("PUTER-STABILITY", "sd-3.5-medium", "stability", {}, "0.035"),
        ("PUTER-STABILITY", "stable-image-ultra", "stability", {}, "0.08"),
        ("PUTER-STABILITY", "stable-image-core", "stability", {}, "0.03"),
        ("BFL-PRICING-MD", "flux-1-kontext-pro", "bfl", {}, "0.04"),
        ("BFL-PRICING-MD", "flux-1-kontext-max", "bfl", {}, "0.08"),
        ("BFL-PRICING-MD", "flux-1.1-pro-ultra", "bfl", {}, "0.06"),
        # batch discounts
        ("GOOGLE-BATCH-BLOG", "gemini-3-pro-image", "gemini-api", dict(width=4096, height=4096, batch=True), "0.12"),
        ("GOOGLE-BATCH-BLOG", "gemini-3-pro-image", "gemini-api", dict(width=1024, height=1024, batch=True), "0.067"),
        ("GOOGLE-BATCH-BLOG", "gemini-2.5-flash-image", "gemini-api", dict(batch=True, on=dt.date(2026, 10, 1)), "0.0195"),
        ("OAI-GI2-PAGE", "gpt-image-2", "openai", dict(quality="low", width=1024, height=1024, batch=True), "0.00408"),
        # a price published for one size only
        ("WORKFLOWLAB-TOGETHER", "flux-1-schnell", "together", dict(width=1024, height=1024), "0.0027"),
        ("REPL-SCHNELL", "flux-1-schnell", "replicate", {}, "0.003"),
    ],
)  # fmt: skip
def test_golden_quotes_of_every_billing_unit(cat, tag, model, provider, kw, total):
    cost = quote(model, provider, catalog=cat, **kw)
    assert cost.total_usd == D(total), (cost.unknown_reason, cost.notes)
    assert tag in cost.sources
    assert all(type(ln.amount_usd) is D for ln in cost.lines)


@pytest.mark.parametrize(
    ("model", "provider", "kw", "low", "high", "said"),
    [
        # BFL counts 1 MP as 1,000,000 px and does not publish its rounding (BFL-SKILL-172): a range, never a guess
        (
            "flux-2-pro",
            "bfl",
            dict(width=1920, height=1088),
            "0.0463344",
            "0.06",
            "does not publish how it rounds",
        ),
        ("flux-2-pro", "bfl", dict(width=1024, height=1024), "0.03072864", "0.045", "fractional"),
        # disputed schedules keep both values (BFL-SKILL-172 5c vs BFL-SKILL-SKILLSSH 6c; CODEGATEWAY vs LF-IMAGEN4U)
        ("flux-2-flex", "bfl", dict(width=1000, height=1000), "0.05", "0.06", "disputed price"),
        ("imagen-4-ultra", "vertex-ai", dict(on=dt.date(2026, 7, 1)), "0.06", "0.08", "disputed price"),
        # gpt-image-2.5 publishes no token count for xhigh and max: the high end of auto is unknown
        ("gpt-image-2.5-flare", "openai", dict(width=1024, height=1024), "0.00816", None, "unknown"),
    ],
)
def test_unknowns_and_disputes_are_ranges_never_a_guess(cat, model, provider, kw, low, high, said):
    cost = quote(model, provider, catalog=cat, **kw)
    assert cost.total_usd is None and cost.low_usd == D(low)
    assert cost.high_usd == (None if high is None else D(high))
    assert said in cost.unknown_reason and cost.reserve_usd == cost.high_usd


def test_a_published_per_image_price_and_its_token_math_are_both_kept(cat):
    """Gemini 3 Pro Image: $0.134 published against 1,120 x $120/1M = $0.1344 (PORTKEY-807, GEMINI-DISCUSS-121299)."""
    table = quote("gemini-3-pro-image", "gemini-api", width=1024, height=1024, catalog=cat)
    assert table.method == "per_image_table" and any("token math" in n and "0.1344" in n for n in table.notes)
    tokens = quote("gemini-3-pro-image", "gemini-api", width=1024, height=1024, method="tokens", catalog=cat)
    assert tokens.total_usd == D("0.1344")
    assert any("published per-image price would be 0.134" in n for n in tokens.notes)


def test_input_images_at_gemini_are_billed_at_the_published_token_count(cat):
    """1,120 tokens per input image (VERTEX-31FI-D) at the input rate, which sources dispute: $0.50 / 1M
    (PORTKEY-693) or $0.25 / 1M (XAIROUTER-31FI). Both are kept: an edit is a range, a generation is not."""
    kw = dict(mode="edit", width=1024, height=1024, input_images=[(1024, 1024)], prompt_tokens=0, catalog=cat)
    cost = quote("gemini-3.1-flash-image", "gemini-api", **kw)
    assert (cost.total_usd, cost.low_usd, cost.high_usd) == (None, D("0.06728"), D("0.06756"))
    assert (
        "disputed price: 0.06756" in cost.unknown_reason
        and "or 0.06728 (XAIROUTER-31FI)" in cost.unknown_reason
    )
    generation = quote(
        "gemini-3.1-flash-image", "gemini-api", width=1024, height=1024, prompt_tokens=0, catalog=cat
    )
    assert generation.total_usd == D("0.067") and any(
        "disputed price, the same here" in n for n in generation.notes
    )


def test_batch_is_refused_where_no_source_publishes_it(cat):
    with pytest.raises(UnknownPriceError, match="no batch price published at gemini-api"):
        quote("imagen-4", "gemini-api", batch=True, on=dt.date(2026, 8, 1), catalog=cat)
    with pytest.raises(UnknownPriceError, match="no batch price published at bfl"):
        quote("flux-1-kontext-pro", "bfl", batch=True, catalog=cat)


def test_a_price_published_for_one_size_prices_no_other(cat):
    cost = quote("flux-1-schnell", "together", width=1024, height=768, catalog=cat)
    assert cost.total_usd is None and "no published price" in cost.unknown_reason


def test_the_megapixel_definition_is_the_providers_own(cat):
    """fal: 1 MP = 1024 x 1024 (FAL-PRICING-DOC); BFL and Replicate: 1,000,000 px (BFL-ENDPOINTS, POLLINATIONS-14811)."""
    assert {u.mp_px for u in cat.price("flux-2-pro", "fal").megapixels} == {1_048_576}
    assert {u.mp_px for u in cat.price("flux-2-pro", "bfl").megapixels} == {1_000_000}
    assert {u.rounding for u in cat.price("flux-2-max", "replicate").megapixels} == {"none"}
    assert {u.rounding for u in cat.price("flux-2-max", "bfl").megapixels} == {"unknown"}


# --- lifecycle ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "provider", "shutdown", "replacement"),
    [
        ("gpt-image-1-mini", "openai", "2026-12-01", "gpt-image-2.6-sunburst"),  # OAI-DEPRECATIONS
        ("gpt-image-1.5", "fal", "2026-12-01", "gpt-image-2.6-sunburst"),  # fal resells OpenAI's model
        ("gpt-image-1", "openai", "2026-10-23", "gpt-image-2.5-sunburst"),  # OAI-GI1-PAGE
        ("dall-e-3", "openai", "2026-05-12", "gpt-image-2.5-sunburst"),  # OAI-PY, OAI-DALLE3-PAGE
        ("imagen-4-fast", "gemini-api", "2026-08-17", "gemini-3.1-flash-image"),  # FIREBASE-IMAGEN-MIGRATION
        ("imagen-4-ultra", "vertex-ai", "2026-08-17", "gemini-3-pro-image"),
        (
            "gemini-2.5-flash-image",
            "gemini-api",
            "2026-10-02",
            "gemini-3.1-flash-image-preview",
        ),  # GEMINI-DEPRECATIONS
    ],
)
def test_a_quote_after_a_shutdown_is_refused_with_the_date_and_the_replacement(
    cat, model, provider, shutdown, replacement
):
    with pytest.raises(RetiredOfferingError) as err:
        quote(model, provider, on=TODAY, catalog=cat)
    assert str(err.value.shutdown) == shutdown and replacement in err.value.replacement
    assert f"shut down on {shutdown}" in str(err.value) and "an earlier date" in str(err.value)
    day_before = dt.date.fromisoformat(shutdown) - dt.timedelta(days=1)
    assert quote(model, provider, on=day_before, catalog=cat).low_usd is not None


def test_the_cli_refusal_is_one_line_exit_2(capsys):
    assert main(["quote", "gpt-image-1-mini", "--quality", "low", "--size", "1024x1024"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "shut down on 2026-12-01" in captured.err and "gpt-image-2.6-sunburst" in captured.err


def test_a_deprecated_offering_is_quoted_with_its_scheduled_shutdown(cat):
    cost = quote(
        "gpt-image-1-mini",
        "openai",
        quality="low",
        width=1024,
        height=1024,
        on=dt.date(2026, 7, 1),
        catalog=cat,
    )
    assert cost.total_usd == D("0.005")  # PRICING.md §3.1
    assert any("shutdown scheduled for 2026-12-01" in n for n in cost.notes)
    before_notice = quote(
        "gpt-image-1-mini",
        "openai",
        quality="low",
        width=1024,
        height=1024,
        on=dt.date(2026, 5, 1),
        catalog=cat,
    )
    assert not any("shutdown" in n for n in before_notice.notes)  # announced on 2026-06-02 (OAI-DEPRECATIONS)


def test_a_shutdown_only_secondary_sources_report_is_quoted_with_a_prominent_note(tmp_path):
    """Drop the primary shutdown events of gpt-image-1 (OAI-GI1-PAGE): only weighmyprompt's (secondary) is left."""
    root = tmp_path / "catalog"
    shutil.copytree(load_catalog().root, root)
    path = root / "openai.yaml"
    text = path.read_text()
    primary = text[
        text.index("      - {event: shutdown, date: 2026-10-23, replacement: [gpt-image-2.5-sunburst]") :
    ]
    primary = primary[
        : primary.index("      - {event: shutdown, date: 2026-10-23, replacement: [gpt-image-1.5]")
    ]
    path.write_text(text.replace(primary, ""))
    cat = load_catalog(root)
    lc = cat.lifecycle("gpt-image-1", "openai", TODAY)
    assert (lc.state, lc.mark, lc.date) == ("reported_retired", "secondary", dt.date(2026, 10, 23))
    cost = quote("gpt-image-1", "openai", quality="low", width=1024, height=1024, catalog=cat)
    assert cost.total_usd == D("0.011")
    assert cost.notes[0].startswith(
        "gpt-image-1 at openai: REPORTED RETIRED: reported shut down on 2026-10-23"
    )
    assert "secondary sources only: WEIGHMYPROMPT-GI1" in cost.notes[0]


def test_an_old_log_is_recosted_at_the_price_of_its_date():
    """A bill is never refused: a gpt-image-1-mini request of 2026-11-20 costs what it cost then."""
    record = {
        "provider": "openai", "model": "gpt-image-1-mini", "quality": "low", "size": "1024x1024",
        "images_count": 1, "outcome": "ok", "started_at": dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
    }  # fmt: skip
    assert cost_from_record(record).total_usd == D("0.005")


def test_a_quote_before_the_release_says_so(cat):
    """gpt-image-2.6-flare released 2026-11-04 (LAOZHANG-GI26, secondary): a quote for October is noted."""
    lc = cat.lifecycle("gpt-image-2.6-flare", "openai", dt.date(2026, 10, 1))
    assert (lc.state, lc.date, lc.mark) == ("unreleased", dt.date(2026, 11, 4), "secondary")
    cost = quote(
        "gpt-image-2.6-flare",
        "openai",
        quality="low",
        width=1024,
        height=1024,
        on=dt.date(2026, 10, 1),
        catalog=cat,
    )
    assert cost.total_usd is not None
    assert any("not released yet on 2026-10-01: released on 2026-11-04" in n for n in cost.notes)
    assert cat.lifecycle("gpt-image-2.6-flare", "openai", dt.date(2026, 11, 4)).state == "active"


def test_preview_ids_retire_without_their_ga_id(cat):
    """gemini-3-pro-image-preview shut down on 2026-06-25 (GEMILAB); the GA id gemini-3-pro-image lives on."""
    assert cat.lifecycle("gemini-3-pro-image", "gemini-api", TODAY).state == "active"
    events = {e.provider_model_id for e in cat.offering("gemini-3-pro-image", "gemini-api").lifecycle}
    assert "gemini-3-pro-image-preview" in events


def test_disputed_replacements_are_both_kept(cat):
    lc = cat.lifecycle("gpt-image-1", "openai", TODAY)
    assert lc.disputed and lc.replacement[:2] == ("gpt-image-2.5-sunburst", "gpt-image-1.5")
    assert "gpt-image-2.5-sunburst (primary), gpt-image-1.5 (secondary)" in lc.note


# --- parameter rules per provider and model ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_kw", "body"),
    [
        (  # Gemini: the ratio and the tier of the model's table (GOOGLE-JS-IMAGECONFIG), 0.5K sent as "512"
            dict(model="gemini-3.1-flash-image", provider="gemini-api", aspect_ratio="16:9", resolution="0.5K"),
            {"generationConfig": {"responseModalities": ["TEXT", "IMAGE"], "imageConfig": {"aspectRatio": "16:9", "imageSize": "512"}},
             "contents": [{"parts": [{"text": "a cat"}]}]},
        ),
        (  # an explicit WxH of the table is its ratio and tier
            dict(model="gemini-3-pro-image", provider="gemini-api", size="5504x3072"),
            {"generationConfig": {"responseModalities": ["TEXT", "IMAGE"], "imageConfig": {"aspectRatio": "16:9", "imageSize": "4K"}},
             "contents": [{"parts": [{"text": "a cat"}]}]},
        ),
        (  # Imagen at the Gemini API: instances and parameters (VERTEX-SET-RES)
            dict(model="imagen-4", provider="gemini-api", aspect_ratio="9:16", resolution="2K", n=3),
            {"instances": [{"prompt": "a cat"}], "parameters": {"sampleCount": 3, "aspectRatio": "9:16", "sampleImageSize": "2K"}},
        ),
        (  # Vertex Imagen: the output format is a field there
            dict(model="imagen-4-fast", provider="vertex-ai", output_format="jpeg"),
            {"instances": [{"prompt": "a cat"}], "parameters": {"sampleCount": 1, "aspectRatio": "1:1", "outputOptions": {"mimeType": "image/jpeg"}}},
        ),
        (  # BFL FLUX.2: width and height (BFL-ENDPOINTS)
            dict(model="flux-2-pro", provider="bfl", size="1920x1088", output_format="png"),
            {"prompt": "a cat", "width": 1920, "height": 1088, "output_format": "png"},
        ),
        (  # BFL Kontext: an aspect ratio
            dict(model="flux-1-kontext-pro", provider="bfl", aspect_ratio="21:9"),
            {"prompt": "a cat", "aspect_ratio": "21:9"},
        ),
        (  # fal: image_size preset or {width, height}
            dict(model="seedream-4.5", provider="fal", size="2560x1440"),
            {"prompt": "a cat", "num_images": 1, "image_size": {"width": 2560, "height": 1440}},
        ),
        (  # fal nano-banana-2: aspect_ratio and resolution
            dict(model="gemini-3.1-flash-image", provider="fal", aspect_ratio="4:1", resolution="2K"),
            {"prompt": "a cat", "num_images": 1, "aspect_ratio": "4:1", "resolution": "2K"},
        ),
        (  # fal Ideogram: imgkit quality is rendering_speed
            dict(model="ideogram-3", provider="fal", quality="low"),
            {"prompt": "a cat", "num_images": 1, "image_size": "square_hd", "rendering_speed": "TURBO"},
        ),
        (  # Replicate: model inputs under input, megapixels "1" or "0.25" (REPL-SCHNELL)
            dict(model="flux-1-schnell", provider="replicate", aspect_ratio="16:9", resolution="0.5K", n=2),
            {"input": {"prompt": "a cat", "num_outputs": 2, "aspect_ratio": "16:9", "megapixels": "0.25"}},
        ),
        (  # Together: width, height, n, response_format base64 (TOGETHER-SKILL-API)
            dict(model="flux-1-schnell", provider="together", size="1024x768"),
            {"model": "black-forest-labs/FLUX.1-schnell", "prompt": "a cat", "n": 1, "width": 1024, "height": 768,
             "response_format": "base64"},
        ),
        (  # Stability: the sd3 endpoint names its model; an aspect ratio
            dict(model="sd-3.5-medium", provider="stability", aspect_ratio="9:21"),
            {"model": "sd3.5-medium", "prompt": "a cat", "aspect_ratio": "9:21"},
        ),
    ],
)  # fmt: skip
def test_resolve_sends_each_provider_its_own_fields(cat, request_kw, body):
    assert resolve(ImageRequest(prompt="a cat", **request_kw), cat).body == body


def test_resolve_explains_a_ratio_and_tier_provider_and_assumed_or_disputed_pixels(cat):
    resolved = resolve(ImageRequest("gemini-3-pro-image", "a cat", aspect_ratio="16:9"), cat)
    assert resolved.size == "1376x768"  # SORALIST-3PI
    assert any("takes no pixels: 1376x768 is sent as" in n for n in resolved.notes)
    assert any("pixel size disputed: 16:9 at 1K is 1408x768" in n and "BANATIE" in n for n in resolved.notes)
    flash = resolve(ImageRequest("gemini-3.1-flash-image", "a cat", aspect_ratio="8:1"), cat)
    assert any("is assumed (no published pixel table)" in n for n in flash.notes)


def test_n_beyond_one_image_per_call_is_split_into_calls(cat):
    gemini = resolve(ImageRequest("gemini-3-pro-image", "a cat", n=3), cat)
    assert gemini.calls == (1, 1, 1) and "n" not in gemini.body
    imagen = resolve(ImageRequest("imagen-4", "a cat", provider="vertex-ai", n=6), cat)
    assert imagen.calls == (4, 2) and imagen.body["parameters"]["sampleCount"] == 4


def test_unknown_provider_fields_go_where_the_provider_keeps_them(cat):
    replicate = resolve(ImageRequest("flux-1-schnell", "x", provider="replicate", extra={"guidance": 3}), cat)
    assert replicate.body["input"]["guidance"] == 3
    imagen = resolve(ImageRequest("imagen-4", "x", provider="gemini-api", extra={"language": "en"}), cat)
    assert imagen.body["parameters"]["language"] == "en"


def test_a_provider_s_own_size_rules_replace_the_model_s(cat):
    """FLUX1.1 [pro] at BFL: edges 256..1440 in multiples of 32 (BFL-MINTLIFY, assumed for this model)."""
    with pytest.raises(Exception, match="edges must be at most 1440 px"):
        resolve(ImageRequest("flux-1.1-pro", "x", provider="bfl", size="2048x1024"), cat)
    assert (
        resolve(ImageRequest("flux-1.1-pro", "x", provider="fal", size="2048x1024"), cat).size == "2048x1024"
    )


@pytest.mark.parametrize(
    ("model", "size", "parts"),
    [
        ("gemini-3-pro-image", "1376x768", ("16:9", "1K")),  # the table names the tier
        ("gemini-3.1-flash-image", "2944x368", ("8:1", "1K")),
        ("gpt-image-2", "1536x1024", ("3:2", "1K")),  # nearest tier by pixels
        ("gpt-image-2", "3840x2160", ("16:9", "4K")),  # the most 4K reaches within 8,294,400 px
        ("gpt-image-2", "2560x1440", ("16:9", "2K")),
    ],
)
def test_size_parts_name_the_ratio_and_the_tier(cat, model, size, parts):
    assert size_parts(cat.model(model), *map(int, size.split("x"))) == parts


# --- the schema refuses what would misprice ----------------------------------------------------------------------


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "catalog"
    shutil.copytree(load_catalog().root, root)
    return root


@pytest.mark.parametrize(
    ("file", "old", "new", "problem"),
    [
        ("stability.yaml", "{credits: 6.5, usd: 0.065}", "{credits: 6.5, usd: 0.06}", "is not 6.5 credits x 0.01 USD"),
        ("fal.yaml", "{size: 4K, usd: 0.16, notes: \"0.08 x 2\"}", "{size: 8K, usd: 0.16}", "'8K'; allowed: WIDTHxHEIGHT, other, 0.5K, 1K, 2K, 4K"),
        ("replicate.yaml", "mp_px: 1000000,\n             rounding: none", "mp_px: 1048576,\n             rounding: none", "not exact decimals"),
        ("fal.yaml", "    upstream: openai\n    endpoint: {generate: openai/gpt-image-2", "    upstream: together\n    endpoint: {generate: openai/gpt-image-2", "no offering of gpt-image-2 at 'together'"),
        ("bfl.yaml", "  FLEXPRICE:\n    title: Flexprice", "  BFL-PRICING-MD:\n    title: another title\n    url: https://example.org\n    checked: 2026-12-06\n    mark: primary\n  FLEXPRICE:\n    title: Flexprice", "duplicate key"),
        ("openai.yaml", "source: [OAI-DEPRECATIONS], notes: \"notice date", "source: [NOPE], notes: \"notice date", "unknown source tag 'NOPE'"),
    ],
)  # fmt: skip
def test_a_malformed_market_file_is_one_error_naming_the_problem(tmp_path, file, old, new, problem):
    root = _copy(tmp_path)
    path = root / file
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new, 1))
    with pytest.raises(CatalogError) as err:
        load_catalog(root)
    assert problem in str(err.value)


def test_one_tag_is_one_source_across_files(tmp_path):
    root = _copy(tmp_path)
    (root / "bfl.yaml").write_text(
        (root / "bfl.yaml")
        .read_text()
        .replace(
            "  FLEXPRICE:\n",
            "  SEED:\n    title: not the seed\n    checked: 2026-12-06\n    mark: primary\n  FLEXPRICE:\n",
            1,
        )
    )
    with pytest.raises(CatalogError, match=r"tag defined differently in models\.yaml"):
        load_catalog(root)


# --- re-costing: the vectorised path agrees with the scalar one on every unit -----------------------------------


def test_recost_prices_the_new_units_like_the_per_row_function(cat):
    day = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)
    rows = [
        ("gemini-api", "gemini-3.1-flash-image", None, 688, 384),  # per image by tier
        ("gemini-api", "gemini-3-pro-image", None, 5504, 3072),
        ("fal", "gemini-3.1-flash-image", None, 2048, 2048),
        ("fal", "flux-2-pro", None, 1920, 1088),  # first + additional megapixels, ceil
        ("replicate", "flux-2-max", None, 1024, 1024),  # fee + fractional megapixels
        ("fal", "ideogram-4", "high", 1024, 1024),  # per MP by tier + a default add-on per request
        ("fal", "ideogram-3", "medium", 1024, 1024),
        ("stability", "sd-3.5-large", None, 1024, 1024),  # credits
        ("bfl", "flux-2-pro", None, 1920, 1088),  # unpublished rounding: unknown in both paths
        ("bfl", "flux-2-flex", None, 1000, 1000),  # disputed: unknown in both paths
        ("together", "flux-1-schnell", None, 1024, 1024),
    ]
    records = [
        {"provider": p, "model": m, "quality": q, "width": w, "height": h, "size": f"{w}x{h}",
         "images_count": images, "outcome": "ok", "started_at": day}
        for p, m, q, w, h in rows for images in (1, 2)
    ]  # fmt: skip
    frame = recost(pl.DataFrame(records))
    for rec, got, method in zip(records, frame["actual_cost_usd"], frame["cost_method"], strict=True):
        scalar = cost_from_record(rec)
        assert got == scalar.total_usd and method == scalar.method, rec
    by = {(r["model"], r["provider"], r["images_count"]): r["actual_cost_usd"] for r in frame.to_dicts()}
    assert by["ideogram-4", "fal", 2] == D("0.23")  # 2 x $0.10 + one request's prompt expansion $0.03
    assert by["flux-2-max", "replicate", 1] == D("0.07145728")
    assert by["flux-2-pro", "bfl", 1] is None
