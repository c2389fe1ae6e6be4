"""The layer rules of docs/architecture.md, checked on the source itself.

`lint-imports` (make test) enforces the layer order from pyproject.toml; these
tests add what it does not see: imports hidden inside functions that cross an
app boundary, and import circles inside an app."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
APPS = set(CONFIG["root_packages"])


def _modules() -> list[Path]:
    return [
        path
        for app in sorted(APPS)
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts and "kb" not in path.relative_to(ROOT).parts[:2]
    ]


def _function_local_cross_app_imports(path: Path) -> list[str]:
    app = path.relative_to(ROOT).parts[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom) and inner.level == 0 and inner.module:
                names = [inner.module]
            elif isinstance(inner, ast.Import):
                names = [alias.name for alias in inner.names]
            else:
                continue
            found += [f"{path.relative_to(ROOT)}:{inner.lineno} {n}" for n in names if n.split(".")[0] in APPS - {app}]
    return found


def test_no_function_local_import_crosses_an_app():
    hidden = [hit for path in _modules() for hit in _function_local_cross_app_imports(path)]
    assert hidden == []


def test_the_walk_finds_a_hidden_import(tmp_path):
    # The check above must be able to fail: a lower app reaching up from inside a function.
    module = ROOT / "knowledge" / "_probe_for_test.py"
    module.write_text("def f():\n    from insights.models import Alert\n    return Alert\n")
    try:
        assert _function_local_cross_app_imports(module) == ["knowledge/_probe_for_test.py:2 insights.models"]
    finally:
        module.unlink()


def test_no_import_circle_between_modules():
    graph = grimp.build_graph(*sorted(APPS))
    circles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if imported != module and graph.find_shortest_chain(importer=imported, imported=module):
                circles.append((module, imported))
    assert circles == []


def test_every_app_is_in_a_layer():
    layered = {name.strip() for layer in CONFIG["contracts"][0]["layers"] for name in layer.split("|")}
    assert layered == APPS
