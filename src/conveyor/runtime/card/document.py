"""The model card as data: what it says, in blocks that the Markdown and HTML writers render.

:func:`card_document` is pure: the facts in (conf/'s words, the bundle's metadata, the split
sizes, the evaluation and blessing documents, the md5 of each input), the blocks out. Nothing
here reads a clock, a host or git, so the same inputs give the same card, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.runtime import layout

if TYPE_CHECKING:
    from collections.abc import Mapping

    from conveyor.spec import CardSpec

NOT_STATED = "Not stated."


@dataclass(frozen=True)
class Code:
    """Text shown in a monospace span: paths, hashes, config keys."""

    text: str


Cell = str | Code | int | float | bool | None
"""A value in a table or a fact: text, code, a count, a metric, a yes/no, or nothing."""


@dataclass(frozen=True)
class Heading:
    """A section (level 2) or subsection (level 3) title."""

    level: int
    text: str


@dataclass(frozen=True)
class Paragraphs:
    """Plain text as written in conf/ (blank lines separate paragraphs); ``missing`` if empty."""

    text: str | None
    hint: str = ""
    """The config key to set, shown after :data:`NOT_STATED` when there is no text."""


@dataclass(frozen=True)
class Facts:
    """``key: value`` lines."""

    items: tuple[tuple[str, Cell], ...]


@dataclass(frozen=True)
class Table:
    """A table; the first column names the row."""

    head: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


Block = Heading | Paragraphs | Facts | Table


@dataclass(frozen=True)
class CardFacts:
    """Everything the card shows, read by the ``card`` stage from its declared inputs."""

    name: str
    task: str
    card: CardSpec
    description: str | None
    target: str
    sources: Mapping[str, str]
    """Source name -> its ``kind``."""
    split: Mapping[str, Any]
    """``data.split`` as params.yaml holds it."""
    rows: Mapping[str, int]
    """Split part -> rows."""
    metadata: Mapping[str, Any]
    """The bundle's ``metadata.json`` (model label, estimator, lineage)."""
    schema: Mapping[str, Any]
    """The bundle's ``schema.json`` (input columns, classes)."""
    metrics: Mapping[str, Any]
    """``reports/metrics.json``."""
    primary: str | None
    blessing: Mapping[str, Any] | None
    """``reports/blessing.json``; None when the project has no gates."""
    inputs: Mapping[str, str] = field(default_factory=dict)
    """Each input's md5, as dvc.lock records it."""


@dataclass(frozen=True)
class CardDocument:
    """The card: a title, a summary for the registry (Markdown front matter), the blocks."""

    title: str
    summary: dict[str, Any]
    blocks: tuple[Block, ...]


def card_document(facts: CardFacts) -> CardDocument:
    """The model card of ``facts``, section by section."""
    metrics = {k: v for k, v in facts.metrics.items() if k != "slices"}
    primary = facts.primary or next(iter(metrics), None)
    blessed = None if facts.blessing is None else facts.blessing.get("blessed") is True
    card = facts.card
    summary: dict[str, Any] = {
        "model": facts.name,
        "task": facts.task,
        "estimator": facts.metadata.get("model"),
        "description": facts.description,
        "primary_metric": primary,
        "primary_value": metrics.get(primary) if primary else None,
        "blessed": blessed,
        "owners": list(card.owners),
        "license": card.license,
    }
    blocks: list[Block] = [
        Paragraphs(facts.description, "project.description"),
        *_details(facts),
        *_words(card),
        *_data(facts),
        *_evaluation(facts, metrics, primary),
        *_gates(facts.blessing),
        *_lineage(facts),
    ]
    return CardDocument(f"Model card: {facts.name}", summary, tuple(blocks))


def _details(facts: CardFacts) -> list[Block]:
    classes = facts.schema.get("classes")
    columns = facts.schema.get("columns") or []
    items: list[tuple[str, Cell]] = [
        ("model", Code(facts.name)),
        ("task", facts.task.replace("_", " ")),
        ("estimator", str(facts.metadata.get("model", "unknown"))),
        ("class", Code(str(facts.metadata.get("estimator", "unknown")))),
        ("input columns", len(columns)),
    ]
    if classes is not None:
        items.append(("classes", ", ".join(map(str, classes))))
    items += [
        ("owners", ", ".join(facts.card.owners) or NOT_STATED),
        ("license", facts.card.license or NOT_STATED),
    ]
    return [Heading(2, "Model details"), Facts(tuple(items))]


