"""The engine's modules import each other in layers, never in a circle.

``make lint`` runs this test and the import contracts in ``pyproject.toml``
(``lint-imports``: the layers, and that the engine never imports ``flows/``). The
contracts keep each layer from importing the ones above it; this test keeps any two
modules -- siblings of one layer included -- from importing each other, directly or
through others. Function-level imports count (grimp reads every import statement);
imports only for type checking do not.
"""

from __future__ import annotations

import grimp


def import_circles() -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    graph = grimp.build_graph("salesflow", "flows", exclude_type_checking_imports=True)

    def imported_by(module: str) -> set[str]:
        # a package's __init__ is imported by its children: not a circle of ours
        return {
            m
            for m in graph.find_modules_directly_imported_by(module)
            if not module.startswith(m + ".")
        }

    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in imported_by(module):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return circles


def test_no_module_imports_another_that_imports_it_back():
    assert import_circles() == []
