"""JSON Schemas of the YAML files people write, generated from the pydantic models that validate them.

* ``catalog-models.schema.json``: ``data/catalog/models.yaml`` (:class:`imgkit.catalog.ModelsFile`);
* ``catalog-provider.schema.json``: ``data/catalog/<provider>.yaml`` (:class:`imgkit.catalog.ProviderFile`);
* ``experiment-spec.schema.json``: experiment specs such as ``examples/offline_tiers.yaml``
  (``imgkit.runs.spec.SpecModel``), a spec as run (``RUN_DIR/spec.yaml``) too;
* ``workload.schema.json``: workloads such as ``data/workloads/example.yaml``
  (``imgkit.analysis.projection.WorkloadFile``).

``imgkit schemas --out schemas`` (``make schemas``) writes them into the repository's ``schemas/`` folder,
where they are committed; a test checks that they equal freshly generated ones, so they are never edited by
hand. A YAML file names its schema in its first line, ``# yaml-language-server: $schema=../schemas/...``,
and editors with a YAML language server then validate and complete it as it is typed.

The schemas describe the YAML as written, which is what the models accept: a money amount or rate
(``Decimal``) is a number or a string holding a decimal numeral (the YAML loader builds a ``Decimal`` from a
number's literal text, so both are exact), a date is ``YYYY-MM-DD``; other numbers are numbers (the loaders
also read a count or a time scale written in quotes; the schemas ask for the number). Checks that need the
catalog or other files (a model id that exists, shares summing to exactly 1, source tags defined) stay with
the loaders.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import core_schema

__all__ = ["DECIMAL_TEXT", "SCHEMAS", "SchemaFile", "check_schemas", "json_schema", "write_schemas"]

#: JSON Schema dialect of the files (what pydantic generates)
DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: a decimal numeral as a string: "5.00", "-0.25", "1e-6" (what ``Decimal`` reads from a YAML string)
DECIMAL_TEXT = r"^\s*[+-]?(\d[\d_]*(\.[\d_]*)?|\.\d[\d_]*)([eE][+-]?\d+)?\s*$"


@dataclass(frozen=True)
class SchemaFile:
    """One schema file: its name, the model it comes from and what it says about itself."""

    name: str
    model: Callable[[], type[BaseModel]]
    title: str
    description: str
    #: changes of the generated schema where the YAML accepts more than the model's own fields say
    adjust: Callable[[dict[str, Any]], None] | None = None


def _catalog_models() -> type[BaseModel]:
    from imgkit.catalog import ModelsFile

    return ModelsFile


def _catalog_provider() -> type[BaseModel]:
    from imgkit.catalog import ProviderFile

    return ProviderFile


def _spec() -> type[BaseModel]:
    from imgkit.runs.spec import SpecModel

    return SpecModel


def _workload() -> type[BaseModel]:
    from imgkit.analysis.projection import WorkloadFile

    return WorkloadFile


def _spec_as_run(schema: dict[str, Any]) -> None:
    """A spec as run (``RUN_DIR/spec.yaml``) carries the record of its run under ``run:``; loading ignores it."""
    schema["properties"]["run"] = {
        "type": "object",
        "description": "the record of a run, written by imgkit run into RUN_DIR/spec.yaml; ignored when loading",
    }


def _targets_all(schema: dict[str, Any]) -> None:
    """``targets: all`` is short for ``targets: [all]`` (every offering that prices the mix)."""
    listed = schema["properties"]["targets"]
    schema["properties"]["targets"] = {
        "anyOf": [listed, {"const": "all", "type": "string"}],
        "description": "the options priced: model x provider x tier mappings, or all (every offering "
        "that prices the mix)",
    }


SCHEMAS: tuple[SchemaFile, ...] = (
    SchemaFile(
        "catalog-models.schema.json",
        _catalog_models,
        "imgkit catalog: models",
        "What each image model can do (data/catalog/models.yaml): modes, sizes, qualities, tokens, sources.",
    ),
    SchemaFile(
        "catalog-provider.schema.json",
        _catalog_provider,
        "imgkit catalog: one provider",
        "How a provider is reached and what each model costs there (data/catalog/<provider>.yaml): "
        "auth, field rules, dated prices with their sources.",
    ),
    SchemaFile(
        "experiment-spec.schema.json",
        _spec,
        "imgkit experiment spec",
        "Prompts x targets x repeats for imgkit run, with concurrency, rate limits, retries, a budget and "
        "the simulated provider (imgkit/runs/spec.py; examples/offline_tiers.yaml).",
        _spec_as_run,
    ),
    SchemaFile(
        "workload.schema.json",
        _workload,
        "imgkit workload",
        "What a product will ask for, for imgkit project: volume and growth, the mix of requests, "
        "reliability, batch share and the options to price (imgkit/analysis/projection.py).",
        _targets_all,
    ),
)


class _YamlJsonSchema(GenerateJsonSchema):
    """pydantic's generator, with a decimal numeral's text as the string form of a ``Decimal``."""

    def get_decimal_pattern(self, schema: core_schema.DecimalSchema) -> str | None:
        return super().get_decimal_pattern(schema) or DECIMAL_TEXT


def _public_names(schema: dict[str, Any]) -> dict[str, Any]:
    """Definitions named without the private underscore of their classes (``_MixSpec`` -> ``MixSpec``)."""
    defs = schema.get("$defs", {})
    renames = {name: name.lstrip("_") for name in defs if name.startswith("_")}
    if not renames:
        return schema
    text = json.dumps(schema)
    for old, new in renames.items():
        text = text.replace(f'"#/$defs/{old}"', f'"#/$defs/{new}"').replace(
            f'"title": "{old}"', f'"title": "{new}"'
        )
    schema = json.loads(text)
    schema["$defs"] = {renames.get(k, k): v for k, v in schema["$defs"].items()}
    return schema


def json_schema(entry: SchemaFile) -> dict[str, Any]:
    """The JSON Schema of one file kind, as written to ``schemas/<entry.name>``."""
    generated = entry.model().model_json_schema(mode="validation", schema_generator=_YamlJsonSchema)
    generated = _public_names(generated)
    if entry.adjust is not None:
        entry.adjust(generated)
    head = {"$schema": DIALECT, "$id": entry.name, "title": entry.title, "description": entry.description}
    return {**head, **{k: v for k, v in generated.items() if k not in ("title", "description")}}


def schema_texts() -> dict[str, str]:
    """``{file name: text}`` of every schema file (stable: two runs give the same bytes)."""
    return {
        entry.name: json.dumps(json_schema(entry), indent=2, ensure_ascii=False) + "\n" for entry in SCHEMAS
    }


def write_schemas(directory: str | Path) -> list[Path]:
    """Write every schema file into ``directory`` (created when missing); the paths written."""
    from imgkit._files import write_atomically

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in schema_texts().items():
        write_atomically(out / name, text)
        written.append(out / name)
    return written


def check_schemas(directory: str | Path) -> Mapping[str, str]:
    """The schema files in ``directory`` that are missing or differ from freshly generated ones, and how."""
    problems = {}
    for name, text in schema_texts().items():
        path = Path(directory) / name
        if not path.is_file():
            problems[name] = "missing"
        elif path.read_text(encoding="utf-8") != text:
            problems[name] = "out of date"
    return problems
