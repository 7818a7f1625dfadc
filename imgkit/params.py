"""Parameter resolution: the size a provider will really produce, and the exact fields it will receive.

Pure functions over the catalog: no network; :func:`inspect_image` reads only the image it is given.

**Size.** Precedence (the gateway's published rule, applied to every provider): an explicit ``size`` WxH >
``aspect_ratio`` + ``resolution`` > ``aspect_ratio`` > ``resolution`` > the model's default. ``size`` "W:H" is an
aspect ratio; ``size`` "auto" stays "auto" (width and height unknown) where the model accepts it, otherwise
the remaining parameters (or the model default) decide. An explicit WxH the model does not support follows
the provider's ``unsupported_size``: refused with the nearest valid size as a hint (direct APIs), or converted
to that size with a note (the gateway documents it). ``aspect_ratio`` and ``resolution`` accept any
well-formed value and map it to the nearest supported one:

- ratios are compared on a log scale, |ln r - ln r'| (7:1 between 4:1 and 8:1 gives 8:1, and 2:1 is as far
  from 1:2 as 1:1 is from 4:1); a tie goes to the ratio closer to square, then to landscape;
- resolution tiers are compared on a log scale of their nominal edge ("1K" = 1024 px, "0.5K" = 512 px,
  megapixel tiers "1" = 1,048,576 px); a tie goes to the larger tier;
- fixed-size models pick the nearest ratio first, then the size of that ratio nearest the tier;
- flexible models keep the ratio (clamped into ``max_ratio``) and aim at tier_edge^2 pixels scaled into the
  edge and pixel limits keeping the ratio (the target). Among the valid sizes whose pixel count lies within
  :data:`PIXEL_WINDOW` (sqrt 2) of the target: the nearest ratio first, then the nearest pixel count, then
  the larger, then landscape; so the ratio is kept exactly whenever a valid size of exactly that ratio lies
  in the window. A size the model's ``aspect_ratios`` table lists for that exact ratio and tier wins over the
  computed one.

**Fields.** Each request field reaches the provider by the catalog's rule (the offering's rule overrides the
provider's): passthrough, renamed, converted (fal ``image_size``), emulated (``n`` split into several calls,
output formats converted locally with Pillow, base64 made by downloading) or ignored (a note, not sent).
A field set to a non-default value without a rule, or with rule ``unsupported``, is refused. Everything is
validated before anything is sent.
"""

from __future__ import annotations

import copy
import functools
import io
import itertools
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from PIL import Image, UnidentifiedImageError, features

from imgkit._memo import memo_by_identity
from imgkit.catalog import Catalog, FieldRule, Model, Offering, Provider, SizeRules, Timeline, load_catalog
from imgkit.catalog import parse_ratio as _catalog_ratio
from imgkit.catalog import parse_wxh as _catalog_wxh
from imgkit.errors import (
    InputImageError,
    InvalidParameterError,
    SecretParameterError,
    UnknownNameError,
    UnsupportedParameterError,
)
from imgkit.secret_policy import secret_reason

__all__ = [
    "DALL_E_INPUT",
    "DEFAULT_MAX_INPUT_PIXELS",
    "FAL_IMAGE_SIZE_PRESETS",
    "GPT_IMAGE_INPUT",
    "FieldAction",
    "ImageRequest",
    "InputImage",
    "InputLimits",
    "PricedRequest",
    "ResolvedRequest",
    "SizeResolution",
    "input_limits",
    "inspect_image",
    "nearest_supported_size",
    "resolve",
    "resolve_priced",
    "resolve_quality",
    "resolve_size",
    "size_limit_problems",
    "size_parts",
    "split_calls",
]


# --- request and result types --------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputImage:
    """An input image checked by :func:`inspect_image`: real dimensions, format (lower case) and byte size.

    ``data`` holds the bytes only when the image was given as bytes; a file is re-read from ``path``.
    """

    name: str
    width: int
    height: int
    format: str
    bytes_len: int
    path: Path | None = None
    has_alpha: bool = False
    data: bytes | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class ImageRequest:
    """A provider-neutral request as a user asks it; :func:`resolve` validates and maps it."""

    model: str
    prompt: str = ""
    mode: Literal["generate", "edit"] = "generate"
    provider: str | None = None
    size: str | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None
    quality: str | None = None
    n: int = 1
    output_format: str | None = None
    output_compression: int | None = None
    background: str | None = None
    input_fidelity: str | None = None
    stream: bool = False
    partial_images: int = 0
    response_format: str | None = None
    moderation: str | None = None
    user: str | None = None
    style: str | None = None
    input_images: tuple[InputImage, ...] = ()
    mask: InputImage | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SizeResolution:
    """The resolved output size (``size`` "auto" leaves width and height unknown) and one note per change."""

    width: int | None
    height: int | None
    size: str
    notes: tuple[str, ...] = ()
    ratio: str | None = None
    tier: str | None = None


@dataclass(frozen=True)
class FieldAction:
    """What happened to one request field: its behaviour, and the name and value the provider receives."""

    field: str
    behaviour: str
    value: Any
    sent_as: str | None
    sent_value: Any
    note: str = ""


@dataclass(frozen=True)
class PricedRequest:
    """What the price of a request depends on, resolved: :func:`imgkit.pricing.quote_request` prices it as it
    is, with no look-up and no check of its own.

    Built by :meth:`ResolvedRequest.priced` (a request resolved for sending) or :func:`resolve_priced` (a
    request described by its priced fields only, what :func:`imgkit.pricing.quote` takes). ``size`` is
    ``WxH``, or ``auto`` (the provider picks: priced as a range over the model's standard sizes);
    ``quality`` is a tier, ``auto`` (a range over the tiers) or ``None`` (the model has no quality
    parameter). ``calls`` gives the images per provider call (default: ``n`` split by the offering's
    maximum), which matters where a provider rounds each request total. ``input_images`` are the
    (width, height) in px of each input image, ``input_fidelity`` the fidelity the model processes them at.
    ``prompt_tokens`` replaces the estimate from ``prompt``. ``notes`` say what resolution assumed.
    ``lifecycle`` is the offering's :class:`~imgkit.catalog.Timeline` (a quote for a date after its shutdown
    is refused); ``options`` the provider fields of the request (``ImageRequest.extra``), which switch
    priced add-ons on or off (fal's prompt expansion). A mode the offering does not serve is refused here,
    however the request is built.
    """

    model: Model
    provider: Provider
    offering: Offering
    mode: str
    size: str
    quality: str | None
    n: int = 1
    calls: tuple[int, ...] = ()
    partial_images: int = 0
    input_images: tuple[tuple[int, int], ...] = ()
    input_fidelity: str = "low"
    prompt: str = ""
    prompt_tokens: int | None = None
    notes: tuple[str, ...] = ()
    lifecycle: Timeline | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in self.offering.modes or self.mode not in self.model.modes:
            _check_mode(self.model, self.offering, self.mode, f"{self.model.id} at {self.provider.id}")
        if not self.calls:
            object.__setattr__(self, "calls", split_calls(self.n, self.offering.n_max or self.model.n_max))


@dataclass(frozen=True)
class ResolvedRequest:
    """A request checked against the model and provider, with the exact JSON body of one call."""

    request: ImageRequest
    model: Model
    provider: Provider
    offering: Offering
    mode: str
    endpoint: str
    width: int | None
    height: int | None
    size: str
    quality: str | None
    n: int
    calls: tuple[int, ...]
    body: dict[str, Any]
    actions: tuple[FieldAction, ...]
    notes: tuple[str, ...]
    emulate: Mapping[str, Any]
    lifecycle: Timeline | None = None

    def summary(self) -> dict[str, Any]:
        """A JSON-ready view: requested vs resolved values, per-field actions, the body and the notes."""
        asked = {
            k: v
            for k, v in vars(self.request).items()
            if k == "n" or (k not in ("input_images", "mask", "extra") and v not in (None, False, "", 0))
        }
        if self.request.input_images:
            asked["input_images"] = [i.name for i in self.request.input_images]
        if self.request.mask:
            asked["mask"] = self.request.mask.name
        if self.request.extra:
            asked["extra"] = dict(self.request.extra)
        return {
            "model": self.model.id,
            "provider": self.provider.id,
            "mode": self.mode,
            "endpoint": self.endpoint,
            "requested": asked,
            "width": self.width,
            "height": self.height,
            "size": self.size,
            "quality": self.quality,
            "n": self.n,
            "calls": list(self.calls),
            "body": self.body,
            "emulate": dict(self.emulate),
            "actions": [vars(a) for a in self.actions],
            "notes": list(self.notes),
        }

    def priced(self, prompt_tokens: int | None = None) -> PricedRequest:
        """The fields its price depends on (``prompt_tokens`` replaces the estimate from the prompt)."""
        req = self.request
        return PricedRequest(
            model=self.model,
            provider=self.provider,
            offering=self.offering,
            mode=self.mode,
            size=self.size,
            quality=self.quality,
            n=self.n,
            calls=self.calls,
            partial_images=req.partial_images,
            input_images=tuple((i.width, i.height) for i in req.input_images),
            input_fidelity=_processed_fidelity(self.model, req.input_fidelity),
            prompt=req.prompt,
            prompt_tokens=prompt_tokens,
            lifecycle=self.lifecycle,
            options=dict(req.extra),
        )


