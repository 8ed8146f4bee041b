"""Tiny, seeded datasets and predictions that the contract suites feed to components."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.spec import is_classification

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from conveyor.spec import Task

N_ROWS = 60
"""Rows in every tiny dataset: enough for any estimator's defaults, quick to fit."""


def n_classes(task: Task) -> int:
    """Classes in the tiny dataset of ``task`` (0 for regression)."""
    return {"binary_classification": 2, "multiclass_classification": 3}.get(task, 0)


def task_data(task: Task, *, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Features ``x0..x3`` (a DataFrame) and a target encoded as conveyor's train stage does.

    Classification labels are ``0..k-1``, as ``LabelEncoder`` leaves them; regression targets
    are floats.
    """
    import pandas as pd
    from sklearn.datasets import make_classification, make_regression

    if is_classification(task):
        x, y = make_classification(
            n_samples=N_ROWS,
            n_features=4,
            n_informative=3,
            n_redundant=0,
            n_classes=n_classes(task),
            n_clusters_per_class=1,
            random_state=seed,
        )
    else:
        x, y = make_regression(n_samples=N_ROWS, n_features=4, noise=0.1, random_state=seed)
    return pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])]), y


def numeric_frame(*, seed: int = 0) -> pd.DataFrame:
    """Three float columns with a non-default index, so a transform that drops it is caught."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(20, 3)), columns=["a", "b", "c"], index=range(100, 120))


def predictions(
    task: Task, *, wrong_share: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(y_true, y_pred, y_score)`` as the evaluate stage passes them to a metric.

    Classification: a confident 0.8 on the predicted class, and ``wrong_share`` of the rows
    predicted as the next class. Regression: positive targets, and ``wrong_share`` of the rows
    off by up to 50%. ``y_score`` is ``None`` for regression.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    wrong = np.arange(N_ROWS) < round(wrong_share * N_ROWS)
    rng.shuffle(wrong)
    if not is_classification(task):
        y_true = rng.uniform(1.0, 10.0, size=N_ROWS)
        y_pred = np.where(wrong, y_true * rng.uniform(0.5, 1.5, size=N_ROWS), y_true)
        return y_true, y_pred, None
    k = n_classes(task)
    y_true = rng.permutation(np.arange(N_ROWS) % k)
    y_pred = np.where(wrong, (y_true + 1) % k, y_true)
    y_score = np.full((N_ROWS, k), 0.2 / (k - 1))
    y_score[np.arange(N_ROWS), y_pred] = 0.8
    return y_true, y_pred, y_score
