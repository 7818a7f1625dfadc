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
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from imgkit._files import read_utf8, text_position
from imgkit._strict import key_path
from imgkit.catalog._schema import (
    Auth,
    Batch,
    FieldRule,
    ImagePrice,
    InputImageTokens,
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
    Source,
    TokenRates,
    parse_ratio,
    parse_wxh,
)
from imgkit.errors import CatalogError, ImgkitError, UnknownNameError

__all__ = [
    "STALE_AFTER_DAYS",
    "Auth",
    "Batch",
    "Catalog",
    "FieldRule",
    "ImagePrice",
    "InputImageTokens",
    "Model",
    "Offering",
    "OutputTokens",
    "Price",
    "Provider",
    "RateLimits",
    "Rounding",
    "SizeRules",
    "Source",
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

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:
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


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    text = loader.construct_scalar(node).replace("_", "")
    if text.lower() in (".inf", "+.inf", "-.inf", ".nan"):
        raise yaml.constructor.ConstructorError(None, None, f"non-finite number {text!r}", node.start_mark)
    return Decimal(text)


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def load_yaml(path: str | Path, *, exact: bool = True, error: type[ImgkitError] = CatalogError) -> Any:
    """Read a UTF-8 YAML file; every problem is one ``error(file, where, problem)`` naming line and column.

    ``exact``: floats are ``Decimal`` built from their text (catalog, specs, workloads); else Python floats
    (parameters of notebooks, which Papermill writes as literals). A key written twice in one mapping is an
    error, as YAML says, instead of PyYAML's silent last-one-wins. ``error`` is :class:`CatalogError` or
    :class:`~imgkit.errors.SpecError` (same arguments).
    """
    return parse_yaml(read_utf8(path, error), str(path), exact=exact, error=error)


def parse_yaml(
    text: str, file: str = "<yaml>", *, exact: bool = True, error: type[ImgkitError] = CatalogError
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


def validate_file(path: str | Path, schema: type, data: Any = None) -> Any:
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
        """Providers serving a model, the model's creator first."""
        self.model(model_id)
        ids = [p for (p, m) in self.offerings if m == model_id]
        creator = self.models[model_id].creator.lower()
        return sorted(ids, key=lambda p: (p != creator, p))

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

    def price(self, model_id: str, provider_id: str | None = None, on: dt.date | None = None) -> Price:
        """The price schedule in force on ``on`` (default today) for the model at the provider."""
        return self.offering(model_id, provider_id).price_on(on, provider_id)

    def source(self, tag: str) -> Source:
        try:
            return self.sources[tag]
        except KeyError:
            raise UnknownNameError("source", tag, list(self.sources)) from None

    def source_records(self, tags: Iterable[str], today: dt.date | None = None) -> list[dict[str, Any]]:
        """``{"tag", "title", "url", "checked", "age_days", "stale"}`` per known tag, in order.

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
                    "checked": source.checked,
                    "age_days": age,
                    "stale": age > STALE_AFTER_DAYS,
                }
            )
        return records

    def cite(self, tags: Iterable[str]) -> str:
        """A short human citation for source tags: ``title (checked YYYY-MM-DD)``; unknown tags as is."""
        out = []
        for t in tags:
            s = self.sources.get(t)
            out.append(f"{s.title} (checked {s.checked})" if s else t)
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


@functools.lru_cache(maxsize=8)
def _load_catalog(root: Path) -> Catalog:
    models_path = root / "models.yaml"
    models_file: ModelsFile = validate_file(models_path, ModelsFile)
    ids = [m.id for m in models_file.models]
    for i, m in enumerate(models_file.models):
        if ids.count(m.id) > 1:
            raise CatalogError(str(models_path), f"models[{i}].id", f"duplicate model id {m.id!r}")
        _check_refs(models_path, models_file.sources, m.source, f"models[{i}].source")
        if m.output_tokens:
            _check_refs(
                models_path, models_file.sources, m.output_tokens.source, f"models[{i}].output_tokens.source"
            )
    provider_files: dict[str, ProviderFile] = {}
    for path in sorted(root.glob("*.yaml")):
        if path.name == "models.yaml":
            continue
        pf: ProviderFile = validate_file(path, ProviderFile)
        known = {**models_file.sources, **pf.sources}
        if pf.provider.id in provider_files:
            raise CatalogError(str(path), "provider.id", f"duplicate provider id {pf.provider.id!r}")
        for i, off in enumerate(pf.offerings):
            if off.model not in ids:
                raise CatalogError(
                    str(path),
                    f"offerings[{i}].model",
                    f"unknown model {off.model!r}; known: {', '.join(ids)}",
                )
            for j, price in enumerate(off.prices):
                _check_refs(path, known, price.source, f"offerings[{i}].prices[{j}].source")
        provider_files[pf.provider.id] = pf
    return Catalog(models_file, provider_files, root)
