"""Names from elsewhere onto the catalog's: a source's provider and model names as catalog ids, as data.

The rules live in a YAML file per source (``data/imports/<source>.yaml``: ``providers``, ``models``,
``api_bases``) and in the catalog itself: a catalog model id names itself, an offering's ``provider_model_id``
and endpoint ids name its model at that provider, and a provider's ``base_url`` host names the provider. Each
function maps a column's distinct values once and joins them back (a log has few distinct names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import polars as pl

from imgkit.catalog import Catalog, default_catalog_dir, load_yaml
from imgkit.errors import SpecError

__all__ = ["NameRules", "default_rules_path", "load_name_rules"]

_KEYS = {"source", "providers", "models", "api_bases"}


def default_rules_path(source: str) -> Path:
    """``data/imports/<source>.yaml`` beside the catalog."""
    return default_catalog_dir().parent / "imports" / f"{source}.yaml"


@dataclass(frozen=True)
class NameRules:
    """Provider and model names of one source, mapped onto a catalog."""

    catalog: Catalog
    providers: dict[str, str] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    api_bases: tuple[tuple[re.Pattern[str], str], ...] = ()

    def provider(self, name: str | None) -> str | None:
        """The catalog provider id of a source's provider name (the name itself when nothing maps it)."""
        if not name:
            return None
        return self.providers.get(name, name)

    def routed_provider(self, api_base: str | None) -> str | None:
        """The provider an ``api_base`` URL belongs to: a rule's, else a catalog provider's by host."""
        if not api_base:
            return None
        for pattern, provider in self.api_bases:
            if pattern.match(api_base):
                return provider
        host = urlsplit(api_base).hostname
        for entry in self.catalog.providers.values():
            if host and urlsplit(entry.base_url).hostname == host:
                return entry.id
        return None

    def model(self, name: str | None, provider: str | None) -> str | None:
        """The catalog model id of a source's model name at ``provider`` (the name itself when unknown)."""
        if not name:
            return None
        if name in self.models:
            return self.models[name]
        if name in self.catalog.models:
            return name
        for (provider_id, model_id), offering in self.catalog.offerings.items():
            if provider is not None and provider_id != provider:
                continue
            if name == offering.provider_model_id or name in offering.endpoint.values():
                return model_id
        return name

    def known(self, model: str | None) -> bool:
        return model is not None and model in self.catalog.models

    def map_column(self, frame: pl.DataFrame, function: Any, *columns: str, dtype=pl.String) -> pl.Series:
        """``function(*values)`` for each row, computed once per distinct combination of ``columns``."""
        distinct = frame.select(columns).unique()
        values = [function(*row) for row in distinct.iter_rows()]
        mapped = distinct.with_columns(pl.Series("_mapped", values, dtype=dtype))
        return frame.select(columns).join(
            mapped, on=list(columns), how="left", nulls_equal=True, maintain_order="left"
        )["_mapped"]


def load_name_rules(catalog: Catalog, path: str | Path) -> NameRules:
    """Read a names file (see the module doc); a malformed one is a SpecError naming the key."""
    file = str(path)
    raw = load_yaml(path, exact=False, error=SpecError) or {}
    if not isinstance(raw, dict):
        raise SpecError(file, "", "a mapping with providers, models and api_bases is expected")
    unknown = set(raw) - _KEYS
    if unknown:
        raise SpecError(file, sorted(unknown)[0], f"unknown key; allowed: {', '.join(sorted(_KEYS))}")
    tables: dict[str, dict[str, str]] = {}
    for key in ("providers", "models"):
        table = raw.get(key) or {}
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise SpecError(file, key, "a mapping of names to catalog ids is expected")
        tables[key] = {str(k): v for k, v in table.items()}
    for name, model in tables["models"].items():
        if model not in catalog.models:
            raise SpecError(file, f"models.{name}", f"{model!r} is not a catalog model")
    rules = []
    for i, rule in enumerate(raw.get("api_bases") or []):
        if not isinstance(rule, dict) or set(rule) != {"pattern", "provider"}:
            raise SpecError(file, f"api_bases[{i}]", "a mapping with pattern and provider is expected")
        try:
            pattern = re.compile(str(rule["pattern"]))
        except re.error as exc:
            raise SpecError(file, f"api_bases[{i}].pattern", f"not a regular expression ({exc})") from None
        if rule["provider"] not in catalog.providers:
            raise SpecError(
                file, f"api_bases[{i}].provider", f"{rule['provider']!r} is not a catalog provider"
            )
        rules.append((pattern, str(rule["provider"])))
    return NameRules(catalog, tables["providers"], tables["models"], tuple(rules))
