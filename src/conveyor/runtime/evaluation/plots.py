"""The DVC plots of ``evaluate``: what dvc.yaml declares for each, and the records it holds.

Each plot is one JSON file under ``reports/plots/``: an array of flat records, the input DVC's
Vega-Lite templates read (``dvc plots show``/``diff``). Binary classification plots the
positive class (the second of ``Bundle.classes``). Multiclass ROC, precision-recall and
calibration use the **micro average**: every (row, class) pair becomes one one-vs-rest
decision, so each file stays a single curve, which is what DVC's line templates draw.
Regression scatters (predicted against actual, residuals) hold at most ``RESIDUAL_POINTS``
test rows, the same seeded sample in both; predicted-vs-actual rows are sorted by value, so
its file does not depend on the order of the test split.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor import _atomic
from conveyor.errors import StageError
from conveyor.runtime import layout
from conveyor.runtime.evaluation.importance import importance_records

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path

    import numpy as np
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from conveyor.spec import Task
    from conveyor.spec.evaluate import Plot

PLOTS_DIR = f"{layout.REPORTS_DIR}/plots"
RESIDUAL_POINTS = 5_000
"""At most this many test rows (a seeded sample) in a regression scatter, so it stays light."""
CALIBRATION_BINS = 10


@dataclass(frozen=True)
class PlotDef:
    """One kind of plot: its file, and the dvc.yaml props that make DVC draw it."""

    name: Plot
    template: str
    x: str
    y: str
    title: str
    x_label: str
    y_label: str
    needs_scores: bool = False
    """Drawn from class probabilities (``predict_proba``)."""

    @property
    def path(self) -> str:
        """Project-relative path of the plot file."""
        return f"{PLOTS_DIR}/{self.name}.json"

    def props(self, task: Task) -> dict[str, str]:
        """The dvc.yaml plot props; multiclass titles say the curve is a micro average."""
        micro = self.needs_scores and task == "multiclass_classification"
        title = f"{self.title} (micro-average, one-vs-rest)" if micro else self.title
        return {
            "template": self.template,
            "x": self.x,
            "y": self.y,
            "title": title,
            "x_label": self.x_label,
            "y_label": self.y_label,
        }


PLOT_DEFS: dict[Plot, PlotDef] = {
    plot.name: plot
    for plot in (
        PlotDef("roc", "simple", "fpr", "tpr", "ROC curve", "False positive rate",
                "True positive rate", needs_scores=True),
        PlotDef("precision_recall", "simple", "recall", "precision", "Precision-recall curve",
                "Recall", "Precision", needs_scores=True),
        PlotDef("confusion_matrix", "confusion", "predicted", "actual", "Confusion matrix",
                "Predicted class", "Actual class"),
        PlotDef("calibration", "simple", "mean_predicted", "observed_frequency",
                "Calibration (10 equal-width probability bins)", "Mean predicted probability",
                "Observed frequency", needs_scores=True),
        PlotDef("predicted_vs_actual", "scatter", "actual", "predicted", "Predicted vs actual",
                "Actual", "Predicted"),
        PlotDef("residuals", "scatter", "predicted", "residual", "Residuals (actual - predicted)",
                "Predicted", "Residual"),
        PlotDef("feature_importance", "bar_horizontal", "importance", "feature",
                "Feature importance", "Importance", "Feature"),
    )
}  # fmt: skip


def plot_declarations(
    plots: Iterable[Plot], task: Task
) -> tuple[tuple[str, Mapping[str, str]], ...]:
    """(path, props) of each plot, as ``StagePlan.plots`` takes them."""
    return tuple((PLOT_DEFS[name].path, PLOT_DEFS[name].props(task)) for name in plots)


@dataclass(frozen=True)
class Predictions:
    """The test split, scored. Classification labels are encoded 0..k-1, as in training."""

    y_true: np.ndarray
    y_pred: np.ndarray
    y_score: np.ndarray | None
    """(rows, classes) probabilities, or None (regression, or no ``predict_proba``)."""
    classes: list[str] | None
    """Class names in encoding order; None for regression."""

    def one_vs_rest(self) -> tuple[np.ndarray, np.ndarray]:
        """(is-positive, score): the positive class for binary, the micro average otherwise."""
        import numpy as np

        if self.y_score is None:  # evaluate refuses score plots without probabilities
            msg = "these plots need class probabilities"
            raise ValueError(msg)
        if self.y_score.shape[1] == 2:
            return (self.y_true == 1).astype(int), self.y_score[:, 1]
        onehot = self.y_true[:, None] == np.arange(self.y_score.shape[1])[None, :]
        return onehot.astype(int).ravel(), self.y_score.ravel()


def plot_records(
    name: Plot,
    predictions: Predictions,
    *,
    pipeline: Pipeline,
    x: pd.DataFrame,
    seed: int,
) -> list[dict[str, Any]]:
    """The rows of plot ``name``'s file."""
    if PLOT_DEFS[name].needs_scores and predictions.y_score is None:
        raise StageError(
            f"plot '{name}' needs class probabilities, but the model has no predict_proba",
            where="evaluate.plots",
            fix="list evaluate.plots without it, or use a model with probabilities "
            "(SVC: probability: true)",
        )
    with warnings.catch_warnings():  # a tiny split with one class: undefined points are dropped
        warnings.simplefilter("ignore")
        if name == "roc":
            return _roc(predictions)
        if name == "precision_recall":
            return _precision_recall(predictions)
        if name == "confusion_matrix":
            return _confusion(predictions)
        if name == "calibration":
            return _calibration(predictions)
        if name == "predicted_vs_actual":
            return _predicted_vs_actual(predictions, seed)
        if name == "residuals":
            return _residuals(predictions, seed)
        return importance_records(pipeline, x, predictions.y_true, seed)


