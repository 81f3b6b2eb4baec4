"""The code's shape: no import circle between modules, and dependencies pointing one way
(web/ and workers/ -> reporting/ -> tracker/; tracker/ imports none of them).

The graph is read from the source with `ast`, every `import` counted wherever it stands (a
function-level import only delays a circle), so a circle fails here before it fails at import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tracker", "reporting", "web", "workers")
NEVER_IMPORTS = {
    "tracker": {"reporting", "web", "workers"},
    "reporting": {"web", "workers"},
    "workers": {"web"},
}
Graph = dict[str, set[str]]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_modules() -> dict[str, Path]:
    return {module_name(p): p
            for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def imported(tree: ast.AST, name: str, is_package: bool, known: set[str]) -> Iterator[str]:
    """The modules of the tree that a module's imports load: `from a import b` is module
    `a.b` when there is one, else `a`; relative imports resolve against the module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")[: len(name.split(".")) - node.level + is_package]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                if f"{base}.{alias.name}" in known:
                    yield f"{base}.{alias.name}"
                elif base in known:
                    yield base


def import_graph(modules: dict[str, Path]) -> Graph:
    known = set(modules)
    graph: Graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        targets = imported(tree, name, path.name == "__init__.py", known)
        graph[name] = {t for t in targets if t != name}
    return graph


def find_circle(graph: Graph) -> list[str] | None:
    """One import circle, as the modules along it, or None (depth-first, three colours)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (circle := visit(nxt)) is not None:
                return circle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (circle := visit(start)) is not None:
            return circle
    return None


@pytest.fixture(scope="module")
def graph() -> Graph:
    return import_graph(source_modules())


def test_no_import_circle(graph: Graph) -> None:
    circle = find_circle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle or [])


def test_dependencies_point_one_way(graph: Graph) -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        for target in targets
        if target.split(".")[0] in NEVER_IMPORTS.get(module.split(".")[0], set())
    )
    assert wrong == []


def test_a_circle_is_found_wherever_it_hides() -> None:
    """The checker itself: the circle the CLI once had (a command module importing helpers
    back from the module that registers it), and a longer one through a relative import."""
    assert find_circle({"cli": {"commands"}, "commands": {"cli", "errors"}, "errors": set()}) \
        == ["cli", "commands", "cli"]
    modules = {"p": ROOT, "p.a": ROOT, "p.b": ROOT, "p.c": ROOT}
    trees = {"p.a": "from p import b", "p.b": "from .c import x", "p.c": "import p.a",
             "p": ""}
    graph = {name: set(imported(ast.parse(src), name, name == "p", set(modules)))
             for name, src in trees.items()}
    assert graph["p.b"] == {"p.c"}
    assert find_circle(graph) == ["p.a", "p.b", "p.c", "p.a"]
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
