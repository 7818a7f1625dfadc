"""Plan a run before spending: resolve every target, quote every item, check the budget. No request is sent.

``plan_run(spec)`` is what ``imgkit run --dry-run`` prints and what the runner executes: every (target,
prompt) pair is resolved (so a prompt too long for one model fails here, not after money was spent), one
exact quote per pair, and the total. A target the catalog cannot serve fails here, with the spec's file and
key path, before any money is at stake.

The quote an item reserves against the budget is the quote's total, or the high end of its range when the
size or quality is ``auto`` (``Cost.high_usd``); ``None`` when the catalog cannot price it. A batched target
(``batch: true``) is quoted at its offering's batch price; one whose offering has none, whose provider has no
Batch API imgkit speaks, or which streams or needs several calls per item fails here (``targets[i].batch``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from imgkit.catalog import Catalog, load_catalog
from imgkit.errors import ImgkitError, InvalidParameterError, SpecError, UnknownPriceError
from imgkit.providers import USAGE_BILLED, cover_token_bill
from imgkit.runs.spec import ExperimentSpec, Target, WorkItem

__all__ = ["PlannedTarget", "RunPlan", "plan_run", "request_for", "reserve_amount"]

#: ImageRequest fields a target's ``options`` may set directly; other options go to ``extra``
_REQUEST_OPTIONS = frozenset(
    {
        "output_format",
        "output_compression",
        "background",
        "input_fidelity",
        "stream",
        "partial_images",
        "response_format",
        "moderation",
        "user",
        "style",
    }
)


def reserve_amount(cost: Any) -> Decimal | None:
    """What a quote reserves: its total, else the high end of its range (``None``: no price known)."""
    return cost.reserve_usd


@dataclass
class PlannedTarget:
    """One target: its resolved request (for the first prompt), and one quote per prompt."""

    target: Target
    resolved: Any  # imgkit.params.ResolvedRequest for the first prompt
    repeats: int
    quotes_usd: dict[str, Decimal | None] = field(default_factory=dict)  # prompt id -> quote per item
    low_usd: Decimal | None = None  # cheapest and dearest per-item quotes over prompts and auto ranges
    high_usd: Decimal | None = None
    ranged: bool = False  # size or quality "auto": the bill falls somewhere in [low_usd, high_usd]
    quote_method: str = ""
    quote_notes: tuple[str, ...] = ()
    unknown_reason: str | None = None

    @property
    def n_items(self) -> int:
        return len(self.quotes_usd) * self.repeats

    @property
    def subtotal_usd(self) -> Decimal | None:
        values = list(self.quotes_usd.values())
        known = [v for v in values if v is not None]
        return sum(known, Decimal(0)) * self.repeats if len(known) == len(values) else None

    def row(self) -> dict[str, Any]:
        """One line of the dry-run table."""
        r = self.resolved
        return {
            "target": self.target.label,
            "model": self.target.model,
            "provider": r.provider.id,
            "size": r.size,
            "quality": r.quality,
            "n": r.n,
            "calls": len(r.calls),
            "items": self.n_items,
            "quote_low_usd": self.low_usd,
            "quote_high_usd": self.high_usd,
            "quote_is_range": self.ranged,
            "subtotal_usd": self.subtotal_usd,
            "method": self.quote_method,
            "batch": self.target.batch,
        }

    def record(self) -> dict[str, Any]:
        """The resolved parameters and quotes, as kept in the run directory's ``spec.yaml``."""
        summary = self.resolved.summary()
        summary["body"] = {k: v for k, v in summary["body"].items() if k != "prompt"}
        summary["requested"].pop("prompt", None)
        return {
            **self.row(),
            "resolved": summary,
            "quote_notes": list(self.quote_notes),
            "quote_unknown_reason": self.unknown_reason,
            "quotes_usd": dict(self.quotes_usd),
        }


