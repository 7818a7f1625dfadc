"""Monthly cost projections for a workload: per option, over N months, with break-even and sensitivity.

A **workload** (YAML, :func:`load_workload`) states what a product will ask for; every number in it is an
assumption with a provenance (``assumed`` unless the file says otherwise)::

    name: product-images
    provenance: assumed              # default provenance of every assumption below
    start: 2027-01                   # optional: month 1 (prices are then looked up per month)
    volume:
      requests_per_month: 100000     # or images_per_month (requests = images / mean n of the mix)
      growth_per_month: "0.05"       # compounding: month m has volume x (1 + g)^(m - 1)
      provenance: assumed
    prompt_tokens: 60                # typical prompt length (input text tokens per request)
    mix:                             # shares of requests, summing to exactly 1
      - {label: thumbnails, share: "0.6", quality: low, size: 1024x1024}
      - {label: hero, share: "0.3", quality: high, size: 1536x1024, n: 2, partial_images: 1}
      - {label: edits, share: "0.1", mode: edit, quality: medium, size: 1024x1024,
         input_images: {count: 1, width: 1024, height: 1024}}
    reliability:
      failure_rate: "0.02"           # probability that an attempt fails (retried up to max_attempts)
      max_attempts: 3
      billed_failure_share: "0"      # share of failed attempts billed anyway
      log: runs/week/log.jsonl       # optional: measured failure rates per provider/model (beside this file; read by the CLI)
    batch_share: "0.25"              # share of requests sent through a Batch API where the offering has one
                                     # (imgkit project --log L --batch-share-from-log: the share L measured)
    targets:                         # model x provider x tier; or "all" (every offering that prices the mix)
      - {model: gpt-image-2, provider: openai}
      - {model: gpt-image-2, provider: openai, label: batch pipeline, batch_share: "0.9",
         setup_usd: 2000}            # one-off cost in month 1 (e.g. building the batch pipeline)
      - {model: gpt-image-2.5-flare, provider: openai, quality: low, fixed_usd_per_month: 0}
      - all

**Model of a month** (per option, per mix component *i* with request share ``s_i``): requests
``R_i = V_m s_i``; with attempt failure rate *f* and at most *k* attempts, a request succeeds with
probability ``S = 1 - f^k`` after ``A = (1 - f^k) / (1 - f)`` attempts on average (``A = k`` when f = 1);
billed attempts per request are ``S + b (A - S)`` (*b* = ``billed_failure_share``); delivered images are
``R_i S n_i``. A request that fails after its last attempt is lost, not re-submitted. The price of one
attempt is ``(1 - beta) P + beta P_batch`` with ``P`` from :func:`imgkit.pricing.quote_request` (``n`` images,
input images, partial images, ``prompt_tokens``) and *beta* the batch share where the offering has a batch
price; streamed partial images cannot go through a Batch API, so components with partial images are sent
interactively (a note says so). Targets may add a monthly fixed fee and a one-off setup cost.

**Exact money**: prices are ``Decimal``; volumes are expected values computed with 60 significant digits
and stored as ``Decimal`` (1e-6 request resolution); money is rounded half-even to 1e-10 USD (the request
log's money scale) only when a row is stored, and totals are sums of the stored rows. With whole volumes
and no growth every amount is exact (10,000 images at $0.005 = $50.00). Numbers in the YAML file are read
from their text (``0.05`` is ``Decimal("0.05")``); a binary ``float`` given by a Python caller is refused.

**Horizon**: 1 to :data:`MAX_MONTHS` months, and no month past :data:`MAX_REQUESTS_PER_MONTH` requests (a
growing workload reaches it sooner: 458 months for the example's 200,000 requests at +5 %), so that every
amount stays exact in the money columns; :func:`check_horizon` says how far a workload can go.

**Break-even** (:func:`break_even`): two options whose costs are linear in volume without fixed costs never
cross (one is cheaper at every volume); a fixed monthly fee or a setup cost makes them cross. For a pair
the result gives the month at which the cumulative costs cross (with growth and setup costs), and the
monthly volume above which the option with the lower cost per request is cheaper per month
``(F_a - F_b) / (u_b - u_a)``.

**Sensitivity** (:func:`sensitivity`): the total over the horizon when each continuous assumption moves by
±X % of its value (volume, growth, each mix share with the others rescaled to keep the sum 1, failure
rate, billed failure share, batch share, prompt tokens, every price, fees), as tornado data.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import Field, ValidationError, field_validator, model_validator

from imgkit._strict import Strict, key_path
from imgkit.catalog import Catalog, load_catalog, load_yaml, parse_wxh
from imgkit.errors import ImgkitError, InvalidParameterError, SpecError, UnknownPriceError
from imgkit.formats import format_value
from imgkit.money import MONEY_TOTAL, round_money
from imgkit.params import resolve_priced
from imgkit.pricing import Method, quote_request
from imgkit.provenance import Provenance
from imgkit.records.schema import ColumnType

__all__ = [
    "COUNT",
    "MAX_MONTHS",
    "MAX_REQUESTS_PER_MONTH",
    "MeasuredReliability",
    "MixComponent",
    "Option",
    "Workload",
    "break_even",
    "check_horizon",
    "load_workload",
    "measured_batch",
    "measured_reliability",
    "parse_workload",
    "project",
    "projection_caption",
    "resolve_options",
    "sensitivity",
    "summarise",
]

#: expected counts (requests, attempts, images): decimals at 1e-6
COUNT = pl.Decimal(38, 6)
_COUNT_Q = Decimal("1e-6")
_PRECISION = 60
#: the longest horizon of a projection (100 years)
MAX_MONTHS = 1200
#: the most requests a projected month may hold: with any catalog price, every amount and total then fits
#: the money columns (38 digits, 10 of them decimal places) exactly
MAX_REQUESTS_PER_MONTH = Decimal(10) ** 15
_ZERO = Decimal(0)
_ONE = Decimal(1)


# --- the spec ----------------------------------------------------------------------------------------------


def _no_float(v: Any) -> Any:
    """Refuse binary floats (a Python caller's ``0.1``): money and rates must be exact."""
    if isinstance(v, float):
        raise ValueError(f'{v!r} is a binary float; write the number as a string or an integer (e.g. "0.05")')
    return v


class _InputImagesSpec(Strict):
    count: int = Field(ge=1, le=16)
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    fidelity: Literal["low", "high"] | None = None


class _MixSpec(Strict):
    share: Decimal = Field(gt=0, le=1)
    label: str | None = None
    mode: Literal["generate", "edit"] = "generate"
    quality: str | None = None
    size: str = "1024x1024"
    n: int = Field(default=1, ge=1, le=128)
    partial_images: int = Field(default=0, ge=0, le=3)
    input_images: _InputImagesSpec | None = None

    _floats = field_validator("share", mode="before")(_no_float)

    @field_validator("size")
    @classmethod
    def _size(cls, v: str) -> str:
        parse_wxh(v)
        return v

    @field_validator("quality")
    @classmethod
    def _quality(cls, v: str | None) -> str | None:
        if v == "auto":
            raise ValueError(
                "'auto' is priced as a range; give the tier the provider will use (low, medium, high)"
            )
        return v

    @model_validator(mode="after")
    def _inputs_match_mode(self) -> _MixSpec:
        if self.mode == "edit" and self.input_images is None:
            raise ValueError("mode edit needs input_images: {count, width, height}")
        if self.mode == "generate" and self.input_images is not None:
            raise ValueError("input_images are only sent with mode: edit")
        return self


class _VolumeSpec(Strict):
    requests_per_month: Decimal | None = Field(default=None, ge=0)
    images_per_month: Decimal | None = Field(default=None, ge=0)
    growth_per_month: Decimal = Field(default=_ZERO, gt=-1)
    provenance: Provenance | None = None

    _floats = field_validator("requests_per_month", "images_per_month", "growth_per_month", mode="before")(
        _no_float
    )

    @model_validator(mode="after")
    def _one_volume(self) -> _VolumeSpec:
        if (self.requests_per_month is None) == (self.images_per_month is None):
            raise ValueError("give exactly one of requests_per_month and images_per_month")
        return self


class _ReliabilitySpec(Strict):
    failure_rate: Decimal = Field(default=_ZERO, ge=0, le=1)
    max_attempts: int = Field(default=1, ge=1, le=20)
    billed_failure_share: Decimal = Field(default=_ZERO, ge=0, le=1)
    log: str | None = None
    provenance: Provenance | None = None

    _floats = field_validator("failure_rate", "billed_failure_share", mode="before")(_no_float)


class _TargetSpec(Strict):
    model: str
    provider: str | None = None
    quality: str | None = None
    method: Literal["auto", "table", "tokens"] = "auto"
    batch_share: Decimal | None = Field(default=None, ge=0, le=1)
    fixed_usd_per_month: Decimal = Field(default=_ZERO, ge=0)
    setup_usd: Decimal = Field(default=_ZERO, ge=0)
    label: str | None = None

    _floats = field_validator("batch_share", "fixed_usd_per_month", "setup_usd", mode="before")(_no_float)


class _WorkloadSpec(Strict):
    name: str = Field(min_length=1)
    description: str | None = None
    provenance: Provenance = Provenance.ASSUMED
    start: dt.date | str | None = None
    price_date: dt.date | None = None
    volume: _VolumeSpec
    prompt_tokens: int = Field(default=0, ge=0)
    mix: list[_MixSpec] = Field(min_length=1)
    reliability: _ReliabilitySpec = _ReliabilitySpec()
    batch_share: Decimal = Field(default=_ZERO, ge=0, le=1)
    targets: list[_TargetSpec | Literal["all"]] = Field(min_length=1)

    _floats = field_validator("batch_share", mode="before")(_no_float)

    @field_validator("targets", mode="before")
    @classmethod
    def _all_shortcut(cls, v: Any) -> Any:
        return [v] if v == "all" else v

    @field_validator("start")
    @classmethod
    def _month(cls, v: dt.date | str | None) -> dt.date | str | None:
        if isinstance(v, str):
            try:
                return dt.date.fromisoformat(f"{v}-01")
            except ValueError:
                raise ValueError(f"{v!r} is not a month YYYY-MM") from None
        return v.replace(day=1) if v is not None else None

    @field_validator("mix")
    @classmethod
    def _shares_sum_to_one(cls, mix: list[_MixSpec]) -> list[_MixSpec]:
        total = sum((c.share for c in mix), _ZERO)
        if total != 1:
            terms = " + ".join(f"{c.share}" for c in mix)
            raise ValueError(f"shares {terms} sum to {total}, not exactly 1")
        labels = [_component_label(c) for c in mix]
        for i, label in enumerate(labels):
            if labels.count(label) > 1:
                raise ValueError(
                    f"mix[{i}] and another component are both labelled {label!r}; give each a label"
                )
        return mix


#: the model of a workload file as written (its JSON Schema: :mod:`imgkit.schemas`)
WorkloadFile = _WorkloadSpec


def _spec_error(exc: ValidationError, file: str) -> SpecError:
    """The first validation problem as a ``SpecError``: file, key path (``targets[2].model``), the value."""
    errors = exc.errors()
    err = errors[0]
    loc = list(err["loc"])
    if (
        loc[:1] == ["targets"]
        and len(loc) >= 3
        and not isinstance(loc[2], int)
        and str(loc[2]).startswith(("_", "literal"))
    ):
        # a target is either a mapping or the word "all": report the mapping's problem, or both choices
        mapping = [e for e in errors if e["loc"][:3] == (*loc[:2], "_TargetSpec")]
        if mapping and len(mapping[0]["loc"]) > 3:
            err, loc = mapping[0], [*loc[:2], *mapping[0]["loc"][3:]]
        else:
            value = err.get("input")
            return SpecError(
                file, key_path(loc[:2]), f"{value!r} is neither a target {{model, provider, ...}} nor 'all'"
            )
    problem = err["msg"].removeprefix("Value error, ")
    value = err.get("input")
    if err["type"] != "value_error" and not isinstance(value, (dict, list)) and "input" in err:
        problem += f" (got {value!r})"
    return SpecError(file, key_path(loc), problem)


def _component_label(c: _MixSpec) -> str:
    """A mix component's name: its label, else its mode, quality, size, n, partial and input images.

    Only the component as written has no label of its own (a parsed :class:`MixComponent` always carries the
    one given here), so only the written form is named: its input images are ``{count, width, height}``.
    """
    if c.label:
        return c.label
    parts = [c.mode, c.quality or "default", c.size]
    if c.n > 1:
        parts.append(f"n{c.n}")
    if c.partial_images:
        parts.append(f"partial{c.partial_images}")
    if c.input_images is not None:
        parts.append(f"{c.input_images.count}x input")
    return " ".join(parts)


# --- the parsed workload --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MixComponent:
    """One kind of request in the mix; ``share`` of all requests."""

    label: str
    share: Decimal
    mode: str = "generate"
    quality: str | None = None
    size: str = "1024x1024"
    n: int = 1
    partial_images: int = 0
    input_images: tuple[int, int, int] | None = None  # (count, width, height)
    input_fidelity: str | None = None


@dataclass(frozen=True)
class Option:
    """A target the workload is priced on: model x provider x tier, with its own fees."""

    model: str
    provider: str
    quality: str | None = None  # overrides every component's quality (a tier); None keeps the mix's
    method: Method = "auto"  # pricing basis: auto | table | tokens
    batch_share: Decimal | None = None  # overrides the workload's batch share
    fixed_usd_per_month: Decimal = _ZERO
    setup_usd: Decimal = _ZERO
    label: str = ""
    spec_index: int | None = None  # the targets[i] it came from (for error messages)
    batch_share_provenance: str | None = None  # of its own batch share (default: the workload's "batch")
    batch_turnaround_p50_ms: float | None = None  # measured Batch API turnaround (submitted -> result)
    batch_turnaround_p95_ms: float | None = None

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        parts = [f"{self.model} @ {self.provider}"]
        if self.quality:
            parts.append(self.quality)
        if self.method != "auto":
            parts.append(f"[{self.method}]")
        if self.batch_share is not None:
            parts.append(f"batch {_percent(self.batch_share)}")
        return " ".join(parts)


def _percent(x: Decimal) -> str:
    return f"{(x * 100).normalize():f}%"


@dataclass(frozen=True)
class Workload:
    """A validated workload; every number is an assumption with the provenance in ``provenance``."""

    name: str
    file: str
    volume: Decimal  # in ``volume_unit`` per month, month 1
    volume_unit: Literal["requests", "images"]
    growth_per_month: Decimal
    mix: tuple[MixComponent, ...]
    targets: tuple[Option, ...]
    include_all: bool = False
    prompt_tokens: int = 0
    failure_rate: Decimal = _ZERO
    max_attempts: int = 1
    billed_failure_share: Decimal = _ZERO
    batch_share: Decimal = _ZERO
    start: dt.date | None = None
    price_date: dt.date | None = None
    reliability_log: str | None = None  # load_workload: relative to the workload file
    description: str | None = None
    provenance: Mapping[str, str] = field(default_factory=dict)  # assumption -> provenance


def load_workload(path: str | Path, catalog: Catalog | None = None) -> Workload:
    """Read and validate a workload file; errors name the file and the key path (``SpecError``)."""
    path = Path(path)
    data = load_yaml(path, error=SpecError)
    workload = parse_workload(data, file=str(path), catalog=catalog)
    if workload.reliability_log:  # a log named in the file is found beside it, wherever it is read from
        log = path.parent / workload.reliability_log
        if not log.exists():
            raise SpecError(
                str(path),
                "reliability.log",
                f"{log} does not exist; allowed: a request log (log.jsonl, Parquet, CSV), relative to this file",
            )
        workload = replace(workload, reliability_log=str(log))
    return workload


def parse_workload(data: Any, *, file: str = "<workload>", catalog: Catalog | None = None) -> Workload:
    """Validate an already-parsed workload (a dict); model and provider names are checked in the catalog."""
    if not isinstance(data, dict):
        raise SpecError(file, "", "expected a mapping at the top level")
    try:
        spec = _WorkloadSpec.model_validate(data)
    except ValidationError as exc:
        raise _spec_error(exc, file) from None
    cat = catalog or load_catalog()
    default = spec.provenance
    volume = spec.volume
    targets, include_all = [], False
    for i, t in enumerate(spec.targets):
        if t == "all":
            include_all = True
            continue
        targets.append(_option(t, i, cat, file))
    mix = tuple(
        MixComponent(
            label=_component_label(c),
            share=c.share,
            mode=c.mode,
            quality=c.quality,
            size=c.size,
            n=c.n,
            partial_images=c.partial_images,
            input_images=(c.input_images.count, c.input_images.width, c.input_images.height)
            if c.input_images
            else None,
            input_fidelity=c.input_images.fidelity if c.input_images else None,
        )
        for c in spec.mix
    )
    per_month = (
        volume.requests_per_month if volume.requests_per_month is not None else volume.images_per_month
    )
    assert per_month is not None  # the volume's validator requires exactly one of the two
    assert not isinstance(spec.start, str)  # its validator reads a month YYYY-MM as that month's first day
    return Workload(
        name=spec.name,
        file=file,
        volume=per_month,
        volume_unit="requests" if volume.requests_per_month is not None else "images",
        growth_per_month=volume.growth_per_month,
        mix=mix,
        targets=tuple(targets),
        include_all=include_all,
        prompt_tokens=spec.prompt_tokens,
        failure_rate=spec.reliability.failure_rate,
        max_attempts=spec.reliability.max_attempts,
        billed_failure_share=spec.reliability.billed_failure_share,
        batch_share=spec.batch_share,
        start=spec.start,
        price_date=spec.price_date,
        reliability_log=spec.reliability.log,
        description=spec.description,
        provenance={
            "volume": str(volume.provenance or default),
            "mix": str(default),
            "reliability": str(spec.reliability.provenance or default),
            "batch": str(default),
            "prompt_tokens": str(default),
            "fees": str(default),
        },
    )


def _option(t: _TargetSpec, index: int, cat: Catalog, file: str) -> Option:
    where = f"targets[{index}]"
    try:
        cat.model(t.model)
    except ImgkitError as exc:
        raise SpecError(file, f"{where}.model", str(exc)) from None
    try:
        provider = t.provider or cat.providers_for(t.model)[0]
        cat.offering(t.model, provider)
    except (ImgkitError, IndexError) as exc:
        raise SpecError(
            file, f"{where}.provider", str(exc) if isinstance(exc, ImgkitError) else "no provider"
        ) from None
    return Option(
        model=t.model,
        provider=provider,
        quality=t.quality,
        method=t.method,
        batch_share=t.batch_share,
        fixed_usd_per_month=t.fixed_usd_per_month,
        setup_usd=t.setup_usd,
        label=t.label or "",
        spec_index=index,
    )


# --- pricing the mix -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Price:
    """Price of one request of a component at an option: interactive, batch (or why none), provenance."""

    interactive: Decimal
    batch: Decimal | None
    quality: str | None  # the quality priced (None for models without tiers)
    method: str
    provenance: str  # of the interactive price's lines, joined by "+"
    batch_provenance: str | None  # of the batch discount (added to the row's provenance only when used)
    sources: tuple[str, ...]  # catalog source tags of the interactive price
    batch_sources: tuple[str, ...]  # ... and of the batch price (used only where batching is)
    checked: dt.date | None  # the oldest date any of the interactive price's sources was checked
    batch_checked: dt.date | None
    note: str
    batch_note: str  # why this component is not batched (shown only where a batch share is asked for)


class _Pricer:
    """``pricing.quote_request`` per (option, component, prompt tokens, date), cached across scenario runs."""

    def __init__(self, catalog: Catalog | None) -> None:
        self.catalog = catalog or load_catalog()
        self._cache: dict[tuple, _Price] = {}

    def price(self, option: Option, comp: MixComponent, prompt_tokens: int, on: dt.date | None) -> _Price:
        key = (option.model, option.provider, option.quality, option.method, comp, prompt_tokens, on)
        if key not in self._cache:
            self._cache[key] = self._quote(option, comp, prompt_tokens, on)
        return self._cache[key]

    def _quote(self, option: Option, comp: MixComponent, prompt_tokens: int, on: dt.date | None) -> _Price:
        model = self.catalog.model(option.model)
        quality = option.quality or comp.quality
        notes = []
        if not model.qualities:
            if quality is not None:
                notes.append(f"{model.id} has no quality tiers: quality {quality} priced at its one price")
            quality = None
        width, height = parse_wxh(comp.size)
        count, w_in, h_in = comp.input_images or (0, 0, 0)
        request = resolve_priced(
            option.model,
            option.provider,
            mode=comp.mode,
            quality=quality,
            width=width,
            height=height,
            n=comp.n,
            partial_images=comp.partial_images,
            input_images=[(w_in, h_in)] * count,
            input_fidelity=comp.input_fidelity,
            prompt_tokens=prompt_tokens,
            catalog=self.catalog,
        )
        cost = quote_request(request, method=option.method, on=on)
        if cost.total_usd is None:
            raise UnknownPriceError(cost.unknown_reason or "no price")
        batch = batch_provenance = None
        batch_sources: tuple[str, ...] = ()
        batch_note = ""
        if comp.partial_images:
            batch_note = "streamed partial images cannot go through a Batch API: sent interactively"
        else:
            try:
                batch_cost = quote_request(request, batch=True, method=option.method, on=on)
            except UnknownPriceError:
                batch_note = f"no Batch API price at {option.provider}: sent interactively"
            else:
                batch = batch_cost.total_usd
                batch_sources = batch_cost.sources
                batch_provenance = "+".join(
                    sorted({ln.provenance for ln in batch_cost.lines if ln.method == "batch"})
                )
        return _Price(
            interactive=cost.total_usd,
            batch=batch,
            quality=quality,
            method=cost.method,
            provenance="+".join(sorted({str(ln.provenance) for ln in cost.lines})),
            batch_provenance=batch_provenance or None,
            sources=cost.sources,
            batch_sources=batch_sources,
            checked=self._oldest_check(cost.sources),
            batch_checked=self._oldest_check(batch_sources),
            note="; ".join(notes),
            batch_note=batch_note,
        )

    def _oldest_check(self, tags: tuple[str, ...]) -> dt.date | None:
        dates = [self.catalog.sources[t].checked for t in tags if t in self.catalog.sources]
        return min(dates) if dates else None


def resolve_options(
    workload: Workload, catalog: Catalog | None = None, *, _pricer: _Pricer | None = None
) -> tuple[list[Option], list[dict[str, str]]]:
    """The options to project: the listed targets plus, for ``all``, every offering that prices the mix.

    Returns ``(options, skipped)``; ``skipped`` rows say which offering ``all`` left out and why (retired,
    mode not served, no price). A listed target that cannot price the mix is a ``SpecError`` naming it.
    """
    pricer = _pricer or _Pricer(catalog)
    cat = pricer.catalog
    on = _month_start(workload, 1) or workload.price_date
    options, skipped = [], []
    for option in workload.targets:
        reason = _unpriceable(pricer, option, workload, on)
        if reason:
            raise SpecError(workload.file, f"targets[{option.spec_index}]", reason)
        options.append(option)
    if workload.include_all:
        listed = {(o.model, o.provider) for o in options}
        for provider, model_id in sorted(cat.offerings, key=lambda key: (key[1], key[0])):
            if (model_id, provider) in listed:
                continue
            option = Option(model=model_id, provider=provider)
            lifecycle = cat.lifecycle(model_id, provider, on)
            retired = f"retired on {lifecycle.date}" if lifecycle.state == "retired" else None
            reason = retired or _unpriceable(pricer, option, workload, on)
            if reason:
                skipped.append({"option": option.name, "reason": reason})
            else:
                options.append(option)
    names = [o.name for o in options]
    for o in options:
        if names.count(o.name) > 1:
            raise SpecError(
                workload.file, f"targets[{o.spec_index}]", f"two targets are named {o.name!r}; add a label"
            )
    return options, skipped


def _unpriceable(pricer: _Pricer, option: Option, workload: Workload, on: dt.date | None) -> str | None:
    for comp in workload.mix:
        try:
            pricer.price(option, comp, workload.prompt_tokens, on)
        except ImgkitError as exc:
            return f"mix component {comp.label!r}: {exc}"
    return None


# --- measured reliability ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasuredReliability:
    """Failure rates measured in request logs, for :func:`project` and :func:`sensitivity`.

    ``performance``: the logs' performance table per provider x model (``attempts``, ``successes``,
    ``provenance``, ...); ``logs``: the files read; ``log``: their records (lazy), for a caption.
    """

    performance: pl.DataFrame
    logs: tuple[str, ...]
    log: pl.LazyFrame

    @property
    def provenance(self) -> str:
        """The kinds of the measured figures, ``measured`` or ``simulated`` (joined by ``+``)."""
        return _joined(*self.performance["provenance"].to_list())

    def describe(self) -> str:
        """``simulated from log.jsonl, 1,000 requests, 2026-01-01 – 2026-01-30`` (reads the logs again)."""
        from imgkit.analysis.performance import describe_log, log_summary

        return describe_log(log_summary(self.log), ", ".join(Path(p).name for p in self.logs))


def measured_reliability(
    workload: Workload, logs: Sequence[str | Path] | None = None, mapping: str | Path | None = None
) -> MeasuredReliability | None:
    """The failure rates of ``logs``, else of the workload's own ``reliability.log``; None when neither is
    given (the workload's assumed failure rate then holds). ``mapping``: a column mapping for logs from
    elsewhere (:func:`imgkit.records.scan.scan_log`)."""
    from imgkit.analysis.performance import performance_table
    from imgkit.records.scan import scan_log

    paths = [str(p) for p in logs or ()] or ([workload.reliability_log] if workload.reliability_log else [])
    if not paths:
        return None
    log = scan_log(paths, mapping=mapping)
    return MeasuredReliability(performance_table(log, by=("provider", "model")), tuple(paths), log)


# --- the projection --------------------------------------------------------------------------------------


def _month_start(workload: Workload, month: int) -> dt.date | None:
    if workload.start is None:
        return None
    index = workload.start.year * 12 + workload.start.month - 1 + month - 1
    return dt.date(index // 12, index % 12 + 1, 1)


def _requests_per_volume_unit(workload: Workload) -> Decimal:
    """Requests per unit of volume: 1 for request volumes, 1 / mean n for image volumes."""
    if workload.volume_unit == "requests":
        return _ONE
    mean_n = sum((c.share * c.n for c in workload.mix), _ZERO)
    return _ONE / mean_n


def _attempt_model(f: Decimal, k: int, b: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """(success probability, expected attempts, expected billed attempts) per request."""
    success = _ONE - f**k
    attempts = Decimal(k) if f == 1 else success / (_ONE - f)
    return success, attempts, success + b * (attempts - success)


def _joined(*kinds: str | None) -> str:
    return "+".join(sorted({k for kind in kinds if kind for k in kind.split("+")}))


def _failure_rates(performance: pl.DataFrame | None) -> dict[tuple[str, str], tuple[Decimal, str]]:
    """Per (model, provider): measured attempt failure rate (attempts - successes) / attempts, provenance."""
    if performance is None:
        return {}
    need = {"model", "provider", "attempts", "successes"}
    if not need <= set(performance.columns):
        raise InvalidParameterError("performance columns", sorted(performance.columns), sorted(need))
    kinds = pl.col("provenance") if "provenance" in performance.columns else pl.lit(str(Provenance.MEASURED))
    per = performance.group_by("model", "provider").agg(
        pl.col("attempts").sum(),
        pl.col("successes").sum(),
        kinds.drop_nulls().unique().sort().str.join("+").alias("kind"),
    )
    out = {}
    for row in per.iter_rows(named=True):
        if row["attempts"]:
            rate = Decimal(row["attempts"] - row["successes"]) / Decimal(row["attempts"])
            out[(row["model"], row["provider"])] = (rate, row["kind"] or str(Provenance.MEASURED))
    return out


def measured_batch(
    options: Sequence[Option], performance: pl.DataFrame | None, *, share: bool = False
) -> list[Option]:
    """``options`` with what a log measured of their Batch API use: the turnaround (p50, p95 of submitted ->
    result available) where the log sent batches of that model and provider, and with ``share`` the batch
    share too (batched requests / all requests of that model and provider), provenance the log's.

    ``performance``: a performance table by provider, model and ``delivery``
    (:data:`imgkit.analysis.performance.DERIVED_KEYS`); without ``delivery`` nothing is measured.
    """
    if performance is None or "delivery" not in performance.columns:
        return list(options)
    batched = pl.col("delivery") == "batch"
    kinds = pl.col("provenance") if "provenance" in performance.columns else pl.lit(str(Provenance.MEASURED))
    per = performance.group_by("model", "provider").agg(
        pl.col("requests").sum().alias("requests"),
        pl.col("requests").filter(batched).sum().alias("batched"),
        pl.col("latency_p50_ms").filter(batched).first().alias("p50"),
        pl.col("latency_p95_ms").filter(batched).first().alias("p95"),
        kinds.filter(batched).drop_nulls().unique().sort().str.join("+").alias("kind"),
    )
    found = {(r["model"], r["provider"]): r for r in per.iter_rows(named=True)}
    out = []
    for option in options:
        row = found.get((option.model, option.provider))
        if row is None or not row["requests"]:
            out.append(option)
            continue
        changes: dict[str, Any] = {
            "batch_turnaround_p50_ms": row["p50"],
            "batch_turnaround_p95_ms": row["p95"],
        }
        if share:
            changes["label"] = option.name  # named as stated, not by a share with many digits
            changes["batch_share"] = Decimal(row["batched"]) / Decimal(row["requests"])
            changes["batch_share_provenance"] = row["kind"] or str(Provenance.MEASURED)
        out.append(replace(option, **changes))
    return out


@dataclass(frozen=True)
class _Knobs:
    """Multipliers the sensitivity analysis applies on top of the workload (1 = as stated)."""

    price: Decimal = _ONE
    fees: Decimal = _ONE
    setup: Decimal = _ONE
    failure: Decimal = _ONE


def _rows(
    workload: Workload,
    months: int,
    options: Sequence[Option],
    pricer: _Pricer,
    failure_rates: Mapping[tuple[str, str], tuple[Decimal, str]],
    knobs: _Knobs = _Knobs(),
) -> list[dict[str, Any]]:
    """One dict per month x option x component (plus fee rows), money and counts quantized."""
    rows: list[dict[str, Any]] = []
    per_unit = _requests_per_volume_unit(workload)
    prov = workload.provenance
    with decimal.localcontext(prec=_PRECISION):
        for month in range(1, months + 1):
            start = _month_start(workload, month)
            on = start or workload.price_date
            volume = workload.volume * (_ONE + workload.growth_per_month) ** (month - 1)
            total_requests = volume * per_unit
            for option in options:
                base = {"month": month, "month_start": start, "option": option.name}
                base |= {"model": option.model, "provider": option.provider}
                measured = failure_rates.get((option.model, option.provider))
                f, f_prov = measured if measured else (workload.failure_rate, prov["reliability"])
                f = min(f * knobs.failure, _ONE)
                success, attempts, billed = _attempt_model(
                    f, workload.max_attempts, workload.billed_failure_share
                )
                beta = option.batch_share if option.batch_share is not None else workload.batch_share
                for comp in workload.mix:
                    price = pricer.price(option, comp, workload.prompt_tokens, on)
                    b = beta if price.batch is not None else _ZERO
                    unit = ((_ONE - b) * price.interactive + b * (price.batch or _ZERO)) * knobs.price
                    requests = total_requests * comp.share
                    rows.append(
                        base
                        | {
                            "component": comp.label,
                            "kind": "usage",
                            "mode": comp.mode,
                            "quality": price.quality,
                            "size": comp.size,
                            "n": comp.n,
                            "partial_images": comp.partial_images,
                            "input_images": comp.input_images[0] if comp.input_images else 0,
                            "share": comp.share,
                            "batch_share": b,
                            "requests": requests.quantize(_COUNT_Q, ROUND_HALF_EVEN),
                            "attempts": (requests * attempts).quantize(_COUNT_Q, ROUND_HALF_EVEN),
                            "images": (requests * success * comp.n).quantize(_COUNT_Q, ROUND_HALF_EVEN),
                            "price_usd_per_request": price.interactive,
                            "batch_price_usd_per_request": price.batch,
                            "cost_usd": round_money(requests * billed * unit),
                            "price_method": price.method,
                            "price_provenance": _joined(
                                price.provenance, price.batch_provenance if b else None
                            ),
                            "price_sources": "+".join(
                                dict.fromkeys((*price.sources, *(price.batch_sources if b else ())))
                            )
                            or None,
                            "price_checked": min(
                                filter(None, (price.checked, price.batch_checked if b else None)),
                                default=None,
                            ),
                            "volume_provenance": prov["volume"],
                            "mix_provenance": prov["mix"],
                            "reliability_provenance": f_prov,
                            "batch_provenance": (option.batch_share_provenance or prov["batch"])
                            if b
                            else None,
                            "batch_turnaround_p50_ms": option.batch_turnaround_p50_ms,
                            "batch_turnaround_p95_ms": option.batch_turnaround_p95_ms,
                            "note": "; ".join(filter(None, (price.note, price.batch_note if beta else "")))
                            or None,
                        }
                    )
                fees: tuple[tuple[str, str, Decimal], ...] = (
                    ("platform fee", "fixed_fee", option.fixed_usd_per_month * knobs.fees),
                )
                if month == 1:
                    fees += (("setup", "setup", option.setup_usd * knobs.setup),)
                for label, kind, amount in fees:
                    if amount:
                        rows.append(
                            base
                            | {
                                "component": label,
                                "kind": kind,
                                "cost_usd": round_money(amount),
                                "price_provenance": prov["fees"],
                            }
                        )
    return rows


_SCHEMA: dict[str, ColumnType] = {
    "month": pl.Int32,
    "month_start": pl.Date,
    "option": pl.String,
    "model": pl.String,
    "provider": pl.String,
    "component": pl.String,
    "kind": pl.String,
    "mode": pl.String,
    "quality": pl.String,
    "size": pl.String,
    "n": pl.Int32,
    "partial_images": pl.Int32,
    "input_images": pl.Int32,
    "share": pl.Decimal(38, 10),
    "batch_share": pl.Decimal(38, 10),
    "requests": COUNT,
    "attempts": COUNT,
    "images": COUNT,
    "price_usd_per_request": MONEY_TOTAL,
    "batch_price_usd_per_request": MONEY_TOTAL,
    "cost_usd": MONEY_TOTAL,
    "price_method": pl.String,
    "price_provenance": pl.String,
    "price_sources": pl.String,
    "price_checked": pl.Date,
    "volume_provenance": pl.String,
    "mix_provenance": pl.String,
    "reliability_provenance": pl.String,
    "batch_provenance": pl.String,
    "batch_turnaround_p50_ms": pl.Float64,
    "batch_turnaround_p95_ms": pl.Float64,
    "note": pl.String,
}


def project(
    workload: Workload | str | Path,
    months: int = 12,
    *,
    performance: pl.DataFrame | None = None,
    catalog: Catalog | None = None,
    options: Sequence[Option] | None = None,
) -> pl.DataFrame:
    """Monthly cost of the workload per option: one row per month x option x mix component (tidy).

    Fixed fees are rows of ``kind`` ``fixed_fee`` (every month) and ``setup`` (month 1). ``performance``
    (a performance table by provider, model) replaces the assumed failure rate by the measured one where it
    has a row. Columns: see ``_SCHEMA``; money in ``cost_usd`` (exact ``Decimal``), counts are expected
    values; ``*_provenance`` say where each assumption comes from.
    """
    if not isinstance(workload, Workload):
        workload = load_workload(workload, catalog)
    check_horizon(workload, months)
    pricer = _Pricer(catalog)
    if options is None:
        options, _ = resolve_options(workload, _pricer=pricer)
    rows = _rows(workload, months, options, pricer, _failure_rates(performance))
    return pl.DataFrame(rows, schema=_SCHEMA)


def check_horizon(workload: Workload, months: Any, *, scale: Decimal = _ONE) -> None:
    """Refuse a horizon the projection cannot hold exactly: at most :data:`MAX_MONTHS` months, and no month
    with more than :data:`MAX_REQUESTS_PER_MONTH` requests (so every amount fits the money columns).

    ``scale`` multiplies volume and growth first (the largest move :func:`sensitivity` makes).
    """
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= MAX_MONTHS:
        raise InvalidParameterError("months", months, f"a whole number of months from 1 to {MAX_MONTHS}")
    with decimal.localcontext(prec=_PRECISION):
        volume = workload.volume * _requests_per_volume_unit(workload) * scale
        growth = workload.growth_per_month * scale
        peak = volume * (_ONE + growth) ** (months - 1) if growth > 0 else volume
        if peak <= MAX_REQUESTS_PER_MONTH:
            return
        limit = f"{MAX_REQUESTS_PER_MONTH:.0e} requests a month"
        if volume > MAX_REQUESTS_PER_MONTH:
            raise InvalidParameterError(
                "volume", f"{volume:.3e} requests a month", f"at most {limit}", context=workload.file
            )
        last = 1 + int((MAX_REQUESTS_PER_MONTH / volume).ln() / (_ONE + growth).ln())
    moved = " with every assumption moved by the sensitivity delta" if scale != _ONE else ""
    raise InvalidParameterError(
        "months",
        months,
        f"1 to {last} for {workload.name}",
        hint=f"growing {growth * 100:f} % a month{moved}, month {months} would hold {peak:.2e} requests, "
        f"past the {limit} a projection holds exactly",
    )


def summarise(frame: pl.DataFrame) -> pl.DataFrame:
    """Per option over the horizon: requests, images, total, cost per delivered image, first and last month.

    Sorted by total cost, cheapest first.
    """
    last = frame["month"].max()
    usage = pl.col("kind") == "usage"
    return (
        frame.group_by("option", "model", "provider", maintain_order=True)
        .agg(
            pl.col("requests").filter(usage).sum().alias("requests"),
            pl.col("images").filter(usage).sum().alias("images"),
            pl.col("cost_usd").sum().alias("total_cost_usd"),
            pl.col("cost_usd").filter(pl.col("month") == 1).sum().alias("month_1_cost_usd"),
            pl.col("cost_usd").filter(pl.col("month") == last).sum().alias("last_month_cost_usd"),
            pl.col("price_provenance")
            .drop_nulls()
            .str.split("+")
            .explode()
            .unique()
            .sort()
            .str.join("+")
            .alias("price_provenance"),
            pl.col("price_sources")
            .drop_nulls()
            .str.split("+")
            .explode()
            .unique(maintain_order=True)
            .str.join("+")
            .alias("price_sources"),
            pl.col("price_checked").min().alias("price_checked"),
        )
        .with_columns(
            pl.when(pl.col("images") > 0)
            .then((pl.col("total_cost_usd") / pl.col("images")).cast(MONEY_TOTAL))
            .alias("cost_per_image_usd")
        )
        .sort("total_cost_usd", "option")
    )


_ASSUMPTIONS = ("volume", "mix", "reliability", "batch")


def _kinds(frame: pl.DataFrame, column: str) -> str:
    if column not in frame.columns:
        return ""
    return _joined(*frame[column].drop_nulls().unique().to_list())


def projection_caption(frame: pl.DataFrame, source: str | None = None) -> str:
    """Where a projection's numbers come from, e.g. ``workload example.yaml: volume assumed, mix assumed,
    reliability simulated; prices assumed+published (imgkit catalog); volumes are expected values``."""
    parts = [f"{name} {kinds}" for name in _ASSUMPTIONS if (kinds := _kinds(frame, f"{name}_provenance"))]
    head = f"workload {source}: " if source else "workload: "
    usage = frame.filter(pl.col("kind") == "usage")
    prices = _kinds(usage, "price_provenance")
    checked = usage["price_checked"].min() if "price_checked" in usage.columns else None
    where = (
        f"imgkit catalog; oldest source check {checked}" if isinstance(checked, dt.date) else "imgkit catalog"
    )
    text = head + ", ".join(parts) + (f"; prices {prices} ({where})" if prices else "")
    fees = frame.filter(pl.col("kind") != "usage")
    if fees.height:
        text += f"; fees and setup {_kinds(fees, 'price_provenance')}"
    return text + "; volumes are expected values"


# --- break-even -----------------------------------------------------------------------------------------


def _monthly(frame: pl.DataFrame) -> dict[str, list[dict[str, Any]]]:
    per = (
        frame.group_by("option", "month")
        .agg(
            pl.col("cost_usd").sum().alias("cost"),
            pl.col("cost_usd").filter(pl.col("kind") == "usage").sum().alias("usage"),
            pl.col("cost_usd").filter(pl.col("kind") == "fixed_fee").sum().alias("fixed"),
            pl.col("cost_usd").filter(pl.col("kind") == "setup").sum().alias("setup"),
            pl.col("requests").filter(pl.col("kind") == "usage").sum().alias("requests"),
        )
        .sort("option", "month")
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for row in per.iter_rows(named=True):
        out.setdefault(row["option"], []).append(row)
    return out


def _sign(x: Decimal) -> int:
    return (x > 0) - (x < 0)


def break_even(frame: pl.DataFrame, a: str | None = None, b: str | None = None) -> pl.DataFrame:
    """Where two options' costs cross, for one pair (``a``, ``b``) or every pair of a projection frame.

    Columns: ``option_a, option_b``; ``unit_a_usd``/``unit_b_usd`` (usage cost per request in month 1),
    ``fixed_a_usd``/``fixed_b_usd`` (per month), ``setup_a_usd``/``setup_b_usd``; ``cheaper_first`` (the
    option cheaper over month 1, setup included); ``break_even_month`` (the first month at whose end the
    cumulative costs have crossed, null when they do not within the horizon); ``cumulative_a_usd``/
    ``cumulative_b_usd`` at that month (or at the horizon); ``break_even_requests_per_month`` (the volume
    above which the lower unit cost wins per month: ``(F_a - F_b) / (u_b - u_a)``, null when the unit costs
    are equal or the fees favour the same option); ``payback_requests`` (the requests in total after which a
    setup cost is repaid by the lower unit cost: ``(S_a - S_b) / (u_b - u_a)``, fees aside); ``explanation``.
    """
    monthly = _monthly(frame)
    names = list(dict.fromkeys(frame["option"].to_list()))
    for name in (a, b):
        if name is not None and name not in monthly:
            raise InvalidParameterError("option", name, names)
    if a is not None and b is not None:
        pairs = [(a, b)]
    elif (one := a if a is not None else b) is not None:
        pairs = [(one, other) for other in names if other != one]
    else:
        pairs = list(itertools.combinations(names, 2))
    rows = [_pair(monthly[x], monthly[y], x, y) for x, y in pairs]
    schema: dict[str, ColumnType] = {
        "option_a": pl.String,
        "option_b": pl.String,
        "unit_a_usd": MONEY_TOTAL,
        "unit_b_usd": MONEY_TOTAL,
        "fixed_a_usd": MONEY_TOTAL,
        "fixed_b_usd": MONEY_TOTAL,
        "setup_a_usd": MONEY_TOTAL,
        "setup_b_usd": MONEY_TOTAL,
        "cheaper_first": pl.String,
        "break_even_month": pl.Int32,
        "cumulative_a_usd": MONEY_TOTAL,
        "cumulative_b_usd": MONEY_TOTAL,
        "break_even_requests_per_month": COUNT,
        "payback_requests": COUNT,
        "explanation": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def _pair(ma: list[dict[str, Any]], mb: list[dict[str, Any]], a: str, b: str) -> dict[str, Any]:
    with decimal.localcontext(prec=_PRECISION):
        first_a, first_b = ma[0], mb[0]
        unit_a = first_a["usage"] / first_a["requests"] if first_a["requests"] else _ZERO
        unit_b = first_b["usage"] / first_b["requests"] if first_b["requests"] else _ZERO
        fixed_a, fixed_b = first_a["fixed"], first_b["fixed"]
        cum_a = cum_b = _ZERO
        start_sign, month_cross = _sign(first_a["cost"] - first_b["cost"]), None
        for ra, rb in zip(ma, mb, strict=True):
            cum_a += ra["cost"]
            cum_b += rb["cost"]
            sign = _sign(cum_a - cum_b)
            if month_cross is None and start_sign and sign != start_sign:
                month_cross = ra["month"]
                break
        volume = payback = None
        if unit_a != unit_b:
            v = (fixed_a - fixed_b) / (unit_b - unit_a)
            volume = v.quantize(_COUNT_Q, ROUND_HALF_EVEN) if v > 0 else None
            p = (first_a["setup"] - first_b["setup"]) / (unit_b - unit_a)
            payback = p.quantize(_COUNT_Q, ROUND_HALF_EVEN) if p > 0 else None
        cheaper = a if start_sign < 0 else b if start_sign > 0 else None
        other = b if cheaper == a else a
        if start_sign == 0 and month_cross is None:
            text = f"{a} and {b} cost the same over month 1"
            later = _sign(cum_a - cum_b)
            if later:
                text += f"; {a if later < 0 else b} is cheaper cumulatively by month {ra['month']}"
        elif month_cross is not None:
            text = (
                f"{cheaper} is cheaper at first; cumulative costs cross in month {month_cross} "
                f"({a}: {_usd(cum_a)}, {b}: {_usd(cum_b)}), after which {other} is cheaper"
            )
        else:
            text = f"{cheaper} stays cheaper over all {len(ma)} months (cumulative {_usd(cum_a)} vs {_usd(cum_b)})"
        if unit_a == unit_b:
            text += "; equal cost per request"
        else:
            low = a if unit_a < unit_b else b
            if volume is not None:
                text += f"; per month {low} is cheaper above {format_value(volume, 'count')} requests"
            if payback is not None:
                text += (
                    f"; {low}'s setup cost is repaid after {format_value(payback, 'count')} requests in total"
                )
        if unit_a != unit_b and fixed_a == fixed_b and payback is None:
            text += "; no fixed fees: costs are linear in volume and never cross"
        return {
            "option_a": a,
            "option_b": b,
            "unit_a_usd": round_money(unit_a),
            "unit_b_usd": round_money(unit_b),
            "fixed_a_usd": fixed_a,
            "fixed_b_usd": fixed_b,
            "setup_a_usd": first_a["setup"],
            "setup_b_usd": first_b["setup"],
            "cheaper_first": cheaper,
            "break_even_month": month_cross,
            "cumulative_a_usd": cum_a,
            "cumulative_b_usd": cum_b,
            "break_even_requests_per_month": volume,
            "payback_requests": payback,
            "explanation": text,
        }


def _usd(x: Decimal) -> str:
    return format_value(x, "money")


# --- sensitivity -----------------------------------------------------------------------------------------


def _scaled(value: Decimal, factor: Decimal, upper: Decimal | None = None) -> Decimal:
    out = value * factor
    return min(out, upper) if upper is not None else out


def _rescale_shares(mix: tuple[MixComponent, ...], index: int, factor: Decimal) -> tuple[MixComponent, ...]:
    """Component ``index``'s share x factor (at most 1), the others rescaled so the shares still sum to 1."""
    old = mix[index].share
    new = min(old * factor, _ONE)
    rest = _ONE - old
    return tuple(
        replace(c, share=new if i == index else c.share * (_ONE - new) / rest) for i, c in enumerate(mix)
    )


def _perturbations(workload: Workload, options: Sequence[Option]) -> list[tuple[str, str, Any]]:
    """(assumption, base value as text, how to apply a factor) for every continuous assumption."""
    out: list[tuple[str, str, Any]] = [
        (
            "volume",
            f"{workload.volume.normalize():,f} {workload.volume_unit}/month",
            lambda w, f: (replace(w, volume=w.volume * f), {}),
        ),
        (
            "growth_per_month",
            _percent(workload.growth_per_month),
            lambda w, f: (replace(w, growth_per_month=w.growth_per_month * f), {}),
        ),
    ]
    if len(workload.mix) > 1:
        for i, comp in enumerate(workload.mix):
            if comp.share < 1:
                out.append(
                    (
                        f"share: {comp.label}",
                        _percent(comp.share),
                        lambda w, f, i=i: (replace(w, mix=_rescale_shares(w.mix, i, f)), {}),
                    )
                )
    out.append(("failure_rate", _percent(workload.failure_rate), lambda w, f: (w, {"failure": f})))
    if workload.max_attempts > 1 or workload.billed_failure_share:
        out.append(
            (
                "billed_failure_share",
                _percent(workload.billed_failure_share),
                lambda w, f: (replace(w, billed_failure_share=_scaled(w.billed_failure_share, f, _ONE)), {}),
            )
        )
    out.append(
        (
            "batch_share",
            _percent(workload.batch_share),
            lambda w, f: (replace(w, batch_share=_scaled(w.batch_share, f, _ONE)), {"batch": f}),
        )
    )
    if workload.prompt_tokens:
        out.append(
            (
                "prompt_tokens",
                str(workload.prompt_tokens),
                lambda w, f: (
                    replace(w, prompt_tokens=int((w.prompt_tokens * f).to_integral_value(ROUND_HALF_EVEN))),
                    {},
                ),
            )
        )
    out.append(("price", "catalog", lambda w, f: (w, {"price": f})))
    if any(o.fixed_usd_per_month for o in options):
        out.append(("fixed_usd_per_month", "per target", lambda w, f: (w, {"fees": f})))
    if any(o.setup_usd for o in options):
        out.append(("setup_usd", "per target", lambda w, f: (w, {"setup": f})))
    return out


def _option_base_value(
    name: str, text: str, option: Option, measured: Mapping[tuple[str, str], tuple[Decimal, str]]
) -> str:
    """The stated value of an assumption for one option: its own batch share, its measured failure rate."""
    if name == "batch_share" and option.batch_share is not None:
        return _percent(option.batch_share)
    if name == "failure_rate" and (option.model, option.provider) in measured:
        rate, kind = measured[(option.model, option.provider)]
        return f"{_percent(rate.quantize(Decimal('1e-4'), ROUND_HALF_EVEN))} {kind}"
    return text


def sensitivity(
    workload: Workload | str | Path,
    months: int = 12,
    *,
    delta: Decimal | str = "0.1",
    performance: pl.DataFrame | None = None,
    catalog: Catalog | None = None,
    options: Sequence[Option] | None = None,
) -> pl.DataFrame:
    """Tornado data: the total over ``months`` per option when each assumption moves by ±``delta`` (relative).

    Columns: ``option, assumption, base_value, total_usd`` (as stated), ``low_total_usd``/``high_total_usd``
    (the assumption x (1 - delta) / x (1 + delta); shares and rates are capped at 1), ``change_low_usd``,
    ``change_high_usd``, ``swing_usd`` (|high - low|). Rows are sorted per option by swing, largest first.
    Discrete assumptions (n, partial images, input images, max attempts) are not moved.
    """
    if not isinstance(workload, Workload):
        workload = load_workload(workload, catalog)
    try:
        delta = Decimal(str(delta))
    except decimal.InvalidOperation:
        raise InvalidParameterError("delta", delta, "a fraction between 0 and 1 (0.1 = ±10 %)") from None
    if not 0 < delta < 1:
        raise InvalidParameterError("delta", delta, "a fraction between 0 and 1 (0.1 = ±10 %)")
    check_horizon(workload, months, scale=_ONE + delta)
    pricer = _Pricer(catalog)
    if options is None:
        options, _ = resolve_options(workload, _pricer=pricer)
    measured = _failure_rates(performance)

    def totals(w: Workload, knobs: dict[str, Decimal]) -> dict[str, Decimal]:
        batch = knobs.pop("batch", None)
        opts = [
            replace(o, batch_share=_scaled(o.batch_share, batch, _ONE))
            if batch is not None and o.batch_share is not None
            else o
            for o in options
        ]
        names = {o.name: orig.name for o, orig in zip(opts, options, strict=True)}
        out: dict[str, Decimal] = {}
        for row in _rows(w, months, opts, pricer, measured, _Knobs(**knobs)):
            name = names.get(row["option"], row["option"])
            out[name] = out.get(name, _ZERO) + row["cost_usd"]
        return out

    base = totals(workload, {})
    rows = []
    for name, base_text, apply in _perturbations(workload, options):
        low = totals(*apply(workload, _ONE - delta))
        high = totals(*apply(workload, _ONE + delta))
        for option in options:
            key = option.name
            rows.append(
                {
                    "option": key,
                    "assumption": name,
                    "base_value": _option_base_value(name, base_text, option, measured),
                    "total_usd": base[key],
                    "low_total_usd": low[key],
                    "high_total_usd": high[key],
                    "change_low_usd": low[key] - base[key],
                    "change_high_usd": high[key] - base[key],
                    "swing_usd": abs(high[key] - low[key]),
                }
            )
    schema: dict[str, ColumnType] = {
        "option": pl.String,
        "assumption": pl.String,
        "base_value": pl.String,
        "total_usd": MONEY_TOTAL,
        "low_total_usd": MONEY_TOTAL,
        "high_total_usd": MONEY_TOTAL,
        "change_low_usd": MONEY_TOTAL,
        "change_high_usd": MONEY_TOTAL,
        "swing_usd": MONEY_TOTAL,
    }
    frame = pl.DataFrame(rows, schema=schema).with_columns(pl.lit(f"±{_percent(delta)}").alias("delta"))
    order = {o.name: i for i, o in enumerate(options)}
    return frame.sort(
        pl.col("option").replace_strict(order, return_dtype=pl.Int32),
        pl.col("swing_usd"),
        descending=[False, True],
    )
