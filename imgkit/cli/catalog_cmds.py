"""``imgkit models``, ``imgkit quote`` and ``imgkit cost``: the catalog and exact prices from the shell.

``--json`` prints one JSON object with money as decimal strings (a quote's total under ``total_usd``);
without it, aligned tables. Bad input raises an ``ImgkitError``: one line on stderr, exit status 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from imgkit._files import read_utf8
from imgkit.catalog import STALE_AFTER_DAYS, Catalog, Model, load_catalog
from imgkit.cli._args import add_option_argument, price_date
from imgkit.cli._output import emit_json, format_table
from imgkit.errors import InvalidParameterError, SpecError, UnknownPriceError
from imgkit.formats import format_value
from imgkit.price_table import billing_unit
from imgkit.pricing import Cost, cost_from_response, quote_request


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list catalog models: status, providers, modes, sizes, cheapest price")
    p.add_argument("--provider", help="only models served by this provider")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("quote", help="price a request before sending it (itemised, exact)")
    p.add_argument("model", help="catalog model id (see: imgkit models)")
    p.add_argument("--provider", help="default: the model's creator, else the first provider serving it")
    p.add_argument("--quality", help="a quality of the model, or auto (gives a low/high range)")
    p.add_argument("--size", help="WxH, W:H (= aspect ratio) or auto")
    p.add_argument("--aspect-ratio", help="W:H; nearest supported ratio")
    p.add_argument("--resolution", help="tier such as 1K or 2K; nearest supported tier")
    p.add_argument("--n", type=int, default=1, help="images wanted (default 1)")
    p.add_argument("--partial-images", type=int, default=0, help="streamed partial images per image (0-3)")
    p.add_argument(
        "--input-image", action="append", default=[], metavar="FILE", help="edit input (repeatable)"
    )
    p.add_argument("--input-fidelity", choices=("low", "high"), help="edit input fidelity (priced in tokens)")
    p.add_argument("--prompt", default="", help="prompt text (its tokens are estimated as ceil(chars / 4))")
    add_option_argument(p, "priced add-ons follow it (e.g. enable_web_search=true)")
    p.add_argument("--batch", action="store_true", help="price at the Batch API multiplier")
    p.add_argument(
        "--method",
        choices=("auto", "table", "tokens"),
        default="auto",
        help="auto: the published per-image price where one exists, else token math (default auto)",
    )
    p.add_argument("--on", help="price in force on this date (YYYY-MM-DD; default today)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_quote)

    p = sub.add_parser("cost", help="the actual cost of a saved API response body")
    p.add_argument(
        "response", metavar="RESPONSE.json", help="a saved response body (with usage when present)"
    )
    p.add_argument("--model", required=True, help="catalog model id the request was sent to")
    p.add_argument("--provider", help="default: the model's creator, else the first provider serving it")
    p.add_argument("--quality", help="the requested quality (used when the response does not echo it)")
    p.add_argument("--size", help="the requested WxH (used when the response does not echo it)")
    p.add_argument("--on", help="price in force on this date (YYYY-MM-DD; default today)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_cost)


# --- models ------------------------------------------------------------------------------------------------


def _sizes_summary(m: Model) -> str:
    r = m.sizes
    if r.fixed and len(r.fixed) > 6 and r.aspect_ratios:  # a ratio x tier table (Gemini, Imagen, Kontext)
        tiers = sorted(
            {t for by_tier in r.aspect_ratios.values() for t in by_tier}, key=lambda t: r.resolution_tiers[t]
        )
        assumed = " (pixels assumed)" if r.provenance == "assumed" else ""
        return f"ratios {', '.join(r.aspect_ratios)} at {', '.join(tiers)}{assumed}"
    if r.fixed:
        return ", ".join(r.fixed) + (" or auto" if r.auto else "")
    parts = []
    if r.multiple_of:
        parts.append(f"multiple of {r.multiple_of}")
    for label, low, high, unit in (
        ("edges", r.min_edge, r.max_edge, ""),
        ("", r.min_pixels, r.max_pixels, " px"),
    ):
        if low and high:
            parts.append(f"{label} {low:,}-{high:,}{unit}".strip())
        elif high:
            parts.append(f"{label} up to {high:,}{unit}".strip())
    if r.max_ratio:
        parts.append(f"ratio up to {r.max_ratio}")
    return "; ".join(parts) + ("; or auto" if r.auto else "")


def _cheapest(cat: Catalog, m: Model, providers: list[str], on: dt.date) -> dict[str, Any]:
    """The cheapest published per-image price, the per-megapixel and image-token rates, and each provider's
    billing unit and lifecycle state on ``on``; offerings shut down by then are left out of the cheapest
    unless every one is (a retired model shows its last prices)."""
    states = {pid: cat.lifecycle(m.id, pid, on) for pid in providers}
    live = [pid for pid in providers if states[pid].state != "retired"] or providers
    best: tuple[Decimal, str] | None = None
    per_mp: dict[str, Decimal] = {}
    mp_text: dict[str, str] = {}
    image_out: dict[str, Decimal] = {}
    units: dict[str, str] = {}
    for pid in providers:
        try:
            price = cat.price(m.id, pid, on=on)
        except UnknownPriceError:
            continue
        units[pid] = billing_unit(cat.offered_model(m.id, pid), price)
        if pid not in live:
            continue
        for row in price.per_image:
            if best is None or row.usd < best[0]:
                best = (row.usd, pid)
        if price.megapixels:
            unit = min(price.megapixels, key=lambda u: u.first_mp_usd)
            per_mp[pid], mp_text[pid] = unit.first_mp_usd, _megapixel_text(unit)
        elif price.per_megapixel_usd is not None:
            per_mp[pid], mp_text[pid] = price.per_megapixel_usd, f"{_usd(price.per_megapixel_usd)}/MP"
        if price.tokens is not None and price.tokens.image_out is not None:
            image_out[pid] = price.tokens.image_out
    return {
        "cheapest_per_image_usd": best[0] if best else None,
        "cheapest_per_image_provider": best[1] if best else None,
        "per_megapixel_usd": per_mp,  # the first megapixel's rate
        "megapixel_prices": mp_text,  # with the additional megapixel's rate and any fee per image
        "image_out_usd_per_1m_tokens": image_out,
        "units": units,
        "lifecycle": {pid: lc.as_dict() for pid, lc in states.items()},
    }


def _megapixel_text(unit) -> str:
    """``$0.03/MP``, ``$0.03 first MP + $0.015/MP``, ``$0.04 + $0.03/MP`` (a fee per image)."""
    text = f"{_usd(unit.first_mp_usd)}/MP"
    if unit.additional_mp_usd is not None and unit.additional_mp_usd != unit.first_mp_usd:
        text = f"{_usd(unit.first_mp_usd)} first MP + {_usd(unit.additional_mp_usd)}/MP"
    return f"{_usd(unit.fee_usd)} + {text}" if unit.fee_usd else text


def _usd(value: Decimal) -> str:
    return format_value(value, "exact_usd")  # catalog prices as published


def cmd_models(args: argparse.Namespace) -> int:
    cat = load_catalog()
    if args.provider:
        cat.provider(args.provider)
    today = dt.date.today()
    rows = []
    for m in cat.models.values():
        providers = cat.providers_for(m.id)
        if args.provider:
            if args.provider not in providers:
                continue
            providers = [args.provider]
        lifecycle = cat.model_lifecycle(m.id, today)
        rows.append(
            {
                "id": m.id,
                "name": m.name,
                "creator": m.creator,
                "status": lifecycle.state,
                "status_date": lifecycle.date,
                "providers": providers,
                "modes": list(m.modes),
                "qualities": list(m.qualities) + (["auto"] if m.quality_auto else []),
                "sizes": _sizes_summary(m),
                **_cheapest(cat, m, providers, today),
            }
        )
    if args.json:
        emit_json({"models": rows})
        return 0
    table = []
    for r in rows:
        cheapest = (
            f"{_usd(r['cheapest_per_image_usd'])} ({r['cheapest_per_image_provider']})"
            if r["cheapest_per_image_usd"]
            else ""
        )
        per_mp = ", ".join(f"{v} ({k})" for k, v in r["megapixel_prices"].items())
        tokens = ", ".join(
            f"{_usd(v)}/1M out tokens ({k})" for k, v in r["image_out_usd_per_1m_tokens"].items()
        )
        table.append(
            {
                "id": r["id"],
                "status": r["status"] + (f" {r['status_date']}" if r["status_date"] else ""),
                "providers": r["providers"],
                "modes": r["modes"],
                "qualities": r["qualities"] or "-",
                "sizes": r["sizes"],
                "from": "; ".join(t for t in (cheapest, per_mp) if t) or tokens,
            }
        )
    print(format_table(table))
    return 0


# --- quote and cost -------------------------------------------------------------------------------------------


def _cost_json(cost: Cost, sources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "total_usd": cost.total_usd,
        "low_usd": cost.low_usd,
        "high_usd": cost.high_usd,
        "method": cost.method,
        "unknown_reason": cost.unknown_reason,
        "lines": list(cost.lines),
        "sources": sources,
    }


def _stale_notes(sources: list[dict[str, Any]]) -> list[str]:
    return [
        f"source {s['tag']} was last checked {s['checked']} ({s['age_days']} days ago, more than "
        f"{STALE_AFTER_DAYS}): the published price may have changed; check {s['url'] or s['title']}"
        for s in sources
        if s["stale"]
    ]


def _print_cost(header: str, cost: Cost, notes: list[str], sources: list[dict[str, Any]]) -> None:
    print(header)
    if cost.lines:
        cols = ("item", "quantity", "unit", "rate_usd", "amount_usd", "method", "basis")
        exact = {"rate_usd": "exact_usd", "amount_usd": "exact_usd"}  # a quote is exact, never rounded
        print(format_table([{c: getattr(ln, c) for c in cols} for ln in cost.lines], cols, exact))
    if cost.total_usd is not None:
        print(f"total_usd: {cost.total_usd}  (method: {cost.method})")
    else:
        span = f"  range {cost.low_usd} .. {cost.high_usd}" if cost.low_usd is not None else ""
        print(f"total_usd: unknown{span}  ({cost.unknown_reason})")
    for source in sources:
        where = f" {source['url']}" if source["url"] else ""
        print(f"source ({source['mark']}): {source['title']} (checked {source['checked']}){where}")
    for note in notes:
        print(f"note: {note}")


def cmd_quote(args: argparse.Namespace) -> int:
    from imgkit.params import ImageRequest, inspect_image, resolve

    inputs = tuple(inspect_image(Path(p)) for p in args.input_image)
    request = ImageRequest(
        model=args.model,
        prompt=args.prompt,
        mode="edit" if inputs else "generate",
        provider=args.provider,
        size=args.size,
        aspect_ratio=args.aspect_ratio,
        resolution=args.resolution,
        quality=args.quality,
        n=args.n,
        input_fidelity=args.input_fidelity,
        stream=args.partial_images > 0,
        partial_images=args.partial_images,
        input_images=inputs,
        extra=dict(args.option),
    )
    resolved = resolve(request)
    cost = quote_request(resolved.priced(), batch=args.batch, method=args.method, on=price_date(args.on))
    sources = load_catalog().source_records(cost.sources)
    notes = [*resolved.notes, *cost.notes, *_stale_notes(sources)]
    if args.json:
        emit_json(
            {
                "model": resolved.model.id,
                "provider": resolved.provider.id,
                "mode": resolved.mode,
                "width": resolved.width,
                "height": resolved.height,
                "size": resolved.size,
                "quality": resolved.quality,
                "n": resolved.n,
                "calls": list(resolved.calls),
                "batch": args.batch,
                **_cost_json(cost, sources),
                "notes": notes,
            }
        )
        return 0
    header = (
        f"quote {resolved.model.id} at {resolved.provider.id}: {resolved.mode} {resolved.size}"
        f" quality {resolved.quality or '-'} n={resolved.n}{' (batch)' if args.batch else ''}"
    )
    _print_cost(header, cost, notes, sources)
    return 0


def cmd_cost(args: argparse.Namespace) -> int:
    path = Path(args.response)
    if not path.is_file():
        raise InvalidParameterError("RESPONSE", str(path), "an existing file holding a saved response body")
    try:
        body = json.loads(read_utf8(path, SpecError), parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise SpecError(
            str(path),
            f"line {exc.lineno}, column {exc.colno}",
            f"not JSON ({exc.msg}); allowed: a response body",
        ) from None
    if not isinstance(body, dict):
        raise SpecError(str(path), "", "not a JSON object; allowed: a response body ({...})")
    cost = cost_from_response(
        body,
        model=args.model,
        provider=args.provider,
        requested_quality=args.quality,
        requested_size=args.size,
        on=price_date(args.on),
    )
    catalog = load_catalog()
    provider = args.provider or catalog.providers_for(args.model)[0]
    sources = catalog.source_records(cost.sources)
    notes = [*cost.notes, *_stale_notes(sources)]
    if args.json:
        emit_json({"model": args.model, "provider": provider, **_cost_json(cost, sources), "notes": notes})
        return 0
    _print_cost(f"cost of {path.name}: {args.model} at {provider}", cost, notes, sources)
    return 0
