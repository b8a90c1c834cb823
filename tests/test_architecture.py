"""The shape of the code, checked like behaviour: no import cycle between product
modules, and no product module a reader cannot take in whole. The layer order itself
is import-linter's (`.importlinter`, run by scripts/test.sh)."""

from __future__ import annotations

from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("foundations", "firmware_contracts", "edge_agent", "asset_registry", "knowledge",
           "ingest", "rules", "notifications", "service", "dispatch", "sales", "integrations",
           "portal", "simulators", "fieldpulse")
MAX_LINES = 400


def _cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in graph.find_modules_directly_imported_by(module) & modules:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return found


def test_no_product_module_imports_one_that_imports_it_back() -> None:
    graph = grimp.build_graph(*PRODUCT)
    modules = {m for m in graph.modules if m.split(".")[0] in PRODUCT}
    assert _cycles(graph, modules) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("a.x", "a.y", "a.z"):
        graph.add_module(module)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.x")
    graph.add_import(importer="a.y", imported="a.z")
    assert _cycles(graph, {"a.x", "a.y", "a.z"}) == [["a.x", "a.y"]]


def test_no_product_module_is_over_400_lines() -> None:
    long = {str(path.relative_to(ROOT)): n for package in PRODUCT
            for path in (ROOT / package).rglob("*.py")
            if "migrations" not in path.parts
            and (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}
