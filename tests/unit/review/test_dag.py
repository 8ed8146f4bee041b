"""``conveyor dag``: edges from covered paths, and the three text formats."""

from __future__ import annotations

from conveyor.compiler.ir import Pipeline, Stage
from conveyor.review.dag import Graph, build_graph, edges, to_ascii, to_dot, to_mermaid

PIPELINE = Pipeline(
    (
        Stage("ingest", "", "conveyor run ingest", ("raw.csv",), outs=("data/raw",)),
        Stage("split", "", "conveyor run split", ("data/raw/x.parquet",), outs=("data/split",)),
        Stage("train", "", "conveyor run train", ("data/split/train.parquet",), outs=("m",)),
    )
)


def test_edges_follow_covered_paths() -> None:
    assert edges(PIPELINE) == [("ingest", "split"), ("split", "train")]


def test_plain_formats() -> None:
    graph = build_graph(PIPELINE)
    assert to_mermaid(graph) == (
        'flowchart TD\n  s0["ingest"]\n  s1["split"]\n  s2["train"]\n  s0 --> s1\n  s1 --> s2\n'
    )
    assert '"ingest" -> "split";' in to_dot(graph)
    assert to_ascii(graph) == "ingest\nsplit   <- ingest\ntrain   <- split\n"


def test_marks_and_legend() -> None:
    graph = Graph(
        ("ingest", "split", "train", "old"),
        (("ingest", "split"), ("split", "train"), ("split", "old")),
        {"split": "changed", "train": "rerun", "old": "removed"},
        frozenset({"split", "train"}),
        frozenset({("split", "old")}),
    )
    mermaid = to_mermaid(graph)
    assert 's1["split ↻"]' in mermaid
    assert "s1 -.-> s3" in mermaid
    assert "class s1 changed" in mermaid
    assert "classDef removed" in mermaid
    assert 'legend_changed["definition changed"]:::changed' in mermaid
    assert to_ascii(graph).splitlines()[:4] == [
        "  ingest",
        "~ split ↻  <- ingest",
        "  train ↻  <- split",
        "- old      <- split",
    ]
    assert 'style="filled,dashed"' in to_dot(graph)
