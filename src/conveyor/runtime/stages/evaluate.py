"""``evaluate``: score the bundle on the test split.

Writes ``reports/metrics.json`` (DVC metrics: each metric at the top level, plus ``slices``
when ``evaluate.slices`` is set), ``reports/plots/<plot>.json`` (DVC plots) and the
self-contained ``reports/evaluation.html``. The work lives in :mod:`conveyor.runtime.evaluation`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from conveyor import _atomic
from conveyor.errors import DataError, StageError
from conveyor.runtime import layout
from conveyor.runtime.evaluation import (
    PLOT_DEFS,
    REPORT_FILE,
    Predictions,
    ReportHeader,
    finite_or_none,
    plot_declarations,
    plot_records,
    render_report,
    slice_metrics,
    write_plot,
)
from conveyor.runtime.frames import read_frame, require_column
from conveyor.runtime.plan import TRUST_READS, StageContext, StageDef, StagePlan
from conveyor.spec import EvaluateSpec, is_classification

if TYPE_CHECKING:
    import numpy as np

    from conveyor.plugins import Plugins
    from conveyor.plugins.base import Metric
    from conveyor.spec import ProjectSpec, Task

READS = (
    "data.target",
    "evaluate.metrics",
    "evaluate.plots",
    "evaluate.primary",
    "evaluate.slices",
    "project.task",
    "seed",
    *TRUST_READS,
)
"""Not ``evaluate.gates``: a new threshold re-blesses (gate) without re-scoring the model."""


def plan(spec: ProjectSpec, plugins: Plugins) -> tuple[StagePlan, ...]:
    """Reads the bundle and the test split; writes metrics, plots and the HTML report."""
    del plugins
    task = spec.project.task
    return (
        StagePlan(
            name="evaluate",
            desc="Score the model on the test split into metrics, plots and an HTML report",
            reads=READS,
            deps=(layout.model_dir(spec.project.name), layout.split_path("test")),
            metrics=(layout.METRICS_FILE,),
            reports=(REPORT_FILE,),
            plots=plot_declarations(spec.evaluate.plots_for(task), task),
            components=tuple(("metric", name) for name in spec.evaluate.metrics),
        ),
    )


def run(ctx: StageContext) -> None:
    """Predict the test split; compute every metric, overall and per slice; draw the plots."""
    from conveyor.bundle import load_bundle  # here, not above: the compiler imports plan()
    from conveyor.runtime.lineage import dvc_md5

    evaluate = EvaluateSpec(
        metrics=ctx.params.parse("evaluate.metrics", list[str]),
        primary=ctx.params.parse("evaluate.primary", str, None),
        plots=ctx.params.parse("evaluate.plots", list[str], None),
        slices=ctx.params.parse("evaluate.slices", list[str], []),
    )
    target = ctx.params.parse("data.target", str)
    # compile checked the task against the Literal; the stage validates only that it is a str
    task = cast("Task", ctx.params.parse("project.task", str))
    seed = ctx.params.parse("seed", int)
    bundle_dir, test_path = ctx.plan.deps
    bundle = load_bundle(ctx.root / bundle_dir, trusted=ctx.trusted_types())
    frame = read_frame(ctx.root, test_path, "evaluate")
    require_column(frame, target, key="data.target", file=test_path)
    for index, column in enumerate(evaluate.slices):
        require_column(frame, column, key=f"evaluate.slices.{index}", file=test_path)
    x = frame.drop(columns=[target])
    y_true = encode_labels(frame[target], bundle.classes, test_path)
    if is_classification(task):
        _require_two_test_classes(frame[target], target, task, test_path)
    registry = ctx.plugins["metric"]
    metrics = {
        name: cast("Metric", registry.load(name, where=f"evaluate.metrics.{i}").from_config({}))
        for i, name in enumerate(evaluate.metrics)
    }
    y_pred = bundle.pipeline.predict(x)
    y_score = None
    if is_classification(task) and hasattr(bundle.pipeline, "predict_proba"):
        y_score = bundle.pipeline.predict_proba(x)
    needs_scores = [name for name, metric in metrics.items() if metric.needs == "score"]
    if needs_scores and y_score is None:
        raise StageError(
            f"metrics {', '.join(needs_scores)} need class probabilities, but the model has no "
            "predict_proba",
            where="evaluate.metrics",
            fix="drop those metrics, or use a model with probabilities (SVC: probability: true)",
        )
    values: dict[str, Any] = {
        name: finite_or_none(metric.compute(y_true, y_pred, y_score))
        for name, metric in metrics.items()
    }
    shown = ", ".join(f"{name}={_shown(value)}" for name, value in values.items())
    if evaluate.slices:
        values["slices"] = slice_metrics(
            frame, evaluate.slices, metrics, y_true=y_true, y_pred=y_pred, y_score=y_score
        )
    classes = [str(c) for c in bundle.classes] if bundle.classes is not None else None
    predictions = Predictions(y_true, y_pred, y_score, classes)
    plots = {
        name: plot_records(name, predictions, pipeline=bundle.pipeline, x=x, seed=seed)
        for name in evaluate.plots_for(task)
    }
    (metrics_file,) = ctx.plan.metrics
    text = json.dumps(values, indent=2, allow_nan=False)  # JSON has no NaN: undefined is null
    _atomic.write_text(ctx.root / metrics_file, text + "\n")
    for name, records in plots.items():
        write_plot(ctx.root / PLOT_DEFS[name].path, records)
    header = ReportHeader(
        project=str(bundle.metadata.get("name", bundle.path.name)),
        model=str(bundle.metadata.get("model", "unknown")),
        task=task,
        data=test_path,
        rows=len(x),
        inputs={path: dvc_md5(ctx.root / path) for path in ctx.plan.deps},
        primary=evaluate.primary_metric,
    )
    html = render_report(header, values, plots, task=task, classes=classes)
    _atomic.write_text(ctx.root / REPORT_FILE, html)
    print(f"evaluate: {len(x)} test rows: {shown}")  # noqa: T201


def _shown(value: float | None) -> str:
    return "null" if value is None else f"{value:.4f}"


def _require_two_test_classes(labels: Any, target: str, task: Task, file: str) -> None:  # noqa: ANN401 - a Series
    """Refuse a one-class test split: its metrics would be undefined or meaningless."""
    from conveyor.runtime.stages.train import shown_label

    values = labels.unique()
    if len(values) != 1:
        return
    only = shown_label(values[0].item() if hasattr(values[0], "item") else values[0])
    raise DataError(
        f"every row of {file} has '{target}' = {only}, so the {task} metrics cannot tell the "
        "model's classes apart",
        where="data.split",
        fix="use strategy: stratified, or more data or a larger test_size, so the test split "
        "holds at least two classes",
    )


def encode_labels(labels: Any, classes: list[Any] | None, file: str) -> np.ndarray:  # noqa: ANN401
    """Map labels to the class indices the pipeline was trained on."""
    import numpy as np

    if classes is None:
        return np.asarray(labels)
    index = {label: position for position, label in enumerate(classes)}
    unseen = sorted({str(v) for v in labels if v not in index})
    if unseen:
        raise DataError(
            f"{file} has target classes never seen in training: {', '.join(unseen[:10])}",
            where="data.target",
            fix="use strategy: stratified, or more data, so every class reaches the training split",
        )
    return np.asarray([index[v] for v in labels])


STAGE = StageDef("evaluate", plan, run)
