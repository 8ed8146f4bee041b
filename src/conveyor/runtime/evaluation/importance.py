"""Feature importance of a fitted pipeline, named by the features its model saw.

The model's own ``feature_importances_`` (trees, boosting) or ``|coef_|`` (linear models;
averaged over classes) when it has them, named by the columns the pipeline's transforms output.
Otherwise scikit-learn's permutation importance of the whole pipeline (seeded), on the first
2,000 test rows at most, named by the input columns it permutes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from sklearn.base import BaseEstimator
    from sklearn.pipeline import Pipeline

MAX_FEATURES = 50
"""The plot keeps the most important features only, so wide data stays readable."""
PERMUTATION_ROWS = 2_000
PERMUTATION_REPEATS = 5


def importance_records(
    pipeline: Pipeline,
    x: pd.DataFrame,
    y_true: np.ndarray,
    seed: int,
) -> list[dict[str, Any]]:
    """``{"feature", "importance"}`` records, most important first, at most 50."""
    import numpy as np

    values, names = feature_importance(pipeline, x, y_true, seed)
    order = np.argsort(-values, kind="stable")[:MAX_FEATURES]
    return [
        {"feature": names[i], "importance": round(float(values[i]), 6)}
        for i in order
        if np.isfinite(values[i])
    ]


def feature_importance(
    pipeline: Pipeline,
    x: pd.DataFrame,
    y_true: np.ndarray,
    seed: int,
) -> tuple[np.ndarray, list[str]]:
    """(importance per feature, feature names), by the model's own measure if it has one."""
    steps = getattr(pipeline, "steps", None)
    model = steps[-1][1] if steps else pipeline
    native = _native_importance(model)
    if native is not None:
        return native, _model_feature_names(pipeline, x, len(native))
    return _permutation_importance(pipeline, x, y_true, seed), [str(c) for c in x.columns]


def _native_importance(model: BaseEstimator) -> np.ndarray | None:
    import numpy as np

    try:
        values = getattr(model, "feature_importances_", None)
        if values is None and (coef := getattr(model, "coef_", None)) is not None:
            magnitude = np.abs(np.asarray(coef, dtype=float))
            values = magnitude.mean(axis=0) if magnitude.ndim == 2 else magnitude
    except (ValueError, TypeError):  # e.g. a booster kind that defines no importance
        return None
    return None if values is None else np.asarray(values, dtype=float).ravel()


def _model_feature_names(pipeline: Pipeline, x: pd.DataFrame, count: int) -> list[str]:
    """The columns the model was fitted on, however the pipeline records them."""
    steps = getattr(pipeline, "steps", None)
    model = steps[-1][1] if steps else pipeline
    candidates: list[Any] = list(getattr(model, "feature_names_in_", []))
    if len(candidates) != count and steps and len(steps) > 1:
        try:
            candidates = list(pipeline[:-1].get_feature_names_out())
        except (AttributeError, ValueError, TypeError):  # a transform that cannot name outputs
            candidates = []
    if len(candidates) != count and (not steps or len(steps) == 1):
        candidates = list(x.columns)
    if len(candidates) != count:
        return [f"feature_{i}" for i in range(count)]
    return [str(name) for name in candidates]


def _permutation_importance(
    pipeline: Pipeline,
    x: pd.DataFrame,
    y_true: np.ndarray,
    seed: int,
) -> np.ndarray:
    import numpy as np
    from sklearn.inspection import permutation_importance

    # The first rows, not a sample: the split is already shuffled (or in time order, which
    # lag and rolling transforms need intact); the seed drives the permutations.
    result = permutation_importance(
        pipeline,
        x.iloc[:PERMUTATION_ROWS],
        np.asarray(y_true)[:PERMUTATION_ROWS],
        n_repeats=PERMUTATION_REPEATS,
        random_state=seed,
    )
    return np.asarray(result.importances_mean, dtype=float)
