"""The catalog: models, providers and dated prices loaded from ``data/catalog/*.yaml`` and validated.

``models.yaml`` holds what each model can do; one ``<provider>.yaml`` per provider holds how to reach it,
which models it serves under which ids, how each request field is mapped, and what each costs. A malformed
file raises :class:`~imgkit.errors.CatalogError` naming the file, the key path and the problem.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ValidationError

from imgkit._files import FileErrorType, read_utf8, text_position
from imgkit._strict import key_path
from imgkit.catalog._schema import (
    MARKS,
    SIZE_PARTS,
    AddOn,
    Auth,
    Batch,
    Credit,
    FieldRule,
    ImagePrice,
    InputImageTokens,
    LifecycleEvent,
    Mark,
    MegapixelPrice,
    Model,
    ModelsFile,
    Offering,
    OutputTokens,
    Price,
    Provider,
    ProviderFile,
    RateLimits,
    Rounding,
    SizeRules,
    SizeTable,
    Source,
    TokenRates,
    parse_ratio,
    parse_wxh,
)
from imgkit.errors import CatalogError, RetiredOfferingError, UnknownNameError

__all__ = [
    "MARKS",
    "SIZE_PARTS",
    "STALE_AFTER_DAYS",
    "AddOn",
    "Auth",
    "Batch",
    "Catalog",
    "Credit",
    "FieldRule",
    "ImagePrice",
    "InputImageTokens",
    "Lifecycle",
    "LifecycleEvent",
    "Mark",
    "MegapixelPrice",
    "Model",
    "Offering",
    "OutputTokens",
    "Price",
    "Provider",
    "RateLimits",
    "Rounding",
    "SizeRules",
    "SizeTable",
    "Source",
    "Timeline",
    "TimelineEvent",
    "TokenRates",
    "default_catalog_dir",
    "load_catalog",
    "load_yaml",
    "parse_ratio",
    "parse_wxh",
    "parse_yaml",
]

#: a source checked longer ago than this is flagged: the price it gave may have changed since (assumed policy)
STALE_AFTER_DAYS = 180

# --- YAML: strict, without binary floats -----------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice in one mapping (YAML forbids it; PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults` overrides on purpose
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:  # an unhashable key: the base constructor says so
                    continue
                if first is not key_node:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"duplicate key {key!r} (first at line {first.start_mark.line + 1}); "
                        "each key may appear once in a mapping",
                        key_node.start_mark,
                    )
        return super().construct_mapping(node, deep=deep)


class _DecimalLoader(_StrictLoader):
    """Strict loader whose floats are ``Decimal`` built from the literal text: 0.119991 never appears."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = loader.construct_scalar(node).replace("_", "")
    if text.lower() in (".inf", "+.inf", "-.inf", ".nan"):
        raise yaml.constructor.ConstructorError(None, None, f"non-finite number {text!r}", node.start_mark)
    return Decimal(text)


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def load_yaml(path: str | Path, *, exact: bool = True, error: FileErrorType = CatalogError) -> Any:
    """Read a UTF-8 YAML file; every problem is one ``error(file, where, problem)`` naming line and column.

    ``exact``: floats are ``Decimal`` built from their text (catalog, specs, workloads); else Python floats
    (parameters of notebooks, which Papermill writes as literals). A key written twice in one mapping is an
    error, as YAML says, instead of PyYAML's silent last-one-wins. ``error`` is :class:`CatalogError` or
    :class:`~imgkit.errors.SpecError` (same arguments).
    """
    return parse_yaml(read_utf8(path, error), str(path), exact=exact, error=error)


