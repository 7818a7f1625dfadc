"""The price-comparison table: every catalog offering × quality × standard size, priced every way it is billed.

For each row: the vendor (the model's creator) and the billing unit of the offering, its lifecycle state on
the date, the price of one image by imgkit's default method (a low/high range where the price is one: an
unpublished megapixel rounding, a disputed schedule), the published per-image price and the exact token
math where both exist (and their ratio), the per-megapixel rates, the provenance, the strongest mark of the
price's sources and the sources with the dates they were checked. :func:`cheapest_routes` picks, for each
model and quality, the cheapest offering on the day at the model's reference size; :func:`write_price_report`
writes the table (CSV) and a Markdown report grouped by vendor and unit with the cheapest route per model.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl

from imgkit.catalog import Catalog, Model, Price, load_catalog, parse_wxh
from imgkit.errors import PricingError
from imgkit.money import MONEY, plain_usd
from imgkit.pricing import Cost, Method, quote

__all__ = ["billing_unit", "cheapest_routes", "price_table", "write_price_report"]

#: at most this many sizes of a fixed-size model get a row of their own; beyond it, the 1:1 size of each tier
MAX_FIXED_ROWS = 6


def _standard_sizes(model: Model) -> list[str]:
    """The sizes a row is priced at: a few fixed sizes as they are, else the square size of each tier, else the
    sizes of the default tier (flexible models), else the default size."""
    rules = model.sizes
    if rules.fixed and len(rules.fixed) <= MAX_FIXED_ROWS:
        return list(rules.fixed)
    square = rules.aspect_ratios.get("1:1", {})
    if rules.fixed and square:
        return list(dict.fromkeys(square.values()))
    sizes = [
        s
        for tiers in rules.aspect_ratios.values()
        for tier, s in tiers.items()
        if tier == (rules.default_resolution or tier)
    ]
    return list(dict.fromkeys(sizes)) or [rules.default if rules.default != "auto" else "1024x1024"]


def _reference_size(model: Model) -> str:
    """The size the cheapest route of a model is compared at: 1024x1024 where it is a standard size, else
    the first standard size."""
    sizes = _standard_sizes(model)
    return "1024x1024" if "1024x1024" in sizes else sizes[0]


def billing_unit(model: Model, price: Price) -> str:
    """How an offering bills, in words: tokens, per image (by quality, size, resolution tier), credits,
    per megapixel, first + additional megapixels, a fee plus megapixels; ``+ add-ons`` where some apply."""
    if price.megapixels:
        unit = price.megapixels[0]
        text = (
            "fee + megapixels"
            if unit.fee_usd
            else ("per megapixel" if unit.flat else "first + additional megapixels")
        )
        if any(u.quality != "*" for u in price.megapixels):
            text += " by quality"
    elif price.per_megapixel_usd is not None:
        text = "per megapixel"
    elif price.per_image:
        tiers = model.sizes.resolution_tiers
        if any(r.credits is not None for r in price.per_image):
            text = "credits per image"
        elif any(r.size in tiers for r in price.per_image):
            text = "per image by resolution tier"
        elif any(r.size not in ("other",) for r in price.per_image) and any(
            r.quality != "*" for r in price.per_image
        ):
            text = "per image by quality x size"
        elif any(r.quality != "*" for r in price.per_image):
            text = "per image by quality"
        else:
            text = "per image"
        if price.tokens is not None:
            text += " (and tokens)"
    else:
        text = "tokens"
    return text + (" + add-ons" if price.addons else "")


def _quote(
    model: str, provider: str, mode: str, quality: str | None, size: str, method: Method, on, cat
) -> Cost | None:
    w, h = parse_wxh(size)
    try:
        return quote(
            model, provider, mode=mode, quality=quality, width=w, height=h, method=method, on=on, catalog=cat
        )
    except PricingError:
        return None


def _total(cost: Cost | None) -> tuple[Decimal | None, str]:
    return (None, "") if cost is None else (cost.total_usd, cost.method)


def price_table(catalog: Catalog | None = None, *, on: dt.date | None = None) -> pl.DataFrame:
    """One row per (provider, model, quality, size): the request price, published and token prices, exact USD.

    An offering shut down by ``on`` keeps its rows with ``status`` retired and no price (a quote for that day
    is refused); re-cost older requests with an earlier ``on``.
    """
    cat = catalog or load_catalog()
    on = on or dt.date.today()
    rows = []
    for (provider, model_id), off in sorted(cat.offerings.items()):
        model = cat.offered_model(model_id, provider)
        price = cat.price(model_id, provider, on=on)
        lifecycle = cat.lifecycle(model_id, provider, on)
        mode = off.modes[0]
        tokens_table = model.output_tokens
        token_kind = "assumed" if tokens_table and tokens_table.provenance == "assumed" else "derived"
        megapixel_rates: list[Decimal | None] = [u.first_mp_usd for u in price.megapixels] or [
            price.per_megapixel_usd
        ]
        for quality in model.qualities or (None,):
            for size in _standard_sizes(model):
                default = _quote(model_id, provider, mode, quality, size, "auto", on, cat)
                table_usd, _ = _total(_quote(model_id, provider, mode, quality, size, "table", on, cat))
                tokens_usd, tokens_method = _total(
                    _quote(model_id, provider, mode, quality, size, "tokens", on, cat)
                )
                ratio = (
                    (table_usd / tokens_usd).quantize(Decimal("0.001")) if table_usd and tokens_usd else None
                )
                token_math = tokens_usd if tokens_method == "tokens" else None
                rows.append(
                    {
                        "vendor": model.creator,
                        "unit": billing_unit(model, price),
                        "provider": provider,
                        "model": model_id,
                        "provider_model_id": off.endpoint.get(mode, off.provider_model_id),
                        "status": lifecycle.state,
                        "status_date": lifecycle.date,
                        "mode": mode,
                        "quality": quality or "",
                        "size": size,
                        "request_usd": default.total_usd if default else None,
                        "request_low_usd": default.low_usd if default else None,
                        "request_high_usd": default.high_usd if default else None,
                        "method": default.method if default else "",
                        "published_usd": table_usd,
                        "token_math_usd": token_math,
                        "token_math_kind": token_kind if token_math is not None else "",
                        "per_megapixel_usd": min((r for r in megapixel_rates if r is not None), default=None),
                        "table_over_tokens": ratio,
                        "rounding": ""
                        if price.rounding.mode == "none"
                        else f"{price.rounding.mode} to {price.rounding.quantum}",
                        "provenance": str(price.provenance),
                        "mark": cat.mark(price.source) or "",
                        "note": (default.unknown_reason or "") if default else lifecycle.note,
                        "sources": cat.cite(price.sources),
                    }
                )
    return pl.DataFrame(
        rows,
        schema_overrides={
            "request_usd": MONEY,
            "request_low_usd": MONEY,
            "request_high_usd": MONEY,
            "published_usd": MONEY,
            "token_math_usd": MONEY,
            "per_megapixel_usd": MONEY,
            "table_over_tokens": pl.Decimal(10, 3),
            "status_date": pl.Date,
        },
        infer_schema_length=None,
    )


def cheapest_routes(table: pl.DataFrame, catalog: Catalog | None = None) -> pl.DataFrame:
    """The cheapest offering of each model and quality at its reference size, among offerings not retired.

    A price that is a range (``request_usd`` null) competes with its high end, the most it may cost; ties go to
    the provider named first. ``routes`` counts the offerings compared, ``next_provider`` / ``next_usd`` name
    the runner-up (the price to beat for a second route).
    """
    cat = catalog or load_catalog()
    reference = {m: _reference_size(cat.model(m)) for m in table["model"].unique().to_list()}
    rows = table.filter(
        (pl.col("status") != "retired")
        & (pl.col("size") == pl.col("model").replace_strict(reference, default=None))
        & pl.col("request_high_usd").is_not_null()
    )
    rows = rows.with_columns(compared_usd=pl.coalesce("request_usd", "request_high_usd")).sort(
        ["vendor", "model", "quality", "compared_usd", "provider"]
    )
    out = []
    for (_, model, quality), group in rows.group_by(["vendor", "model", "quality"], maintain_order=True):
        best = group.row(0, named=True)
        second = group.row(1, named=True) if group.height > 1 else None
        out.append(
            {
                "vendor": best["vendor"],
                "model": model,
                "quality": quality,
                "size": best["size"],
                "provider": best["provider"],
                "unit": best["unit"],
                "status": best["status"],
                "request_usd": best["request_usd"],
                "request_low_usd": best["request_low_usd"],
                "request_high_usd": best["request_high_usd"],
                "mark": best["mark"],
                "routes": group.height,
                "next_provider": second["provider"] if second else None,
                "next_usd": second["compared_usd"] if second else None,
            }
        )
    schema = {c: MONEY for c in ("request_usd", "request_low_usd", "request_high_usd", "next_usd")}
    return pl.DataFrame(out, schema_overrides=schema, infer_schema_length=None)


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, Decimal):
        return f"{plain_usd(v):f}"
    return str(v)


def _price_text(row: dict) -> str:
    """One request's price: the total, else the range, else ``-``."""
    if row["request_usd"] is not None:
        return _fmt(row["request_usd"])
    if row["request_low_usd"] is not None:
        high = _fmt(row["request_high_usd"]) if row["request_high_usd"] is not None else "unknown"
        return f"{_fmt(row['request_low_usd'])} .. {high}"
    return "-"