# --- parsing --------------------------------------------------------------------------------------------------

SIZE_FORMS = "WIDTHxHEIGHT with positive integers (e.g. 1024x1536), W:H (an aspect ratio, e.g. 16:9) or auto"
RATIO_FORMS = "W:H with positive numbers (e.g. 16:9 or 2.39:1)"
RESOLUTION_FORMS = "a K tier (0.5K, 1K, 2K, 4K) or megapixels (0.25, 1, 1MP)"

_WXH = re.compile(r"(\d{1,6})x(\d{1,6})", re.ASCII)
_RATIO = re.compile(r"(\d{1,6}(?:\.\d{1,6})?):(\d{1,6}(?:\.\d{1,6})?)", re.ASCII)
_TIER = re.compile(r"(\d{1,5}(?:\.\d{1,6})?)\s*(k|mp)?", re.ASCII | re.IGNORECASE)
_MEGAPIXEL = 1_048_576


def _parse_ratio(value: Any, field_name: str, allowed: str = RATIO_FORMS) -> Fraction:
    match = _RATIO.fullmatch(str(value).strip())
    if match:
        w, h = (Fraction(Decimal(g)) for g in match.groups())
        if w > 0 and h > 0:
            return w / h
    raise InvalidParameterError(field_name, value, allowed)


def _parse_size(value: Any) -> tuple[int, int] | Fraction | Literal["auto"]:
    """``"auto"``, an aspect ratio (``"16:9"``) or ``(width, height)``; anything else is refused."""
    text = str(value).strip().lower()
    if text == "auto":
        return "auto"
    if ":" in text:
        return _parse_ratio(text, "size", SIZE_FORMS)
    match = _WXH.fullmatch(text)
    if match:
        w, h = int(match.group(1)), int(match.group(2))
        if w > 0 and h > 0:
            return w, h
    raise InvalidParameterError("size", value, SIZE_FORMS)


def _parse_resolution(value: Any) -> tuple[Fraction, str]:
    """Target pixels of a tier (K tiers: (K x 1024)^2; megapixel tiers: MP x 1,048,576) and its canonical name."""
    match = _TIER.fullmatch(str(value).strip())
    if match:
        number = Fraction(Decimal(match.group(1)))
        unit = (match.group(2) or "mp").lower()
        if number > 0:
            if unit == "k":
                return (number * 1024) ** 2, f"{match.group(1)}K"
            return number * _MEGAPIXEL, match.group(1)
    raise InvalidParameterError("resolution", value, RESOLUTION_FORMS)


def _given(value: Any) -> bool:
    return value is not None and str(value).strip() != ""


# --- geometry -------------------------------------------------------------------------------------------------


def _log_distance(a: Fraction, b: Fraction) -> Fraction:
    """max(a/b, b/a): orders like |ln a - ln b| but stays exact, so ties are real ties."""
    return max(a / b, b / a)


def _ratio_name(ratio: Fraction) -> str:
    return f"{ratio.numerator}:{ratio.denominator}"


def _wxh(w: int, h: int) -> str:
    return f"{w}x{h}"


def _nearest_ratio(ratio: Fraction, options: Iterable[Fraction]) -> Fraction:
    """Nearest on |ln r - ln r'|; ties go to the ratio closer to square, then to landscape."""
    return min(options, key=lambda o: (_log_distance(ratio, o), _log_distance(o, Fraction(1)), -o))


def _nearest_tier(pixels: Fraction, tiers: Mapping[str, int]) -> str:
    """Nearest tier on a log scale of its nominal edge; ties go to the larger tier."""
    return min(tiers, key=lambda t: (_log_distance(pixels, Fraction(tiers[t] ** 2)), -tiers[t]))


def _max_ratio(rules: SizeRules) -> Fraction | None:
    return Fraction(*_catalog_ratio(rules.max_ratio)) if rules.max_ratio else None


def size_limit_problems(rules: SizeRules, w: int, h: int) -> list[str]:
    """The limits ``w`` x ``h`` breaks on a flexible model (multiple, edges, pixels, ratio); empty when valid."""
    problems = []
    if rules.multiple_of and (w % rules.multiple_of or h % rules.multiple_of):
        problems.append(f"edges must be multiples of {rules.multiple_of}")
    if rules.min_edge and min(w, h) < rules.min_edge:
        problems.append(f"edges must be at least {rules.min_edge} px")
    if rules.max_edge and max(w, h) > rules.max_edge:
        problems.append(f"edges must be at most {rules.max_edge} px")
    if rules.min_pixels and w * h < rules.min_pixels:
        problems.append(f"at least {rules.min_pixels:,} pixels")
    if rules.max_pixels and w * h > rules.max_pixels:
        problems.append(f"at most {rules.max_pixels:,} pixels")
    limit = _max_ratio(rules)
    if limit is not None and Fraction(max(w, h), min(w, h)) > limit:
        problems.append(f"aspect ratio within {limit.denominator}:{limit.numerator}..{_ratio_name(limit)}")
    return problems


def _limits_text(rules: SizeRules) -> str:
    parts = []
    if rules.multiple_of:
        parts.append(f"both edges multiples of {rules.multiple_of}")
    for what, low, high, unit in (
        ("edges", rules.min_edge, rules.max_edge, " px"),
        ("", rules.min_pixels, rules.max_pixels, " pixels"),
    ):
        if low and high:
            parts.append(f"{what} {low:,}..{high:,}{unit}".strip())
        elif low or high:
            parts.append(f"{what} at {'least' if low else 'most'} {low or high:,}{unit}".strip())
    limit = _max_ratio(rules)
    if limit is not None:
        parts.append(f"aspect ratio within {limit.denominator}:{limit.numerator}..{_ratio_name(limit)}")
    return "WIDTHxHEIGHT with " + ", ".join(parts) + (", or auto" if rules.auto else "")


#: a flexible model's size stays within this factor of its pixel target (the tier's pixel window): a quarter of
#: the way to the next K tier on the log scale of pixels (one K tier is a factor 4)
PIXEL_WINDOW = math.sqrt(2)


def _pixel_target(rules: SizeRules, ratio: Fraction, pixels: float) -> tuple[float, bool]:
    """The pixel count of ``ratio`` at ``pixels`` scaled into the edge and pixel limits, and whether it had to be."""
    q = float(ratio)
    w, h = math.sqrt(pixels * q), math.sqrt(pixels / q)
    shrink = min(
        1.0,
        rules.max_edge / max(w, h) if rules.max_edge else 1.0,
        math.sqrt(rules.max_pixels / (w * h)) if rules.max_pixels else 1.0,
    )
    grow = max(
        1.0,
        rules.min_edge / min(w, h) if rules.min_edge else 1.0,
        math.sqrt(rules.min_pixels / (w * h)) if rules.min_pixels else 1.0,
    )
    scale = shrink if shrink < 1.0 else grow
    return pixels * scale * scale, abs(scale - 1.0) > 1e-9


