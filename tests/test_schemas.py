"""JSON Schemas of the YAML people write: generated from the models, committed up to date, named by every
bundled YAML file's first line, and in agreement with the loaders on what is valid."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from imgkit.analysis.projection import load_workload
from imgkit.catalog import load_yaml
from imgkit.cli import main
from imgkit.errors import SpecError
from imgkit.runs.spec import load_spec
from imgkit.schemas import DECIMAL_TEXT, SCHEMAS, check_schemas, schema_texts, write_schemas

REPO = Path(__file__).resolve().parents[1]
SCHEMA_DIR = REPO / "schemas"
#: every bundled YAML file people write or copy, and the schema it must name
BUNDLED = {
    "data/catalog/models.yaml": "catalog-models.schema.json",
    "data/catalog/openai.yaml": "catalog-provider.schema.json",
    "data/catalog/fal.yaml": "catalog-provider.schema.json",
    "data/catalog/lumenfall.yaml": "catalog-provider.schema.json",
    "data/catalog/gemini-api.yaml": "catalog-provider.schema.json",
    "data/catalog/vertex-ai.yaml": "catalog-provider.schema.json",
    "data/catalog/bfl.yaml": "catalog-provider.schema.json",
    "data/catalog/replicate.yaml": "catalog-provider.schema.json",
    "data/catalog/together.yaml": "catalog-provider.schema.json",
    "data/catalog/stability.yaml": "catalog-provider.schema.json",
    "examples/offline_batch.yaml": "experiment-spec.schema.json",
    "examples/offline_providers.yaml": "experiment-spec.schema.json",
    "examples/offline_tiers.yaml": "experiment-spec.schema.json",
    "data/workloads/example.yaml": "workload.schema.json",
}
#: bundled YAML files of kinds no pydantic model validates yet (so no schema is generated for them)
WITHOUT_SCHEMA = {
    "examples/import_openrouter.yaml": "an import mapping, checked by imgkit.records.importers.mapped",
}
HEADER = re.compile(r"^# yaml-language-server: \$schema=(\S+)\n")


def as_an_editor_reads(path: Path) -> Any:
    """The YAML as a language server sees it: numbers are numbers (here exact ``Decimal``), dates are text."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value.isoformat() if isinstance(value, dt.date) else value

    return plain(load_yaml(path))


def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))


def problems(document: Any, name: str) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema(name))
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


# --- generated, committed, named ------------------------------------------------------------------------------------


def test_the_committed_schemas_equal_freshly_generated_ones():
    assert check_schemas(SCHEMA_DIR) == {}, "run make schemas"
    assert sorted(p.name for p in SCHEMA_DIR.glob("*.json")) == sorted(e.name for e in SCHEMAS)


def test_generating_twice_gives_the_same_bytes():
    assert schema_texts() == schema_texts()


@pytest.mark.parametrize("entry", SCHEMAS, ids=lambda e: e.name)
def test_each_schema_is_a_valid_json_schema_that_refuses_unknown_keys(entry):
    document = schema(entry.name)
    jsonschema.Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["additionalProperties"] is False and document["title"].startswith("imgkit")
    assert not any(name.startswith("_") for name in document.get("$defs", {}))


def test_every_bundled_yaml_file_is_listed_here():
    found = {
        str(p.relative_to(REPO))
        for folder in ("data/catalog", "data/workloads", "examples")
        for p in (REPO / folder).rglob("*.yaml")
    }
    assert found == set(BUNDLED) | set(WITHOUT_SCHEMA)


@pytest.mark.parametrize(("file", "name"), BUNDLED.items())
def test_a_bundled_yaml_file_names_its_schema_in_its_first_line_and_validates(file, name):
    path = REPO / file
    header = HEADER.match(path.read_text(encoding="utf-8"))
    assert header, f"{file} must start with # yaml-language-server: $schema=..."
    named = (path.parent / header.group(1)).resolve()
    assert named == SCHEMA_DIR / name
    assert problems(as_an_editor_reads(path), name) == []


def test_a_spec_as_run_validates_with_its_run_record(tmp_path, simulator):
    spec = yaml.safe_load((REPO / "examples" / "offline_tiers.yaml").read_text())
    spec.update(simulate={"url": simulator.url}, output_dir=str(tmp_path / "run"), repeats=1)
    spec["prompts"] = spec["prompts"][:1] if isinstance(spec["prompts"], list) else spec["prompts"]
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    (tmp_path / "prompts").symlink_to(REPO / "examples" / "prompts")
    assert main(["run", str(path), "--no-progress", "--json"]) == 0  # no simulated failures: complete
    as_run = as_an_editor_reads(tmp_path / "run" / "spec.yaml")
    assert "run" in as_run and problems(as_run, "experiment-spec.schema.json") == []


# --- the schemas and the loaders agree ------------------------------------------------------------------------------


def _workload() -> dict[str, Any]:
    return as_an_editor_reads(REPO / "data" / "workloads" / "example.yaml")


def _spec() -> dict[str, Any]:
    return as_an_editor_reads(REPO / "examples" / "offline_tiers.yaml")