def parse_yaml(
    text: str, file: str = "<yaml>", *, exact: bool = True, error: FileErrorType = CatalogError
) -> Any:
    """:func:`load_yaml` of text already read; ``file`` names it in errors."""
    try:
        return yaml.load(text, Loader=_DecimalLoader if exact else _StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "not valid YAML"
        if isinstance(exc, yaml.constructor.ConstructorError):
            raise error(file, where, problem) from None
        if exc.context and exc.problem and exc.context_mark:
            problem += f" ({exc.context} at line {exc.context_mark.line + 1})"
        raise error(file, where, f"YAML syntax: {problem}") from None
    except yaml.reader.ReaderError as exc:
        raise error(
            file,
            text_position(text, exc.position),
            f"character {chr(exc.character)!r} is not allowed in YAML (binary data?); allowed: printable text",
        ) from None
    except yaml.YAMLError as exc:
        raise error(file, "", f"not valid YAML: {str(exc).splitlines()[0]}") from None


def validate_file(path: str | Path, schema: type[BaseModel], data: Any = None) -> Any:
    """Validate parsed YAML against a pydantic schema; the first problem becomes a ``CatalogError``."""
    data = load_yaml(path) if data is None else data
    if not isinstance(data, dict):
        raise CatalogError(str(path), "", f"expected a mapping at the top level, got {type(data).__name__}")
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise CatalogError(str(path), key_path(err["loc"]), f"{err['msg']}{more}") from None


# --- the catalog ------------------------------------------------------------------------------------------------

LifecycleState = Literal["unreleased", "active", "deprecated", "reported_retired", "retired"]


@dataclass(frozen=True)
class Lifecycle:
    """An offering's lifecycle on a date: its state, the date that decides it, the replacement and the sources.

    ``state``: ``retired`` (a shutdown on or before the date, stated by a primary or copy source: a quote
    is refused), ``reported_retired`` (a shutdown stated by secondary sources only: quoted, with a prominent
    note), ``deprecated`` (retirement announced, a shutdown scheduled, or a migrate-before date) or ``active``.
    ``date`` is the shutdown date (past or scheduled), else the deprecation or migrate-by date; ``mark`` is
    the strongest mark of the sources behind it; ``disputed``: the sources give different dates or
    replacements (every one is kept in ``note``).
    """

    model: str
    provider: str
    on: dt.date
    state: LifecycleState
    date: dt.date | None = None
    replacement: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    mark: Mark | None = None
    disputed: bool = False
    note: str = ""

    def check_quotable(self) -> None:
        """Raise :class:`~imgkit.errors.RetiredOfferingError` when the offering was shut down (state retired)."""
        if self.state == "retired":
            raise RetiredOfferingError(self.model, self.provider, self.date, self.replacement, self.note)

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "date": self.date,
            "replacement": list(self.replacement),
            "mark": self.mark,
            "disputed": self.disputed,
            "sources": list(self.sources),
            "note": self.note,
        }


@dataclass(frozen=True)
class TimelineEvent:
    """A lifecycle event, the provider whose page or offering states it, and the strongest mark of its sources."""

    event: LifecycleEvent
    where: str
    mark: Mark | None


def _mark_rank(mark: Mark | None) -> int:
    return MARKS.index(mark) if mark in MARKS else len(MARKS)


