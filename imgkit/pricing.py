"""Exact image-generation pricing: quotes before a call, bills after it, and vectorised re-costing of logs.

Money is ``Decimal`` everywhere (integer units of 1e-10 USD in the vectorised path); no binary float ever
touches a price. Every result is a :class:`Cost` with itemised :class:`CostLine` s, each saying which method
(tokens, per-image table, per megapixel, rounding, batch, gateway) and which assumption it used.

Rules (``shared/reference/PRICING.md``):

* **Quote** (:func:`quote_request`): prices a :class:`~imgkit.params.PricedRequest` (model, provider,
  offering, size, quality, n, calls, inputs, resolved by :mod:`imgkit.params`, which owns every request
  check, the quality rule included) as it is handed: no second look-up, no second check. :func:`quote` is
  the convenience that resolves named fields first (:func:`~imgkit.params.resolve_priced`). The price is
  the published per-image price where a row exists (``method="auto"``), else token
  math from the model's output-token table; ``method="tokens"`` forces token math (gpt-image-1-mini's table is
  1.04-2.3x its token math, so every quote says which it used). Input text tokens are estimated as
  ``ceil(characters / 4)`` (:func:`count_prompt_tokens`), input image tokens by the tile rule
  (:func:`input_image_tokens`) plus the ``input_fidelity=high`` extra, +100 output tokens per partial image.
  ``n`` images are billed as ``n`` separate calls including the input each time (community, CF-1381388).
  Quality or size ``auto`` is never priced as one tier: the quote is a low/high range with ``total_usd=None``.
* **Bill** (:func:`cost_from_response`; :func:`bill_response` for a priced request): gateway ``metadata.cost`` when present; else ``usage`` x token rates
  (all output as image tokens when ``output_tokens_details`` is absent; an unexplained remainder as text);
  else the echoed quality and size against the per-image table (DALL·E: the table is the bill); fal: per
  megapixel from the returned dimensions (ceil per image) or the table, then the request total rounded up
  to the cent where the catalog says so.
* Never a silent $0: what cannot be priced is ``Cost(total_usd=None, method="unknown", unknown_reason=...)``,
  or :class:`~imgkit.errors.UnknownPriceError` where the caller asked for a definite price.
* Prices are looked up by date (``on=``), so an old log is costed at its date's price.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, Literal, overload

import polars as pl

from imgkit._memo import memo_by_identity
from imgkit.catalog import (
    AddOn,
    Catalog,
    ImagePrice,
    InputImageTokens,
    MegapixelPrice,
    Model,
    Offering,
    Price,
    Provider,
    Rounding,
    TokenRates,
    load_catalog,
    parse_wxh,
)
from imgkit.errors import InvalidParameterError, PricingError, UnknownNameError, UnknownPriceError
from imgkit.money import MONEY, MONEY_QUANTUM, plain_usd, to_units
from imgkit.params import PricedRequest, resolve_priced, resolve_quality, size_parts
from imgkit.provenance import Provenance

if TYPE_CHECKING:  # records sits above pricing: only the type of a column
    from imgkit.records.schema import ColumnType

__all__ = [
    "CHARS_PER_TOKEN",
    "KEPT_BILLS",
    "RECOST_KEYS",
    "TOKEN_COLUMNS",
    "Cost",
    "CostLine",
    "bill_response",
    "cost_from_record",
    "cost_from_response",
    "cost_from_usage",
    "count_prompt_tokens",
    "input_image_tokens",
    "output_image_tokens",
    "price_boundaries",
    "quote",
    "quote_request",
    "recost",
    "recost_lookup",
]

PER_MILLION = Decimal(1_000_000)
#: prompt-token approximation: one token per 4 characters (OpenAI's rule of thumb for English text)
CHARS_PER_TOKEN = 4

Method = Literal["auto", "table", "tokens"]


# --- result types -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostLine:
    """One item of a quote or bill: ``quantity`` x ``rate_usd`` = ``amount_usd``, and how it was obtained."""

    item: str
    quantity: Decimal
    unit: str  # tokens | images | megapixels | request
    rate_usd: Decimal  # per unit (token rates converted from per-1M)
    amount_usd: Decimal
    method: str  # tokens | per_image_table | per_megapixel | rounding | batch | markup | gateway_metadata
    basis: str  # "usage" | "estimate ..." | "published per-image price" | "assumed ..."
    provenance: str


@dataclass(frozen=True)
class Cost:
    """A quote or a bill. ``total_usd`` is ``None`` only when unknown; ``unknown_reason`` then says why."""

    total_usd: Decimal | None
    low_usd: Decimal | None
    high_usd: Decimal | None
    method: str  # tokens | per_image_table | per_megapixel | gateway_metadata | provider_charge | not_billed | unknown
    lines: tuple[CostLine, ...] = ()
    notes: tuple[str, ...] = ()
    unknown_reason: str | None = None
    #: tags of the catalog sources the rates come from (``Catalog.sources``: title, URL, date checked)
    sources: tuple[str, ...] = ()

    @property
    def reserve_usd(self) -> Decimal | None:
        """What a budget holds for this quote: the total, else the high end of its range (``None``: no price)."""
        return self.total_usd if self.total_usd is not None else self.high_usd


def _line(item, quantity, unit, rate, method, basis, provenance) -> CostLine:
    quantity, rate = Decimal(quantity), Decimal(rate)
    return CostLine(
        item,
        plain_usd(quantity),
        unit,
        plain_usd(rate),
        plain_usd(quantity * rate),
        method,
        basis,
        str(provenance),
    )


def _known(
    lines: Sequence[CostLine], method: str, notes: Iterable[str] = (), sources: Iterable[str] = ()
) -> Cost:
    total = plain_usd(sum((ln.amount_usd for ln in lines), Decimal(0)))
    return Cost(
        total, total, total, method, tuple(lines), tuple(notes), sources=tuple(dict.fromkeys(sources))
    )


def _unknown(reason: str | None, notes: Iterable[str] = (), low=None, high=None) -> Cost:
    return Cost(None, low, high, "unknown", (), tuple(notes), reason)


def _adjustment(item: str, lines: Sequence[CostLine], factor: Decimal, method: str, basis: str, provenance):
    """A request-level line worth ``factor`` x the subtotal of ``lines`` (negative for a discount)."""
    subtotal = sum((ln.amount_usd for ln in lines), Decimal(0))
    return _line(item, 1, "request", subtotal * factor, method, basis, provenance)


def _batch_line(lines: Sequence[CostLine], multiplier: Decimal, basis: str, provenance) -> CostLine:
    m = plain_usd(multiplier)
    return _adjustment(
        f"batch discount (every rate x {m})", lines, multiplier - 1, "batch", basis, provenance
    )


# --- small public helpers ---------------------------------------------------------------------------------


def count_prompt_tokens(text: str) -> int:
    """Approximate prompt tokens as ``ceil(len(text) / 4)`` (about 4 characters per token in English).

    An estimate for quotes only: the bill always comes from ``usage``. Empty text is 0 tokens.
    """
    return -(-len(text or "") // CHARS_PER_TOKEN)


def _token_rule(model: Model) -> InputImageTokens:
    rule = model.input_image_tokens
    if rule is None:
        raise UnknownPriceError(f"model {model.id} publishes no input-image token rule")
    return rule


def _tiles(model: Model, width: int, height: int) -> tuple[int, int, int]:
    rule = _token_rule(model)
    if width <= 0 or height <= 0:
        raise InvalidParameterError("input_image", f"{width}x{height}", "positive width and height")
    short, long_ = sorted((width, height))
    scaled_long = long_ * rule.short_side // short  # the long side is rounded DOWN (CF-1281361)
    tiles = -(-rule.short_side // rule.tile) * -(-scaled_long // rule.tile)
    sw, sh = (rule.short_side, scaled_long) if width <= height else (scaled_long, rule.short_side)
    return sw, sh, tiles


def _fidelity_extra(model: Model, width: int, height: int):
    rule = model.input_image_tokens
    current = [e for e in (rule.fidelity_high_extra if rule else ()) if e.current]
    if not current:
        raise UnknownPriceError(f"model {model.id} publishes no input_fidelity=high token extra")
    extra = current[0]
    return extra, (extra.square if width == height else extra.other)


def input_image_tokens(model: Model, width: int, height: int, fidelity: str | None = None) -> int:
    """Input image tokens of one input image by the published tile rule (OAI-VISION).

    Scale the shortest side to 512 px (the long side rounded down), count 512-px tiles
    ``ceil(w'/512) x ceil(h'/512)``; tokens = 65 + 129 x tiles. ``fidelity="high"`` adds the current
    extra (4160 square, 6240 otherwise; older copies of the guide said 4096 / 6144).
    """
    rule = _token_rule(model)
    _, _, tiles = _tiles(model, width, height)
    tokens = rule.base + rule.per_tile * tiles
    if fidelity == "high":
        tokens += _fidelity_extra(model, width, height)[1]
    return tokens


# --- catalog look-ups shared by every path ----------------------------------------------------------------


def _tier(model: Model, size: str | None) -> str | None:
    """The resolution tier of a WxH for ``model`` (its table's, else the nearest by pixels; see
    :func:`imgkit.params.size_parts`)."""
    if size is None or size == "auto":
        return None
    return size_parts(model, *parse_wxh(size))[1]


def _per_image_row(
    model: Model, price: Price, quality: str | None, size: str | None
) -> tuple[ImagePrice, str] | None:
    """The published per-image row for quality x size, and which key matched: the exact WxH, else the
    size's resolution tier (``1K``), else the ``other`` row. ``quality: "*"`` rows match any quality."""
    if size is None:
        return None
    rows = [p for p in price.per_image if p.quality in (quality, "*")]
    for key in (size, _tier(model, size), "other"):
        for p in rows:
            if key is not None and p.size == key:
                return p, key
    return None