def _set(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    *parents, last = path.split(".")
    node = changed
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return changed


def _loads(kind: str, document: dict[str, Any], tmp_path: Path) -> bool:
    """Whether imgkit's own loader accepts ``document`` (written as YAML beside the bundled inputs)."""
    folder = tmp_path / kind
    folder.mkdir()
    path = folder / "file.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    try:
        if kind == "workload":
            load_workload(path)
        else:
            (folder / "prompts").symlink_to(REPO / "examples" / "prompts")
            load_spec(path)
    except SpecError:
        return False
    return True


CASES = [
    # kind, key path, value, valid
    ("workload", "volume.growth_per_month", Decimal("0.05"), True),  # a number: exact from its text
    ("workload", "volume.growth_per_month", "0.05", True),  # the same as a string
    ("workload", "volume.growth_per_month", "5 %", False),
    ("workload", "batch_share", 2, False),  # over the maximum
    ("workload", "mix.0.shares", "0.6", False),  # a misspelled key
    ("workload", "mix.0.mode", "upscale", False),
    ("workload", "targets", "all", True),  # short for [all]
    ("workload", "targets", "every", False),
    ("workload", "reliability.max_attempts", 0, False),
    ("spec", "budget_usd", "5.00", True),
    ("spec", "budget_usd", 5, True),
    ("spec", "budget_usd", "five dollars", False),
    ("spec", "concurrency", 0, False),
    ("spec", "repeat", 2, False),  # a misspelled key
    ("spec", "name", "has spaces", False),
    ("spec", "simulate", {"time_scale": 0.5, "fault_rate": 0.1}, True),
    ("spec", "simulate", {"time_scale": 0.5, "fault_rate": 2}, False),
    ("spec", "simulate", {"timescale": 0.5}, False),
    ("spec", "targets.0.mode", "upscale", False),
]


@pytest.mark.parametrize(("kind", "path", "value", "valid"), CASES)
def test_schema_and_loader_agree(kind, path, value, valid, tmp_path):
    document = _set(_workload() if kind == "workload" else _spec(), path, value)
    name = "workload.schema.json" if kind == "workload" else "experiment-spec.schema.json"
    assert (problems(document, name) == []) is valid
    plain = json.loads(json.dumps(document, default=str))  # YAML of the same values (Decimal as text)
    if isinstance(value, Decimal):
        plain = _set(plain, path, float(value))
    assert _loads(kind, plain, tmp_path) is valid


@pytest.mark.parametrize(
    ("text", "numeral"),
    [
        ("5.00", True),
        ("-0.25", True),
        (".5", True),
        ("1e-6", True),
        ("1_000", True),
        ("0x10", False),
        ("1,000", False),
        ("NaN", False),
        ("", False),
        ("5 USD", False),
    ],
)
def test_a_decimal_string_is_a_numeral(text, numeral):
    assert bool(re.match(DECIMAL_TEXT, text)) is numeral


def test_a_catalog_price_given_as_a_number_or_a_string_validates_alike():
    document = as_an_editor_reads(REPO / "data" / "catalog" / "openai.yaml")
    i, j = next(
        (i, j)
        for i, offering in enumerate(document["offerings"])
        for j, price in enumerate(offering["prices"])
        if price.get("per_image")
    )
    for usd, valid in ((Decimal("0.011"), True), ("0.011", True), (0, True), (-1, False), ("$0.011", False)):
        changed = copy.deepcopy(document)
        changed["offerings"][i]["prices"][j]["per_image"][0]["usd"] = usd
        assert (problems(changed, "catalog-provider.schema.json") == []) is valid, usd


# --- the command ---------------------------------------------------------------------------------------------------


def test_imgkit_schemas_writes_the_committed_files(tmp_path, capsys):
    assert main(["schemas", "--out", str(tmp_path)]) == 0
    for entry in SCHEMAS:
        assert (tmp_path / entry.name).read_bytes() == (SCHEMA_DIR / entry.name).read_bytes()
    assert capsys.readouterr().out.count("wrote ") == len(SCHEMAS)
    assert main(["schemas", "--out", str(tmp_path), "--check"]) == 0


def test_imgkit_schemas_check_names_a_stale_or_missing_file(tmp_path, capsys):
    write_schemas(tmp_path)
    (tmp_path / "workload.schema.json").write_text("{}\n")
    (tmp_path / "catalog-models.schema.json").unlink()
    assert main(["schemas", "--out", str(tmp_path), "--check"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"imgkit: {tmp_path / 'catalog-models.schema.json'}: missing; run make schemas",
        f"imgkit: {tmp_path / 'workload.schema.json'}: out of date; run make schemas",
    ]
    assert (tmp_path / "workload.schema.json").read_text() == "{}\n"  # --check writes nothing


def test_imgkit_schemas_without_out_prints_every_schema(capsys):
    assert main(["schemas"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {entry.name: schema(entry.name) for entry in SCHEMAS}
    assert main(["schemas", "--check"]) == 2