@dataclass(frozen=True)
class Timeline:
    """An offering's lifecycle events with their marks: what it is on any date, with no catalog look-up.

    Built by :meth:`Catalog.timeline` when a request is resolved; :meth:`on` tells the state on the day a
    quote is for (a quote for a date after a shutdown a primary or copy source states is refused).
    """

    model: str
    provider: str
    events: tuple[TimelineEvent, ...] = ()

    def on(self, on: dt.date | None = None) -> Lifecycle:
        """The :class:`Lifecycle` on ``on`` (default today)."""
        on = on or dt.date.today()
        shutdowns = [e for e in self.events if e.event.event == "shutdown"]
        past = [e for e in shutdowns if e.event.date <= on]
        strong = [e for e in past if e.mark != "secondary"]
        dates = {e.event.date for e in shutdowns}
        replacements = {e.event.replacement for e in shutdowns if e.event.replacement}
        disputed = len(dates) > 1 or len(replacements) > 1
        if strong or past:
            decisive = min(strong or past, key=lambda e: e.event.date)
            return self._shutdown(
                "retired" if strong else "reported_retired", on, decisive, shutdowns, disputed
            )
        released = [e for e in self.events if e.event.event == "released"]
        if released and all(e.event.date > on for e in released):
            first = min(released, key=lambda e: e.event.date)
            note = (
                f"not released yet on {on}: released on {first.event.date}{self._where(first)} ({_cited(first)}); "
                "priced at its earliest schedule, which a provider may not have offered then"
            )
            return Lifecycle(
                self.model, self.provider, on, "unreleased", first.event.date, (), first.event.source, first.mark,
                disputed, note,
            )  # fmt: skip
        future = [e for e in shutdowns if e.event.date > on]
        notices = [e.event.date for e in self.events if e.event.event == "deprecated"]
        # a scheduled shutdown deprecates from its announcement, where the catalog knows when that was
        if future and (not notices or min(notices) <= on):
            return self._shutdown(
                "deprecated", on, min(future, key=lambda e: e.event.date), shutdowns, disputed
            )
        notice = [
            e for e in self.events if e.event.event in ("deprecated", "migrate_by") and e.event.date <= on
        ]
        if notice:
            e = max(notice, key=lambda e: e.event.date)
            what = "deprecated on" if e.event.event == "deprecated" else "the vendor asks to migrate before"
            note = f"{what} {e.event.date}{self._where(e)} ({_cited(e)})" + _replacement_text([e])
            return Lifecycle(
                self.model, self.provider, on, "deprecated", e.event.date, e.event.replacement, e.event.source,
                e.mark, disputed, note,
            )  # fmt: skip
        return Lifecycle(self.model, self.provider, on, "active", disputed=disputed)

    def _shutdown(
        self, state: LifecycleState, on: dt.date, e: TimelineEvent, shutdowns, disputed: bool
    ) -> Lifecycle:
        verb = {
            "retired": "shut down on",
            "reported_retired": "REPORTED RETIRED: reported shut down on",
            "deprecated": "deprecated: shutdown scheduled for",
        }[state]
        note = f"{verb} {e.event.date}{self._where(e)} ({_cited(e)})"
        others = sorted({ev.event.date for ev in shutdowns} - {e.event.date})
        if others:
            note += f"; other sources give {', '.join(map(str, others))}"
        ordered = sorted(shutdowns, key=lambda ev: (_mark_rank(ev.mark), ev.event.date))
        names = tuple(dict.fromkeys(n for ev in ordered for n in ev.event.replacement))
        tags = tuple(dict.fromkeys(t for ev in ordered for t in ev.event.source))
        return Lifecycle(
            self.model, self.provider, on, state, e.event.date, names, tags, e.mark, disputed,
            note + _replacement_text(ordered),
        )  # fmt: skip

    def _where(self, e: TimelineEvent) -> str:
        return "" if e.where == self.provider else f" at {e.where}, whose model this offering resells"


def _cited(e: TimelineEvent) -> str:
    """``primary: TAG, TAG`` (the tags resolve to title, URL and check date in the catalog's sources)."""
    listed = ", ".join(e.event.source)
    return f"{e.mark}: {listed}" if e.mark != "secondary" else f"secondary sources only: {listed}"


def _replacement_text(events: Iterable[TimelineEvent]) -> str:
    """``; replacement named: a (primary), b (secondary)`` over the events' replacements, both kept."""
    named: dict[str, Mark | None] = {}
    for ev in events:
        for name in ev.event.replacement:
            if name not in named or _mark_rank(ev.mark) < _mark_rank(named[name]):
                named[name] = ev.mark
    if not named:
        return ""
    return "; replacement named: " + ", ".join(f"{n} ({m or 'unsourced'})" for n, m in named.items())


