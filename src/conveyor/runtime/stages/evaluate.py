"""``evaluate``: score the bundle on the test split; write ``reports/metrics.json``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from conveyor import _atomic
from conveyor.bundle import load_bundle
from conveyor.errors import DataError, StageError
from conveyor.runtime import layout
from conveyor.runtime.frames import read_frame, require_column
from conveyor.runtime.plan import StageContext, StageDef, StagePlan
from conveyor.spec import EvaluateSpec, is_classification

if TYPE_CHECKING:
    import numpy as np

    from conveyor.plugins import Plugins
    from conveyor.plugins.base import Metric
    from conveyor.spec import ProjectSpec, Task

READS = ("data.target", "evaluate", "project.task")


def plan(spec: ProjectSpec, plugins: Plugins) -> tuple[StagePlan, ...]:
    """Reads the bundle and the test split, writes the metrics file."""
    del plugins
    return (
        StagePlan(
            name="evaluate",
            desc="Score the model on the test split into reports/metrics.json",
            reads=READS,
            deps=(layout.model_dir(spec.project.name), layout.split_path("test")),
            metrics=(layout.METRICS_FILE,),
            components=tuple(("metric", name) for name in spec.evaluate.metrics),
        ),
    )


def run(ctx: StageContext) -> None:
    """Predict the test split and compute every configured metric."""
    evaluate = ctx.params.parse("evaluate", EvaluateSpec)
    target = ctx.params.parse("data.target", str)
    task: Task = ctx.params.parse("project.task", str)
    bundle_dir, test_path = ctx.plan.deps
    bundle = load_bundle(ctx.root / bundle_dir)
    frame = read_frame(ctx.root, test_path, "evaluate")
    require_column(frame, target, key="data.target", file=test_path)
    x = frame.drop(columns=[target])
    y_true = _encode(frame[target], bundle.classes, test_path)
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
    values = {name: metric.compute(y_true, y_pred, y_score) for name, metric in metrics.items()}
    (metrics_file,) = ctx.plan.metrics
    _atomic.write_text(ctx.root / metrics_file, json.dumps(values, indent=2) + "\n")
    shown = ", ".join(f"{name}={value:.4f}" for name, value in values.items())
    print(f"evaluate: {len(x)} test rows: {shown}")  # noqa: T201


def _encode(labels: Any, classes: list[Any] | None, file: str) -> np.ndarray:  # noqa: ANN401
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
