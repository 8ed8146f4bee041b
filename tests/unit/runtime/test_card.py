"""The model card's document and its Markdown and HTML, against hand-written expectations."""

from __future__ import annotations

import json
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from conveyor.registry.card import front_matter
from conveyor.runtime.card import CardFacts, card_document, render_html, render_markdown
from conveyor.spec import CardSpec

REPO = Path(__file__).resolve().parents[3]
HOSTILE = '<script>alert("x")</script> & | # [link](http://evil)'


def _facts(**changes: object) -> CardFacts:
    """The default project's facts, with the repository's own evaluation and blessing."""
    metrics = json.loads((REPO / "reports/metrics.json").read_text())
    blessing = json.loads((REPO / "reports/blessing.json").read_text())
    facts = {
        "name": "diagnostics",
        "task": "binary_classification",
        "card": CardSpec(intended_use="Teaching.\n\nNot clinics.", owners=["ml team"]),
        "description": "Predicts tumours.",
        "target": "diagnosis",
        "sources": {"breast_cancer": "sklearn_dataset"},
        "split": {"strategy": "stratified", "test_size": 0.25},
        "rows": {"train": 426, "test": 143},
        "metadata": {
            "model": "xgboost",
            "estimator": "xgboost.sklearn.XGBClassifier",
            "lineage": {
                "inputs": "sha256:" + "a" * 64,
                "deps": {"data/split/train.parquet": "0acff190"},
                "versions": {"python": "3.11", "xgboost": "3.2.0"},
            },
        },
        "schema": {"classes": [0, 1], "columns": [{"name": "a"}, {"name": "b"}]},
        "metrics": metrics,
        "primary": "roc_auc",
        "blessing": blessing,
        "inputs": {"models/diagnostics": "f00.dir", "reports/metrics.json": "b4r"},
    }
    facts.update(changes)
    return CardFacts(**facts)  # type: ignore[arg-type]


def test_markdown_has_every_section_with_the_evaluations_values() -> None:
    metrics = json.loads((REPO / "reports/metrics.json").read_text())
    text = render_markdown(card_document(_facts()))
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == [
        "# Model card: diagnostics",
        "## Model details",
        "## Intended use",
        "## Out of scope",
        "## Limitations",
        "## Ethical considerations",
        "## Data",
        "### Split",
        "## Evaluation",
        "## Gates and blessing",
        "## Lineage",
        "### Training",
    ]
    assert f"| roc\\_auc (primary) | {metrics['roc_auc']:.4f} |" in text
    assert f"| log\\_loss | {metrics['log_loss']:.4f} |" in text
    assert "Teaching.\n\nNot clinics." in text
    assert "*Not stated.* (set `card.limitations` in conf/)" in text
    assert "- **owners**: ml team" in text
    assert "- **data.split.test\\_size**: 0.25" in text
    assert "| train | 426 |\n| test | 143 |\n| total | 569 |" in text
    assert "- **verdict**: BLESSED" in text
    assert "| roc\\_auc | at least | 0.95 | " in text  # the threshold as written in conf/
    assert "| `models/diagnostics` | `f00.dir` |" in text
    assert "- **inputs identity**: `sha256:" + "a" * 64 + "`" in text
    assert "- **version of xgboost**: 3.2.0" in text


def test_front_matter_is_the_summary_the_registry_reads() -> None:
    text = render_markdown(card_document(_facts(description=HOSTILE)))
    summary = front_matter(text)
    metrics = json.loads((REPO / "reports/metrics.json").read_text())
    assert summary == {
        "model": "diagnostics",
        "task": "binary_classification",
        "estimator": "xgboost",
        "description": HOSTILE,
        "primary_metric": "roc_auc",
        "primary_value": metrics["roc_auc"],
        "blessed": True,
        "owners": ["ml team"],
        "license": None,
    }
    head = text.split("\n---\n", 1)[0]
    for hidden in "<>&[]`":  # \u003c...: plain text where front matter is not understood
        assert hidden not in head.split("owners:")[0]


def test_a_time_split_shows_its_dates_as_written() -> None:
    split = {"strategy": "time", "time_column": "day", "test_from": date(2024, 1, 1)}
    text = render_markdown(card_document(_facts(split=split)))
    assert "- **data.split.test\\_from**: 2024-01-01" in text
    assert "- **data.split.time\\_column**: day" in text


def test_no_gates_and_slices_are_shown() -> None:
    metrics = {
        "accuracy": 0.5,
        "slices": {
            "age": {
                "(11.7, 13.1]": {"rows": 3, "accuracy": 1.0},
                "a|b": {"rows": 1, "accuracy": None},
            }
        },
    }
    text = render_markdown(card_document(_facts(metrics=metrics, primary=None, blessing=None)))
    assert "| accuracy (primary) | 0.5000 |" in text  # the first metric when primary is unset
    assert "### Per slice of 'age'" in text
    assert "| age | rows | accuracy |" in text
    assert "| (11.7, 13.1\\] | 3 | 1.0000 |" in text
    assert "| a\\|b | 1 | — |" in text
    assert "No gates: evaluate.gates is empty" in text
    assert front_matter(text)["blessed"] is None


def _rendered(markdown: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)


def test_hostile_card_text_is_escaped_in_markdown_and_html() -> None:
    card = CardSpec(
        intended_use=HOSTILE + "\n- not a list\n1. nor this\n===",
        limitations="| a | b |\n|---|---|",
        owners=["<b>eve</b>"],
    )
    document = card_document(_facts(card=card, description=HOSTILE))
    markdown = render_markdown(document)
    html = _rendered(markdown)  # what a Markdown viewer that passes raw HTML through shows
    for tag in ("<script", "<b>", "<a "):
        assert tag not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; | # [link](http://evil)" in html
    assert "<li>" not in html.split("<h2>Intended use</h2>")[1].split("<h2>")[0]
    assert html.count("<table>") == 5  # the card's own tables, none from the user's text

    page = render_html(document)
    assert "<script" not in page
    assert "<b>eve" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; | # [link](http://evil)" in page
    assert "&lt;b&gt;eve&lt;/b&gt;" in page


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [v or "" for k, v in attrs if k in ("src", "href")]


def test_html_is_self_contained() -> None:
    parser = _Tags()
    parser.feed(render_html(card_document(_facts())))
    assert not {"script", "link", "img", "iframe"} & set(parser.tags)
    assert parser.links == []  # nothing fetched
    assert parser.tags.count("h2") == 9
    assert parser.tags.count("table") == 5


@pytest.mark.parametrize("render", [render_markdown, render_html])
def test_same_facts_same_bytes(render: object) -> None:
    first = render(card_document(_facts()))  # type: ignore[operator]
    again = render(card_document(_facts()))  # type: ignore[operator]
    assert first == again
    changed = render(card_document(_facts(card=CardSpec(intended_use="Other."))))  # type: ignore[operator]
    assert changed != first
