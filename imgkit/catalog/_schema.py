"""Typed catalog: models (what they can do), providers (how to reach them) and prices (what they cost, when).

Every price carries the tags of its sources (resolved in the file's ``sources`` map, each with URL and the
date it was checked), a provenance kind, and an effective-date window, so a request logged in March is
costed at March's price. Money is ``Decimal``: the YAML loader never produces a binary float.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from imgkit._strict import Strict
from imgkit.errors import UnknownPriceError
from imgkit.provenance import Provenance

Mode = Literal["generate", "edit"]
Behaviour = Literal["passthrough", "renamed", "converted", "emulated", "unsupported", "ignored"]
ModelStatus = Literal["active", "preview", "deprecated", "retired"]
Usd = Annotated[Decimal, Field(ge=0)]


# --- sources --------------------------------------------------------------------------------------------


class Source(Strict):
    """A public source of facts: where it is and when it was last checked."""

    title: str
    url: str | None = None
    checked: dt.date
    notes: str | None = None


# --- models -----------------------------------------------------------------------------------------------


class SizeRules(Strict):
    """Which output sizes a model accepts.

    ``fixed`` lists the only sizes a fixed-size model produces. A flexible model instead gives constraints
    (``multiple_of``, edges, pixels, ``max_ratio`` as long side over short side). ``aspect_ratios`` maps a
    ratio to a size per resolution tier (fixed-size models); ``resolution_tiers`` maps a tier name to its
    nominal edge in px, whose square is the target pixel count (flexible models).
    """

    default: str = "1024x1024"
    auto: bool = False
    fixed: tuple[str, ...] | None = None
    multiple_of: int | None = None
    min_edge: int | None = None
    max_edge: int | None = None
    min_pixels: int | None = None
    max_pixels: int | None = None
    max_ratio: str | None = None
    aspect_ratios: dict[str, dict[str, str]] = Field(default_factory=dict)
    resolution_tiers: dict[str, int] = Field(default_factory=dict)
    default_resolution: str | None = None
    experimental_above_pixels: int | None = None

    @field_validator("fixed")
    @classmethod
    def _sizes_are_wxh(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for s in v or ():
            parse_wxh(s)
        return v

    @model_validator(mode="after")
    def _fixed_or_flexible(self) -> SizeRules:
        if self.fixed is None and self.max_edge is None and self.max_pixels is None:
            raise ValueError("give either `fixed` sizes or limits (`max_edge` / `max_pixels`)")
        if self.default != "auto":
            parse_wxh(self.default)
        elif not self.auto:
            raise ValueError("default is 'auto' but auto is false")
        for ratio, tiers in self.aspect_ratios.items():
            parse_ratio(ratio)
            for size in tiers.values():
                parse_wxh(size)
        if self.max_ratio is not None:
            parse_ratio(self.max_ratio)
        return self


class OutputTokens(Strict):
    """Image output tokens per image by quality and size (token-billed models), and per partial image.

    ``scale_by_pixels``: for sizes not in the table, scale the 1024x1024 count by pixel count (an
    assumption, used for flexible-size models such as gpt-image-2 that publish no table).
    """

    per_image: dict[str, dict[str, int]]
    partial_image: int = 100
    scale_by_pixels: bool = False
    provenance: Provenance = Provenance.PUBLISHED
    source: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


class FidelityExtra(Strict):
    """Extra input image tokens of ``input_fidelity=high`` (square vs portrait/landscape), dated."""

    square: int
    other: int
    current: bool = True
    source: tuple[str, ...] = ()
    provenance: Provenance = Provenance.PUBLISHED
    notes: str | None = None


class InputImageTokens(Strict):
    """The tile rule for input image tokens: scale shortest side to ``short_side``, count ``tile`` tiles."""

    short_side: int = 512
    tile: int = 512
    base: int = 65
    per_tile: int = 129
    fidelity_high_extra: tuple[FidelityExtra, ...] = ()
    source: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


class Model(Strict):
    """What a model can do, independent of who serves it."""

    id: str
    name: str
    creator: str
    family: str
    released: str | None = None
    status: ModelStatus = "active"
    status_date: dt.date | None = None
    modes: tuple[Mode, ...]
    sizes: SizeRules
    qualities: tuple[str, ...]
    quality_auto: bool = False
    default_quality: str | None = None
    n_max: int = Field(ge=1)
    max_input_images: int = Field(default=0, ge=0)
    output_formats: tuple[str, ...] = ("png",)
    output_compression: bool = False
    backgrounds: tuple[str, ...] = ()
    input_fidelity: tuple[str, ...] = ()
    streaming: bool = False
    partial_images_max: int = 0
    prompt_max_chars: int | None = None
    output_tokens: OutputTokens | None = None
    input_image_tokens: InputImageTokens | None = None
    source: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def always_high_fidelity(self) -> bool:
        """Inputs are always processed at high fidelity: the model takes no ``input_fidelity`` parameter but
        publishes a current high-fidelity token extra (gpt-image-2)."""
        rule = self.input_image_tokens
        return (
            not self.input_fidelity and rule is not None and any(e.current for e in rule.fidelity_high_extra)
        )

    @model_validator(mode="after")
    def _consistent(self) -> Model:
        if self.default_quality is not None and self.default_quality not in (*self.qualities, "auto"):
            raise ValueError(f"default_quality {self.default_quality!r} is not one of qualities")
        if "edit" in self.modes and self.max_input_images < 1:
            raise ValueError("an edit-capable model needs max_input_images >= 1")
        if self.output_tokens:
            for q in self.output_tokens.per_image:
                if q not in self.qualities:
                    raise ValueError(f"output_tokens quality {q!r} is not one of qualities")
        return self


# --- prices -----------------------------------------------------------------------------------------------


class TokenRates(Strict):
    """USD per 1,000,000 tokens. ``None`` = the provider does not bill (or publish) that kind."""

    text_in: Usd | None = None
    cached_text_in: Usd | None = None
    image_in: Usd | None = None
    cached_image_in: Usd | None = None
    image_out: Usd | None = None
    text_out: Usd | None = None


class ImagePrice(Strict):
    """A published per-image price for one quality and size (``size: other`` covers every other size)."""

    quality: str
    size: str
    usd: Usd
    notes: str | None = None


class Rounding(Strict):
    """A rounding rule applied to a request total: ``ceil`` to a ``quantum`` (fal: up to the cent)."""

    mode: Literal["ceil", "half_up", "none"] = "none"
    quantum: Usd = Decimal("0.01")
    applies_to: Literal["request_total"] = "request_total"
    source: tuple[str, ...] = ()


class Batch(Strict):
    """The Batch API discount: every rate times ``multiplier``."""

    multiplier: Usd
    provenance: Provenance = Provenance.PUBLISHED
    source: tuple[str, ...] = ()
    notes: str | None = None


class Price(Strict):
    """One dated price schedule of an offering. Several units may coexist (tokens and a per-image table)."""

    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    provenance: Provenance = Provenance.PUBLISHED
    source: tuple[str, ...]
    tokens: TokenRates | None = None
    per_image: tuple[ImagePrice, ...] = ()
    per_megapixel_usd: Usd | None = None
    megapixel_px: int = 1_048_576
    rounding: Rounding = Rounding()
    batch: Batch | None = None
    input_image_tokens_per_image: int | None = None
    notes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _has_a_unit(self) -> Price:
        if self.tokens is None and not self.per_image and self.per_megapixel_usd is None:
            raise ValueError("a price needs at least one unit: tokens, per_image or per_megapixel_usd")
        if self.valid_from and self.valid_to and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        seen = set()
        for p in self.per_image:
            key = (p.quality, p.size)
            if key in seen:
                raise ValueError(f"duplicate per_image row {key}")
            seen.add(key)
        return self

    def in_force(self, on: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= on) and (
            self.valid_to is None or on < self.valid_to
        )


# --- providers ----------------------------------------------------------------------------------------------


class FieldRule(Strict):
    """How one request parameter reaches the provider: passed, renamed, converted, emulated, refused, ignored.

    ``values`` restricts the accepted values where the provider documents its own list (the gateway's output
    formats); ``max_chars`` caps a string field's length (the gateway's 1000-character image prompt).
    """

    behaviour: Behaviour
    to: str | None = None
    converter: str | None = None
    values: tuple[str, ...] | None = None
    max_chars: int | None = Field(default=None, ge=1)
    notes: str | None = None


class Offering(Strict):
    """A model as one provider serves it: the provider's id for it, its modes, limits and prices."""

    model: str
    provider_model_id: str
    modes: tuple[Mode, ...]
    endpoint: dict[str, str] = Field(default_factory=dict)
    n_max: int | None = None
    max_input_images: int | None = None
    fields: dict[str, FieldRule] = Field(default_factory=dict)
    prices: tuple[Price, ...]
    status: ModelStatus = "active"
    notes: tuple[str, ...] = ()

    def price_on(self, on: dt.date | None = None, provider: str | None = None) -> Price:
        """The price schedule in force on ``on`` (default today); ``UnknownPriceError`` when there is none
        (``provider`` names the provider in the message)."""
        on = on or dt.date.today()
        for p in self.prices:
            if p.in_force(on):
                return p
        windows = ", ".join(f"{p.valid_from or '…'} to {p.valid_to or '…'}" for p in self.prices)
        raise UnknownPriceError(
            f"no price for {self.model} at {provider or 'default provider'} on {on}; known: {windows}"
        )