class Catalog:
    """All models, providers, offerings and sources, with look-ups that fail with helpful errors."""

    def __init__(self, models_file: ModelsFile, provider_files: dict[str, ProviderFile], root: Path) -> None:
        self.root = root
        self.models: dict[str, Model] = {m.id: m for m in models_file.models}
        self.providers: dict[str, Provider] = {}
        self.offerings: dict[tuple[str, str], Offering] = {}
        self.sources: dict[str, Source] = dict(models_file.sources)
        for pf in provider_files.values():
            self.providers[pf.provider.id] = pf.provider
            self.sources.update(pf.sources)
            for off in pf.offerings:
                self.offerings[(pf.provider.id, off.model)] = off

    # look-ups
    def model(self, model_id: str) -> Model:
        try:
            return self.models[model_id]
        except KeyError:
            raise UnknownNameError("model", model_id, list(self.models)) from None

    def provider(self, provider_id: str) -> Provider:
        try:
            return self.providers[provider_id]
        except KeyError:
            raise UnknownNameError("provider", provider_id, list(self.providers)) from None

    def providers_for(self, model_id: str) -> list[str]:
        """Providers serving a model: the creator's own APIs first (``Provider.vendor``), then by id."""
        creator = self.model(model_id).creator
        ids = [p for (p, m) in self.offerings if m == model_id]
        return sorted(ids, key=lambda p: (self.providers[p].vendor != creator, p))

    def offering(self, model_id: str, provider_id: str | None = None) -> Offering:
        """The offering of ``model_id`` at ``provider_id`` (default: the first of :meth:`providers_for`)."""
        model = self.model(model_id)
        if provider_id is None:
            served_by = self.providers_for(model_id)
            if not served_by:
                raise UnknownNameError("model", model_id, sorted({m for (_, m) in self.offerings}))
            provider_id = served_by[0]
        self.provider(provider_id)
        try:
            return self.offerings[(provider_id, model.id)]
        except KeyError:
            raise UnknownNameError(
                "provider", provider_id, self.providers_for(model_id), context=f"model {model_id}"
            ) from None

    def offered_model(self, model_id: str, provider_id: str | None = None) -> Model:
        """The model as the provider serves it: its own size rules where the offering has some."""
        model = self.model(model_id)
        sizes = self.offering(model_id, provider_id).sizes
        return model if sizes is None else model.model_copy(update={"sizes": sizes})

    def price(self, model_id: str, provider_id: str | None = None, on: dt.date | None = None) -> Price:
        """The price schedule in force on ``on`` (default today) for the model at the provider."""
        return self.offering(model_id, provider_id).price_on(on, provider_id)

    def source(self, tag: str) -> Source:
        try:
            return self.sources[tag]
        except KeyError:
            raise UnknownNameError("source", tag, list(self.sources)) from None

    def mark(self, tags: Iterable[str]) -> Mark | None:
        """The strongest mark among sources (primary > copy > secondary); ``None`` without a known one."""
        marks = [self.sources[t].mark for t in tags if t in self.sources]
        return min(marks, key=MARKS.index) if marks else None

    # lifecycle
    def timeline(self, model_id: str, provider_id: str | None = None) -> Timeline:
        """The offering's dated lifecycle events with the mark of their sources (:meth:`Timeline.on`).

        Events scoped to another provider-side id (a preview id) are left out. An offering that resells an
        ``upstream`` provider's model takes that offering's events as well.
        """
        off = self.offering(model_id, provider_id)
        pid = provider_id or self.providers_for(model_id)[0]
        events = [(e, pid) for e in off.lifecycle if e.provider_model_id in (None, off.provider_model_id)]
        upstream_id = off.upstream
        upstream = self.offerings.get((upstream_id, model_id)) if upstream_id else None
        if upstream_id and upstream is not None:
            events += [
                (e, upstream_id)
                for e in upstream.lifecycle
                if e.provider_model_id in (None, upstream.provider_model_id)
            ]
        marked = tuple(TimelineEvent(e, where, self.mark(e.source)) for e, where in events)
        return Timeline(model_id, pid, marked)

    def lifecycle(
        self, model_id: str, provider_id: str | None = None, on: dt.date | None = None
    ) -> Lifecycle:
        """The offering's lifecycle on ``on`` (default today); see :class:`Lifecycle` for the states."""
        return self.timeline(model_id, provider_id).on(on)

    def model_lifecycle(self, model_id: str, on: dt.date | None = None) -> Lifecycle:
        """The most available of the model's offerings on ``on``: active > deprecated > reported > retired."""
        order = ("active", "deprecated", "reported_retired", "retired")
        states = [self.lifecycle(model_id, p, on) for p in self.providers_for(model_id)]
        return min(states, key=lambda lc: (order.index(lc.state), lc.provider))

    def source_records(self, tags: Iterable[str], today: dt.date | None = None) -> list[dict[str, Any]]:
        """``{"tag", "title", "url", "mark", "checked", "seen", "age_days", "stale"}`` per known tag, in order.

        ``stale``: checked more than :data:`STALE_AFTER_DAYS` before ``today`` (default: the current date),
        so the published figure may have changed since; unknown tags are left out.
        """
        today = today or dt.date.today()
        records = []
        for tag in dict.fromkeys(tags):
            source = self.sources.get(tag)
            if source is None:
                continue
            age = (today - source.checked).days
            records.append(
                {
                    "tag": tag,
                    "title": source.title,
                    "url": source.url,
                    "mark": source.mark,
                    "checked": source.checked,
                    "seen": source.seen,
                    "age_days": age,
                    "stale": age > STALE_AFTER_DAYS,
                }
            )
        return records

    def cite(self, tags: Iterable[str]) -> str:
        """A short human citation for source tags: ``title (mark, checked YYYY-MM-DD)``; unknown tags as is."""
        out = []
        for t in tags:
            s = self.sources.get(t)
            out.append(f"{s.title} ({s.mark}, checked {s.checked})" if s else t)
        return "; ".join(out)