def write_price_report(
    out_dir: str | Path, *, catalog: Catalog | None = None, on: dt.date | None = None
) -> dict[str, Path]:
    """Write ``prices.csv`` (every row) and ``prices.md``: the table grouped by vendor and billing unit, then
    the cheapest route per model, then the sources with their marks and check dates."""
    cat = catalog or load_catalog()
    on = on or dt.date.today()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame = price_table(cat, on=on)
    csv_path, md_path = out / "prices.csv", out / "prices.md"
    frame.write_csv(csv_path)
    cols = [
        "provider", "model", "status", "quality", "size", "request_usd", "method", "published_usd",
        "token_math_usd", "token_math_kind", "table_over_tokens", "rounding", "provenance", "mark",
    ]  # fmt: skip
    lines = [
        f"# Image-generation prices, as of {on}",
        "",
        "`request_usd` is what one request for one image costs by imgkit's default method (published per-image "
        "price where one exists, else token math or the per-megapixel rate), including the provider's request "
        "rounding; a range `low .. high` where the price is one (a megapixel rounding the provider does not "
        "publish, a disputed price, an `auto` quality). `published_usd` is the published per-image price; "
        "`token_math_usd` is the exact product of the model's output-token count and the image-output rate: "
        "**derived** from published figures, or **assumed** where the token count is an assumption. `mark` is "
        "the strongest mark of the price's sources (primary: the vendor's own page; copy; secondary: a third "
        "party). An offering shut down by this date has no price (`retired`). Money is exact USD.",
    ]
    for vendor, by_vendor in frame.group_by("vendor", maintain_order=True):
        lines += ["", f"## {vendor[0]}"]
        for unit, by_unit in by_vendor.group_by("unit", maintain_order=True):
            lines += ["", f"### {unit[0]}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            for row in by_unit.iter_rows(named=True):
                cells = [_price_text(row) if c == "request_usd" else _fmt(row[c]) for c in cols]
                lines.append("| " + " | ".join(cells) + " |")
    routes = cheapest_routes(frame, cat)
    route_cols = [
        "vendor",
        "model",
        "quality",
        "size",
        "provider",
        "request_usd",
        "unit",
        "mark",
        "routes",
        "next_provider",
        "next_usd",
    ]
    lines += [
        "",
        "## Cheapest route per model",
        "",
        "For each model and quality, the cheapest offering not retired on this date at the model's reference size "
        "(1024x1024 where it is one of its sizes); a range competes with its high end. `routes` is how many "
        "offerings were compared; `next_provider` and `next_usd` are the runner-up.",
        "",
        "| " + " | ".join(route_cols) + " |",
        "|" + "---|" * len(route_cols),
    ]
    for row in routes.iter_rows(named=True):
        cells = [_price_text(row) if c == "request_usd" else _fmt(row[c]) for c in route_cols]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Sources", ""]
    for (provider, model), sources in sorted(
        {(r["provider"], r["model"]): r["sources"] for r in frame.iter_rows(named=True)}.items()
    ):
        lines.append(f"- **{provider} / {model}**: {sources}")
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"csv": csv_path, "markdown": md_path}