@dataclass
class RunPlan:
    spec: ExperimentSpec
    targets: list[PlannedTarget]
    images: Mapping[str, Any] = field(default_factory=dict)  # input image name -> inspected InputImage
    _resolved: dict[tuple[str, str], tuple[Any, Any]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def total_usd(self) -> Decimal | None:
        subs = [t.subtotal_usd for t in self.targets]
        known = [s for s in subs if s is not None]
        return sum(known, Decimal(0)) if len(known) == len(subs) else None

    @property
    def n_items(self) -> int:
        return sum(t.n_items for t in self.targets)

    def quote_for(self, item: WorkItem) -> Decimal | None:
        """The amount ``item`` reserves (``None``: it cannot be priced)."""
        return self._by_label[item.target.label].quotes_usd[item.prompt.id]

    def target_for(self, item: WorkItem) -> PlannedTarget:
        return self._by_label[item.target.label]

    @cached_property
    def _by_label(self) -> dict[str, PlannedTarget]:
        return {t.target.label: t for t in self.targets}

    def resolve(self, item: WorkItem, catalog: Catalog | None = None) -> Any:
        """The resolved request of one item: the same (immutable) one for every repeat of its target and
        prompt, resolved once (the plan already validated every pair)."""
        from imgkit.params import resolve

        key = (item.target.label, item.prompt.id)
        cached = self._resolved.get(key)
        if cached is None or cached[0] is not catalog:
            request = request_for(self.spec, item.target, item.prompt.text, self.images)
            cached = self._resolved[key] = (catalog, resolve(request, catalog))
        return cached[1]

    def batch_groups(self, catalog: Catalog | None = None) -> list[Any]:
        """How the batched items group into batches (:func:`imgkit.runs.batch.group_batches`)."""
        from imgkit.runs.batch import group_batches

        items = (item for item in self.spec.items() if item.target.batch)
        return group_batches(self, items, max_requests=self.spec.batch.max_requests, catalog=catalog)

    def as_dict(self) -> dict[str, Any]:
        unknown = [t.target.label for t in self.targets if t.subtotal_usd is None]
        batches = [g.as_dict() for g in self.batch_groups()] if self.spec.batched else []
        return {
            "batches": batches,
            "name": self.spec.name,
            "items": self.n_items,
            "targets": [{**t.row(), "resolved": t.resolved.summary()} for t in self.targets],
            "total_usd": self.total_usd,
            "unpriced_targets": unknown,
            "budget_usd": self.spec.budget_usd,
            "within_budget": None
            if self.spec.budget_usd is None or self.total_usd is None
            else self.total_usd <= self.spec.budget_usd,
            "simulated": self.spec.simulate,
        }


def request_for(spec: ExperimentSpec, target: Target, prompt_text: str, input_images: Mapping[str, Any]):
    """The provider-neutral request of one item (``input_images``: name -> inspected InputImage)."""
    from imgkit.params import ImageRequest

    opts = dict(target.options)
    return ImageRequest(
        model=target.model,
        prompt=prompt_text,
        mode=target.mode,
        provider=target.provider,
        size=target.size,
        aspect_ratio=target.aspect_ratio,
        resolution=target.resolution,
        quality=target.quality,
        n=target.n,
        input_images=tuple(input_images[name] for name in target.images),
        mask=input_images[target.mask] if target.mask else None,
        extra={k: v for k, v in opts.items() if k not in _REQUEST_OPTIONS},
        **{k: v for k, v in opts.items() if k in _REQUEST_OPTIONS},
    )


#: (adapter, provider) pairs whose Batch API imgkit speaks
BATCH_PROVIDERS = frozenset({("openai", "openai"), ("gemini", "gemini-api")})


def _check_batchable(resolved: Any, fname: str, where: str) -> None:
    """A batched target's request must be one a Batch API takes (module doc)."""
    provider = resolved.provider
    problem = None
    if (provider.adapter, provider.id) not in BATCH_PROVIDERS:
        problem = (
            f"{provider.id} has no Batch API imgkit speaks (OpenAI's Batch API: provider openai; the Gemini "
            "API's Batch Mode: provider gemini-api, generateContent models)"
        )
    elif provider.adapter == "gemini" and not resolved.endpoint.endswith(":generateContent"):
        problem = f"{resolved.model.id} is served by {resolved.endpoint.rpartition(':')[2]}, which Batch Mode does not take"
    elif resolved.body.get("stream") or resolved.request.partial_images:
        problem = "streamed partial images cannot go through a Batch API"
    elif len(resolved.calls or (resolved.n,)) > 1:
        problem = f"n={resolved.n} needs {len(resolved.calls)} calls per item; a batched item is one request"
    if problem:
        raise SpecError(fname, f"{where}.batch", f"{problem}; allowed: batch: false for this target")


def plan_run(spec: ExperimentSpec, catalog: Catalog | None = None) -> RunPlan:
    """Resolve and quote every (target, prompt); spec problems raise ``SpecError`` with the key path."""
    from imgkit.params import inspect_image, resolve
    from imgkit.pricing import count_prompt_tokens, quote_request

    catalog = catalog or load_catalog()
    fname = str(spec.path) if spec.path else "<spec>"
    images = {}
    for name, path in spec.input_images.items():
        try:
            images[name] = inspect_image(path)
        except ImgkitError as exc:
            raise SpecError(fname, f"input_images.{name}", str(exc)) from None
    planned: list[PlannedTarget] = []
    for target in spec.targets:
        where = f"targets[{target.spec_index}]"
        pt: PlannedTarget | None = None
        quotes: dict[int, Any] = {}  # prompt tokens -> Cost: a quote depends on the prompt only through them
        for j, prompt in enumerate(spec.prompts):
            try:
                resolved = resolve(request_for(spec, target, prompt.text, images), catalog)
            except InvalidParameterError as exc:
                if exc.field == "prompt":
                    raise SpecError(fname, f"prompts[{j}].text", f"for {target.label}: {exc}") from None
                raise SpecError(fname, f"{where}.{exc.field}", str(exc)) from None
            except ImgkitError as exc:
                raise SpecError(fname, where, str(exc)) from None
            if pt is None:
                pt = PlannedTarget(target, resolved, spec.repeats)
                if target.batch:
                    _check_batchable(resolved, fname, where)
            tokens = count_prompt_tokens(prompt.text)
            if tokens not in quotes:
                try:
                    priced = resolved.priced(prompt_tokens=tokens)
                    quotes[tokens] = quote_request(priced, batch=target.batch)
                    if target.batch and resolved.provider.adapter in USAGE_BILLED:
                        # a batch is reserved once, at its quote: one that covers the usage bill
                        quotes[tokens] = cover_token_bill(quotes[tokens], priced, batch=True)
                except UnknownPriceError as exc:
                    if not target.batch:
                        raise
                    raise SpecError(
                        fname,
                        f"{where}.batch",
                        f"{target.label}: {exc}; allowed: batch: false, or a model and provider with a "
                        "Batch API price",
                    ) from None
            cost = quotes[tokens]
            amount = reserve_amount(cost)
            pt.quotes_usd[prompt.id] = amount
            pt.quote_method, pt.quote_notes = cost.method, tuple(cost.notes)
            if amount is None:
                pt.unknown_reason = cost.unknown_reason or "no price in the catalog"
            low = cost.total_usd if cost.total_usd is not None else cost.low_usd
            pt.ranged |= cost.total_usd is None and cost.low_usd is not None
            if low is not None:
                pt.low_usd = low if pt.low_usd is None else min(pt.low_usd, low)
            if amount is not None:
                pt.high_usd = amount if pt.high_usd is None else max(pt.high_usd, amount)
        assert pt is not None  # a spec has at least one prompt
        planned.append(pt)
    return RunPlan(spec, planned, images)