def default_catalog_dir() -> Path:
    """``$IMGKIT_CATALOG``, else the repository's ``data/catalog``, else the copy packed into the wheel."""
    env = os.environ.get("IMGKIT_CATALOG")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "data" / "catalog", here.parents[1] / "_data" / "catalog"):
        if candidate.is_dir():
            return candidate
    raise CatalogError(str(here.parents[2] / "data" / "catalog"), "", "catalog directory not found")


def _check_refs(path: Path, sources: dict[str, Source], tags: Iterable[str], where: str) -> None:
    for t in tags:
        if t not in sources:
            raise CatalogError(
                str(path), where, f"unknown source tag {t!r}; known: {', '.join(sorted(sources))}"
            )


def load_catalog(directory: str | Path | None = None) -> Catalog:
    """Load and cross-check the catalog (cached per directory)."""
    return _load_catalog(Path(directory) if directory else default_catalog_dir())


def _model_refs(m: Model) -> list[tuple[str, tuple[str, ...]]]:
    """(key path under the model, source tags) of every sourced part of a model."""
    refs = [("source", m.source), ("sizes.source", m.sizes.source)]
    refs += [(f"sizes.alternatives[{i}].source", a.source) for i, a in enumerate(m.sizes.alternatives)]
    if m.output_tokens:
        refs.append(("output_tokens.source", m.output_tokens.source))
    if m.input_image_tokens:
        rule = m.input_image_tokens
        refs.append(("input_image_tokens.source", rule.source))
        refs += [
            (f"input_image_tokens.fidelity_high_extra[{i}].source", e.source)
            for i, e in enumerate(rule.fidelity_high_extra)
        ]
    return refs


def _price_refs(price: Price) -> list[tuple[str, tuple[str, ...]]]:
    refs = [("source", price.source), ("rounding.source", price.rounding.source)]
    refs += [(f"addons[{i}].source", a.source) for i, a in enumerate(price.addons)]
    if price.batch:
        refs.append(("batch.source", price.batch.source))
    for i, alt in enumerate(price.alternatives):
        refs += [(f"alternatives[{i}].{where}", tags) for where, tags in _price_refs(alt)]
    return refs


