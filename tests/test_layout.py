"""The shape of `app/`: every import follows the layers that `app/README.md` lists, no file
is over 400 lines and no function over 60. Read from the source, nothing is imported."""

import ast
import re
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60


def _readme_rules() -> tuple[dict[str, set[str]], set[str]]:
    """{unit: units it may import} and the foundation's units, from app/README.md."""
    rules: dict[str, set[str]] = {}
    foundation: set[str] = set()
    section = ""
    items: list[tuple[str, str]] = []
    for line in (APP / "README.md").read_text().splitlines():
        if line.startswith("## "):
            section = line
        elif match := re.match(r"- `([\w]+)`:(.*)", line):
            items.append((section, match[1] + ":" + match[2]))
        elif line.startswith("  ") and items:
            items[-1] = (items[-1][0], items[-1][1] + " " + line.strip())
    for section, item in items:
        unit, rest = item.split(":", 1)
        allowed = rest.split(" — ")[0]
        rules[unit] = {name.strip() for name in allowed.split(",") if name.strip()}
        if section.startswith("## Foundation"):
            foundation.add(unit)
    return rules, foundation


RULES, FOUNDATION = _readme_rules()


def _unit(path: Path) -> str:
    relative = path.relative_to(APP)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _sources() -> list[Path]:
    return sorted(APP.rglob("*.py"))


def _imported_units(tree: ast.AST):
    """(line, unit) for every `app.…` import, those inside functions included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("app."):
                    yield node.lineno, alias.name.split(".")[1]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "app":
                for alias in node.names:
                    yield node.lineno, alias.name
            elif node.module.startswith("app."):
                yield node.lineno, node.module.split(".")[1]
        elif isinstance(node, ast.ImportFrom) and node.level:
            pytest.fail(f"relative import at line {node.lineno}: write `from app.… import …`")


def test_the_readme_lists_every_unit_of_app():
    units = {_unit(path) for path in _sources()}
    assert units == set(RULES), "app/README.md and app/ disagree on the units"
    for unit, allowed in RULES.items():
        assert allowed <= set(RULES), f"{unit} may import an unknown unit"


def test_the_layers_have_no_cycle():
    # Foundation units may be imported by everyone; the rest must form a one-way order.
    graph = {unit: allowed - FOUNDATION for unit, allowed in RULES.items()}
    done: set[str] = set()

    def visit(unit: str, path: tuple[str, ...]) -> None:
        assert unit not in path, "cycle in app/README.md: " + " → ".join((*path, unit))
        if unit not in done:
            for below in graph[unit]:
                visit(below, (*path, unit))
            done.add(unit)

    for unit in graph:
        visit(unit, ())


@pytest.mark.parametrize("path", _sources(), ids=lambda path: str(path.relative_to(APP)))
def test_imports_follow_the_layers(path):
    unit = _unit(path)
    allowed = RULES[unit] | ({unit} if unit in FOUNDATION else {unit} | FOUNDATION)
    wrong = [
        f"line {line}: {unit} imports {target}"
        for line, target in _imported_units(ast.parse(path.read_text()))
        if target not in allowed
    ]
    assert not wrong, "not allowed by app/README.md: " + "; ".join(wrong)


@pytest.mark.parametrize("path", _sources(), ids=lambda path: str(path.relative_to(APP)))
def test_files_and_functions_stay_short(path):
    source = path.read_text()
    assert source.count("\n") <= MAX_FILE_LINES, f"{source.count(chr(10))} lines"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, "functions over 60 lines: " + ", ".join(long)


SOLVER = APP / "exchange" / "solver"
#: What the agenda's solver may import: the standard library's, its own modules, OR-Tools.
SOLVER_IMPORTS = {
    "__future__", "collections", "copy", "dataclasses", "datetime", "enum", "itertools",
    "math", "typing", "ortools", "app.exchange.solver",
}  # fmt: skip


@pytest.mark.parametrize("path", sorted(SOLVER.rglob("*.py")), ids=lambda path: path.name)
def test_the_solver_stays_pure(path):
    """No Flask, no database, no French: the pages and mails turn its codes into text."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module)
    wrong = {
        module
        for module in modules
        if not any(module == ok or module.startswith(ok + ".") for ok in SOLVER_IMPORTS)
    }
    assert not wrong, f"the solver imports {sorted(wrong)}"