def output_image_tokens(model: Model, quality: str | None, size: str | None) -> tuple[int, str] | None:
    """Image output tokens of one image at ``quality`` and ``size`` from the model's table (scaled by pixels
    where the catalog allows, or by resolution tier for models that publish one count per tier: Gemini),
    and how they were found; ``None`` without a row. The simulator's ``usage`` uses the same counts."""
    table = model.output_tokens
    if table is None or size is None:
        return None
    if table.per_resolution and quality not in table.per_image:
        tier = _tier(model, size)
        if tier not in table.per_resolution:
            return None
        return table.per_resolution[tier], f"{table.per_resolution[tier]} output tokens per image at {tier}"
    if quality not in table.per_image:
        return None
    by_size = table.per_image[quality]
    if size in by_size:
        return by_size[size], f"output-token table {quality} {size}"
    if table.scale_by_pixels and "1024x1024" in by_size:
        w, h = parse_wxh(size)
        tokens = -(-by_size["1024x1024"] * w * h // (1024 * 1024))
        return tokens, f"{quality} 1024x1024 count {by_size['1024x1024']} scaled by pixels to {size}"
    return None


def _megapixel_unit(price: Price, quality: str | None) -> MegapixelPrice | None:
    """The megapixel unit for ``quality`` (its own row, else ``*``); a flat ``per_megapixel_usd`` is a unit
    whose every megapixel costs the same, rounded up per image."""
    for unit in price.megapixels:
        if unit.quality == quality:
            return unit
    for unit in price.megapixels:
        if unit.quality == "*":
            return unit
    if (rate := price.per_megapixel_usd) is not None:
        return memo_by_identity(_FLAT_UNITS, (price,), lambda: _flat_unit(price, rate))
    return None


_FLAT_UNITS: dict = {}  # _flat_unit by price (identity)


def _flat_unit(price: Price, rate: Decimal) -> MegapixelPrice:
    return MegapixelPrice(
        first_mp_usd=rate, additional_mp_usd=rate, mp_px=price.megapixel_px, rounding="ceil"
    )


def _megapixels(w: int, h: int, unit: MegapixelPrice, rounding: str) -> tuple[Decimal, Decimal]:
    """(exact megapixels, billed megapixels) of a w x h image: ``ceil`` rounds up to whole megapixels,
    ``none`` keeps the fraction; at least ``min_mp``."""
    exact = Decimal(w * h) / Decimal(unit.mp_px)
    billed = exact.to_integral_value(ROUND_CEILING) if rounding == "ceil" else exact
    return exact, max(billed, unit.min_mp)


def _megapixel_lines(
    unit: MegapixelPrice,
    rounding: str,
    dims: Sequence[tuple[int, int]],
    input_images: Sequence[tuple[int, int]],
    requests: int,
    provenance,
    notes: list[str],
) -> list[CostLine]:
    """First and additional megapixels of each output image, a fee per image, input megapixels per request."""
    how = {"ceil": "rounded up per image", "none": "fractional"}[rounding]
    mp_def = f"1 MP = {unit.mp_px:,} px"
    per = []
    billed_total, additional = Decimal(0), Decimal(0)
    for w, h in dims:
        exact, billed = _megapixels(w, h, unit, rounding)
        billed_total += billed
        additional += max(billed - 1, Decimal(0))
        per.append(_mp_text(w, h, unit, rounding, exact, billed))
    basis = f"{'; '.join(sorted(set(per)))} x {len(dims)} images ({mp_def}, {how})"
    lines = []
    if unit.fee_usd:
        lines.append(
            _line(
                "per-image fee",
                len(dims),
                "images",
                unit.fee_usd,
                "per_megapixel",
                "published fee per image",
                provenance,
            )
        )
    if unit.flat:
        lines.append(
            _line(
                f"megapixels ({how})",
                billed_total,
                "megapixels",
                unit.first_mp_usd,
                "per_megapixel",
                basis,
                provenance,
            )
        )
    else:
        lines.append(
            _line(
                "first megapixel",
                len(dims),
                "megapixels",
                unit.first_mp_usd,
                "per_megapixel",
                basis,
                provenance,
            )
        )
        if additional:
            lines.append(
                _line(
                    "additional megapixels",
                    additional,
                    "megapixels",
                    unit.additional_mp_usd,
                    "per_megapixel",
                    basis,
                    provenance,
                )
            )
    if input_images:
        if unit.input_mp_usd is None:
            notes.append(
                "input megapixels are not priced: the provider publishes no input rate for this endpoint"
            )
        else:
            counted = [_megapixels(w, h, unit, rounding)[1] for w, h in input_images]
            quantity = sum(counted, Decimal(0)) * requests
            inputs = "; ".join(
                f"{w} x {h} -> {plain_usd(b)} MP" for (w, h), b in zip(input_images, counted, strict=True)
            )
            lines.append(
                _line(
                    "input megapixels", quantity, "megapixels", unit.input_mp_usd, "per_megapixel",
                    f"{inputs} x {requests} request{'s' * (requests > 1)} ({mp_def}, {how})", provenance,
                )
            )  # fmt: skip
    return lines


def _mp_text(w: int, h: int, unit: MegapixelPrice, rounding: str, exact: Decimal, billed: Decimal) -> str:
    """``ceil(1920 x 1088 / 1,048,576) = 2 MP`` or ``1024 x 1024 / 1,000,000 = 1.048576 MP``."""
    if rounding == "ceil":
        text = f"ceil({w} x {h} / {unit.mp_px:,}) = {plain_usd(billed)} MP"
    else:
        text = f"{w} x {h} / {unit.mp_px:,} = {plain_usd(exact)} MP"
    return text + (
        f", billed as {plain_usd(billed)} (at least)" if billed > exact and rounding != "ceil" else ""
    )


def _addons_due(price: Price, options: Mapping[str, Any]) -> list[tuple[AddOn, Any]]:
    """The add-ons a request's provider fields switch on (a field left out takes its default)."""
    due = []
    for addon in price.addons:
        value = options.get(addon.field, addon.default)
        if value in addon.when:
            due.append((addon, value))
    return due


def _addon_lines(
    price: Price, options: Mapping[str, Any], images: int, requests: int, notes: list[str]
) -> list[CostLine]:
    lines = []
    due = _addons_due(price, options)
    for addon, value in due:
        quantity, unit = (images, "images") if addon.per == "image" else (requests, "request")
        basis = f"published add-on: {addon.field}={_field_text(value)}" + (
            " (the default)" if addon.field not in options else ""
        )
        lines.append(_line(addon.name, quantity, unit, addon.usd, "addon", basis, price.provenance))
    for addon in price.addons:
        if all(a is not addon for a, _ in due):
            notes.append(
                f"{addon.name} would add ${plain_usd(addon.usd)} per {addon.per} with "
                f"{addon.field}={_field_text(addon.when[0])}"
            )
    return lines


def _field_text(value: Any) -> str:
    """A request field's value as the provider's JSON spells it (``true``, not ``True``)."""
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _rate(rates: TokenRates | None, kind: str) -> Decimal | None:
    return None if rates is None else getattr(rates, kind)


_TOKEN_ITEMS = {
    "text_in": "input text tokens",
    "cached_text_in": "cached input text tokens",
    "image_in": "input image tokens",
    "cached_image_in": "cached input image tokens",
    "image_out": "image output tokens",
    "text_out": "output text tokens",
}


def _token_line(kind: str, tokens: int, rates: TokenRates, basis: str, provenance, item: str | None = None):
    """``tokens`` x the per-1M rate of ``kind``; a missing rate is an explicit ``UnknownPriceError``."""
    rate = _rate(rates, kind)
    if rate is None:
        raise UnknownPriceError(f"no {kind} token rate published for {tokens} {_TOKEN_ITEMS[kind]}")
    return _line(
        item or _TOKEN_ITEMS[kind], tokens, "tokens", rate / PER_MILLION, "tokens", basis, provenance
    )


def _day(on: dt.date | dt.datetime | str | None) -> dt.date | None:
    if on is None or (isinstance(on, dt.date) and not isinstance(on, dt.datetime)):
        return on
    if isinstance(on, dt.datetime):
        return (on.astimezone(dt.UTC) if on.tzinfo else on).date()
    return dt.datetime.fromisoformat(str(on).replace("Z", "+00:00")).date()


def _provider(cat: Catalog, model: str, provider: str | None) -> Provider:
    """The provider a logged or returned bill names, else the first that serves the model."""
    if provider is not None:
        return cat.provider(provider)
    served_by = cat.providers_for(model)
    if not served_by:
        raise UnknownPriceError(f"no provider serves {model}")
    return cat.provider(served_by[0])


def _finish(
    provider: Provider,
    price: Price,
    lines: list[CostLine],
    method: str,
    notes: list[str],
    *,
    calls: Sequence[int] = (1,),
    batch: bool = False,
    sources: Sequence[str] = (),
) -> Cost:
    """Apply batch multiplier, gateway markup and per-request rounding to itemised lines, then total them.

    The cost's ``sources``: the price's, then ``sources`` (the model facts used), batch and rounding.
    """
    used = [*price.source, *sources]
    if batch:
        if price.batch is None:
            raise UnknownPriceError(f"no batch price published at {provider.id}")
        b = price.batch
        basis = f"{b.provenance}: Batch API = every rate x {plain_usd(b.multiplier)}"
        lines.append(
            _batch_line(lines, b.multiplier, basis + (f" ({b.notes})" if b.notes else ""), b.provenance)
        )
        used += b.source
    markup = provider.markup
    if markup:
        lines.append(
            _adjustment(f"{provider.id} markup", lines, markup, "markup", "provider markup", "published")
        )
    elif markup is not None:
        notes.append(f"{provider.id}: no markup over the provider's price")
    rounding = price.rounding
    if rounding.mode != "none":
        used += rounding.source
        subtotal = sum((ln.amount_usd for ln in lines), Decimal(0))
        images = sum(calls)
        mode = ROUND_CEILING if rounding.mode == "ceil" else ROUND_HALF_UP
        q = rounding.quantum
        for i, call in enumerate(calls):
            call_total = subtotal * call / images if images else subtotal
            rounded = (call_total / q).to_integral_value(mode) * q
            label = "request total" if len(calls) == 1 else f"request {i + 1} of {len(calls)} total"
            lines.append(
                _line(
                    f"{label} rounded {'up ' if rounding.mode == 'ceil' else ''}to ${plain_usd(q)}",
                    1,
                    "request",
                    rounded - call_total,
                    "rounding",
                    f"{rounding.mode}({plain_usd(call_total)} / {plain_usd(q)}) x {plain_usd(q)}: the provider rounds each request total",
                    price.provenance,
                )
            )
    return _known(lines, method, notes, used)


# --- quotes -----------------------------------------------------------------------------------------------


def _billed_qualities(model: Model, quality: str | None, notes: list[str]) -> list[str | None]:
    """The qualities a delivered request may have been billed at: the echoed (or logged) one, else, when
    none is known (not echoed, ``auto``), every quality of the model: a range, never the lowest tier."""
    if model.qualities and quality is None:
        notes.append(f"quality not known: billed at one of {', '.join(model.qualities)}")
        return list(model.qualities)
    return [resolve_quality(model, quality)]  # the one quality rule: a tier the model has, or none


def _standard_sizes(model: Model, notes: list[str]) -> list[str]:
    """The sizes ``auto`` may produce: the fixed sizes, else the standard sizes at the default tier."""
    rules = model.sizes
    if rules.fixed:
        return list(rules.fixed)
    tier = rules.default_resolution
    sizes = sorted({s for by_tier in rules.aspect_ratios.values() for t, s in by_tier.items() if t == tier})
    notes.append(f"size auto assumed to pick one of {', '.join(sizes)} (the model's standard sizes)")
    return sizes


def _one_or_range(qualities, sizes, price_one, notes: list[str]) -> Cost:
    """Price one quality x size, or each combination ``auto`` may pick as a low/high range."""
    if len(qualities) == 1 and len(sizes) == 1:
        return price_one(qualities[0], sizes[0], notes)
    variants = [(q, s, price_one(q, s, [])) for q in qualities for s in sizes]
    totals = {c.total_usd for _, _, c in variants}
    if None not in totals and len(totals) == 1:  # whatever auto picks costs the same: one total
        q, size, first = variants[0]
        what = " and ".join(w for w, on in (("quality", len(qualities) > 1), ("size", len(sizes) > 1)) if on)
        same = (
            f"{what} 'auto': every value the provider may pick costs the same "
            f"(the lines show quality {q or '-'} size {size})"
        )
        return dataclasses.replace(first, notes=(*notes, *first.notes, same))
    return _range(variants, notes, auto_quality=len(qualities) > 1, auto_size=len(sizes) > 1)


def _input_lines(
    model: Model,
    price: Price,
    *,
    prompt_tokens: int,
    input_images: Sequence[tuple[int, int]],
    fidelity: str,
    copies: int,
    notes: list[str],
) -> list[CostLine]:
    """Estimated input text and image token lines, each input billed ``copies`` times (once per image)."""
    rates = price.tokens
    lines: list[CostLine] = []
    if rates is None:
        return lines
    per_n = (
        f" x {copies} (each image billed as a separate call, input included: community, CF-1381388)"
        if copies > 1
        else ""
    )
    prov = Provenance.COMMUNITY if copies > 1 else Provenance.ASSUMED
    if prompt_tokens and rates.text_in is not None:
        lines.append(
            _token_line(
                "text_in",
                prompt_tokens * copies,
                rates,
                f"estimate: {prompt_tokens} prompt tokens = ceil(characters / {CHARS_PER_TOKEN}){per_n}",
                prov,
            )
        )
    elif not prompt_tokens and rates.text_in is not None:
        notes.append("input text tokens not counted (no prompt given)")
    if not input_images:
        return lines
    approx = price.input_image_tokens_per_image
    if approx is not None and fidelity != "high":
        tokens = approx * len(input_images)
        basis = f"estimate: the provider's approximation of {approx} tokens per input image{per_n}"
        lines.append(_token_line("image_in", tokens * copies, rates, basis, Provenance.PUBLISHED))
        return lines
    if approx is not None:
        notes.append(
            "input_fidelity=high at this provider: OpenAI's tile rule plus the high-fidelity extra "
            "(the provider's own approximation covers low fidelity)"
        )
    parts, base_total, extra_total, extra = [], 0, 0, None
    for w, h in input_images:
        sw, sh, tiles = _tiles(model, w, h)
        tokens = input_image_tokens(model, w, h)
        base_total += tokens
        parts.append(f"{w}x{h} -> {sw}x{sh} -> {tiles} tile{'s' * (tiles > 1)} -> {tokens}")
        if fidelity == "high":
            extra, add = _fidelity_extra(model, w, h)
            extra_total += add
    lines.append(
        _token_line(
            "image_in",
            base_total * copies,
            rates,
            "estimate: tile rule (shortest side to 512 px, long side rounded down, 65 + 129 x tiles): "
            + "; ".join(parts)
            + per_n,
            Provenance.DERIVED if copies == 1 else Provenance.COMMUNITY,
        )
    )
    if fidelity == "high":
        assert extra is not None  # the loop above ran: there are input images
        older = [e for e in _token_rule(model).fidelity_high_extra if not e.current]
        older_txt = "; older copies of the guide said " + " / ".join(f"{e.square} / {e.other}" for e in older)
        lines.append(
            _token_line(
                "image_in",
                extra_total * copies,
                rates,
                f"{extra.provenance}: input_fidelity=high adds {extra.square} tokens per square input, "
                f"{extra.other} otherwise (current constants{older_txt if older else ''})"
                + (f"; {extra.notes}" if extra.notes else "")
                + per_n,
                extra.provenance
                if copies == 1 or extra.provenance == Provenance.ASSUMED
                else Provenance.COMMUNITY,
                item="input image tokens, input_fidelity=high extra",
            )
        )
    return lines


def _range(variants, notes: list[str], *, auto_quality: bool, auto_size: bool) -> Cost:
    """A low/high range over the combinations ``auto`` may pick, with ``total_usd=None``.

    A combination that is itself a range (a disputed or unrounded price) adds its ends; one without any
    price leaves the high end unknown (``high_usd=None``), named in a note: never a silent lower bound.
    """
    priced = [(q, s, c) for q, s, c in variants if c.low_usd is not None]
    if not priced:
        return _unknown("no price for any quality/size that auto may pick", notes)
    lo = min(priced, key=lambda v: v[2].low_usd)
    unpriced = [(q, s) for q, s, c in variants if c.high_usd is None]
    hi = None if unpriced else max(priced, key=lambda v: v[2].high_usd)
    high_usd = hi[2].high_usd if hi else None
    what = " and ".join(w for w, on in (("quality", auto_quality), ("size", auto_size)) if on)
    reason = (
        f"{what} 'auto': the provider picks the value, so the price is a range "
        f"{lo[2].low_usd} .. {high_usd if high_usd is not None else 'unknown'}; give an explicit {what} for one total"
    )
    ends = [f"low: quality {lo[0] or '-'} size {lo[1]} -> {lo[2].low_usd} ({lo[2].method})"]
    if hi:
        ends.append(f"high: quality {hi[0] or '-'} size {hi[1]} -> {high_usd} ({hi[2].method})")
    else:
        missing = ", ".join(f"quality {q or '-'} size {s}" for q, s in unpriced)
        ends.append(f"high: unknown, no price for {missing}")
    methods = {c.method for _, _, c in priced}
    method = methods.pop() if len(methods) == 1 else "mixed"
    sources = tuple(dict.fromkeys(tag for _, _, c in priced for tag in c.sources))
    return Cost(None, lo[2].low_usd, high_usd, method, (), (*notes, *ends), reason, sources)


def _choose_method(table, out, megapixels, method: str) -> str | None:
    """Output pricing method: the explicit one, else table, then token math, then per megapixel."""
    if method != "auto":
        return method
    if table:
        return "table"
    if out:
        return "tokens"
    return "per_megapixel" if megapixels is not None else None


def _price_request(
    m: Model,
    provider: Provider,
    price: Price,
    *,
    quality: str | None,
    size: str,
    dims: Sequence[tuple[int, int] | None],
    calls: Sequence[int],
    partial_images: int = 0,
    prompt_tokens: int = 0,
    input_images: Sequence[tuple[int, int]] = (),
    fidelity: str = "low",
    batch: bool = False,
    method: str = "auto",
    bill: bool = False,
    options: Mapping[str, Any] | None = None,
    addons: bool = True,
    mp_rounding: str | None = None,
    notes: list[str],
) -> Cost:
    """Itemise one request of ``len(dims)`` images at one quality and size (shared by quotes and bills).

    Output: per-image table (by WxH, resolution tier or any size; USD or credits), token math, or megapixels
    (``dims`` = each image's dimensions; first and additional megapixels, a fee, input megapixels); then
    add-ons the request's ``options`` switch on, partial-image tokens, input estimates, batch, markup and
    rounding. A disputed schedule (``price.alternatives``) or an unpublished megapixel rounding gives a
    low/high range instead of a total. An explicit ``method`` without a price raises ``UnknownPriceError``;
    ``auto`` without any price returns an ``unknown`` cost.
    """
    kw: dict[str, Any] = dict(
        quality=quality, size=size, dims=dims, calls=calls, partial_images=partial_images,
        prompt_tokens=prompt_tokens, input_images=input_images, fidelity=fidelity, batch=batch,
        method=method, bill=bill, options=options, addons=addons,
    )  # fmt: skip
    if price.alternatives:
        main = _price_request(m, provider, _schedule(price), **kw, mp_rounding=mp_rounding, notes=notes)
        others = [
            (alt, _price_request(m, provider, _schedule(price, alt), **kw, mp_rounding=mp_rounding, notes=[]))
            for alt in price.alternatives
        ]
        return _disputed(main, others, notes)
    images = len(dims)
    provider_id = provider.id
    rates = price.tokens
    unit = _megapixel_unit(price, quality)
    found = _per_image_row(m, price, quality, size)
    out_rate = rates.image_out if rates else None
    out = output_image_tokens(m, quality, size) if out_rate is not None else None
    chosen = _choose_method(found, out, unit, method)
    if chosen == "per_megapixel" and unit is not None and unit.rounding == "unknown" and mp_rounding is None:
        if any(d is None for d in dims):
            return _unknown(f"per-megapixel price but image dimensions unknown for {m.id}", notes)
        return _rounding_range(m, provider, price, kw, notes)
    lines: list[CostLine] = []
    if chosen == "table" and found is not None:
        row, key = found
        basis = "published per-image price" + {"other": " (row for other sizes)", size: ""}.get(
            key, f" at resolution tier {key}"
        )
        if row.credits is not None:
            basis += f": {plain_usd(row.credits)} credits per image"
        if row.notes:
            basis += f" ({row.notes})"
        item = f"per-image price {quality + ' ' if quality else ''}{size}"
        lines.append(_line(item, images, "images", row.usd, "per_image_table", basis, price.provenance))
        if out is not None and out_rate is not None:
            exact = out[0] * out_rate / PER_MILLION
            notes.append(
                f"token math for the output would be {plain_usd(exact)} per image "
                f"({out[0]} tokens x {plain_usd(out_rate)}/1M; table / tokens = {row.usd / exact:.3f})"
            )
    elif chosen == "tokens" and out is not None:
        ot = m.output_tokens
        assert ot is not None and rates is not None  # the output tokens came from both
        basis = f"estimate{' without usage' if bill else ''}: {out[1]} x {images} images"
        if ot.provenance == Provenance.ASSUMED and ot.notes:
            basis += f"; assumed: {ot.notes[0]}"
        lines.append(_token_line("image_out", out[0] * images, rates, basis, ot.provenance))
        if found is not None:
            notes.append(f"published per-image price would be {plain_usd(found[0].usd)} per image (not used)")
    elif chosen == "per_megapixel" and unit is not None:
        known_dims = [d for d in dims if d is not None]
        if len(known_dims) < len(dims):
            return _unknown(f"per-megapixel price but image dimensions unknown for {m.id}", notes)
        lines += _megapixel_lines(
            unit, mp_rounding or unit.rounding, known_dims, input_images, len(calls), price.provenance, notes
        )
        if unit.notes:
            notes.append(unit.notes)
    elif method != "auto":
        raise UnknownPriceError(
            f"no {method} price for {m.id} quality {quality} size {size} at {provider_id}"
        )
    else:
        return _unknown(
            f"no published price for {m.id} quality {quality} size {size} at {provider_id}", notes
        )
    if addons:
        lines += _addon_lines(price, options or {}, images, len(calls), notes)
    if partial_images:
        if rates is not None and rates.image_out is not None and m.output_tokens is not None:
            per = m.output_tokens.partial_image
            lines.append(
                _token_line(
                    "image_out",
                    per * partial_images * images,
                    rates,
                    f"upper bound: +{per} image output tokens per partial image x {partial_images} x {images} "
                    "images (OAI-GUIDE)",
                    Provenance.PUBLISHED,
                    item="partial image output tokens",
                )
            )
        elif bill:
            notes.append("partial images logged but no partial-image price published: not billed")
        else:
            raise UnknownPriceError(f"no partial-image price for {m.id} at {provider_id}")
    if chosen != "per_megapixel":  # input megapixels are part of the megapixel lines
        lines.extend(
            _input_lines(
                m,
                price,
                prompt_tokens=prompt_tokens,
                input_images=input_images,
                fidelity=fidelity,
                copies=images,
                notes=notes,
            )
        )
    method_name = {"table": "per_image_table"}.get(chosen, chosen)
    facts: list[str] = []  # the model's published token counts, where the lines used them
    if m.output_tokens is not None and (chosen == "tokens" or partial_images):
        facts += m.output_tokens.source
    if (
        chosen != "per_megapixel"
        and input_images
        and m.input_image_tokens is not None
        and price.input_image_tokens_per_image is None
    ):
        facts += m.input_image_tokens.source
    facts += [t for a, _ in (_addons_due(price, options or {}) if addons else ()) for t in a.source]
    return _finish(provider, price, lines, method_name, notes, calls=calls, batch=batch, sources=facts)


_SCHEDULES: dict = {}  # _schedule by price and alternative (identity)


def _schedule(price: Price, alternative: Price | None = None) -> Price:
    """The price schedule without its disputed alternatives, or one alternative: the main schedule with the
    fields the alternative gives (its units, sources and provenance) replaced."""
    return memo_by_identity(_SCHEDULES, (price, alternative), lambda: _merged_schedule(price, alternative))


def _merged_schedule(price: Price, alternative: Price | None) -> Price:
    if alternative is None:
        return price.model_copy(update={"alternatives": ()})
    given = {
        k: getattr(alternative, k)
        for k in alternative.model_fields_set
        if k not in ("valid_from", "valid_to")
    }
    return price.model_copy(update={**given, "alternatives": ()})


def _disputed(main: Cost, others: Sequence[tuple[Price, Cost]], notes: list[str]) -> Cost:
    """Main and disputed schedules priced alike: one total where they agree, else a low/high range."""
    costs = [main, *(c for _, c in others)]
    sources = tuple(dict.fromkeys(t for c in costs for t in c.sources))
    shown = [f"{_total_text(main)} ({', '.join(main.sources[:3])})"]
    shown += [f"{_total_text(c)} ({', '.join(alt.source)})" for alt, c in others]
    if all(c.total_usd is not None for c in costs) and len({c.total_usd for c in costs}) == 1:
        return Cost(
            main.total_usd, main.low_usd, main.high_usd, main.method, main.lines,
            (*main.notes, f"disputed price, the same here: {' or '.join(shown)}"), sources=sources,
        )  # fmt: skip
    lows = [c.low_usd for c in costs if c.low_usd is not None]
    highs = [c.high_usd for c in costs]
    known_highs = [h for h in highs if h is not None]
    high = max(known_highs) if len(known_highs) == len(highs) else None
    reason = f"disputed price: {' or '.join(shown)}; both kept, so the quote is a range"
    notes = [*notes, *(n for n in main.notes if n not in notes)]
    return Cost(None, min(lows) if lows else None, high, main.method, (), tuple(notes), reason, sources)


def _total_text(cost: Cost) -> str:
    if cost.total_usd is not None:
        return str(cost.total_usd)
    if cost.low_usd is not None:
        return f"{cost.low_usd} .. {cost.high_usd if cost.high_usd is not None else 'unknown'}"
    return "unknown"


def _rounding_range(m: Model, provider: Provider, price: Price, kw: dict[str, Any], notes: list[str]) -> Cost:
    """A megapixel price whose rounding the provider does not publish (BFL): priced with fractional and
    with whole megapixels; one total where both agree, else the range between them."""
    low = _price_request(m, provider, price, **kw, mp_rounding="none", notes=list(notes))
    high = _price_request(m, provider, price, **kw, mp_rounding="ceil", notes=list(notes))
    if low.total_usd == high.total_usd:
        return Cost(
            low.total_usd, low.low_usd, low.high_usd, low.method, low.lines,
            (*low.notes, f"{provider.id} does not publish how it rounds megapixels; whole megapixels here, so it does not matter"),
            sources=low.sources,
        )  # fmt: skip
    reason = (
        f"{provider.id} does not publish how it rounds megapixels: between {low.total_usd} (fractional "
        f"megapixels) and {high.total_usd} (rounded up per image); the response's own cost is the bill"
    )
    ends = [f"{label}: {' + '.join(f'{ln.item} {ln.quantity} x {ln.rate_usd}' for ln in c.lines)} = {c.total_usd}"
            for label, c in (("fractional", low), ("rounded up", high))]  # fmt: skip
    return Cost(
        None, low.total_usd, high.total_usd, "per_megapixel", (), (*notes, *ends), reason, low.sources
    )


def quote_request(
    request: PricedRequest, *, batch: bool = False, method: Method = "auto", on: dt.date | None = None
) -> Cost:
    """Price a resolved request before sending it: total plus itemised lines, or a low/high range for ``auto``.

    ``request`` (:class:`imgkit.params.PricedRequest`, from :meth:`imgkit.params.ResolvedRequest.priced` or
    :func:`imgkit.params.resolve_priced`) is priced as it is: no catalog look-up, no second check. The price
    schedule is the offering's in force ``on`` (default today). ``method="auto"`` uses the published
    per-image table where a row exists, else token math (or the per-megapixel rate); ``"table"`` /
    ``"tokens"`` force one and raise ``UnknownPriceError`` when the catalog has no such price. Quality or
    size ``auto`` is priced as the range of what the provider may pick (``total_usd=None``).
    """
    if method not in ("auto", "table", "tokens"):
        raise InvalidParameterError("method", method, ("auto", "table", "tokens"))
    m = request.model
    price = request.offering.price_on(on, request.provider.id)
    notes: list[str] = []
    if request.lifecycle is not None:
        lifecycle = request.lifecycle.on(on)
        lifecycle.check_quotable()  # a shutdown a primary or copy source states: refused, naming the date
        if lifecycle.state != "active":
            notes.append(f"{m.id} at {request.provider.id}: {lifecycle.note}")
    notes += request.notes
    qualities = list(m.qualities) if request.quality == "auto" else [request.quality]
    sizes = _standard_sizes(m, notes) if request.size == "auto" else [request.size]
    tokens = count_prompt_tokens(request.prompt) if request.prompt_tokens is None else request.prompt_tokens
    inputs = request.input_images
    fidelity = request.input_fidelity if inputs else "low"

    def price_one(q: str | None, size: str, notes_: list[str]) -> Cost:
        return _price_request(
            m,
            request.provider,
            price,
            quality=q,
            size=size,
            dims=[parse_wxh(size)] * request.n,
            calls=request.calls,
            partial_images=request.partial_images,
            prompt_tokens=tokens,
            input_images=inputs,
            fidelity=fidelity,
            batch=batch,
            method=method,
            options=request.options,
            notes=notes_,
        )

    return _one_or_range(qualities, sizes, price_one, notes)


def quote(
    model: str,
    provider: str | None = None,
    *,
    mode: str = "generate",
    quality: str | None = None,
    width: int | None = None,
    height: int | None = None,
    n: int = 1,
    partial_images: int = 0,
    input_images: Sequence[tuple[int, int]] = (),
    input_fidelity: str | None = None,
    prompt: str = "",
    prompt_tokens: int | None = None,
    calls: Sequence[int] | None = None,
    batch: bool = False,
    method: Method = "auto",
    options: Mapping[str, Any] | None = None,
    on: dt.date | None = None,
    catalog: Catalog | None = None,
) -> Cost:
    """Price a request described by its fields: :func:`imgkit.params.resolve_priced`, then :func:`quote_request`.

    ``prompt_tokens`` overrides the ``ceil(chars / 4)`` estimate of ``prompt``; ``calls`` gives the images
    per provider call (default: ``n`` split by the offering's ``n_max``), which matters where a provider
    rounds each request total; ``input_images`` are (width, height) pairs; ``options`` are provider fields
    that switch priced add-ons (fal's ``enable_prompt_expansion``). Quality and size left out are the model's
    defaults (a note says so).
    """
    request = resolve_priced(
        model,
        provider,
        mode=mode,
        quality=quality,
        width=width,
        height=height,
        n=n,
        calls=calls,
        partial_images=partial_images,
        input_images=input_images,
        input_fidelity=input_fidelity,
        prompt=prompt,
        prompt_tokens=prompt_tokens,
        options=options,
        catalog=catalog,
    )
    return quote_request(request, batch=batch, method=method, on=on)


# --- bills ------------------------------------------------------------------------------------------------


def _count(value: Any, field: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise PricingError(f"{field}={value!r} is not a non-negative integer token count")
    try:
        n = int(value)
    except ValueError:
        raise PricingError(f"{field}={value!r} is not a non-negative integer token count") from None
    if n < 0 or n != Decimal(value):
        raise PricingError(f"{field}={value!r} is not a non-negative integer token count")
    return n


def cost_from_usage(
    usage: Mapping[str, Any],
    rates: TokenRates,
    *,
    batch_multiplier: Decimal | None = None,
    provenance: str = Provenance.PUBLISHED,
) -> Cost:
    """Bill an OpenAI-shape ``usage`` object with token ``rates`` (USD per 1M tokens).

    ``text_in x r + image_in x r + image_out x r + text_out x r``. Without ``output_tokens_details`` all
    output tokens are image tokens (the higher rate: never under-bills); an itemised remainder is billed as
    text. Cached rates apply only to caller-supplied ``input_tokens_details.cached_text_tokens`` /
    ``cached_image_tokens`` (subsets of text / image tokens); OpenAI reports none. A token kind without a
    published rate gives an ``unknown`` cost, except output text, billed at the image rate (upper bound).
    """
    notes: list[str] = []
    details = usage.get("input_tokens_details")
    input_total = _count(usage.get("input_tokens"), "usage.input_tokens")
    counts: dict[str, int] = {}
    if isinstance(details, Mapping):
        text = _count(details.get("text_tokens"), "usage.input_tokens_details.text_tokens")
        image = _count(details.get("image_tokens"), "usage.input_tokens_details.image_tokens")
        cached_text = _count(details.get("cached_text_tokens"), "cached_text_tokens")
        cached_image = _count(details.get("cached_image_tokens"), "cached_image_tokens")
        if cached_text > text or cached_image > image:
            raise PricingError("cached token counts exceed the text / image token counts they belong to")
        rest = input_total - text - image
        if rest > 0:
            notes.append(f"{rest} input tokens not itemised in input_tokens_details: billed as text")
            text += rest
        counts.update(
            text_in=text - cached_text,
            cached_text_in=cached_text,
            image_in=image - cached_image,
            cached_image_in=cached_image,
        )
    elif input_total:
        higher = "image_in" if (rates.image_in or 0) >= (rates.text_in or 0) else "text_in"
        notes.append(
            f"input_tokens_details absent: all {input_total} input tokens billed as {higher} (upper bound)"
        )
        counts[higher] = input_total
    out_total = _count(usage.get("output_tokens"), "usage.output_tokens")
    out_details = usage.get("output_tokens_details")
    if isinstance(out_details, Mapping):
        image_out = _count(out_details.get("image_tokens"), "usage.output_tokens_details.image_tokens")
        text_out = _count(out_details.get("text_tokens"), "usage.output_tokens_details.text_tokens")
        rest = out_total - image_out - text_out
        if rest > 0:
            notes.append(f"{rest} output tokens not itemised in output_tokens_details: billed as text")
            text_out += rest
        elif rest < 0:
            notes.append("output_tokens_details add up to more than output_tokens: billed as itemised")
    else:
        image_out, text_out = out_total, 0
        if out_total:
            notes.append(
                f"output_tokens_details absent: all {out_total} output tokens billed as image tokens"
            )
    counts.update(image_out=image_out, text_out=text_out)
    lines: list[CostLine] = []
    for kind, tokens in counts.items():
        if not tokens:
            continue
        bill_as = kind
        if _rate(rates, kind) is None and kind.startswith("cached_") and _rate(rates, kind[7:]) is not None:
            bill_as = kind[7:]
            notes.append(f"no {kind} rate: cached tokens billed at the {bill_as} rate")
        elif kind == "text_out" and rates.text_out is None and rates.image_out is not None:
            bill_as = "image_out"
            notes.append(
                "no output-text rate published: output text tokens billed at the image rate (upper bound)"
            )
        if _rate(rates, bill_as) is None:
            return _unknown(f"{tokens} {_TOKEN_ITEMS[kind]} in usage but no {kind} rate published", notes)
        lines.append(_token_line(bill_as, tokens, rates, "usage", provenance, item=_TOKEN_ITEMS[kind]))
    if batch_multiplier is not None:
        lines.append(_batch_line(lines, batch_multiplier, "batch multiplier given by the caller", provenance))
    if not lines:
        notes.append("usage reports no billable tokens")
    return _known(lines, "tokens", notes)


def _decimal(value: Any, field: str) -> Decimal:
    """Money from JSON: strings, ints and Decimals exactly; a float by its shortest repr (never binary)."""
    if isinstance(value, bool):
        raise PricingError(f"{field}={value!r} is not an amount")
    if isinstance(value, float):
        value = repr(value)
    try:
        d = Decimal(value)
    except Exception:
        raise PricingError(f"{field}={value!r} is not an amount") from None
    if not d.is_finite() or d < 0:
        raise PricingError(f"{field}={value!r} is not a non-negative amount")
    return d


def _usable(value: Any) -> str | None:
    return None if value in (None, "", "auto") else str(value)


def _norm_size(value: Any) -> str | None:
    """A usable ``WxH`` size in canonical form, or ``None`` (missing, ``auto`` or malformed)."""
    size = _usable(value)
    if size is None:
        return None
    try:
        w, h = parse_wxh(size)
    except ValueError:
        return None
    return f"{w}x{h}"


def _bill_without_usage(
    m: Model,
    provider: Provider,
    price: Price,
    *,
    quality: str | None,
    size: str | None,
    dims: Sequence[tuple[int, int] | None],
    partial_images: int = 0,
    prompt_tokens: int = 0,
    input_images: Sequence[tuple[int, int]] = (),
    notes: list[str],
    batch: bool = False,
) -> Cost:
    """Bill a request whose response carries no usage: table, else token estimate, else per megapixel.

    ``quality``/``size`` are the values actually used (echoed, or requested when not echoed); a missing
    one (``None``: not known, or ``auto``) gives ``method="unknown"`` with the low/high range the provider
    may have billed, never the model's default or lowest tier. ``dims`` lists each delivered image's dimensions.
    """
    if not m.qualities:
        quality = None  # a model without a quality parameter: a logged value means nothing
    try:
        qualities = _billed_qualities(m, quality, notes)
    except InvalidParameterError as exc:
        return _unknown(str(exc), notes)
    if size is None and not (price.per_image or m.output_tokens):
        return _unknown(f"no output size known for {m.id} at {provider.id} (no echo, no dimensions)", notes)
    sizes = [size] if size is not None else _standard_sizes(m, notes)

    def price_one(q: str | None, s: str, notes_: list[str]) -> Cost:
        return _price_request(
            m,
            provider,
            price,
            quality=q,
            size=s,
            dims=dims,
            calls=(len(dims),),
            partial_images=partial_images,
            prompt_tokens=prompt_tokens,
            input_images=input_images,
            bill=True,
            batch=batch,
            notes=notes_,
        )

    cost = _one_or_range(qualities, sizes, price_one, notes)
    if cost.total_usd is None and cost.method != "unknown":  # a bill is known or not: keep the range
        return _unknown(cost.unknown_reason, cost.notes, cost.low_usd, cost.high_usd)
    return cost


def cost_from_response(
    body: Mapping[str, Any],
    *,
    model: str,
    provider: str | None = None,
    requested_quality: str | None = None,
    requested_size: str | None = None,
    prompt_tokens: int | None = None,
    input_images: Sequence[tuple[int, int]] = (),
    on: dt.date | dt.datetime | None = None,
    catalog: Catalog | None = None,
) -> Cost:
    """The actual cost of one provider response body (OpenAI-shape, gateway, or fal).

    Gateway ``metadata.cost`` is the bill when present (the computed value is compared in a note); else
    ``usage`` x token rates; else the echoed (or requested) quality and size against the per-image table;
    fal: per megapixel from ``images[].width/height`` or the table, then the request rounding. An unknown
    price is ``Cost(total_usd=None, method="unknown")``, never 0. ``prompt_tokens`` / ``input_images``
    add the input of providers that report no usage (fal gpt-image endpoints) when the caller knows them.
    """
    cat = catalog or load_catalog()
    m = cat.model(model)
    prov = _provider(cat, model, provider)
    answered = _answer_without_prices(body, prov)
    if answered is not None:
        return answered
    offering = cat.offering(m.id, prov.id)
    m = cat.offered_model(m.id, prov.id)  # the provider's own size rules name the tiers it bills
    return _bill(
        body, m, prov, offering, requested_quality, requested_size, prompt_tokens, input_images, _day(on)
    )


def bill_response(
    body: Mapping[str, Any],
    request: PricedRequest,
    *,
    on: dt.date | dt.datetime | None = None,
    batch: bool = False,
) -> Cost:
    """:func:`cost_from_response` for a response to ``request`` (its model, provider, offering, quality and
    size; no catalog look-up): what the provider client bills every attempt with. The request's prompt and
    input images add the input where the provider reports no usage (fal), as the caller of
    :func:`cost_from_response` passes them. ``batch``: the answer of a Batch API request, billed at the
    offering's batch price (``UnknownPriceError`` when it has none).
    """
    answered = _answer_without_prices(body, request.provider)
    if answered is not None:
        return answered
    tokens = None
    if request.provider.adapter == "fal":
        tokens = (
            count_prompt_tokens(request.prompt) if request.prompt_tokens is None else request.prompt_tokens
        )
    return _bill(
        body,
        request.model,
        request.provider,
        request.offering,
        request.quality,
        request.size,
        tokens,
        request.input_images,
        _day(on),
        batch,
    )


def _answer_without_prices(body: Mapping[str, Any], provider: Provider) -> Cost | None:
    """The bill of an error answer or of a gateway's dry-run estimate (no catalog price needed), else None."""
    if "error" in body or ("detail" in body and "images" not in body):
        if provider.adapter == "fal":
            return _unknown("error response from fal: server errors are free, a 422 may be billed")
        return Cost(
            Decimal(0), Decimal(0), Decimal(0), "not_billed", (), ("error response: nothing delivered",)
        )
    if body.get("estimated") and "total_cost_micros" in body:
        micros = _decimal(body["total_cost_micros"], "total_cost_micros")
        comps = "; ".join(
            f"{c.get('metric')}: {c.get('billable_quantity', c.get('quantity'))} x {c.get('unit_price')}"
            for c in body.get("components") or ()
        )
        line = _line(
            "gateway dry-run estimate",
            1,
            "request",
            micros / PER_MILLION,
            "gateway_metadata",
            "estimate: gateway dryRun total_cost_micros",
            Provenance.PUBLISHED,
        )
        return _known([line], "gateway_metadata", [f"components: {comps}"] if comps else [])
    return None


def _bill(
    body: Mapping[str, Any],
    m: Model,
    provider: Provider,
    offering: Offering,
    requested_quality: str | None,
    requested_size: str | None,
    prompt_tokens: int | None,
    input_images: Sequence[tuple[int, int]],
    on: dt.date | None,
    batch: bool = False,
) -> Cost:
    """The bill of a response that delivered images: the gateway's ``metadata.cost``, else computed."""
    notes: list[str] = []
    try:
        asked = (requested_quality, requested_size, prompt_tokens, input_images)
        computed = _compute_response_cost(m, provider, offering, body, *asked, on, batch)
    except UnknownPriceError as exc:
        computed = _unknown(str(exc))
    meta = body.get("metadata")
    if isinstance(meta, Mapping) and meta.get("cost") is not None:
        currency = str(meta.get("cost_currency") or "USD").upper()
        if currency != "USD":
            return _unknown(f"gateway metadata.cost is in {currency}, not USD", notes)
        charged = _decimal(meta["cost"], "metadata.cost")
        if meta.get("provider"):
            notes.append(
                f"served by {meta.get('provider')} ({meta.get('provider_name') or ''})".replace(" ()", "")
            )
        if computed.total_usd is not None:
            diff = charged - computed.total_usd
            notes.append(
                f"computed from the catalog: {computed.total_usd} ({computed.method}); "
                + (
                    "matches the gateway's charge"
                    if diff == 0
                    else f"gateway charge differs by {plain_usd(diff)}"
                )
            )
        else:
            notes.append(f"not computable from the catalog: {computed.unknown_reason}")
        line = _line(
            "gateway charge (metadata.cost)",
            1,
            "request",
            charged,
            "gateway_metadata",
            "the gateway's own bill",
            Provenance.MEASURED,
        )
        return _known([line], "gateway_metadata", notes)
    return computed


def _compute_response_cost(
    m, provider, offering, body, requested_quality, requested_size, prompt_tokens, input_images, on, batch
) -> Cost:
    price = offering.price_on(on, provider.id)
    adapter = provider.adapter
    notes: list[str] = []
    usage = body.get("usage")
    if isinstance(usage, Mapping) and adapter != "fal":
        if price.tokens is None:
            return _unknown(f"usage returned but no token rates for {m.id} at {provider.id}")
        cost = cost_from_usage(usage, price.tokens, provenance=price.provenance)
        if cost.total_usd is None:
            return cost
        return _finish(provider, price, list(cost.lines), "tokens", list(cost.notes), batch=batch)
    if adapter == "fal":
        found = _fal_images(body, requested_size, notes)
        if isinstance(found, Cost):
            return found
        size, dims = found
        quality = _usable(requested_quality)
        if m.qualities and quality is None:
            notes.append("fal does not echo quality")
    else:
        data = body.get("data")
        if isinstance(data, list):
            images = len(data)
        elif body.get("b64_json") or body.get("url"):
            images = 1  # a streaming completed event carries one image
        else:
            return _unknown("response lists no images and carries no usage")
        quality = _usable(body.get("quality")) or _usable(requested_quality)
        size = _norm_size(body.get("size")) or _norm_size(requested_size)
        if _usable(body.get("quality")) is None and quality:
            notes.append(f"quality not echoed: requested {quality!r} used")
        if _usable(body.get("size")) is None and size:
            notes.append(f"size not echoed: requested {size} used")
        dims = [parse_wxh(size) if size else None] * images
    return _bill_without_usage(
        m,
        provider,
        price,
        quality=quality,
        size=size,
        dims=dims,
        prompt_tokens=prompt_tokens or 0,
        input_images=input_images,
        notes=notes,
        batch=batch,
    )


def _fal_images(body: Mapping[str, Any], requested_size: str | None, notes: list[str]):
    """fal ``images[{width, height}]`` -> (the common size or None, each image's dimensions)."""
    imgs = body.get("images")
    if not isinstance(imgs, list):
        return _unknown("fal response has no images list")
    requested = _norm_size(requested_size)
    fallback = parse_wxh(requested) if requested else None
    dims: list[tuple[int, int] | None] = []
    for img in imgs:
        w, h = (img or {}).get("width"), (img or {}).get("height")
        dims.append((int(w), int(h)) if w and h else fallback)
    if any(d is None for d in dims):
        notes.append("some images carry no width/height")
    elif fallback and any(not (img or {}).get("width") for img in imgs):
        notes.append(f"image dimensions not returned: requested size {requested} used")
    if not imgs:
        notes.append("no images returned: fal bills successful outputs only")
    sizes = {f"{d[0]}x{d[1]}" for d in dims if d}
    return (sizes.pop() if len(sizes) == 1 else requested), dims


# --- log records: one scalar function, and its vectorised twin ----------------------------------------------

_TOKEN_COLUMNS = ("input_text_tokens", "input_image_tokens", "output_image_tokens", "output_text_tokens")


def _record_size_and_dim(rec: Mapping[str, Any]) -> tuple[str | None, tuple[int, int] | None]:
    """A record's billed size (``WxH``) and image dimensions: a well-formed ``size``, else width x height."""
    w, h = rec.get("width"), rec.get("height")
    dim = (int(w), int(h)) if w and h and w > 0 and h > 0 else None
    size = _norm_size(rec.get("size"))
    if size is None and dim is not None:
        size = f"{dim[0]}x{dim[1]}"
    if dim is None and size is not None:
        dim = parse_wxh(size)
    return size, dim


def _record_price(
    cat: Catalog, model: Any, provider: Any, on: dt.date | None
) -> tuple[Model, Provider, Price]:
    m = cat.model(str(model))
    prov = _provider(cat, m.id, provider)
    m = cat.offered_model(m.id, prov.id)  # the provider's own size rules name the tiers it bills
    return m, prov, cat.price(m.id, prov.id, on=on)


#: cost methods of a bill the provider itself reported (the gateway's ``metadata.cost``, BFL's ``cost``):
#: a re-cost keeps them
KEPT_BILLS = ("gateway_metadata", "provider_charge")


def cost_from_record(record: Mapping[str, Any], catalog: Catalog | None = None) -> Cost:
    """Re-cost one canonical log record (``imgkit.records.schema``); the per-row reference of :func:`recost`.

    A bill the gateway or the provider reported stays; a failed attempt without usage is ``not_billed``; logged usage is billed by
    token rates; otherwise the per-image table, output-token estimate or per-megapixel rate (from
    ``width``/``height``), plus partial-image tokens, then the provider's request rounding. A record with a
    ``batch_id`` (sent through a Batch API) is billed at the offering's batch price. Prices are those in force
    on the day of ``started_at``. Unknown models, providers or prices give ``method="unknown"``, never 0.
    """
    kept = record.get("cost_method")
    if kept in KEPT_BILLS and record.get("actual_cost_usd") is not None:
        charged = _decimal(record["actual_cost_usd"], "actual_cost_usd")
        who = "gateway" if kept == "gateway_metadata" else "provider"
        basis = f"kept: the {who}'s own bill"
        line = _line(f"{who} charge (logged)", 1, "request", charged, kept, basis, "measured")
        return _known([line], kept)
    has_usage = any(record.get(c) is not None for c in _TOKEN_COLUMNS)
    if record.get("outcome") not in (None, "ok") and not has_usage:
        return Cost(Decimal(0), Decimal(0), Decimal(0), "not_billed", (), ("failed attempt without usage",))
    batch = record.get("batch_id") is not None
    cat = catalog or load_catalog()
    try:
        m, provider, price = _record_price(
            cat, record.get("model"), record.get("provider"), _day(record.get("started_at"))
        )
    except (UnknownNameError, UnknownPriceError) as exc:
        return _unknown(str(exc))
    if has_usage:
        if price.tokens is None:
            return _unknown(f"usage logged but no token rates for {m.id} at {provider.id}")
        image_out, text_out = (record.get(c) or 0 for c in ("output_image_tokens", "output_text_tokens"))
        usage = {
            "input_tokens_details": {
                "text_tokens": record.get("input_text_tokens") or 0,
                "image_tokens": record.get("input_image_tokens") or 0,
            },
            "output_tokens": image_out + text_out,
            "output_tokens_details": {"image_tokens": image_out, "text_tokens": text_out},
        }
        cost = cost_from_usage(usage, price.tokens, provenance=price.provenance)
        if cost.total_usd is None:
            return cost
        try:
            return _finish(provider, price, list(cost.lines), "tokens", list(cost.notes), batch=batch)
        except UnknownPriceError as exc:
            return _unknown(str(exc))
    images = record.get("images_count")
    images = record.get("n") if images is None else images
    if images is None:
        return _unknown("neither images_count nor n logged")
    size, dim = _record_size_and_dim(record)
    try:
        return _bill_without_usage(
            m,
            provider,
            price,
            quality=_usable(record.get("quality")),
            size=size,
            dims=[dim] * int(images),
            partial_images=int(record.get("partial_images") or 0),
            notes=[],
            batch=batch,
        )
    except UnknownPriceError as exc:  # a batched record where the offering has no batch price
        return _unknown(str(exc))


def _price_boundaries(cat: Catalog) -> list[dt.date]:
    """Every valid_from / valid_to date of the catalog: between two of them, every price is constant."""
    dates = {d for off in cat.offerings.values() for p in off.prices for d in (p.valid_from, p.valid_to)}
    return sorted(d for d in dates if d)


def _combo_terms(cat: Catalog, key: dict[str, Any], day: dt.date) -> dict[str, Any]:
    """Unit prices (1e-10 USD) of one (provider, model, quality, size, width, height, price window).

    Mirrors :func:`cost_from_record` through the same helpers: token rates for usage rows; for rows
    without usage the price of one image (table, token estimate or megapixels) and of one partial image.
    """
    out: dict[str, Any] = {"price_known": False, "fallback": "unknown", "batch_num": 1, "batch_den": 1}
    try:
        m, provider, price = _record_price(cat, key["model"], key["provider"], day)
    except (UnknownNameError, UnknownPriceError):
        return out
    if key["_batch"]:  # sent through a Batch API: every rate x the batch multiplier (none: unknown)
        if price.batch is None:
            return out
        out["batch_num"], out["batch_den"] = price.batch.multiplier.as_integer_ratio()
    if provider.markup:
        raise PricingError(f"provider markup at {provider.id} is not supported by the vectorised path")
    if price.rounding.mode not in ("none", "ceil"):
        raise PricingError(f"rounding mode {price.rounding.mode!r} is not supported by the vectorised path")
    rates = price.tokens
    out.update(price_known=True, tokens_known=rates is not None)
    for kind in ("text_in", "image_in", "image_out", "text_out"):
        rate = _rate(rates, kind)
        out[f"r_{kind}"] = None if rate is None else to_units(rate / PER_MILLION)
    if rates is not None and rates.text_out is None:
        out["r_text_out"] = out["r_image_out"]  # billed at the image rate (upper bound), as cost_from_usage
    out["quantum"] = to_units(price.rounding.quantum) if price.rounding.mode == "ceil" else None
    r_out = out["r_image_out"]
    out["partial_unit"] = (
        m.output_tokens.partial_image * r_out if m.output_tokens and r_out is not None else 0
    )
    size, dim = _record_size_and_dim(key)
    try:
        qualities = _billed_qualities(m, _usable(key["quality"]) if m.qualities else None, [])
    except InvalidParameterError:
        return out
    if len(qualities) != 1 or size is None:
        return out  # a range or no size: unknown, as the scalar path
    unrounded = price.model_copy(update={"rounding": Rounding()})  # the request rounding is applied per row
    one = _price_request(
        m, provider, unrounded, quality=qualities[0], size=size, dims=[dim], calls=(1,), bill=True,
        addons=False, notes=[],
    )  # fmt: skip
    if one.total_usd is None:
        return (
            out  # disputed schedules, unpublished megapixel rounding, no price: unknown, as the scalar path
        )
    due = [a for a, _ in _addons_due(price, {})]  # a log keeps no provider fields: the defaults apply
    per_image = sum((a.usd for a in due if a.per == "image"), Decimal(0))
    per_request = sum((a.usd for a in due if a.per == "request"), Decimal(0))
    out.update(
        fallback=one.method,
        unit_image=to_units(one.total_usd + per_image),
        unit_request=to_units(per_request),
    )
    return out


_COMBO_SCHEMA: dict[str, ColumnType] = {
    "price_known": pl.Boolean,
    "tokens_known": pl.Boolean,
    "fallback": pl.String,
    "r_text_in": pl.Int64,
    "r_image_in": pl.Int64,
    "r_image_out": pl.Int64,
    "r_text_out": pl.Int64,
    "quantum": pl.Int64,
    "partial_unit": pl.Int64,
    "unit_image": pl.Int64,
    "unit_request": pl.Int64,
    "batch_num": pl.Int64,
    "batch_den": pl.Int64,
}
_KEYS = ("provider", "model", "quality", "size", "width", "height", "_window", "_batch")
_INPUT_COLUMNS: dict[str, ColumnType] = {
    "provider": pl.String,
    "model": pl.String,
    "quality": pl.String,
    "size": pl.String,
    "width": pl.Int32,
    "height": pl.Int32,
    "n": pl.Int32,
    "images_count": pl.Int32,
    "partial_images": pl.Int32,
    "started_at": pl.Datetime("us", "UTC"),
    "outcome": pl.String,
    "cost_method": pl.String,
    "actual_cost_usd": MONEY,
    "batch_id": pl.String,
    **dict.fromkeys(_TOKEN_COLUMNS, pl.Int64),
}


#: the columns whose distinct values :func:`recost_lookup` prices (``_window``: the price window of the day)
RECOST_KEYS = _KEYS
#: the log's usage columns (a row with any of them is billed by token rates)
TOKEN_COLUMNS = _TOKEN_COLUMNS


def price_boundaries(catalog: Catalog) -> list[dt.date]:
    """Every date a catalog price starts or ends: the ``_window`` of a day is how many of them it has
    reached (0 before the first), and within a window every price is constant."""
    return _price_boundaries(catalog)


def recost_lookup(
    keys: pl.DataFrame,
    catalog: Catalog,
    bounds: Sequence[dt.date],
    today: dt.date | None = None,
    cache: dict[tuple[Any, ...], dict[str, Any]] | None = None,
) -> pl.DataFrame:
    """Integer unit prices (1e-10 USD) of each distinct :data:`RECOST_KEYS` row of ``keys``: the small table
    :func:`recost` joins to every request (and an engine joins the same way, :mod:`imgkit.analysis.engines`).
    ``bounds``: :func:`price_boundaries`; a null day's window is ``today``'s. ``cache`` (kept by a caller
    that re-costs chunk after chunk with one catalog, such as an import) remembers the combinations priced."""
    today = today or dt.date.today()
    rows = []
    for key in keys.select(_KEYS).iter_rows(named=True):
        ident = tuple(key[k] for k in _KEYS)
        terms = cache.get(ident) if cache is not None else None
        if terms is None:
            # window i spans [bounds[i-1], bounds[i]): any day inside it has the same prices
            w = key["_window"]
            rep_day = today if not bounds else (bounds[w - 1] if w else bounds[0] - dt.timedelta(days=1))
            terms = _combo_terms(catalog, key, rep_day)
            if cache is not None:
                cache[ident] = terms
        rows.append({**key, **terms})
    schema: dict[str, ColumnType] = {**keys.select(_KEYS).schema, **_COMBO_SCHEMA}
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


_PriceCache = dict[tuple[Any, ...], dict[str, Any]]


@overload
def recost(
    frame: pl.DataFrame, catalog: Catalog | None = None, *, cache: _PriceCache | None = None
) -> pl.DataFrame: ...
@overload
def recost(
    frame: pl.LazyFrame, catalog: Catalog | None = None, *, cache: _PriceCache | None = None
) -> pl.LazyFrame: ...
def recost(
    frame: pl.DataFrame | pl.LazyFrame, catalog: Catalog | None = None, *, cache: _PriceCache | None = None
) -> pl.DataFrame | pl.LazyFrame:
    """Re-cost a whole request log: set exact ``actual_cost_usd`` (``pl.Decimal``) and ``cost_method``.

    Vectorised twin of :func:`cost_from_record` (same rules, same results). The distinct (provider, model,
    quality, size, width, height, price window) combinations are priced once by the scalar helpers into a
    small lookup frame of integer unit prices (1e-10 USD, :func:`recost_lookup`; ``cache`` carries them from
    one call to the next with the same catalog); after one join, every per-row operation is Int64 arithmetic
    (token counts x rates, images x unit price, ceil to the rounding quantum), so no float is involved.
    Missing canonical columns are treated as null. Returns the same kind of frame it was given.
    """
    cat = catalog or load_catalog()
    lazy = frame.lazy()
    names = lazy.collect_schema().names()
    lazy = lazy.with_columns(
        [pl.lit(None, dtype=t).alias(c) for c, t in _INPUT_COLUMNS.items() if c not in names]
    )
    bounds = _price_boundaries(cat)
    today = dt.date.today()
    day = pl.col("started_at").dt.date().fill_null(today)
    window = pl.sum_horizontal([(day >= b).cast(pl.Int32) for b in bounds]) if bounds else pl.lit(0, pl.Int32)
    lazy = lazy.with_columns(_window=window, _batch=pl.col("batch_id").is_not_null())
    lookup = recost_lookup(lazy.select(_KEYS).unique().collect(), cat, bounds, today, cache)
    joined = lazy.join(lookup.lazy(), on=list(_KEYS), how="left", nulls_equal=True, maintain_order="left")

    def billed(column: str, rate: str) -> pl.Expr:
        qty = pl.col(column).cast(pl.Int64).fill_null(0)
        return pl.when(qty > 0).then(qty * pl.col(rate)).otherwise(0)

    has_usage = pl.any_horizontal([pl.col(c).is_not_null() for c in _TOKEN_COLUMNS])
    usage_units = (
        billed("input_text_tokens", "r_text_in")
        + billed("input_image_tokens", "r_image_in")
        + billed("output_image_tokens", "r_image_out")
        + billed("output_text_tokens", "r_text_out")
    )
    images = pl.coalesce(pl.col("images_count"), pl.col("n")).cast(pl.Int64)
    partials = pl.col("partial_images").cast(pl.Int64).fill_null(0)
    image_units = images * (pl.col("unit_image") + partials * pl.col("partial_unit")) + pl.col("unit_request")
    unbatched = pl.when(has_usage).then(usage_units).otherwise(image_units)
    # the batch discount, exactly: a multiplier num/den; an amount it would split below 1e-10 USD is unknown
    scaled = unbatched * pl.col("batch_num")
    raw = pl.when(scaled % pl.col("batch_den") == 0).then(scaled // pl.col("batch_den"))
    q = pl.col("quantum")
    rounded = pl.when(q.is_not_null()).then((raw + q - 1) // q * q).otherwise(raw)
    kept = pl.col("cost_method").is_in(KEPT_BILLS) & pl.col("actual_cost_usd").is_not_null()
    failed = pl.col("outcome").is_not_null() & (pl.col("outcome") != "ok") & ~has_usage
    unknown = (
        ~pl.col("price_known").fill_null(False)
        | (has_usage & ~pl.col("tokens_known").fill_null(False))
        | (~has_usage & (pl.col("fallback") == "unknown"))
        | rounded.is_null()
    )
    method = (
        pl.when(kept)
        .then(pl.col("cost_method"))
        .when(failed)
        .then(pl.lit("not_billed"))
        .when(unknown)
        .then(pl.lit("unknown"))
        .when(has_usage)
        .then(pl.lit("tokens"))
        .otherwise(pl.col("fallback"))
    )
    cost = (
        pl.when(kept)
        .then(pl.col("actual_cost_usd").cast(MONEY))
        .when(failed)
        .then(pl.lit(Decimal(0), dtype=MONEY))
        .when(unknown)
        .then(pl.lit(None, dtype=MONEY))
        .otherwise((rounded.cast(pl.Decimal(38, 0)) * MONEY_QUANTUM).cast(MONEY))
    )
    added = [c for c in ("actual_cost_usd", "cost_method") if c not in names]
    out = joined.with_columns(actual_cost_usd=cost, cost_method=method).select([*names, *added])
    return out if isinstance(frame, pl.LazyFrame) else out.collect()
