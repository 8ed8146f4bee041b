"""Metrics per slice: per value of a test-split column, or per quantile bin of a numeric one."""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy as np
    import pandas as pd

    from conveyor.plugins.base import Metric

MAX_DISTINCT = 10
"""A numeric column with more distinct values than this is binned."""
QUANTILE_BINS = 5
MISSING = "missing"
"""The slice of rows whose value is missing."""

SliceMetrics = dict[str, dict[str, dict[str, float | int | None]]]
"""``{column: {value: {"rows": n, metric: value or None}}}``."""


def slice_labels(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """(label of each row, labels in display order).

    A numeric column with more than 10 distinct values is cut into 5 quantile bins
    (``pandas.qcut``; repeated edges merge bins), labelled by interval: ``[1.2, 3.4]`` for the
    first, ``(3.4, 5.6]`` for the others. Any other column keeps its values, as text, sorted.
    Missing values are the slice ``missing``.
    """
    import numpy as np
    import pandas as pd

    missing = values.isna().to_numpy()
    present = values[~missing]
    labels = np.full(len(values), MISSING, dtype=object)
    if _is_number(values) and present.nunique() > MAX_DISTINCT:
        codes, edges = pd.qcut(
            present, QUANTILE_BINS, labels=False, retbins=True, duplicates="drop"
        )
        order = _interval_names(edges)
        labels[~missing] = np.asarray(order, dtype=object)[np.asarray(codes, dtype=int)]
    else:
        text = present.astype(str).to_numpy(dtype=object)
        labels[~missing] = text
        if _is_number(values):  # 2 before 10
            numbers = dict(zip(text, present.astype(float), strict=True))
            order = sorted(numbers, key=numbers.__getitem__)
        else:
            order = sorted(set(text))
    if missing.any():
        order = [*order, MISSING]
    return labels, order


def _is_number(values: pd.Series) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _interval_names(edges: np.ndarray) -> list[str]:
    """Interval labels with the fewest significant digits that keep them distinct."""
    for digits in range(4, 17):
        bounds = [f"{edge:.{digits}g}" for edge in edges]
        names = [
            f"{'[' if i == 0 else '('}{bounds[i]}, {bounds[i + 1]}]" for i in range(len(edges) - 1)
        ]
        if len(set(names)) == len(names):
            return names
    return names


def slice_metrics(
    frame: pd.DataFrame,
    columns: list[str],
    metrics: Mapping[str, Metric],
    *,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    y_score: np.ndarray | None,
) -> SliceMetrics:
    """Every metric on the rows of each slice of each column; None where undefined."""
    result: SliceMetrics = {}
    for column in columns:
        labels, order = slice_labels(frame[column])
        per_value: dict[str, dict[str, float | int | None]] = {}
        for label in order:
            rows = labels == label
            scores = y_score[rows] if y_score is not None else None
            values: dict[str, float | int | None] = {"rows": int(rows.sum())}
            for name, metric in metrics.items():
                values[name] = compute_or_none(metric, y_true[rows], y_pred[rows], scores)
            per_value[label] = values
        result[column] = per_value
    return result


def compute_or_none(
    metric: Metric, y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray | None
) -> float | None:
    """The metric, or None where a slice cannot define it (one class only, for roc_auc).

    Undefined shows as an error, a NaN, or a scikit-learn warning that it returned a
    placeholder instead (``UndefinedMetricWarning``; average precision without positives).
    """
    from sklearn.exceptions import UndefinedMetricWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = metric.compute(y_true, y_pred, y_score)
        except (ValueError, ZeroDivisionError, IndexError):
            return None
    if any(
        issubclass(w.category, UndefinedMetricWarning) or str(w.message).startswith(_NO_POSITIVES)
        for w in caught
    ):
        return None
    return finite_or_none(value)


_NO_POSITIVES = "No positive class found in y_true"


def finite_or_none(value: float) -> float | None:
    """``value``, or None for NaN and infinities, which JSON cannot hold."""
    return float(value) if math.isfinite(value) else None
