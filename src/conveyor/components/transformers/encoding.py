"""``TargetFolds``: the deterministic cross-fitting folds of ``target_encoding``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils.multiclass import type_of_target

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np


class TargetFolds:
    """K folds, shuffled with a fixed seed and stratified when the target is a class label.

    ``TargetEncoder`` picks the same splitters for an integer ``cv``, but from scikit-learn 1.9
    it can be seeded only through a splitter object; this one still chooses stratification
    from the target at fit time, when the task is known.
    """

    def __init__(self, n_splits: int = 5, random_state: int = 0) -> None:
        self.n_splits = n_splits
        self.random_state = random_state

    def split(
        self,
        X: Any,  # noqa: ANN401, N803
        y: Any = None,  # noqa: ANN401
        groups: Any = None,  # noqa: ANN401
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Train and validation row positions of each fold."""
        del groups
        classes = y is not None and type_of_target(y) in ("binary", "multiclass")
        splitter = StratifiedKFold if classes else KFold
        yield from splitter(self.n_splits, shuffle=True, random_state=self.random_state).split(X, y)

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:  # noqa: ANN401, N803
        """The number of folds."""
        del X, y, groups
        return self.n_splits

    def __repr__(self) -> str:
        return f"TargetFolds(n_splits={self.n_splits}, random_state={self.random_state})"