def write_plot(path: Path, records: list[dict[str, Any]]) -> None:
    """One record per line: small diffs in git, and valid JSON for DVC."""
    body = ",\n".join(json.dumps(record, allow_nan=False) for record in records)
    _atomic.write_text(path, f"[\n{body}\n]\n" if records else "[]\n")


def _point(**values: float) -> dict[str, float] | None:
    """Rounded to 6 decimals (smaller, stable files); None if any value is not finite."""
    import math

    if not all(math.isfinite(v) for v in values.values()):
        return None
    return {key: round(float(v), 6) for key, v in values.items()}


def _roc(predictions: Predictions) -> list[dict[str, Any]]:
    from sklearn.metrics import roc_curve

    truth, score = predictions.one_vs_rest()
    fpr, tpr, _ = roc_curve(truth, score)
    return [p for f, t in zip(fpr, tpr, strict=True) if (p := _point(fpr=f, tpr=t))]


def _precision_recall(predictions: Predictions) -> list[dict[str, Any]]:
    from sklearn.metrics import precision_recall_curve

    truth, score = predictions.one_vs_rest()
    precision, recall, _ = precision_recall_curve(truth, score, drop_intermediate=True)
    points = zip(recall[::-1], precision[::-1], strict=True)  # by increasing recall
    return [p for r, pr in points if (p := _point(recall=r, precision=pr))]


def _confusion(predictions: Predictions) -> list[dict[str, Any]]:
    """One record per test row: DVC's ``confusion`` template does the counting."""
    names = predictions.classes or []
    return [
        {"actual": names[int(actual)], "predicted": names[int(predicted)]}
        for actual, predicted in zip(predictions.y_true, predictions.y_pred, strict=True)
    ]


def _calibration(predictions: Predictions) -> list[dict[str, Any]]:
    """Per non-empty bin of [0, 1]: mean predicted probability against the observed rate."""
    import numpy as np

    truth, score = predictions.one_vs_rest()
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    bins = np.clip(np.searchsorted(edges[1:-1], score, side="right"), 0, CALIBRATION_BINS - 1)
    records: list[dict[str, Any]] = []
    for index in range(CALIBRATION_BINS):
        inside = bins == index
        if inside.any():
            point = _point(
                mean_predicted=score[inside].mean(), observed_frequency=truth[inside].mean()
            )
            if point is not None:
                records.append({**point, "rows": int(inside.sum())})
    return records


def _scatter_rows(predictions: Predictions, seed: int) -> tuple[np.ndarray, np.ndarray, Any]:
    """(actual, predicted, row indices): every row, or a seeded sample of ``RESIDUAL_POINTS``."""
    import numpy as np

    actual = np.asarray(predictions.y_true, dtype=float)
    predicted = np.asarray(predictions.y_pred, dtype=float)
    rows = np.arange(len(actual))
    if len(rows) > RESIDUAL_POINTS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, RESIDUAL_POINTS, replace=False))
    return actual, predicted, rows


def _predicted_vs_actual(predictions: Predictions, seed: int) -> list[dict[str, Any]]:
    actual, predicted, rows = _scatter_rows(predictions, seed)
    points = [p for i in rows if (p := _point(actual=actual[i], predicted=predicted[i]))]
    return sorted(points, key=lambda p: (p["actual"], p["predicted"]))


def _residuals(predictions: Predictions, seed: int) -> list[dict[str, Any]]:
    actual, predicted, rows = _scatter_rows(predictions, seed)
    return [
        p for i in rows if (p := _point(predicted=predicted[i], residual=actual[i] - predicted[i]))
    ]
