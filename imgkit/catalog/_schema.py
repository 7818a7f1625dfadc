"""Typed catalog: models (what they can do), providers (how to reach them) and prices (what they cost, when).

Every price carries the tags of its sources (resolved in the file's ``sources`` map, each with URL and the
date it was checked), a provenance kind, and an effective-date window, so a request logged in March is
costed at March's price. Money is ``Decimal``: the YAML loader never produces a binary float.
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from imgkit._strict import Strict
from imgkit.errors import UnknownPriceError
from imgkit.provenance import Provenance

Mode = Literal["generate", "edit"]
Behaviour = Literal["passthrough", "renamed", "converted", "emulated", "unsupported", "ignored"]
#: how close a source is to the fact it states: the vendor's or provider's own page or repository
#: (``primary``), a faithful copy of it elsewhere (``copy``), or a third party (``secondary``)
Mark = Literal["primary", "copy", "secondary"]
MARKS: tuple[Mark, ...] = ("primary", "copy", "secondary")
#: the protocol family an adapter speaks (imgkit.providers); the offering's endpoint names the method
Adapter = Literal["openai", "fal", "gemini", "vertex", "replicate", "bfl", "together", "stability"]
#: lifecycle events of an offering: the vendor's release, its announcement of the retirement (``deprecated``),
#: a migrate-before date that is not a shutdown (``migrate_by``), and the date requests stop (``shutdown``)
LifecycleKind = Literal["released", "deprecated", "migrate_by", "shutdown"]
#: the parts of a resolved size a provider field can receive (``FieldRule.targets``)
SIZE_PARTS = ("size", "width", "height", "aspect_ratio", "resolution", "image_size")
Usd = Annotated[Decimal, Field(ge=0)]


# --- sources --------------------------------------------------------------------------------------------


class Source(Strict):
    """A public source of facts: where it is, how close it is to the fact (``mark``), when it was checked.

    ``checked`` is the day imgkit's maintainers last read it; ``seen`` the date the copy they read carries
    when it is older (a stored or dated copy), so a reader knows how old the figure may be.
    """

    title: str
    url: str | None = None
    checked: dt.date
    mark: Mark
    seen: dt.date | None = None
    notes: str | None = None


# --- models -----------------------------------------------------------------------------------------------


class SizeTable(Strict):
    """A disputed pixel table (ratio -> tier -> WxH) kept beside the one imgkit uses, with its sources."""

    aspect_ratios: dict[str, dict[str, str]]
    source: tuple[str, ...]
    notes: str | None = None

    @model_validator(mode="after")
    def _sizes(self) -> SizeTable:
        for ratio, tiers in self.aspect_ratios.items():
            parse_ratio(ratio)
            for size in tiers.values():
                parse_wxh(size)
        return self


class SizeRules(Strict):
    """Which output sizes a model accepts.

    ``fixed`` lists the only sizes a fixed-size model produces. A flexible model instead gives constraints
    (``multiple_of``, edges, pixels, ``max_ratio`` as long side over short side). ``aspect_ratios`` maps a
    ratio to a size per resolution tier (fixed-size models); ``resolution_tiers`` maps a tier name to its
    nominal edge in px, whose square is the target pixel count (flexible models). ``provenance`` says
    whether the pixel sizes are published or assumed (a vendor that takes only a ratio and a tier and
    publishes no pixel table); ``alternatives`` keeps disputed tables with their sources (both values).
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
    provenance: Provenance = Provenance.PUBLISHED
    source: tuple[str, ...] = ()
    alternatives: tuple[SizeTable, ...] = ()
    notes: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _fixed_from_table(cls, data: Any) -> Any:
        """A model that lists only ``aspect_ratios`` (no ``fixed`` sizes, no limits) produces exactly the sizes
        of its table (a vendor that takes a ratio and a tier): ``fixed`` is every size of the table."""
        if (
            isinstance(data, dict)
            and data.get("fixed") is None
            and data.get("max_edge") is None
            and data.get("max_pixels") is None
            and data.get("aspect_ratios")
        ):
            sizes = [str(s) for tiers in data["aspect_ratios"].values() for s in dict(tiers).values()]
            data = {**data, "fixed": tuple(dict.fromkeys(sizes))}
        return data

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

    ``per_image`` is keyed by quality then size; ``per_resolution`` by resolution tier for models without a
    quality parameter that publish one count per tier (Gemini: 1,120 tokens at 1K). ``scale_by_pixels``: for
    sizes not in the table, scale the 1024x1024 count by pixel count (an assumption, used for flexible-size
    models such as gpt-image-2 that publish no table).
    """

    per_image: dict[str, dict[str, int]] = Field(default_factory=dict)
    per_resolution: dict[str, int] = Field(default_factory=dict)
    partial_image: int = 100
    scale_by_pixels: bool = False
    provenance: Provenance = Provenance.PUBLISHED
    source: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_table(self) -> OutputTokens:
        if not self.per_image and not self.per_resolution:
            raise ValueError("give per_image (quality -> size -> tokens) or per_resolution (tier -> tokens)")
        return self


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
            for tier in self.output_tokens.per_resolution:
                if tier not in self.sizes.resolution_tiers:
                    raise ValueError(f"output_tokens tier {tier!r} is not one of sizes.resolution_tiers")
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
    """A published per-image price for one quality and size.

    ``size`` is a ``WxH``, a resolution tier of the model (``1K``: every size of that tier) or ``other`` (every
    size without a row of its own); ``quality: "*"`` matches any quality (models without a quality
    parameter). ``credits`` is the price as the provider publishes it in credits, where it does: the loader
    checks that ``usd`` = credits x the provider's credit value.
    """

    quality: str = "*"
    size: str = "other"
    usd: Usd
    credits: Decimal | None = Field(default=None, ge=0)
    notes: str | None = None


MegapixelRounding = Literal["ceil", "none", "unknown"]


class MegapixelPrice(Strict):
    """Per-megapixel billing: the first megapixel, each additional one, input megapixels, a fee per image.

    ``mp_px`` is the provider's own megapixel (fal: 1024 x 1024 = 1,048,576 px; BFL and Replicate:
    1,000,000 px). ``rounding`` is how the provider counts an image's megapixels: ``ceil`` (whole megapixels,
    rounded up per image: fal), ``none`` (fractional: Replicate) or ``unknown`` (not published: BFL), which
    makes a quote a range between the fractional and the rounded-up count, never a guess. An image is billed
    at least ``min_mp`` megapixels (the first megapixel is charged in full). A flat rate per megapixel is
    ``first_mp_usd`` = ``additional_mp_usd``. ``input_mp_usd`` bills each input image's megapixels (edits),
    counted the same way; ``None`` where inputs are not billed or the rate is not published.
    """

    quality: str = "*"
    first_mp_usd: Usd
    additional_mp_usd: Usd
    input_mp_usd: Usd | None = None
    fee_usd: Usd = Decimal(0)
    mp_px: int = Field(gt=0)
    rounding: MegapixelRounding
    min_mp: Decimal = Field(default=Decimal(1), ge=0)
    notes: str | None = None

    @model_validator(mode="after")
    def _exact_fractions(self) -> MegapixelPrice:
        power = len(str(self.mp_px)) - 1
        if self.rounding != "ceil" and self.mp_px != 10**power:
            raise ValueError(
                f"fractional megapixels of {self.mp_px} px are not exact decimals; "
                "allowed: rounding ceil, or a megapixel of a power of ten pixels"
            )
        return self

    @property
    def flat(self) -> bool:
        """One rate for every megapixel, no fee (fal's per-megapixel prices)."""
        return self.first_mp_usd == self.additional_mp_usd and not self.fee_usd


class AddOn(Strict):
    """A published extra charge switched on by a request field (``field`` in the request's provider extras).

    ``default`` is the field's value when the request leaves it out; the add-on is billed when the value is
    one of ``when`` (fal ideogram/v4's prompt expansion: ``enable_prompt_expansion`` defaults to true, +$0.03).
    """

    name: str
    usd: Usd
    per: Literal["image", "request"] = "image"
    field: str
    default: str | bool | None = None
    when: tuple[str | bool, ...] = (True,)
    source: tuple[str, ...] = ()
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
    """One dated price schedule of an offering. Several units may coexist (tokens and a per-image table).

    Units: ``tokens`` (USD per 1M), ``per_image`` rows (quality x size or resolution tier, USD or credits),
    ``per_megapixel_usd`` (a flat rate per megapixel of ``megapixel_px``, rounded up per image: fal) and
    ``megapixels`` (first + additional megapixels, input megapixels, a fee, the provider's megapixel and
    rounding), plus ``addons`` switched on by request fields, request ``rounding`` and ``batch``.
    """

    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    provenance: Provenance = Provenance.PUBLISHED
    source: tuple[str, ...]
    tokens: TokenRates | None = None
    per_image: tuple[ImagePrice, ...] = ()
    per_megapixel_usd: Usd | None = None
    megapixel_px: int = 1_048_576
    megapixels: tuple[MegapixelPrice, ...] = ()
    addons: tuple[AddOn, ...] = ()
    rounding: Rounding = Rounding()
    batch: Batch | None = None
    input_image_tokens_per_image: int | None = None
    alternatives: tuple[Price, ...] = ()
    notes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _has_a_unit(self) -> Price:
        if (
            self.tokens is None
            and not self.per_image
            and self.per_megapixel_usd is None
            and not self.megapixels
        ):
            raise ValueError(
                "a price needs at least one unit: tokens, per_image, per_megapixel_usd or megapixels"
            )
        if self.valid_from and self.valid_to and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        seen = set()
        for p in self.per_image:
            key = (p.quality, p.size)
            if key in seen:
                raise ValueError(f"duplicate per_image row {key}")
            seen.add(key)
        qualities = [m.quality for m in self.megapixels]
        if len(set(qualities)) != len(qualities):
            raise ValueError("duplicate megapixels quality")
        for alt in self.alternatives:
            if alt.alternatives or (alt.valid_from, alt.valid_to) != (None, None):
                raise ValueError(
                    "an alternative is one disputed schedule: no window, no alternatives of its own"
                )
        return self

    def in_force(self, on: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= on) and (
            self.valid_to is None or on < self.valid_to
        )

    @property
    def sources(self) -> tuple[str, ...]:
        """Every source tag the schedule cites: its own, its add-ons', rounding's, batch's and alternatives'."""
        tags = [*self.source, *(t for a in self.addons for t in a.source), *self.rounding.source]
        if self.batch:
            tags += self.batch.source
        for alt in self.alternatives:
            tags += alt.sources
        return tuple(dict.fromkeys(tags))


# --- lifecycle ----------------------------------------------------------------------------------------------


class LifecycleEvent(Strict):
    """One dated lifecycle fact of an offering, with its sources and the replacement the vendor names.

    ``provider_model_id`` scopes the event to one id (a preview id retired while its GA id lives on);
    absent, it is about the offering's own id. Two sources that disagree are two events (both kept).
    """

    event: LifecycleKind
    date: dt.date
    replacement: tuple[str, ...] = ()
    provider_model_id: str | None = None
    source: tuple[str, ...] = Field(min_length=1)
    notes: str | None = None


# --- providers ----------------------------------------------------------------------------------------------


class FieldRule(Strict):
    """How one request parameter reaches the provider: passed, renamed, converted, emulated, refused, ignored.

    ``to`` is the body path the value is sent as (dots for nested objects: Gemini's
    ``generationConfig.imageConfig.imageSize``). ``values`` restricts the accepted values where the provider
    documents its own list (the gateway's output formats); ``max_chars`` caps a string field's length (the
    gateway's 1000-character image prompt). ``value_map`` renames values on the way (Ideogram's
    ``rendering_speed``: imgkit quality ``low`` -> ``TURBO``; Gemini's ``0.5K`` tier -> ``512``). For the size
    fields, ``targets`` names which parts of the resolved size the provider receives and where
    (``width``/``height``, ``aspect_ratio``, ``resolution`` tier, fal ``image_size``, or ``size`` as WxH).
    """

    behaviour: Behaviour
    to: str | None = None
    converter: str | None = None
    values: tuple[str, ...] | None = None
    value_map: dict[str, str] = Field(default_factory=dict)
    targets: dict[str, str] = Field(default_factory=dict)
    max_chars: int | None = Field(default=None, ge=1)
    notes: str | None = None

    @field_validator("targets")
    @classmethod
    def _known_parts(cls, v: dict[str, str]) -> dict[str, str]:
        for part in v:
            if part not in SIZE_PARTS:
                raise ValueError(f"unknown size part {part!r}; allowed: {', '.join(SIZE_PARTS)}")
        return v


class Offering(Strict):
    """A model as one provider serves it: the provider's id for it, its modes, limits, prices and lifecycle.

    ``upstream`` names the provider whose model this offering resells (fal's gpt-image endpoints call
    OpenAI's model): its lifecycle applies here too. ``body`` replaces the provider's constant body fields
    (Imagen's ``:predict`` at the Gemini API takes none of Gemini's ``generationConfig``). ``sizes`` replaces the model's size rules where the
    provider accepts other sizes than the vendor (FLUX1.1 [pro] at BFL: edges 256..1440, multiples of 32).
    """

    model: str
    provider_model_id: str
    modes: tuple[Mode, ...]
    endpoint: dict[str, str] = Field(default_factory=dict)
    n_max: int | None = None
    max_input_images: int | None = None
    sizes: SizeRules | None = None
    fields: dict[str, FieldRule] = Field(default_factory=dict)
    body: dict[str, Any] | None = None
    extras_at: str | None = None
    prices: tuple[Price, ...]
    lifecycle: tuple[LifecycleEvent, ...] = ()
    upstream: str | None = None
    source: tuple[str, ...] = ()
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
    """How the key is sent: ``bearer`` (Authorization), ``key`` (fal's ``Key`` scheme), ``header`` (a named
    header: Gemini's ``x-goog-api-key``, BFL's ``x-key``), ``none``. ``env`` names the variables that hold
    the key; ``command_env`` a variable holding a command whose output is the key when none of them is set
    (Vertex's short-lived token: ``gcloud auth print-access-token``), run by :class:`imgkit.keys.KeyResolver`."""

    scheme: Literal["bearer", "key", "header", "none"]
    header: str | None = None
    env: tuple[str, ...] = ()
    command_env: str | None = None


UnsupportedSize = Literal["refuse", "nearest"]


class Credit(Strict):
    """What one of a provider's credits costs in USD (Stability, BFL: 1 credit = $0.01), with its sources."""

    usd: Usd
    source: tuple[str, ...]
    notes: str | None = None


class Provider(Strict):
    """A provider: base URL, auth, the adapter kind that speaks its protocol, its default field rules.

    ``unsupported_size``: what the provider does with an explicit ``size`` WxH the model does not support:
    ``refuse`` it (a 400, as the direct APIs do) or convert it to the ``nearest`` supported size (as a gateway
    documents); :func:`imgkit.params.resolve_size` does the same, with a note. ``vendor`` names the creator
    whose own API this is (its models are served here first by default). ``body`` holds constant fields every
    request body carries (Gemini's ``generationConfig.responseModalities``); ``extras_at`` the body path of
    provider fields imgkit has no rule for (Replicate's ``input``); ``credit`` what one credit costs.
    """

    id: str
    name: str
    adapter: Adapter
    vendor: str | None = None
    base_url: str
    auth: Auth
    unsupported_size: UnsupportedSize
    markup: Decimal | None = None
    credit: Credit | None = None
    body: dict[str, Any] = Field(default_factory=dict)
    extras_at: str | None = None
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


@functools.lru_cache(maxsize=4096)  # the pricing paths parse the same few sizes again and again
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
