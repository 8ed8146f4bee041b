"""No import circles among conveyor's modules: each pair of modules imports one way at most.

import-linter's ``layers`` contract checks packages against each other; this checks modules,
inside packages too, with the same import graph (grimp). Function-level and ``TYPE_CHECKING``
imports count, as they do for import-linter: a circle through either still means two modules
that cannot be read, moved or tested apart.
"""

from __future__ import annotations

import grimp
import pytest


def circles(imports: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()
    for start in sorted(imports):
        if start in index:
            continue
        work = [(start, iter(sorted(imports[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            module, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(imports.get(target, ())))))
                elif target in on_stack:
                    low[module] = min(low[module], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == module:
                        break
                if len(component) > 1:
                    found.add(frozenset(component))
    return found


@pytest.mark.parametrize(
    ("imports", "expected"),
    [
        ({"a": {"b"}, "b": set()}, set()),
        ({"a": {"b"}, "b": {"a"}}, {frozenset({"a", "b"})}),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, {frozenset({"a", "b", "c"})}),
        ({"a": {"b", "c"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, {frozenset("ab"), frozenset("cd")}),
        ({"a": {"a"}}, set()),
    ],
)
def test_circles_finds_each_cycle_once(
    imports: dict[str, set[str]], expected: set[frozenset[str]]
) -> None:
    assert circles(imports) == expected


def test_no_module_imports_itself_back() -> None:
    graph = grimp.build_graph("conveyor", cache_dir=None)
    imports = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    assert "conveyor.cli.main" in imports  # the graph is conveyor's, not empty
    # Issue 15 ended six: cli.main/score, experiments.sweep/optuna, review.diff/_metrics_diff,
    # monitoring.drift/_compare, components.transforms/transformers.columns, spec.evaluate/project.
    shown = sorted(" <-> ".join(sorted(c)) for c in circles(imports))
    assert shown == []
