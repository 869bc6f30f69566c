"""No import circles between the product's modules (file by file).

`lint-imports` (contracts in pyproject.toml) checks the layers and cycles between sibling
packages; a circle of single modules across packages it does not see, so this test looks for
every one, with the same import graph (grimp, import-linter's own).
"""

from __future__ import annotations

import grimp

PACKAGES = ("core", "knowledge_base", "bot", "channels", "intake_api")


def import_cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """One shortest circle through each import that is part of one, each circle listed once
    (starting at its smallest module name)."""
    cycles: set[tuple[str, ...]] = set()
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is None:
                continue
            circle = (importer, *back[:-1])  # importer -> imported -> ... -> importer
            start = circle.index(min(circle))
            cycles.add(circle[start:] + circle[:start])
    return sorted(cycles)


def test_no_import_cycles_between_modules() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    cycles = import_cycles(graph)
    assert not cycles, "import circles:\n" + "\n".join(
        " -> ".join([*cycle, cycle[0]]) for cycle in cycles
    )


def test_a_circle_is_found() -> None:
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.c")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    graph.add_import(importer="pkg.c", imported="pkg.d")
    assert import_cycles(graph) == [("pkg.a", "pkg.b", "pkg.c")]
