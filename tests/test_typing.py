"""Type checkers see the public API: each package's lazy names are imported for them under ``if TYPE_CHECKING:``
beside the lazy export table, name for name, so mypy and IDEs resolve ``imgkit.quote`` to the function itself
(``make typecheck`` runs mypy over the whole package; README: Type checking)."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest
from mypy import api as mypy_api

import imgkit

ROOT = Path(imgkit.__file__).parent.parent
LAZY_PACKAGES = sorted(
    path
    for path in (ROOT / "imgkit").rglob("__init__.py")
    if "lazy_exports(" in path.read_text() and "def lazy_exports" not in path.read_text()
)


def table_and_type_checking_imports(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """``(_EXPORTS, {name: module})`` of the imports under the file's ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    table: dict[str, str] = {}
    imported: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_EXPORTS" for t in node.targets):
            table = ast.literal_eval(node.value)
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for inner in node.body:
                assert isinstance(inner, ast.ImportFrom) and inner.module, ast.unparse(inner)
                for alias in inner.names:
                    # `name as name`: an explicit re-export, which mypy's no_implicit_reexport asks for
                    assert alias.asname == alias.name, ast.unparse(inner)
                    imported[alias.name] = inner.module
    return table, imported


def test_every_lazy_package_is_found():
    assert [p.relative_to(ROOT).as_posix() for p in LAZY_PACKAGES] == [
        "imgkit/__init__.py",
        "imgkit/analysis/__init__.py",
        "imgkit/analysis/engines/__init__.py",
        "imgkit/plots/__init__.py",
        "imgkit/records/__init__.py",
        "imgkit/records/importers/__init__.py",
        "imgkit/runs/__init__.py",
    ]


@pytest.mark.parametrize("path", LAZY_PACKAGES, ids=lambda p: p.parent.name)
def test_type_checkers_import_exactly_the_lazy_table(path):
    table, imported = table_and_type_checking_imports(path)
    assert table and imported == table


def run_mypy(snippet: str, tmp_path: Path) -> tuple[str, int]:
    """mypy with the project's settings on ``snippet``; starts from a copy of the cache ``make lint`` left."""
    cache = tmp_path / "mypy_cache"
    if (ROOT / ".mypy_cache").is_dir():
        shutil.copytree(ROOT / ".mypy_cache", cache)
    out, err, status = mypy_api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--no-warn-unused-configs",
            "--cache-dir",
            str(cache),
            "-c",
            snippet,
        ]
    )
    return out + err, status


def test_mypy_resolves_the_lazy_names_to_their_definitions(tmp_path):
    snippet = "\n".join(
        [
            "import imgkit",
            "from imgkit.analysis import performance_table",
            "from imgkit.runs import Budget",
            "reveal_type(imgkit.quote)",
            "reveal_type(performance_table)",
            "reveal_type(Budget)",
            "reveal_type(imgkit.ImgkitError)",
            "imgkit.qoute",
        ]
    )
    out, status = run_mypy(snippet, tmp_path)
    revealed = [line for line in out.splitlines() if "Revealed type" in line]
    assert len(revealed) == 4, out
    assert "def (model: str, provider: str | None =" in revealed[0] and revealed[0].endswith(
        'imgkit.pricing.Cost"'
    ), out
    assert "def (" in revealed[1] and "polars" in revealed[1], revealed[1]
    assert "imgkit.money.Budget" in revealed[2], revealed[2]
    assert revealed[3].endswith('-> imgkit.errors.ImgkitError"'), revealed[3]
    assert not any("Any" == line.rsplit('"', 2)[-2] for line in revealed), out
    # a name that is not in the table is an error, not a silent Any
    assert 'Module has no attribute "qoute"' in out, out
    assert status == 1