def _words(card: CardSpec) -> list[Block]:
    sections = (
        ("Intended use", card.intended_use, "intended_use"),
        ("Out of scope", card.out_of_scope, "out_of_scope"),
        ("Limitations", card.limitations, "limitations"),
        ("Ethical considerations", card.ethical_considerations, "ethical_considerations"),
    )
    blocks: list[Block] = []
    for title, text, key in sections:
        blocks += [Heading(2, title), Paragraphs(text, f"card.{key}")]
    return blocks


def _data(facts: CardFacts) -> list[Block]:
    sources = tuple((Code(name), kind) for name, kind in facts.sources.items())
    split = tuple((f"data.split.{k}", _plain(v)) for k, v in facts.split.items())
    rows = tuple((part, count) for part, count in facts.rows.items())
    return [
        Heading(2, "Data"),
        Facts((("target", Code(facts.target)), ("sources", len(facts.sources)))),
        Table(("source", "kind"), sources),
        Heading(3, "Split"),
        Facts(split),
        Table(("split", "rows"), (*rows, ("total", sum(facts.rows.values())))),
    ]


def _evaluation(facts: CardFacts, metrics: Mapping[str, Any], primary: str | None) -> list[Block]:
    test = facts.rows.get("test")
    blocks: list[Block] = [
        Heading(2, "Evaluation"),
        Facts(
            (
                ("scored on", Code(layout.split_path("test"))),
                ("test rows", test),
                ("full report", Code("reports/evaluation.html")),
            )
        ),
        Table(
            ("metric", "value"),
            tuple((f"{n} (primary)" if n == primary else n, v) for n, v in metrics.items()),
        ),
    ]
    slices: Mapping[str, Mapping[str, Mapping[str, Any]]] = facts.metrics.get("slices") or {}
    for column, values in slices.items():
        names = tuple(next(iter(values.values()), {}))
        rows = tuple((label, *(row.get(n) for n in names)) for label, row in values.items())
        blocks += [Heading(3, f"Per slice of '{column}'"), Table((column, *names), rows)]
    return blocks


def _gates(blessing: Mapping[str, Any] | None) -> list[Block]:
    head = Heading(2, "Gates and blessing")
    if blessing is None:
        text = "No gates: evaluate.gates is empty, so nothing blessed this model."
        return [head, Paragraphs(text + " Promotion and packaging refuse it.")]
    verdict = "BLESSED" if blessing.get("blessed") is True else "NOT BLESSED"
    checks = tuple(
        (
            str(check.get("metric")),
            _check_kind(check),
            _plain(check.get("required")),
            check.get("observed"),
            "passed" if check.get("passed") is True else "FAILED",
        )
        for check in blessing.get("checks") or []
        if isinstance(check, dict)
    )
    champion = blessing.get("champion")
    against: Cell = "none: absolute thresholds only"
    if isinstance(champion, dict):
        against = (
            f"{champion.get('name')}@{champion.get('version')} (stage "
            f"'{champion.get('stage')}', {champion.get('metrics_source')} metrics)"
        )
    facts = (("verdict", verdict), ("champion", against), ("document", Code(layout.BLESSING_FILE)))
    return [
        head,
        Facts(facts),
        Table(("metric", "check", "required", "observed", "result"), checks),
    ]


def _check_kind(check: Mapping[str, Any]) -> str:
    kind = str(check.get("kind"))
    if kind == "min_delta":
        return "change vs champion" + (" (relative)" if check.get("relative") else "")
    return {"min": "at least", "max": "at most"}.get(kind, kind)


def _lineage(facts: CardFacts) -> list[Block]:
    lineage = facts.metadata.get("lineage") or {}
    trained = lineage.get("deps") or {}
    versions = lineage.get("versions") or {}
    inputs = tuple((Code(path), Code(md5)) for path, md5 in facts.inputs.items())
    return [
        Heading(2, "Lineage"),
        Paragraphs(
            "The md5 of each input is the value dvc.lock records. The card names no commit and "
            "no time: the registry's tag supplies the commit ('conveyor registry show')."
        ),
        Table(("input", "md5"), inputs),
        Heading(3, "Training"),
        Facts(
            (
                ("inputs identity", Code(str(lineage.get("inputs", "not recorded")))),
                *((f"trained on {path}", Code(str(md5))) for path, md5 in trained.items()),
                *((f"version of {lib}", str(v)) for lib, v in sorted(versions.items())),
            )
        ),
    ]


def _plain(value: Any) -> Cell:  # noqa: ANN401 - a params.yaml or JSON scalar or node
    """A config value as written: text and yes/no as they are, numbers and the rest as JSON."""
    import datetime
    import json

    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, datetime.date):  # YAML reads a bare 2024-01-01 as a date
        return value.isoformat()
    return json.dumps(value, sort_keys=True, default=str)
