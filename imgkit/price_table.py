"""The price-comparison table: every catalog offering × quality × standard size, priced both ways.

For each row the published per-image price (where one is published), the exact token math (where token
rates and a token table exist), their ratio, the per-megapixel price (fal), the provenance and the sources
with the dates they were checked. ``write_price_report`` writes it as CSV and Markdown.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl

from imgkit.catalog import Catalog, Model, load_catalog, parse_wxh
from imgkit.errors import PricingError
from imgkit.money import MONEY, plain_usd
from imgkit.pricing import quote

__all__ = ["price_table", "write_price_report"]


def _standard_sizes(model: Model) -> list[str]:
    rules = model.sizes
    if rules.fixed:
        return list(rules.fixed)
    sizes = [
        s
        for tiers in rules.aspect_ratios.values()
        for tier, s in tiers.items()
        if tier == (rules.default_resolution or tier)
    ]
    return list(dict.fromkeys(sizes)) or [rules.default]


def _price(
    model: str, provider: str, mode: str, quality: str | None, size: str, method: str, on, cat
) -> tuple:
    w, h = parse_wxh(size)
    try:
        cost = quote(
            model, provider, mode=mode, quality=quality, width=w, height=h, method=method, on=on, catalog=cat
        )
    except PricingError:
        return None, ""
    return cost.total_usd, cost.method


def price_table(catalog: Catalog | None = None, *, on: dt.date | None = None) -> pl.DataFrame:
    """One row per (provider, model, quality, size): published and token prices in exact USD."""
    cat = catalog or load_catalog()
    on = on or dt.date.today()
    rows = []
    for (provider, model_id), off in sorted(cat.offerings.items()):
        model = cat.model(model_id)
        price = cat.price(model_id, provider, on=on)
        mode = off.modes[0]
        tokens_table = model.output_tokens
        token_kind = "assumed" if tokens_table and tokens_table.provenance == "assumed" else "derived"
        for quality in model.qualities or (None,):
            for size in _standard_sizes(model):
                default_usd, default_method = _price(model_id, provider, mode, quality, size, "auto", on, cat)
                table_usd, _ = _price(model_id, provider, mode, quality, size, "table", on, cat)
                tokens_usd, tokens_method = _price(model_id, provider, mode, quality, size, "tokens", on, cat)
                ratio = (
                    (table_usd / tokens_usd).quantize(Decimal("0.001")) if table_usd and tokens_usd else None
                )
                rows.append(
                    {
                        "provider": provider,
                        "model": model_id,
                        "provider_model_id": off.endpoint.get(mode, off.provider_model_id),
                        "status": cat.lifecycle(model_id, provider, on).state,
                        "mode": mode,
                        "quality": quality or "",
                        "size": size,
                        "request_usd": default_usd,
                        "method": default_method,
                        "published_usd": table_usd,
                        "token_math_usd": tokens_usd if tokens_method != "per_megapixel" else None,
                        "token_math_kind": token_kind
                        if tokens_usd is not None and tokens_method != "per_megapixel"
                        else "",
                        "per_megapixel_usd": price.per_megapixel_usd,
                        "table_over_tokens": ratio,
                        "rounding": ""
                        if price.rounding.mode == "none"
                        else f"{price.rounding.mode} to {price.rounding.quantum}",
                        "provenance": str(price.provenance),
                        "sources": cat.cite(price.source),
                    }
                )
    return pl.DataFrame(
        rows,
        schema_overrides={
            "published_usd": MONEY,
            "token_math_usd": MONEY,
            "per_megapixel_usd": MONEY,
            "table_over_tokens": pl.Decimal(10, 3),
        },
        infer_schema_length=None,
    )


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, Decimal):
        return f"{plain_usd(v):f}"
    return str(v)


def write_price_report(
    out_dir: str | Path, *, catalog: Catalog | None = None, on: dt.date | None = None
) -> dict[str, Path]:
    """Write ``prices.csv`` and ``prices.md`` (with provenance and sources) into ``out_dir``."""
    cat = catalog or load_catalog()
    on = on or dt.date.today()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame = price_table(cat, on=on)
    csv_path, md_path = out / "prices.csv", out / "prices.md"
    frame.write_csv(csv_path)
    cols = [
        "provider", "model", "status", "quality", "size", "request_usd", "method", "published_usd",
        "token_math_usd", "token_math_kind", "table_over_tokens", "rounding", "provenance",
    ]  # fmt: skip
    lines = [
        f"# Image-generation prices, as of {on}",
        "",
        "`request_usd` is what one request for one image costs by imgkit's default method (published per-image table where "
        "one exists, else token math or the per-megapixel rate), including the provider's request rounding. "
        "`published_usd` is the published per-image price (rounded per request where the provider rounds); `token_math_usd` "
        "is the exact product of the model's output-token table and the image-output rate: **derived** from published "
        "figures, or **assumed** where the token table is an assumption (gpt-image-2). Money is exact USD.",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    for row in frame.iter_rows(named=True):
        lines.append("| " + " | ".join(_fmt(row[c]) for c in cols) + " |")
    lines += ["", "## Sources", ""]
    for (provider, model), sources in sorted(
        {(r["provider"], r["model"]): r["sources"] for r in frame.iter_rows(named=True)}.items()
    ):
        lines.append(f"- **{provider} / {model}**: {sources}")
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"csv": csv_path, "markdown": md_path}
