"""The house: imgkit's top-level parts stand on floors, and imports run one way, from a floor to its own or a
lower one, never up (the README's Layout section; issue 13).

Read from the code's own imports with ``ast``: every module of ``imgkit/``, imports inside functions included (a
lazy import hides a cycle, it does not remove it); ``if TYPE_CHECKING:`` blocks and the packages' lazy export
tables (strings, not imports) are left out. ``from imgkit import quote`` counts as an import of the module the
top-level lazy table names (``imgkit.pricing``).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from dataclasses import dataclass
from pathlib import Path

import pytest

import imgkit
from imgkit.errors import ImgkitError

PACKAGE = Path(imgkit.__file__).parent

# the floors, lowest first; every top-level part of imgkit/ stands on exactly one (README: Layout)
FLOORS: dict[int, tuple[str, set[str]]] = {
    1: (
        "base",
        {"errors", "money", "provenance", "secret_policy", "formats", "_files", "_lazy", "_memo", "_strict"},
    ),
    2: ("core", {"catalog", "params", "pricing", "stats", "keys"}),
    3: ("records", {"records"}),
    4: ("analysis", {"analysis"}),
    5: ("edges", {"providers", "simulator", "runs"}),
    6: (
        "presentation",
        {
            "plots",
            "grids",
            "votes",
            "reports",
            "report_params",
            "report_text",
            "tables",
            "price_table",
            "schemas",
        },
    ),
    7: ("entry", {"cli"}),
}
FLOOR_OF = {part: floor for floor, (_, parts) in FLOORS.items() for part in parts}


@dataclass(frozen=True)
class Import:
    """One import of an imgkit module (``target``, where the names live) by ``module``, with the names it takes
    from it and the module as the import statement spells it (``written``: a package whose lazy table holds them)."""

    module: str
    line: int
    target: str
    names: tuple[str, ...]
    written: str

    @property
    def source_part(self) -> str:
        return part_of(self.module)

    @property
    def target_part(self) -> str:
        return part_of(self.target)

    def __str__(self) -> str:
        names = f" ({', '.join(self.names)})" if self.names else ""
        return f"{self.module}:{self.line} imports {self.target}{names}"


def part_of(module: str) -> str:
    """The top-level part of ``imgkit.x.y`` (``x``); ``""`` for the package itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def lazy_table(module: str) -> dict[str, str]:
    """The package's lazy export table ``{name: home module}`` (``_EXPORTS``), read from its source."""
    path = PACKAGE.parent.joinpath(*module.split("."), "__init__.py")
    if not path.exists():
        return {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_EXPORTS" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.is_dir() or path.with_suffix(".py").exists()


def imports_of(path: Path) -> list[Import]:
    """Every import of an imgkit module in ``path``, outside ``if TYPE_CHECKING:`` blocks."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and is_type_checking(node.test):
            skipped |= {id(inner) for branch in node.body for inner in ast.walk(branch)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [Import(module, node.lineno, alias.name, (), alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            table = lazy_table(target) if is_module(target) else {}
            by_home: dict[str, list[str]] = {}
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                home = submodule if is_module(submodule) else table.get(alias.name, target)
                by_home.setdefault(home, []).append(alias.name)
            found += [
                Import(module, node.lineno, home, tuple(names), target) for home, names in by_home.items()
            ]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append(Import(module, node.lineno, node.args[0].value, (), node.args[0].value))
    return [i for i in found if i.target == "imgkit" or i.target.startswith("imgkit.")]


MODULE_FILES = sorted(PACKAGE.rglob("*.py"))
IMPORTS = [i for path in MODULE_FILES for i in imports_of(path)]
BETWEEN_PARTS = [i for i in IMPORTS if i.target_part and i.source_part != i.target_part]


def top_level_parts() -> set[str]:
    return {
        p.name.removesuffix(".py")
        for p in PACKAGE.iterdir()
        if (p.suffix == ".py" and p.name != "__init__.py") or (p.is_dir() and (p / "__init__.py").exists())
    }


def test_every_top_level_part_stands_on_one_floor():
    parts = top_level_parts()
    assert parts - FLOOR_OF.keys() == set(), (
        "parts on no floor: add them to FLOORS and to the README's Layout"
    )
    assert FLOOR_OF.keys() - parts == set(), "floors name parts that no longer exist"


def test_the_reader_sees_lazy_and_relative_imports():
    # the runner's provider client is imported inside a function; the analysis package's lazy table (which
    # names imgkit.records.scan) is not an import
    assert any(i.module == "imgkit.runs.runner" and i.target_part == "providers" for i in IMPORTS)
    assert not any(i.module == "imgkit.analysis" and i.target_part == "records" for i in IMPORTS)


def test_no_part_imports_a_part_on_a_higher_floor():
    upward = [
        f"{i} (floor {FLOOR_OF[i.source_part]} -> {FLOOR_OF[i.target_part]})"
        for i in BETWEEN_PARTS
        if i.source_part in FLOOR_OF and FLOOR_OF[i.target_part] > FLOOR_OF[i.source_part]
    ]
    assert upward == []


def test_the_package_itself_imports_only_the_base_floor():
    # every ``import imgkit.x`` runs imgkit/__init__.py first: it may lean on nothing above the base
    eager = [i for i in IMPORTS if i.module == "imgkit"]
    assert eager and all(FLOOR_OF[i.target_part] == 1 for i in eager), eager


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one part (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_cycles_finds_a_circle_and_only_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}}) == []


def test_no_cycle_between_top_level_parts():
    edges: dict[str, set[str]] = {}
    for i in BETWEEN_PARTS:
        edges.setdefault(i.source_part, set()).add(i.target_part)
    assert cycles(edges) == []


def test_no_part_imports_another_parts_private_names():
    # ``imgkit._files`` and the other private base modules are the package's own helpers, open to every part;
    # below a part, a leading underscore (a module or a name) means "this part's business only"
    private = [
        str(i)
        for i in BETWEEN_PARTS
        if any(p.startswith("_") for p in i.written.split(".")[2:])
        or any(n.startswith("_") and not n.startswith("__") for n in i.names)
    ]
    assert private == []


def all_imgkit_modules() -> list[str]:
    return ["imgkit"] + [info.name for info in pkgutil.walk_packages(imgkit.__path__, "imgkit.")]


def every_subclass(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | every_subclass(sub)
    return found


def test_every_imgkit_error_is_defined_in_errors_py():
    for name in all_imgkit_modules():
        importlib.import_module(name)
    elsewhere = sorted(
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in every_subclass(ImgkitError)
        if cls.__module__.startswith("imgkit") and cls.__module__ != "imgkit.errors"
    )
    assert elsewhere == []
    assert len(every_subclass(ImgkitError)) > 10


@pytest.mark.parametrize("floor", sorted(FLOORS))
def test_the_readme_layout_names_each_floor_and_its_parts(floor):
    readme = (PACKAGE.parent / "README.md").read_text()
    layout = readme[readme.index("## Layout") :]
    name, parts = FLOORS[floor]
    assert f"{floor} {name}" in layout
    for part in parts:
        shown = f"{part}/" if (PACKAGE / part).is_dir() else f"{part}.py"
        assert shown in layout, f"the README's Layout does not show {shown}"


def test_errors_module_is_where_the_tree_is_documented():
    # the tree's docstring names every exception class the module defines
    import imgkit.errors as errors

    classes = [
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, ImgkitError) and value.__module__ == "imgkit.errors"
    ]
    assert all(name in (errors.__doc__ or "") for name in classes)