class RateLimits(Strict):
    """Client-side pacing defaults; ``provenance`` says whether a figure is published or assumed."""

    requests_per_minute: int | None = None
    images_per_minute: int | None = None
    concurrency: int | None = None
    provenance: Provenance = Provenance.ASSUMED
    notes: str | None = None


class Auth(Strict):
    scheme: Literal["bearer", "key", "none"]
    env: tuple[str, ...] = ()


UnsupportedSize = Literal["refuse", "nearest"]


class Provider(Strict):
    """A provider: base URL, auth, the adapter kind that speaks its protocol, its default field rules.

    ``unsupported_size``: what the provider does with an explicit ``size`` WxH the model does not support:
    ``refuse`` it (a 400, as the direct APIs do) or convert it to the ``nearest`` supported size (as a gateway
    documents); :func:`imgkit.params.resolve_size` does the same, with a note.
    """

    id: str
    name: str
    adapter: Literal["openai", "fal"]
    base_url: str
    auth: Auth
    unsupported_size: UnsupportedSize
    markup: Decimal | None = None
    rate_limits: RateLimits = RateLimits()
    fields: dict[str, FieldRule] = Field(default_factory=dict)
    source: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


class ProviderFile(Strict):
    """The content of one ``data/catalog/<provider>.yaml``."""

    sources: dict[str, Source]
    provider: Provider
    offerings: tuple[Offering, ...]


class ModelsFile(Strict):
    """The content of ``data/catalog/models.yaml``."""

    sources: dict[str, Source]
    models: tuple[Model, ...]


# --- small parsers (catalog, params, pricing, simulator) ---------------------------------------------------------------------


def parse_wxh(s: str) -> tuple[int, int]:
    """``"1024x1536"`` as ``(width, height)`` in pixels; ValueError unless both are positive integers."""
    parts = str(s).lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or min(int(p) for p in parts) <= 0:
        raise ValueError(f"size {s!r} is not WIDTHxHEIGHT with positive integers")
    return int(parts[0]), int(parts[1])


def parse_ratio(s: str) -> tuple[int, int]:
    """``"16:9"`` as ``(16, 9)``; ValueError unless both parts are positive integers."""
    parts = str(s).split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or min(int(p) for p in parts) <= 0:
        raise ValueError(f"aspect ratio {s!r} is not W:H with positive integers")
    return int(parts[0]), int(parts[1])