def _check_price(path: Path, where: str, price: Price, model: Model, provider: Provider) -> None:
    """Rows name a quality of the model (or ``*``) and a WxH, ``other`` or a tier of its sizes; credits
    convert to the USD given at the provider's credit value."""
    qualities = (*model.qualities, "*")
    tiers = model.sizes.resolution_tiers
    for j, row in enumerate(price.per_image):
        here = f"{where}.per_image[{j}]"
        if row.quality not in qualities:
            raise CatalogError(str(path), f"{here}.quality", f"{row.quality!r} is not one of {qualities}")
        if row.size != "other" and row.size not in tiers:
            try:
                parse_wxh(row.size)
            except ValueError:
                allowed = ", ".join(["WIDTHxHEIGHT", "other", *tiers])
                raise CatalogError(str(path), f"{here}.size", f"{row.size!r}; allowed: {allowed}") from None
        if row.credits is not None:
            if provider.credit is None:
                raise CatalogError(str(path), f"{here}.credits", "the provider has no credit value")
            if row.credits * provider.credit.usd != row.usd:
                raise CatalogError(
                    str(path),
                    f"{here}.usd",
                    f"{row.usd} is not {row.credits} credits x {provider.credit.usd} USD",
                )
    for j, unit in enumerate(price.megapixels):
        if unit.quality not in qualities:
            raise CatalogError(
                str(path), f"{where}.megapixels[{j}].quality", f"{unit.quality!r} is not one of {qualities}"
            )


@functools.lru_cache(maxsize=8)
def _load_catalog(root: Path) -> Catalog:
    models_path = root / "models.yaml"
    models_file: ModelsFile = validate_file(models_path, ModelsFile)
    ids = [m.id for m in models_file.models]
    for i, m in enumerate(models_file.models):
        if ids.count(m.id) > 1:
            raise CatalogError(str(models_path), f"models[{i}].id", f"duplicate model id {m.id!r}")
        for where, tags in _model_refs(m):
            _check_refs(models_path, models_file.sources, tags, f"models[{i}].{where}")
    models = {m.id: m for m in models_file.models}
    sources_seen: dict[str, tuple[Path, Source]] = {
        t: (models_path, s) for t, s in models_file.sources.items()
    }
    provider_files: dict[str, ProviderFile] = {}
    paths: dict[str, Path] = {}
    for path in sorted(root.glob("*.yaml")):
        if path.name == "models.yaml":
            continue
        pf: ProviderFile = validate_file(path, ProviderFile)
        for tag, source in pf.sources.items():
            first = sources_seen.setdefault(tag, (path, source))
            if first[1] != source:
                raise CatalogError(
                    str(path),
                    f"sources.{tag}",
                    f"tag defined differently in {first[0].name}; one tag, one source",
                )
        known = {**models_file.sources, **pf.sources}
        prov = pf.provider
        if prov.id in provider_files:
            raise CatalogError(str(path), "provider.id", f"duplicate provider id {prov.id!r}")
        _check_refs(path, known, prov.source, "provider.source")
        if prov.credit:
            _check_refs(path, known, prov.credit.source, "provider.credit.source")
        for i, off in enumerate(pf.offerings):
            if off.model not in models:
                raise CatalogError(
                    str(path),
                    f"offerings[{i}].model",
                    f"unknown model {off.model!r}; known: {', '.join(ids)}",
                )
            model = models[off.model]
            if off.sizes is not None:
                model = model.model_copy(update={"sizes": off.sizes})
                _check_refs(path, known, off.sizes.source, f"offerings[{i}].sizes.source")
            _check_refs(path, known, off.source, f"offerings[{i}].source")
            for j, event in enumerate(off.lifecycle):
                _check_refs(path, known, event.source, f"offerings[{i}].lifecycle[{j}].source")
            for j, price in enumerate(off.prices):
                for where, tags in _price_refs(price):
                    _check_refs(path, known, tags, f"offerings[{i}].prices[{j}].{where}")
                for k, checked in enumerate((price, *price.alternatives)):
                    where = f"offerings[{i}].prices[{j}]" + (f".alternatives[{k - 1}]" if k else "")
                    _check_price(path, where, checked, model, prov)
        provider_files[prov.id] = pf
        paths[prov.id] = path
    for pid, pf in provider_files.items():
        for i, off in enumerate(pf.offerings):
            if off.upstream is not None and not any(
                o.model == off.model for o in getattr(provider_files.get(off.upstream), "offerings", ())
            ):
                raise CatalogError(
                    str(paths[pid]),
                    f"offerings[{i}].upstream",
                    f"no offering of {off.model} at {off.upstream!r} to take the lifecycle from",
                )
    return Catalog(models_file, provider_files, root)
