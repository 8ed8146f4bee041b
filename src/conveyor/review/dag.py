"""``conveyor dag``: the compiled stage graph as mermaid, graphviz dot, or plain text.

An edge ``a → b`` means a dependency of ``b`` is (inside) an output of ``a``
(:func:`conveyor.compiler.ir.covers`). Given a :class:`~conveyor.review.diff.PipelineDiff`,
stages are marked added, removed (drawn from BASE, dashed), changed, and — whatever else they
are — ``↻`` when ``dvc repro`` will rerun them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from conveyor.compiler.ir import covers

if TYPE_CHECKING:
    from conveyor.compiler.ir import Pipeline
    from conveyor.review.diff import PipelineDiff

Mark = Literal["added", "removed", "changed", "rerun"]
FORMATS = ("mermaid", "dot", "ascii")
RERUN_SIGN = "↻"
LEGEND: dict[Mark, str] = {
    "added": "added",
    "removed": "removed",
    "changed": "definition changed",
    "rerun": "reruns (inputs or upstream changed)",
}
_MERMAID_STYLE: dict[Mark, str] = {
    "added": "fill:#dafbe1,stroke:#1a7f37,color:#1f2328",
    "removed": "fill:#ffebe9,stroke:#cf222e,color:#1f2328,stroke-dasharray:5 5",
    "changed": "fill:#fff8c5,stroke:#9a6700,color:#1f2328",
    "rerun": "fill:#ddf4ff,stroke:#0969da,color:#1f2328",
}
_DOT_STYLE: dict[Mark, str] = {
    "added": 'fillcolor="#dafbe1" color="#1a7f37"',
    "removed": 'fillcolor="#ffebe9" color="#cf222e" style="filled,dashed"',
    "changed": 'fillcolor="#fff8c5" color="#9a6700"',
    "rerun": 'fillcolor="#ddf4ff" color="#0969da"',
}
_ASCII_SIGN: dict[Mark, str] = {"added": "+", "removed": "-", "changed": "~", "rerun": " "}


@dataclass(frozen=True)
class Graph:
    """Stages in run order, edges between them, and marks when drawn against a diff."""

    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    marks: dict[str, Mark] = field(default_factory=dict)
    reruns: frozenset[str] = frozenset()
    removed_edges: frozenset[tuple[str, str]] = frozenset()
    """Edges that exist only at BASE (to or from a removed stage): drawn dashed."""


def edges(pipeline: Pipeline) -> list[tuple[str, str]]:
    """``(upstream, downstream)`` pairs: a dependency of the second is an output of the first."""
    found = []
    for stage in pipeline.stages:
        for other in pipeline.stages:
            if other is not stage and any(
                covers(out, dep) for out in other.produces for dep in stage.deps
            ):
                found.append((other.name, stage.name))
    return found


def build_graph(pipeline: Pipeline, diff: PipelineDiff | None = None) -> Graph:
    """The graph of ``pipeline``; with ``diff``, HEAD's graph plus BASE's removed stages."""
    nodes = [s.name for s in pipeline.stages]
    links = edges(pipeline)
    if diff is None:
        return Graph(tuple(nodes), tuple(links))
    removed = set(diff.stages_removed)
    gone = [e for e in edges(diff.base_pipeline) if removed & set(e)]
    marks: dict[str, Mark] = dict.fromkeys(diff.stages_added, "added")
    marks |= dict.fromkeys(diff.stages_removed, "removed")
    marks |= {s.name: "changed" for s in diff.stages_changed if s.name not in marks}
    reruns = frozenset(r.stage for r in diff.reruns)
    marks |= {name: "rerun" for name in reruns if name not in marks}
    return Graph((*nodes, *diff.stages_removed), (*links, *gone), marks, reruns, frozenset(gone))


def render_graph(graph: Graph, fmt: str) -> str:
    """The graph as ``mermaid``, ``dot`` or ``ascii`` text."""
    if fmt == "mermaid":
        return to_mermaid(graph)
    if fmt == "dot":
        return to_dot(graph)
    return to_ascii(graph)


def _label(graph: Graph, name: str) -> str:
    return f"{name} {RERUN_SIGN}" if name in graph.reruns else name


def to_mermaid(graph: Graph) -> str:
    """A ``flowchart TD`` that GitHub renders in a ```` ```mermaid ```` block."""
    ids = {name: f"s{index}" for index, name in enumerate(graph.nodes)}
    lines = ["flowchart TD"]
    lines += [f'  {ids[n]}["{_label(graph, n)}"]' for n in graph.nodes]
    for a, b in graph.edges:
        arrow = "-.->" if (a, b) in graph.removed_edges else "-->"
        lines.append(f"  {ids[a]} {arrow} {ids[b]}")
    if graph.marks or graph.reruns:
        used = [m for m in LEGEND if m in graph.marks.values()]
        lines += [f"  classDef {m} {_MERMAID_STYLE[m]}" for m in used]
        for mark in used:
            members = ",".join(ids[n] for n in graph.nodes if graph.marks.get(n) == mark)
            lines.append(f"  class {members} {mark}")
        lines.append('  subgraph legend["legend"]')
        for mark in used:
            lines.append(f'    legend_{mark}["{LEGEND[mark]}"]:::{mark}')
        lines.append(f'    legend_sign["{RERUN_SIGN} = reruns on dvc repro"]')
        lines.append("  end")
    return "\n".join(lines) + "\n"


def to_dot(graph: Graph) -> str:
    """Graphviz ``digraph`` text (``dot -Tsvg``)."""
    lines = [
        "digraph pipeline {",
        "  rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica"];',
    ]
    for name in graph.nodes:
        mark = graph.marks.get(name)
        style = f" {_DOT_STYLE[mark]}" if mark else ""
        lines.append(f'  "{name}" [label="{_label(graph, name)}"{style}];')
    for a, b in graph.edges:
        dashed = " [style=dashed]" if (a, b) in graph.removed_edges else ""
        lines.append(f'  "{a}" -> "{b}"{dashed};')
    if graph.marks or graph.reruns:
        lines += ["  subgraph cluster_legend {", '    label="legend"; style=dashed;']
        for mark in (m for m in LEGEND if m in graph.marks.values()):
            lines.append(f'    "legend_{mark}" [label="{LEGEND[mark]}" {_DOT_STYLE[mark]}];')
        lines += [f'    "legend_sign" [label="{RERUN_SIGN} = reruns on dvc repro"];', "  }"]
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_ascii(graph: Graph) -> str:
    """One line per stage in run order, with the stages it runs after; marks in a margin."""
    width = max((len(_label(graph, n)) for n in graph.nodes), default=5)
    marked = bool(graph.marks or graph.reruns)
    lines = []
    for name in graph.nodes:
        after = [a for a, b in graph.edges if b == name]
        sign = (
            f"{_ASCII_SIGN[graph.marks[name]] if name in graph.marks else ' '} " if marked else ""
        )
        arrow = f"  <- {', '.join(after)}" if after else ""
        lines.append(f"{sign}{_label(graph, name):<{width}}{arrow}".rstrip())
    if marked:
        lines.append("")
        lines.append(
            f"legend: + added  - removed  ~ definition changed  {RERUN_SIGN} reruns on dvc repro"
        )
    return "\n".join(lines) + "\n"
