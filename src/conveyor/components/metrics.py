"""Built-in metrics.

Classification labels arrive encoded as 0..k-1, and scores as (n, k) probabilities.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from conveyor.plugins.base import Metric

if TYPE_CHECKING:
    import numpy as np

    from conveyor.spec import Task

_CLASSIFICATION: tuple[Task, ...] = ("binary_classification", "multiclass_classification")


def _average(y_true: np.ndarray, y_score: np.ndarray | None) -> str:
    """``binary`` for two classes, else ``macro``.

    The scores know the class count even when the labels of a small test split do not.
    """
    import numpy as np

    n_classes = y_score.shape[1] if y_score is not None else len(np.unique(y_true))
    return "binary" if n_classes <= 2 else "macro"


class _ClassificationMetric(Metric):
    tasks: ClassVar[tuple[Task, ...]] = _CLASSIFICATION


class Accuracy(_ClassificationMetric):
    """Share of rows predicted correctly."""

    def compute(self, y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray | None) -> float:
        """Accuracy."""
        from sklearn.metrics import accuracy_score

        return float(accuracy_score(y_true, y_pred))


class BalancedAccuracy(_ClassificationMetric):
    """Mean recall over classes."""

    def compute(self, y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray | None) -> float:
        """Balanced accuracy."""
        from sklearn.metrics import balanced_accuracy_score

        return float(balanced_accuracy_score(y_true, y_pred))


class F1(_ClassificationMetric):
    """F1 of the positive class (binary) or macro-averaged (multiclass)."""

    def compute(self, y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray | None) -> float:
        """F1."""
        from sklearn.metrics import f1_score

        return float(f1_score(y_true, y_pred, average=_average(y_true, y_score), zero_division=0))


class Precision(_ClassificationMetric):
    """Precision of the positive class (binary) or macro-averaged (multiclass)."""

    def compute(self, y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray | None) -> float:
        """Precision."""
        from sklearn.metrics import precision_score

        return float(
            precision_score(y_true, y_pred, average=_average(y_true, y_score), zero_division=0)
        )


class Recall(_ClassificationMetric):
    """Recall of the positive class (binary) or macro-averaged (multiclass)."""

    def compute(self, y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray | None) -> float:
        """Recall."""
        from sklearn.metrics import recall_score

        return float(
            recall_score(y_true, y_pred, average=_average(y_true, y_score), zero_division=0)
        )


class _ScoreMetric(_ClassificationMetric):
    needs: ClassVar = "score"

    @staticmethod
    def _scores(y_score: np.ndarray | None) -> np.ndarray:
        if y_score is None:  # the runtime always passes scores to 'score' metrics
            msg = "this metric needs predicted probabilities"
            raise ValueError(msg)
        return y_score


class RocAuc(_ScoreMetric):
    """Area under the ROC curve (one-vs-rest, macro, for multiclass)."""

    def compute(self, y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray | None) -> float:
        """ROC AUC."""
        from sklearn.metrics import roc_auc_score

        scores = self._scores(y_score)
        if scores.shape[1] == 2:
            return float(roc_auc_score(y_true, scores[:, 1]))
        return float(roc_auc_score(y_true, scores, multi_class="ovr", average="macro"))


class PrAuc(_ScoreMetric):
    """Average precision: the area under the precision-recall curve (macro for multiclass)."""

    def compute(self, y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray | None) -> float:
        """Average precision."""
        from sklearn.metrics import average_precision_score
        from sklearn.preprocessing import label_binarize

        scores = self._scores(y_score)
        if scores.shape[1] == 2:
            return float(average_precision_score(y_true, scores[:, 1]))
        onehot = label_binarize(y_true, classes=list(range(scores.shape[1])))
        return float(average_precision_score(onehot, scores, average="macro"))


class LogLoss(_ScoreMetric):
    """Cross-entropy of the predicted probabilities."""

    higher_is_better = False

    def compute(self, y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray | None) -> float:
        """Log loss."""
        from sklearn.metrics import log_loss

        scores = self._scores(y_score)
        return float(log_loss(y_true, scores, labels=list(range(scores.shape[1]))))


class Brier(_ScoreMetric):
    """Mean squared error of the positive-class probability (binary only)."""

    tasks: ClassVar[tuple[Task, ...]] = ("binary_classification",)
    higher_is_better = False

    def compute(self, y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray | None) -> float:
        """Brier score."""
        from sklearn.metrics import brier_score_loss

        return float(brier_score_loss(y_true, self._scores(y_score)[:, 1]))


class _RegressionMetric(Metric):
    tasks: ClassVar[tuple[Task, ...]] = ("regression",)
    higher_is_better = False


class Rmse(_RegressionMetric):
    """Root mean squared error."""

    def compute(self, y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray | None) -> float:
        """RMSE."""
        from sklearn.metrics import root_mean_squared_error

        return float(root_mean_squared_error(y_true, y_pred))


class Mae(_RegressionMetric):
    """Mean absolute error."""

    def compute(self, y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray | None) -> float:
        """MAE."""
        from sklearn.metrics import mean_absolute_error

        return float(mean_absolute_error(y_true, y_pred))


class Mape(_RegressionMetric):
    """Mean absolute percentage error (as a fraction, as scikit-learn reports it)."""

    def compute(self, y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray | None) -> float:
        """MAPE."""
        from sklearn.metrics import mean_absolute_percentage_error

        return float(mean_absolute_percentage_error(y_true, y_pred))


class R2(_RegressionMetric):
    """Coefficient of determination."""

    higher_is_better = True

    def compute(self, y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray | None) -> float:
        """R²."""
        from sklearn.metrics import r2_score

        return float(r2_score(y_true, y_pred))
