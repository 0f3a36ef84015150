"""Imports point one way: the package layers (:data:`ALLOWED`, drawn in the README) hold, and no module imports itself back
through any chain (imports inside functions and ``TYPE_CHECKING`` blocks count: they are cycles that
only wait for the wrong call order)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

ALLOWED: dict[str, set[str]] = {
    "data": set(),
    "metrics": {"data"},
    "training": {"data", "metrics"},
    "tokenizer": {"data", "metrics", "training"},
    "gpt": {"data", "metrics", "training", "tokenizer"},
    "duet": {"data", "metrics", "training", "tokenizer", "gpt"},
    "camera": {"data", "metrics", "training", "tokenizer", "gpt"},
    "demo": {"data", "metrics", "training", "tokenizer", "gpt", "duet", "camera"},
    "cli": {"data", "metrics", "training", "tokenizer", "gpt", "duet", "camera", "demo"},
}
"""What each top-level package may import besides itself (``camera`` sits beside ``duet``)."""


def _modules() -> dict[str, Path]:
    """Every pasdeux module by dotted name (packages by their ``__init__``)."""
    out = {"cli": ROOT / "cli.py"}
    for pkg in ALLOWED:
        if pkg == "cli":
            continue
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The pasdeux modules ``name`` imports (``from pkg import sub`` resolves to ``pkg.sub``)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in MODULES else module for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:  # `import a.b.c` of a package: its deepest module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def test_the_graph_sees_the_packages():
    assert {"data.motion", "data.formats", "metrics.fid", "tokenizer.vqvae", "training.stage", "cli"} <= set(GRAPH)
    assert "data.motion" in GRAPH["data.formats"]  # resolution works on a known edge
    assert "training.config" in GRAPH["tokenizer.lightning"]


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_package_layers(name):
    top = name.split(".")[0]
    wrong = sorted(t for t in GRAPH[name] if t.split(".")[0] != top and t.split(".")[0] not in ALLOWED[top])
    assert not wrong, f"{name} ({top}) imports {wrong}; {top} may import only {sorted(ALLOWED[top]) or 'itself'}"


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every back edge of a depth-first search, as the cycle it closes (``[a, b, ..., a]``)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_the_cycle_search_finds_a_known_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_no_import_cycles():
    cycles = find_cycles(GRAPH)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)