def _fit(rules: SizeRules, ratio: Fraction, pixels: float) -> tuple[int, int, bool]:
    """(width, height, clamped) of a flexible model for ``ratio`` at about ``pixels``.

    The target is ``pixels`` scaled into the edge and pixel limits keeping the ratio (``clamped`` says it had
    to be). Among the valid sizes within :data:`PIXEL_WINDOW` of it: the nearest ratio first (|ln r - ln r'|,
    exact), then the nearest pixel count; a further tie goes to the larger size, then to landscape. When no
    valid size lies in the window it widens by the same factor until one does.
    """
    target, clamped = _pixel_target(rules, ratio, pixels)
    window = PIXEL_WINDOW
    for _ in range(40):
        found = _nearest_flexible(
            rules.multiple_of or 1,
            rules.min_edge or 1,
            rules.max_edge,
            rules.min_pixels or 0,
            rules.max_pixels,
            _max_ratio(rules),
            ratio,
            target,
            window,
        )
        if found is not None:
            return found[0], found[1], clamped
        window *= PIXEL_WINDOW
    raise InvalidParameterError("size", f"{_ratio_name(ratio)} at {round(pixels):,} px", _limits_text(rules))


@functools.lru_cache(maxsize=4096)
def _nearest_flexible(
    step: int,
    min_edge: int,
    max_edge: int | None,
    min_pixels: int,
    max_pixels: int | None,
    limit: Fraction | None,
    ratio: Fraction,
    target: float,
    window: float,
) -> tuple[int, int] | None:
    """The valid size with pixels in [target / window, target * window] nearest ``ratio``, then ``target``.

    For each height on the grid only the widths next to ``ratio`` x height (within the width range the
    window and the limits leave) can be nearest in ratio. A first look at the heights next to the ideal one
    gives a ratio distance d; a size at least as near has w/h within a factor d of the ratio, and with its
    pixels in the window that bounds its height, so the second pass covers only those heights. Ratio distances
    are compared exactly, as max(w q, h p) / min(w q, h p) for ``ratio`` = p/q.
    """
    p, q = ratio.numerator, ratio.denominator
    lo = max(target / window, min_pixels)
    hi = target * window if max_pixels is None else min(target * window, max_pixels)
    first = -(-max(min_edge, step) // step) * step
    last = max_edge if max_edge is not None else int(hi // first)
    last -= last % step
    best: tuple[int, int] | None = None
    best_key: tuple[int, int, float, int, int] = (1, 0, 0.0, 0, 0)  # (num, den, pixel distance, -pixels, -w)

    def scan(h_from: int, h_to: int) -> None:
        nonlocal best, best_key
        for h in range(max(first, h_from - h_from % step), min(last, h_to) + 1, step):
            if h < first:
                continue
            w_lo = max(first, math.ceil(lo / h))
            w_hi = int(hi // h)
            if max_edge is not None:
                w_hi = min(w_hi, max_edge)
            if limit is not None:
                w_lo = max(w_lo, math.ceil(h / limit))
                w_hi = min(w_hi, math.floor(h * limit))
            w_lo, w_hi = -(-w_lo // step) * step, w_hi - w_hi % step
            if w_lo > w_hi:
                continue
            ideal = min(max(h * p // q, w_lo), w_hi)  # floor of ratio x height, kept in range
            for w in {ideal - ideal % step, min(ideal - ideal % step + step, w_hi)}:
                if w < w_lo:
                    continue
                a, b = w * q, h * p
                num, den = (a, b) if a >= b else (b, a)
                pixel_distance = abs(math.log(w * h / target))
                if best is None or num * best_key[1] < best_key[0] * den:
                    better = True
                elif num * best_key[1] > best_key[0] * den:
                    better = False
                else:
                    better = (pixel_distance, -w * h, -w) < best_key[2:]
                if better:
                    best, best_key = (w, h), (num, den, pixel_distance, -w * h, -w)

    ideal_h = int(math.sqrt(target * q / p))
    scan(ideal_h - 2 * step, ideal_h + 3 * step)
    if best is None:
        scan(first, last)
        return best
    factor = best_key[0] / best_key[1]  # >= 1: how far the best so far is from the ratio
    scan(
        int(math.sqrt(lo * q / (p * factor))) - 2 * step,
        math.ceil(math.sqrt(hi * factor * q / p)) + 2 * step,
    )
    return best


@dataclass(frozen=True)
class _SizeOption:
    ratio_name: str
    ratio: Fraction
    tier: str | None
    width: int
    height: int


def _table_options(rules: SizeRules) -> list[_SizeOption]:
    """Sizes the model names per ratio and tier, plus (fixed models) every other fixed size."""
    fixed = {_catalog_wxh(s) for s in rules.fixed} if rules.fixed is not None else None
    options, seen = [], set()
    for name, tiers in rules.aspect_ratios.items():
        ratio = Fraction(*_catalog_ratio(name))
        for tier, size in tiers.items():
            w, h = _catalog_wxh(size)
            if fixed is None or (w, h) in fixed:
                options.append(_SizeOption(name, ratio, tier, w, h))
                seen.add((w, h))
    for w, h in sorted(fixed or ()):
        if (w, h) not in seen:
            options.append(_SizeOption(_ratio_name(Fraction(w, h)), Fraction(w, h), None, w, h))
    return options


def _pick_fixed(
    options: list[_SizeOption], ratio: Fraction, pixels: Fraction, tier: str | None
) -> _SizeOption:
    """Nearest ratio first, then the size of that ratio named for ``tier``, else nearest in scale."""
    chosen = _nearest_ratio(ratio, {o.ratio for o in options})
    same_ratio = [o for o in options if o.ratio == chosen]
    for o in same_ratio:
        if tier is not None and o.tier == tier:
            return o
    return min(
        same_ratio, key=lambda o: (_log_distance(pixels, Fraction(o.width * o.height)), -o.width * o.height)
    )


def nearest_supported_size(model: Model, w: int, h: int) -> tuple[int, int]:
    """The supported size nearest to ``w`` x ``h`` by the size rule (nearest ratio, then pixel count).

    The hint of a refused explicit size, and the size a provider that converts (``unsupported_size: nearest``)
    produces instead.
    """
    rules = model.sizes
    if rules.fixed is not None:
        o = _pick_fixed(_table_options(rules), Fraction(w, h), Fraction(w * h), None)
        return o.width, o.height
    ratio = Fraction(w, h)
    limit = _max_ratio(rules)
    if limit is not None:
        ratio = min(max(ratio, 1 / limit), limit)
    fw, fh, _ = _fit(rules, ratio, float(w * h))
    return fw, fh


def _explicit_size(model: Model, w: int, h: int, raw: Any, unsupported_size: str) -> tuple[int, int, str]:
    """An explicit WxH: kept when the model supports it, else refused naming the nearest valid size, or
    converted to it (``unsupported_size="nearest"``) with a note; returns (width, height, note)."""
    rules = model.sizes
    if rules.fixed is not None:
        if _wxh(w, h) in rules.fixed:
            return w, h, ""
        allowed: Any = [*rules.fixed, *(["auto"] if rules.auto else [])]
        problem = "not one of the model's sizes"
    else:
        problems = size_limit_problems(rules, w, h)
        if not problems:
            return w, h, ""
        allowed, problem = _limits_text(rules), "; ".join(problems)
    nw, nh = nearest_supported_size(model, w, h)
    if unsupported_size == "nearest":
        note = f"size {_wxh(w, h)} -> {_wxh(nw, nh)}: {problem} for {model.id}, converted to the nearest supported size"
        return nw, nh, note
    raise InvalidParameterError(
        "size", raw, allowed, context=model.id, hint=f"{problem}; nearest valid size {_wxh(nw, nh)}"
    )


def _default_tier(rules: SizeRules) -> tuple[str | None, Fraction]:
    """The model's default scale: its default tier, else the default size's pixel count."""
    if rules.default_resolution in rules.resolution_tiers:
        name = rules.default_resolution
        return name, Fraction(rules.resolution_tiers[name] ** 2)
    pixels = (
        Fraction(math.prod(_catalog_wxh(rules.default))) if rules.default != "auto" else Fraction(1024**2)
    )
    if rules.resolution_tiers:
        name = _nearest_tier(pixels, rules.resolution_tiers)
        return name, Fraction(rules.resolution_tiers[name] ** 2)
    return None, pixels


def resolve_size(
    model: Model,
    *,
    size: str | None = None,
    aspect_ratio: str | None = None,
    resolution: str | None = None,
    unsupported_size: str = "refuse",
) -> SizeResolution:
    """The output size ``model`` will produce for these parameters (module docstring: precedence, rules).

    ``unsupported_size``: ``"refuse"`` an explicit WxH the model does not support (direct APIs), or convert it
    to the ``"nearest"`` supported size with a note (a gateway that documents it; the provider's catalog
    field ``unsupported_size``).
    """
    if unsupported_size not in ("refuse", "nearest"):
        raise InvalidParameterError("unsupported_size", unsupported_size, ("refuse", "nearest"))
    rules = model.sizes
    notes: list[str] = []
    ratio: Fraction | None = None
    ratio_label = ""
    auto_refused = False
    if _given(size):
        parsed = _parse_size(size)
        shadowed = [f for f, v in (("aspect_ratio", aspect_ratio), ("resolution", resolution)) if _given(v)]
        if isinstance(parsed, tuple):
            w, h, converted = _explicit_size(model, *parsed, size, unsupported_size)
            if shadowed:
                notes.append(f"{' and '.join(shadowed)} ignored: size {_wxh(*parsed)} wins")
            if converted:
                notes.append(converted)
            return _finish(model, w, h, notes, None, None)
        if parsed == "auto":
            if rules.auto:
                if shadowed:
                    notes.append(f"{' and '.join(shadowed)} ignored: size auto wins")
                return SizeResolution(None, None, "auto", tuple(notes))
            auto_refused = True
        else:
            if _given(aspect_ratio):
                notes.append(f"aspect_ratio {aspect_ratio} ignored: size {size} wins")
            notes.append(f"size {size} is an aspect ratio: treated as aspect_ratio")
            ratio, ratio_label = parsed, str(size).strip()
    if ratio is None and _given(aspect_ratio):
        ratio, ratio_label = _parse_ratio(aspect_ratio, "aspect_ratio"), str(aspect_ratio).strip()
    tier_request = _parse_resolution(resolution) if _given(resolution) else None

    if ratio is None and tier_request is None:
        if rules.default == "auto":
            return SizeResolution(None, None, "auto", tuple(notes))
        w, h = _catalog_wxh(rules.default)
        if auto_refused:
            notes.append(f"size auto is not supported by {model.id}; model default {rules.default}")
        return _finish(model, w, h, notes, None, None)
    if auto_refused:
        notes.append(f"size auto is not supported by {model.id}; sized from aspect_ratio/resolution instead")

    # shape
    if ratio is None:
        if rules.default == "auto":
            ratio, ratio_label = Fraction(1), "1:1"
            notes.append(
                f"resolution {resolution} without aspect_ratio: shape 1:1 (the model default is auto)"
            )
        else:
            ratio = Fraction(*_catalog_wxh(rules.default))
            ratio_label = _ratio_name(ratio)
    # scale
    if tier_request is None:
        tier, target = _default_tier(rules)
        tier_changes: list[str] = []
    else:
        asked_pixels, asked_name = tier_request
        tier, target, tier_changes = asked_name, asked_pixels, []
        if rules.resolution_tiers:
            tier = _nearest_tier(asked_pixels, rules.resolution_tiers)
            target = Fraction(rules.resolution_tiers[tier] ** 2)
            if target != asked_pixels:
                tier_changes.append(f"resolution {resolution} -> {tier} (nearest supported)")

    if rules.fixed is not None:
        w, h, result_ratio, changes = _fixed_size(rules, ratio, ratio_label, tier, target)
    else:
        w, h, result_ratio, changes = _flexible_size(rules, ratio, ratio_label, tier, target)
    changes[1:1] = tier_changes  # after the ratio change, before clamping and rounding
    notes += [f"{c}; size {_wxh(w, h)}" for c in changes if c]
    return _finish(model, w, h, notes, result_ratio, tier)


def _fixed_size(
    rules: SizeRules, ratio: Fraction, label: str, tier: str | None, target: Fraction
) -> tuple[int, int, str, list[str]]:
    """A fixed-size model: the nearest ratio, then its size for the tier (else the nearest in scale)."""
    option = _pick_fixed(_table_options(rules), ratio, target, tier)
    changes = [
        f"aspect_ratio {label} -> {option.ratio_name} (nearest supported)" if option.ratio != ratio else ""
    ]
    if tier is not None and option.tier not in (tier, None):
        changes.append(f"no {tier} size for {option.ratio_name}: nearest {option.tier}")
    return option.width, option.height, option.ratio_name, changes


def _flexible_size(
    rules: SizeRules, ratio: Fraction, label: str, tier: str | None, target: Fraction
) -> tuple[int, int, str, list[str]]:
    """A flexible model: the ratio clamped into ``max_ratio``; the listed size for it, else computed."""
    limit = _max_ratio(rules)
    chosen = ratio if limit is None else min(max(ratio, 1 / limit), limit)
    name = label if chosen == ratio else _ratio_name(chosen)
    changes = [f"aspect_ratio {label} -> {name} (nearest supported)" if chosen != ratio else ""]
    listed = [o for o in _table_options(rules) if tier is not None and (o.ratio, o.tier) == (chosen, tier)]
    if listed:
        return listed[0].width, listed[0].height, name, changes
    w, h, clamped = _fit(rules, chosen, float(target))
    ideal = f"{name} at {tier or f'{round(target):,} px'}"
    grid = f"multiples of {rules.multiple_of}" if rules.multiple_of else "whole pixels"
    off = (
        ""
        if Fraction(w, h) == chosen
        else (
            f": no size of exactly {name} near that size, nearest ratio {w / h:.5g} "
            f"({abs(w / h / float(chosen) - 1):.2%} off)"
        )
    )
    if clamped:
        changes.append(f"{ideal} clamped into the model's limits keeping the ratio{off}")
    elif off or Fraction(w * h) != target:
        changes.append(f"{ideal} rounded to {grid}{off or ' keeping the ratio exactly'}")
    return w, h, name, changes


def _finish(
    model: Model, w: int, h: int, notes: list[str], ratio: str | None, tier: str | None
) -> SizeResolution:
    above = model.sizes.experimental_above_pixels
    if above and w * h > above:
        notes.append(f"size {_wxh(w, h)} is above {above:,} pixels: experimental for {model.id}")
    return SizeResolution(w, h, _wxh(w, h), tuple(notes), ratio, tier)


def size_parts(model: Model, width: int, height: int) -> tuple[str, str | None]:
    """The aspect ratio name and the resolution tier of a WxH for ``model``.

    The model's own table names them where it lists the size (Gemini 3 Pro Image: 1376x768 is 16:9 at 1K);
    otherwise the ratio is the reduced W:H and the tier the nearest of the model's tiers by the pixel count
    each tier reaches within the model's limits (gpt-image-2's 4K is 3840x2160 at most), on a log scale,
    ties to the larger; ``None`` for a model without tiers. What a provider that takes a ratio
    and a tier receives, and what a price by resolution tier is looked up by.
    """
    return _size_parts(model.sizes, width, height)


_SIZE_PARTS: dict = {}  # size_parts by size rules (identity), width and height


def _size_parts(rules: SizeRules, width: int, height: int) -> tuple[str, str | None]:
    return memo_by_identity(_SIZE_PARTS, (rules, width, height), lambda: _size_parts_of(rules, width, height))


def _size_parts_of(rules: SizeRules, width: int, height: int) -> tuple[str, str | None]:
    for name, tiers in rules.aspect_ratios.items():
        for tier, size in tiers.items():
            if _catalog_wxh(size) == (width, height):
                return name, tier
    caps = [c for c in (rules.max_pixels, rules.max_edge and rules.max_edge**2) if c]
    reach = {
        t: min([edge * edge, *caps]) for t, edge in rules.resolution_tiers.items()
    }  # what a tier can reach
    pixels = Fraction(width * height)
    nearest: str | None = (
        min(reach, key=lambda t: (_log_distance(pixels, Fraction(reach[t])), -reach[t])) if reach else None
    )
    return _ratio_name(Fraction(width, height)), nearest


# --- input images ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputLimits:
    """What a model accepts as an edit input: formats, the largest file (bytes, inclusive), square only."""

    formats: tuple[str, ...]
    max_bytes: int
    square: bool = False


#: GPT Image edits: PNG, JPEG or WebP, each "< 50 MB" (read as 50,000,000 bytes, the stricter reading)
GPT_IMAGE_INPUT = InputLimits(("png", "jpeg", "webp"), 50_000_000 - 1)
#: DALL-E 2 edits (and masks for every model): one square PNG "< 4 MB"
DALL_E_INPUT = InputLimits(("png",), 4_000_000 - 1, square=True)
MASK_MAX_BYTES = 4_000_000 - 1
#: a pixel cap for inputs (8192 x 8192); Pillow's own limit (Image.MAX_IMAGE_PIXELS) applies as well
DEFAULT_MAX_INPUT_PIXELS = 8192 * 8192


def input_limits(model: Model) -> InputLimits:
    """The edit input limits of a model (DALL-E: one square PNG under 4 MB; others: GPT Image's)."""
    return DALL_E_INPUT if model.family == "dall-e" else GPT_IMAGE_INPUT


def inspect_image(
    path_or_bytes: str | Path | bytes,
    *,
    max_bytes: int = GPT_IMAGE_INPUT.max_bytes,
    max_pixels: int = DEFAULT_MAX_INPUT_PIXELS,
    formats: tuple[str, ...] = GPT_IMAGE_INPUT.formats,
    field: str = "input_image",
    name: str | None = None,
) -> InputImage:
    """Check an input image with Pillow and return its real dimensions (for token counts and sizes).

    Refuses (``InputImageError`` naming ``field``, the file name and what is allowed): a missing file,
    anything that is not an image, a format outside ``formats``, more than ``max_bytes`` bytes, more than
    ``max_pixels`` pixels or what Pillow flags as a decompression bomb (judged from the header, before any
    pixel is decoded), and a corrupt or truncated file (verified, then every pixel decoded).
    """
    kinds = ", ".join(f.upper() for f in formats)
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data, path = bytes(path_or_bytes), None
        label = name or "<bytes>"
    else:
        path = Path(path_or_bytes)
        label = name or path.name or str(path)
        try:
            if not path.is_file():
                raise InputImageError(field, label, f"an existing {kinds} file", hint=f"no file at {path}")
            size = path.stat().st_size
            if size > max_bytes:
                raise _too_large(field, label, size, max_bytes)
            data = path.read_bytes()
        except OSError as exc:
            raise InputImageError(field, label, f"a readable {kinds} file", hint=exc.strerror or "") from None
    if len(data) > max_bytes:
        raise _too_large(field, label, len(data), max_bytes)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as im:
                fmt, (w, h) = (im.format or "").lower(), im.size
                has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InputImageError(
                field, label, f"at most {max_pixels:,} pixels", hint=f"refused as a decompression bomb: {exc}"
            ) from None
        except UnidentifiedImageError:
            raise InputImageError(field, label, f"a {kinds} image", hint="not an image") from None
        except Exception as exc:  # Pillow raises many kinds on a damaged header
            raise InputImageError(field, label, f"a readable {kinds} image", hint=f"corrupt: {exc}") from None
        if fmt not in formats:
            raise InputImageError(field, label, f"a {kinds} image", hint=f"it is {fmt.upper() or 'unknown'}")
        if w * h > max_pixels:
            raise InputImageError(
                field,
                label,
                f"at most {max_pixels:,} pixels",
                hint=f"{w}x{h} is {w * h:,} pixels; refused as a possible decompression bomb",
            )
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.verify()
            with Image.open(io.BytesIO(data)) as im:
                im.load()
        except Exception as exc:  # truncated data, bad checksums, broken streams
            raise InputImageError(
                field, label, f"a complete, uncorrupted {kinds} image", hint=f"corrupt or truncated: {exc}"
            ) from None
    return InputImage(label, w, h, fmt, len(data), path, has_alpha, data if path is None else None)


def _too_large(field_name: str, label: str, size: int, max_bytes: int) -> InputImageError:
    return InputImageError(
        field_name, label, f"at most {max_bytes:,} bytes", hint=f"the file has {size:,} bytes"
    )


# --- provider field mapping -----------------------------------------------------------------------------------

#: fal ``image_size`` presets (fal-ai/fal toolkit image.py)
FAL_IMAGE_SIZE_PRESETS = {
    (1024, 1024): "square_hd",
    (512, 512): "square",
    (768, 1024): "portrait_4_3",
    (576, 1024): "portrait_16_9",
    (1024, 768): "landscape_4_3",
    (1024, 576): "landscape_16_9",
}
OUTPUT_FORMATS = ("png", "jpeg", "webp", "gif", "avif")
LOSSY_FORMATS = ("jpeg", "webp", "avif")
TRANSPARENT_FORMATS = ("png", "webp")
_FIELD_VALUES = {
    "background": ("transparent", "opaque", "auto"),
    "moderation": ("low", "auto"),
    "style": ("vivid", "natural"),
    "response_format": ("url", "b64_json"),
}
_REQUEST_FIELDS = {f for f in ImageRequest.__dataclass_fields__ if f not in ("extra", "provider")}


_PATH_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _path_keys(path: str) -> list[str | int]:
    """``"contents[0].parts[0].text"`` as ``["contents", 0, "parts", 0, "text"]``."""
    return [int(index) if index else name for name, index in _PATH_STEP.findall(path)]


def put_path(body: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at a body path: dots for nested objects, ``[i]`` for list items (made as needed)."""
    keys = _path_keys(path)
    node: Any = body
    for key, following in itertools.pairwise(keys):
        empty: Any = [] if isinstance(following, int) else {}
        if isinstance(key, int):
            while len(node) <= key:
                node.append(copy.copy(empty))
            node = node[key]
        else:
            node = node.setdefault(key, empty)
    last = keys[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
    node[last] = value


def get_path(body: Any, path: str) -> Any:
    """The value at a body path (dots, ``[i]``), or ``None`` where any step is missing."""
    node = body
    for key in _path_keys(path):
        if isinstance(key, int):
            if not isinstance(node, list) or key >= len(node):
                return None
        elif not isinstance(node, Mapping):
            return None
        node = node[key] if isinstance(key, int) else node.get(key)
    return node


def _span(most: int) -> str:
    """``1..most``, or ``1`` when that is the only value."""
    return f"1..{most}" if most > 1 else "1"


def _fal_image_size(w: int | None, h: int | None, size: str) -> Any:
    if w is None or h is None:
        return size
    return FAL_IMAGE_SIZE_PRESETS.get((w, h), {"width": w, "height": h})


def _pillow_writes(fmt: str) -> bool:
    return fmt in ("png", "jpeg", "gif") or bool(features.check(fmt))


def _reject_secret(name: str, value: Any) -> None:
    reason = secret_reason(name, value)  # the one secrets policy (imgkit.secret_policy)
    if reason:
        raise SecretParameterError(
            f"{name} looks like a secret ({reason}); API keys are read from the environment, never passed as "
            "parameters"
        )


class _FieldMapper:
    """Applies the catalog rules of one offering and collects the body, actions, notes and local work."""

    def __init__(self, model: Model, provider: Provider, offering: Offering) -> None:
        self.model, self.provider, self.offering = model, provider, offering
        self.rules: dict[str, FieldRule] = {**provider.fields, **offering.fields}
        self.context = f"{model.id} at {provider.id}"
        self.body: dict[str, Any] = copy.deepcopy(
            offering.body if offering.body is not None else provider.body
        )
        self.actions: list[FieldAction] = []
        self.notes: list[str] = []
        self.emulate: dict[str, Any] = {}

    def rule(self, name: str, value: Any) -> FieldRule:
        """The rule for a field the user set; refuses it when the provider cannot take it."""
        rule = self.rules.get(name)
        if rule is None or rule.behaviour == "unsupported":
            why = rule.notes if rule and rule.notes else f"{self.provider.name} has no {name} field"
            raise UnsupportedParameterError(name, value, "omit it", context=self.context, hint=why)
        return rule

    def invalid(self, name: str, value: Any, allowed: Any, hint: str = "") -> InvalidParameterError:
        return InvalidParameterError(name, value, allowed, context=self.context, hint=hint)

    def record(
        self,
        name: str,
        behaviour: str,
        value: Any,
        sent_as: str | None,
        sent: Any,
        note: str = "",
        *,
        tell: bool = True,
    ) -> None:
        """Add a field action; its note also joins the request's notes when ``tell`` (a change worth saying)."""
        self.actions.append(FieldAction(name, behaviour, value, sent_as, sent, note))
        if note and tell:
            self.notes.append(note)

    def send(self, name: str, value: Any) -> None:
        """Send a validated value by its rule: passthrough / renamed / converted, ignored or emulated."""
        rule = self.rule(name, value)
        if rule.behaviour == "ignored":
            why = f": {rule.notes}" if rule.notes else ""
            self.record(
                name, "ignored", value, None, None, f"{name} {value} not sent to {self.provider.id}{why}"
            )
        elif rule.behaviour == "emulated":
            self.emulate[name] = value
            why = f" ({rule.notes})" if rule.notes else ""
            self.record(name, "emulated", value, None, None, f"{name} {value} emulated by imgkit{why}")
        else:
            target = rule.to or name
            sent = rule.value_map.get(str(value), value) if isinstance(value, (str, bool, int)) else value
            put_path(self.body, target, sent)
            self.record(name, rule.behaviour, value, target, sent)


def resolve(request: ImageRequest, catalog: Catalog | None = None) -> ResolvedRequest:
    """Validate ``request`` against its model and provider and map it to the fields the provider receives.

    Raises an ``InvalidParameterError`` subclass naming the field, the value and what is allowed for
    anything the model or provider cannot honour; nothing is sent until every field passes.
    """
    cat = catalog or load_catalog()
    model, provider, offering = _route(cat, request.model, request.provider)
    m = _FieldMapper(model, provider, offering)
    _check_mode(model, offering, request.mode, m.context)
    endpoint = offering.endpoint.get(request.mode, offering.provider_model_id)
    provider_id_sent = offering.provider_model_id
    behaviour = "passthrough" if provider_id_sent == model.id else "renamed"
    model_rule = m.rules.get("model")
    if (
        model_rule is not None and model_rule.to
    ):  # always sent where the body names it (OpenAI: else dall-e-2)
        put_path(m.body, model_rule.to, provider_id_sent)
        m.record("model", behaviour, model.id, model_rule.to, provider_id_sent)
    else:
        m.record(
            "model", behaviour, model.id, None, endpoint, f"endpoint {endpoint} (in the URL)", tell=False
        )
    timeline = cat.timeline(model.id, provider.id)
    lifecycle = timeline.on()
    if lifecycle.state != "active":
        m.notes.append(f"{model.id} at {provider.id}: {lifecycle.note}")

    _map_prompt(m, request.prompt)
    calls = _map_n(m, request.n, offering)
    size = _map_size(m, request)
    quality = _map_quality(m, request.quality)
    fmt = _map_output_format(m, request.output_format)
    _map_output_compression(m, request.output_compression, fmt)
    _map_background(m, request.background, fmt)
    _map_choice(m, "moderation", request.moderation)
    _map_choice(m, "style", request.style)
    _map_streaming(m, request.stream, request.partial_images)
    _map_response_format(m, request.response_format)
    _map_inputs(m, request, offering)
    if request.user is not None:
        _reject_secret("user", request.user)
        m.send("user", request.user)
    _map_extra(m, request.extra)

    return ResolvedRequest(
        request=request,
        model=model,
        provider=provider,
        offering=offering,
        mode=request.mode,
        endpoint=endpoint,
        width=size.width,
        height=size.height,
        size=size.size,
        quality=quality,
        n=request.n,
        calls=calls,
        body=m.body,
        actions=tuple(m.actions),
        notes=(*size.notes, *m.notes),
        emulate=m.emulate,
        lifecycle=timeline,
    )


# --- rules shared by resolve and resolve_priced ------------------------------------------------------------


def _route(cat: Catalog, model_id: str, provider_id: str | None) -> tuple[Model, Provider, Offering]:
    """The model as the provider serves it (its own size rules, where it has some), the provider (default:
    the first that serves it, its creator's own API first) and their offering."""
    cat.model(model_id)
    provider_id = provider_id or next(iter(cat.providers_for(model_id)), None)
    offering = cat.offering(model_id, provider_id)
    return cat.offered_model(model_id, provider_id), cat.provider(provider_id or ""), offering


def _check_mode(model: Model, offering: Offering, mode: str, context: str) -> None:
    if mode not in ("generate", "edit"):
        raise UnknownNameError("mode", mode, ["generate", "edit"])
    if mode not in offering.modes or mode not in model.modes:
        allowed = [x for x in offering.modes if x in model.modes]
        raise UnsupportedParameterError("mode", mode, allowed, context=context)


def split_calls(n: int, n_max: int) -> tuple[int, ...]:
    """``n`` images as provider calls of at most ``n_max`` each: 10 at 4 per call -> ``(4, 4, 2)``."""
    full, rest = divmod(n, n_max)
    return (n_max,) * full + ((rest,) if rest else ())


def resolve_quality(model: Model, quality: str | None, *, context: str = "") -> str | None:
    """The quality tier a request asks for: the one rule of every request, quote and logged bill.

    A model without a quality parameter takes none (``None``; ``auto`` is the same). Otherwise the given tier,
    else the model's default, else ``auto`` where the model accepts it, else its first tier; ``auto`` only
    where the model accepts it. Anything else is an ``UnknownNameError`` naming the allowed tiers.
    """
    if not model.qualities:
        if quality not in (None, "auto"):
            raise UnsupportedParameterError(
                "quality", quality, "omit it", context=context, hint=f"{model.id} has no quality parameter"
            )
        return None
    allowed = [*model.qualities, *(["auto"] if model.quality_auto else [])]
    resolved = quality or model.default_quality or ("auto" if model.quality_auto else model.qualities[0])
    if resolved not in allowed:
        raise UnknownNameError("quality", quality, allowed, context=context)
    return resolved


def _processed_fidelity(model: Model, fidelity: str | None, notes: list[str] | None = None) -> str:
    """The input fidelity the model processes inputs at: ``high`` always where it takes no ``input_fidelity``
    but publishes a high-fidelity extra (gpt-image-2), else the given one, ``low`` by default."""
    if model.always_high_fidelity:
        if fidelity == "low" and notes is not None:
            notes.append(f"{model.id} always uses high input fidelity: priced as high")
        return "high"
    if fidelity is None:
        return "low"
    allowed = model.input_fidelity or ("low",)
    if fidelity not in allowed:
        raise InvalidParameterError("input_fidelity", fidelity, allowed, context=model.id)
    return fidelity


def resolve_priced(
    model: str,
    provider: str | None = None,
    *,
    mode: str = "generate",
    quality: str | None = None,
    width: int | None = None,
    height: int | None = None,
    n: int = 1,
    calls: Sequence[int] | None = None,
    partial_images: int = 0,
    input_images: Sequence[tuple[int, int]] = (),
    input_fidelity: str | None = None,
    prompt: str = "",
    prompt_tokens: int | None = None,
    options: Mapping[str, Any] | None = None,
    catalog: Catalog | None = None,
) -> PricedRequest:
    """A request described by the fields its price depends on, checked and resolved for pricing.

    The model and provider (default: the first that serves it), the mode and the quality (:func:`resolve_quality`)
    by the rules of :func:`resolve`; a size is the one given (any positive ``width`` x ``height``: a
    per-image table's ``other`` row or a per-megapixel rate prices it), else the model's default; ``n``
    images, split into calls by the offering's maximum unless ``calls`` says how; input images by their
    dimensions (mode ``edit`` only); ``options`` the provider fields that switch priced add-ons (as
    ``ImageRequest.extra``). Field mapping and the provider's own limits are :func:`resolve`'s: a quote can
    price a request a provider would refuse.
    """
    cat = catalog or load_catalog()
    m, prov, offering = _route(cat, model, provider)
    context = f"{m.id} at {prov.id}"
    _check_mode(m, offering, mode, context)
    if int(n) < 1:
        raise InvalidParameterError("n", n, "1 or more")
    n = int(n)
    if not 0 <= int(partial_images) <= m.partial_images_max:
        raise InvalidParameterError("partial_images", partial_images, f"0..{m.partial_images_max}")
    if input_images and mode != "edit":
        raise InvalidParameterError("input_images", len(input_images), "none unless mode='edit'")
    calls = tuple(calls) if calls else split_calls(n, offering.n_max or m.n_max)
    if sum(calls) != n:
        raise InvalidParameterError("calls", calls, f"images per call summing to n={n}")
    notes: list[str] = []
    fidelity = _processed_fidelity(m, input_fidelity, notes) if input_images else "low"
    resolved_quality = resolve_quality(m, quality, context=context)
    if quality is None and resolved_quality not in (None, "auto"):
        notes.append(f"quality not given: the model's default {resolved_quality!r}")
    if width is not None and height is not None:
        if int(width) <= 0 or int(height) <= 0:
            raise InvalidParameterError("size", f"{width}x{height}", "positive WIDTHxHEIGHT")
        size = f"{int(width)}x{int(height)}"
    elif (width is None) != (height is None):
        raise InvalidParameterError("size", f"{width}x{height}", "both width and height, or neither")
    else:
        size = m.sizes.default
        if size != "auto":
            notes.append(f"size not given: the model's default {size}")
    return PricedRequest(
        model=m,
        provider=prov,
        offering=offering,
        mode=mode,
        size=size,
        quality=resolved_quality,
        n=n,
        calls=calls,
        partial_images=int(partial_images),
        input_images=tuple((int(w), int(h)) for w, h in input_images),
        input_fidelity=fidelity,
        prompt=prompt,
        prompt_tokens=None if prompt_tokens is None else int(prompt_tokens),
        notes=tuple(notes),
        lifecycle=cat.timeline(m.id, prov.id),
        options=dict(options or {}),
    )


def _map_prompt(m: _FieldMapper, prompt: str) -> None:
    rule = m.rule("prompt", prompt)
    limits = [x for x in (m.model.prompt_max_chars, rule.max_chars) if x]
    if limits and len(prompt) > min(limits):
        raise m.invalid("prompt", f"{len(prompt):,} characters", f"at most {min(limits):,} characters")
    m.send("prompt", prompt)


def _map_n(m: _FieldMapper, n: Any, offering: Offering) -> tuple[int, ...]:
    """Images per call; beyond the offering's maximum, split into several calls where the rule emulates n."""
    n_max = offering.n_max or m.model.n_max
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise m.invalid("n", n, f"an integer {_span(n_max)}")
    rule = m.rule("n", n)
    if n > n_max and rule.behaviour != "emulated":
        raise m.invalid("n", n, _span(n_max))
    calls = split_calls(n, n_max)
    if rule.behaviour == "emulated" and rule.to is None:  # one image per call: nothing to send
        note = f"n {n} -> {len(calls)} calls of one image ({m.context} returns one image per call)"
        m.record("n", "emulated", n, None, None, note if n > 1 else "", tell=n > 1)
        return calls
    target = rule.to or "n"
    put_path(m.body, target, calls[0])
    if len(calls) > 1:
        note = f"n {n} -> {len(calls)} calls of {calls} images ({m.context} returns at most {n_max} per call)"
        m.record("n", "emulated", n, target, calls[0], note)
    else:
        m.record("n", "renamed" if target != "n" else "passthrough", n, target, n)
    return calls


def _map_size(m: _FieldMapper, request: ImageRequest) -> SizeResolution:
    size = resolve_size(
        m.model,
        size=request.size,
        aspect_ratio=request.aspect_ratio,
        resolution=request.resolution,
        unsupported_size=m.provider.unsupported_size,
    )
    given = {
        f: getattr(request, f) for f in ("size", "aspect_ratio", "resolution") if _given(getattr(request, f))
    }
    rules = {f: m.rule(f, v) for f, v in given.items()}
    ar_rule = m.rules.get("aspect_ratio")
    if ar_rule is not None and ar_rule.behaviour == "passthrough":
        # the provider (a gateway) resolves size, aspect_ratio and resolution itself: send them as given,
        # except an explicit WxH the model lacks, sent as the supported size the gateway converts it to
        for f, v in given.items():
            if f == "size" and isinstance(_parse_size(v), tuple) and size.size != str(v).strip().lower():
                m.body["size"] = size.size
                m.record("size", "converted", v, "size", size.size)
            else:
                m.send(f, v)
        if given and not (request.size and isinstance(_parse_size(request.size), tuple)):
            m.notes.append(
                f"{m.provider.name} resolves {' and '.join(given)} itself; imgkit expects {size.size}"
            )
        return size
    size_rule = m.rules.get("size") or m.rule("size", request.size)
    parts = _sent_size_parts(m.model, size, size_rule)
    for path, value in parts.items():
        put_path(m.body, path, value)
    target = ", ".join(parts) or None
    sent: Any = next(iter(parts.values())) if len(parts) == 1 else (parts or None)
    for f, v in given.items():
        behaviour = rules[f].behaviour
        if behaviour in ("passthrough", "renamed") and sent != str(v).strip().lower():
            behaviour = "converted"  # a ratio or an unsupported auto given as size
        m.record(f, behaviour, v, target, sent)
    if not given:
        m.record("size", size_rule.behaviour, None, target, sent, f"model default {size.size}", tell=False)
    m.notes += _size_notes(m, size, parts)
    return size


def _sent_size_parts(model: Model, size: SizeResolution, rule: FieldRule) -> dict[str, Any]:
    """Body path -> value of each part of the resolved size the provider receives (``FieldRule.targets``,
    else the size as WxH at ``rule.to``), each through the rule's ``value_map``."""
    targets = rule.targets or {"size": rule.to or "size"}
    if size.width is None or size.height is None:  # auto: only a WxH field can say so
        return {path: "auto" for part, path in targets.items() if part in ("size", "image_size")}
    ratio, tier = size_parts(model, size.width, size.height)
    values = {
        "size": size.size,
        "width": size.width,
        "height": size.height,
        "aspect_ratio": ratio,
        "resolution": tier,
        "image_size": _fal_image_size(size.width, size.height, size.size),
    }
    return {
        path: rule.value_map.get(str(values[part]), values[part])
        if isinstance(values[part], str)
        else values[part]
        for part, path in targets.items()
        if values[part] is not None
    }


def _size_notes(m: _FieldMapper, size: SizeResolution, parts: Mapping[str, Any]) -> list[str]:
    """Say how a size reaches a provider that takes a ratio and a tier, whether its pixels are assumed, and
    where the sources disagree about them."""
    if size.width is None or size.height is None:
        return []
    rules = m.model.sizes
    takes_pixels = any(
        p in (m.rules["size"].targets or {"size": ""}) for p in ("size", "width", "image_size")
    )
    notes = []
    if not takes_pixels:
        sent = " and ".join(f"{path} {value}" for path, value in parts.items())
        notes.append(f"{m.context} takes no pixels: {size.size} is sent as {sent}")
        if rules.provenance == "assumed":
            notes.append(
                f"the pixel size {size.size} is assumed (no published pixel table); the provider picks the pixels"
            )
    ratio, tier = size_parts(m.model, size.width, size.height)
    for alt in rules.alternatives:
        other = alt.aspect_ratios.get(ratio, {}).get(tier or "")
        if other and _catalog_wxh(other) != (size.width, size.height):
            notes.append(
                f"pixel size disputed: {ratio} at {tier} is {other} in another table ({', '.join(alt.source)})"
            )
    return notes


def _map_quality(m: _FieldMapper, quality: str | None) -> str | None:
    if not m.model.qualities and quality not in (None, "auto"):
        m.rule("quality", quality)  # the provider's own refusal first, where it has one
    resolved = resolve_quality(m.model, quality, context=m.context)
    if resolved is not None:
        m.send("quality", resolved)
    return resolved


def _map_output_format(m: _FieldMapper, requested: str | None) -> str:
    """The format of the delivered images; converts locally with Pillow what the provider cannot produce."""
    native = m.model.output_formats
    if requested is None:
        return native[0]
    fmt = str(requested).strip().lower()
    fmt = {"jpg": "jpeg"}.get(fmt, fmt)
    if fmt not in OUTPUT_FORMATS:
        raise m.invalid("output_format", requested, OUTPUT_FORMATS)
    rule = m.rule("output_format", requested)
    if rule.values is not None:  # the provider converts itself
        if fmt not in rule.values:
            raise m.invalid("output_format", requested, rule.values)
        m.send("output_format", fmt)
    elif rule.behaviour == "ignored":
        m.send("output_format", fmt)
        return native[0]
    elif fmt in native:
        if rule.behaviour == "emulated":
            note = f"{fmt} is what {m.context} returns; nothing to send or convert"
            m.record("output_format", "passthrough", fmt, None, None, note, tell=False)
        else:
            m.send("output_format", fmt)
    else:
        if not _pillow_writes(fmt):
            raise m.invalid("output_format", requested, native, hint="Pillow here cannot write it")
        source = "png" if "png" in native else native[0]
        m.emulate["output_format"] = fmt
        sent_as = None if rule.behaviour == "emulated" else (rule.to or "output_format")
        if sent_as:
            put_path(m.body, sent_as, rule.value_map.get(source, source))
        m.record(
            "output_format",
            "emulated",
            fmt,
            sent_as,
            source if sent_as else None,
            f"output_format {fmt}: {m.context} produces {', '.join(native)}; imgkit converts {source} to {fmt} "
            "locally (Pillow)",
        )
    return fmt


def _map_output_compression(m: _FieldMapper, value: Any, fmt: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise m.invalid("output_compression", value, "an integer 0..100 (percent)")
    if fmt not in LOSSY_FORMATS:
        raise m.invalid(
            "output_compression",
            value,
            f"only with output_format {', '.join(LOSSY_FORMATS)}",
            hint=f"the output format is {fmt}",
        )
    rule = m.rule("output_compression", value)
    if "output_format" in m.emulate or not m.model.output_compression or rule.behaviour == "emulated":
        m.emulate["output_compression"] = value
        m.record(
            "output_compression",
            "emulated",
            value,
            None,
            None,
            f"output_compression {value} applied locally (Pillow encodes the {fmt})",
        )
    else:
        m.send("output_compression", value)


def _map_choice(m: _FieldMapper, name: str, value: Any) -> None:
    """A field with a fixed set of values (background, moderation, style)."""
    if value is None:
        return
    allowed = _FIELD_VALUES[name]
    if value not in allowed:
        raise m.invalid(name, value, allowed)
    m.send(name, value)


def _map_background(m: _FieldMapper, value: Any, fmt: str) -> None:
    if value is None:
        return
    m.rule("background", value)
    if value in _FIELD_VALUES["background"] and value not in m.model.backgrounds:
        if not m.model.backgrounds:
            raise UnsupportedParameterError("background", value, "omit it", context=m.context)
        raise m.invalid("background", value, m.model.backgrounds)
    if value == "transparent" and fmt not in TRANSPARENT_FORMATS:
        raise m.invalid(
            "background",
            value,
            "transparent needs output_format png or webp",
            hint=f"the output format is {fmt}",
        )
    _map_choice(m, "background", value)


def _map_streaming(m: _FieldMapper, stream: bool, partial_images: Any) -> None:
    model = m.model
    if stream:
        m.rule("stream", True)
        if not model.streaming:
            raise UnsupportedParameterError(
                "stream", True, "false", context=m.context, hint=f"{model.id} does not stream"
            )
        m.send("stream", True)
    if partial_images == 0:
        return
    if isinstance(partial_images, bool) or not isinstance(partial_images, int) or partial_images < 0:
        raise m.invalid("partial_images", partial_images, f"an integer 0..{model.partial_images_max}")
    m.rule("partial_images", partial_images)
    if partial_images > model.partial_images_max:
        raise m.invalid("partial_images", partial_images, f"0..{model.partial_images_max}")
    if not stream:
        raise m.invalid("partial_images", partial_images, "0 unless stream is true")
    m.send("partial_images", partial_images)


def _map_response_format(m: _FieldMapper, value: Any) -> None:
    """imgkit wants base64: asked for where the provider takes the field, emulated by download at fal."""
    if value is not None and value not in _FIELD_VALUES["response_format"]:
        raise m.invalid("response_format", value, _FIELD_VALUES["response_format"])
    rule = m.rules.get("response_format")
    if value is None and (rule is None or rule.behaviour not in ("passthrough", "renamed")):
        return
    if value is None and rule is not None:
        target = rule.to or "response_format"
        b64 = rule.value_map.get("b64_json", "b64_json")
        put_path(m.body, target, b64)
        note = f"imgkit asks for {b64} (the provider defaults to url)"
        m.record("response_format", rule.behaviour, None, target, b64, note, tell=False)
    elif value == "url" and rule is not None and rule.behaviour == "emulated":
        m.record("response_format", "passthrough", value, None, None, "")  # fal returns URLs already
    else:
        m.send("response_format", value)


def _map_inputs(m: _FieldMapper, request: ImageRequest, offering: Offering) -> None:
    """Edit inputs: 1..max images checked against the model's input limits, then the mask and input_fidelity."""
    images = request.input_images
    if request.mode != "edit":
        if images or request.mask:
            count = len(images) + (request.mask is not None)
            raise m.invalid("input_images", count, "none for mode generate (use mode edit)")
        if request.input_fidelity is not None:
            raise m.invalid("input_fidelity", request.input_fidelity, "only for mode edit")
        return
    most = offering.max_input_images or m.model.max_input_images
    if not 1 <= len(images) <= most:
        raise m.invalid("input_images", len(images), f"{_span(most)} input image{'s' if most > 1 else ''}")
    limits = input_limits(m.model)
    for i, img in enumerate(images):
        if problem := _input_problem(img, limits):
            shape = "square " if limits.square else ""
            allowed = (
                f"a {shape}{', '.join(limits.formats).upper()} image of at most {limits.max_bytes:,} bytes"
            )
            raise InputImageError(f"input_images[{i}]", img.name, allowed, context=m.context, hint=problem)
    names = [img.name for img in images]
    rule = m.rule("image", names)
    how = "converted to data URIs" if rule.behaviour == "converted" else "sent as file parts"
    m.record("input_images", rule.behaviour, names, rule.to or "image", names, how, tell=False)
    if request.mask is not None:
        _map_mask(m, request.mask, images[0])
    if request.input_fidelity is not None:
        _map_input_fidelity(m, request.input_fidelity)


def _input_problem(img: InputImage, limits: InputLimits) -> str:
    if img.format not in limits.formats:
        return f"it is {img.format.upper()}"
    if img.bytes_len > limits.max_bytes:
        return f"it has {img.bytes_len:,} bytes"
    if limits.square and img.width != img.height:
        return f"it is {img.width}x{img.height}, not square"
    return ""


def _map_mask(m: _FieldMapper, mask: InputImage, first: InputImage) -> None:
    """A mask is a PNG with alpha, the size of the first input image, under 4 MB."""
    rule = m.rule("mask", mask.name)
    problems = [
        text
        for bad, text in (
            (mask.format != "png", f"it is {mask.format.upper()}"),
            ((mask.width, mask.height) != (first.width, first.height), f"it is {mask.width}x{mask.height}"),
            (not mask.has_alpha, "it has no alpha channel"),
            (mask.bytes_len > MASK_MAX_BYTES, f"it has {mask.bytes_len:,} bytes"),
        )
        if bad
    ]
    if problems:
        allowed = f"a PNG with alpha, {first.width}x{first.height} like input_images[0], under 4 MB"
        raise InputImageError("mask", mask.name, allowed, context=m.context, hint="; ".join(problems))
    m.record("mask", rule.behaviour, mask.name, rule.to or "mask", mask.name)


def _map_input_fidelity(m: _FieldMapper, fidelity: str) -> None:
    """Only models that list input_fidelity take it (gpt-image-1, gpt-image-1.5)."""
    m.rule("input_fidelity", fidelity)
    if not m.model.input_fidelity:
        raise UnsupportedParameterError(
            "input_fidelity", fidelity, "omit it", context=m.context, hint=f"{m.model.id} does not accept it"
        )
    if fidelity not in m.model.input_fidelity:
        raise m.invalid("input_fidelity", fidelity, m.model.input_fidelity)
    m.send("input_fidelity", fidelity)


def _map_extra(m: _FieldMapper, extra: Mapping[str, Any]) -> None:
    """Provider-specific fields: by their rule where the catalog has one, else passed through with a note."""
    for name, value in extra.items():
        _reject_secret(name, value)
        if name in _REQUEST_FIELDS or name in m.body or name in ("model", "image", "image[]"):
            raise m.invalid(
                f"extra.{name}",
                value,
                "a provider-specific field; set request fields directly",
                hint=f"{name} is already part of the request",
            )
        if name in m.rules:
            m.send(name, value)
        else:
            at = m.offering.extras_at or m.provider.extras_at
            path = f"{at}.{name}" if at else name
            put_path(m.body, path, value)
            m.record(
                name,
                "passthrough",
                value,
                path,
                value,
                f"{name} has no catalog rule for {m.provider.id}; passed through unchanged as {path}",
            )
