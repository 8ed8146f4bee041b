"""``card``: write the model card from conf/'s words and what the pipeline measured.

A stage of its own after ``evaluate`` (and ``gate``), so the DAG says what the card shows:
its params are ``card``, ``project.description`` and the few data keys it prints; its deps are
the bundle (metadata and schema only: the model is never loaded), the split files (row counts
from parquet metadata), the metrics and the blessing. Editing ``card:`` reruns this stage and
nothing else; a new model reruns it after evaluate.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from conveyor import _atomic
from conveyor.errors import StageError
from conveyor.runtime import layout
from conveyor.runtime.plan import StageContext, StageDef, StagePlan
from conveyor.runtime.stages import gate, split
from conveyor.spec import CardSpec, SplitSpec

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.plugins import Plugins
    from conveyor.spec import ProjectSpec

FIXED_READS = (
    "card",
    "data.split",
    "data.target",
    "evaluate.primary",
    "project.description",
    "project.name",
    "project.task",
)


def plan(spec: ProjectSpec, plugins: Plugins) -> tuple[StagePlan, ...]:
    """Reads the bundle, splits, metrics and blessing; writes the card as Markdown and HTML."""
    kinds = tuple(f"data.sources.{name}.kind" for name in spec.data.sources)
    blessing = tuple(report for p in gate.plan(spec, plugins) for report in p.reports)
    return (
        StagePlan(
            name="card",
            desc=f"Write the model card ({layout.MODEL_CARD_FILE} and .html) from card:, the "
            "data, the evaluation, the blessing and the lineage",
            reads=tuple(sorted((*FIXED_READS, *kinds))),
            deps=(
                layout.model_dir(spec.project.name),
                *(layout.split_path(part) for part in split.parts(spec)),
                layout.METRICS_FILE,
                *blessing,
            ),
            reports=(layout.MODEL_CARD_FILE, layout.MODEL_CARD_HTML),
        ),
    )


def run(ctx: StageContext) -> None:
    """Gather the facts, render the card twice, replace both files as a set."""
    from conveyor.runtime.card import CardFacts, card_document, render_html, render_markdown
    from conveyor.runtime.lineage import dvc_md5

    name = ctx.params.parse("project.name", str)
    parts = [d for d in ctx.plan.deps if d.startswith(f"{layout.SPLIT_DIR}/")]
    metadata, schema = _bundle_documents(ctx.root, layout.model_dir(name))
    ctx.params.parse("data.split", SplitSpec)  # shown as params.yaml holds it, checked first
    facts = CardFacts(
        name=name,
        task=ctx.params.parse("project.task", str),
        card=ctx.params.parse("card", CardSpec, CardSpec()),
        description=ctx.params.parse("project.description", str, None),
        target=ctx.params.parse("data.target", str),
        sources={
            key.split(".")[2]: ctx.params.parse(key, str)
            for key in ctx.plan.reads
            if key.startswith("data.sources.")
        },
        split=ctx.params.get("data.split"),
        rows={_part(path): _rows(ctx.root, path) for path in parts},
        metadata=metadata,
        schema=schema,
        metrics=_json(ctx.root, layout.METRICS_FILE),
        primary=ctx.params.parse("evaluate.primary", str, None),
        blessing=(
            _json(ctx.root, layout.BLESSING_FILE) if layout.BLESSING_FILE in ctx.plan.deps else None
        ),
        inputs={path: dvc_md5(ctx.root / path) for path in ctx.plan.deps},
    )
    document = card_document(facts)
    texts = (render_markdown(document), render_html(document))
    with _atomic.atomic_paths([ctx.root / path for path in ctx.plan.reports]) as temps:
        for temp, text in zip(temps, texts, strict=True):
            temp.write_text(text, encoding="utf-8")
    stated = sum(bool(value) for value in facts.card.model_dump().values())
    shown = " and ".join(ctx.plan.reports)
    print(f"card: {shown} ({stated} of 6 card: fields stated)")  # noqa: T201


def _bundle_documents(root: Path, bundle: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The bundle's metadata.json and schema.json, verified against its manifest, not loaded."""
    from conveyor.bundle.bundle import METADATA_FILE, SCHEMA_FILE
    from conveyor.bundle.document import MetadataDocument, SchemaDocument, parse_document
    from conveyor.bundle.manifest import read_verified

    path = root / bundle
    _, data = read_verified(path, (METADATA_FILE, SCHEMA_FILE))
    return (
        parse_document(data[METADATA_FILE], MetadataDocument, where=f"{path / METADATA_FILE}"),
        parse_document(data[SCHEMA_FILE], SchemaDocument, where=f"{path / SCHEMA_FILE}"),
    )


def _json(root: Path, path: str) -> dict[str, Any]:
    try:
        data = json.loads((root / path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StageError(
            f"cannot read {path}: {exc}",
            where="stage 'card'",
            fix="run the stages before it first: 'dvc repro card' runs them in order",
        ) from exc
    if not isinstance(data, dict):
        raise StageError(f"{path} is not a JSON object", where="stage 'card'", fix="rerun it")
    return cast("dict[str, Any]", data)


def _part(path: str) -> str:
    """``train`` of ``data/split/train.parquet``."""
    return path.rsplit("/", 1)[-1].removesuffix(".parquet")


def _rows(root: Path, path: str) -> int:
    """Rows of a parquet file, from its footer (no data is read)."""
    import pyarrow.parquet as pq

    try:
        return int(pq.read_metadata(root / path).num_rows)
    except (OSError, ValueError) as exc:
        raise StageError(
            f"cannot read {path}: {exc}",
            where="stage 'card'",
            fix="rerun the split stage: 'dvc repro split'",
        ) from exc


STAGE = StageDef("card", plan, run)
