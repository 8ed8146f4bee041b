"""``ColumnSelection``: which columns one transform sees inside the training pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.components.transformers.base import did_you_mean, quoted
from conveyor.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

CATEGORICAL_DTYPES: list[Any] = ["object", "category", "string", "bool"]


class ColumnSelection:
    """A ``ColumnTransformer`` column selector: ``columns:`` plus the columns a transform needs.

    ``columns`` is ``all``, ``numeric``, ``categorical`` or a list of names; ``required`` are
    the columns the transformer reads besides them (the time and group keys of ``lag``). It runs
    once, on the training frame, so that a missing column is a located DataError instead of a
    scikit-learn traceback; the fitted ``ColumnTransformer`` keeps the resolved names.
    """

    def __init__(self, columns: str | list[str], required: list[str], where: str) -> None:
        self.columns = columns
        self.required = required
        self.where = where

    def __call__(self, frame: pd.DataFrame) -> list[str]:
        """The selected column names of ``frame``, then the required ones not yet selected."""
        available = [str(c) for c in frame.columns]
        if isinstance(self.columns, list):
            self._require(self.columns, available, f"{self.where}.columns")
            chosen = list(self.columns)
        elif self.columns == "numeric":
            chosen = list(frame.select_dtypes(include="number").columns)
        elif self.columns == "categorical":
            chosen = list(frame.select_dtypes(include=CATEGORICAL_DTYPES).columns)
        else:
            chosen = list(frame.columns)
        self._require(self.required, available, f"{self.where}.params")
        return list(dict.fromkeys([*chosen, *self.required]))

    def __repr__(self) -> str:
        return f"ColumnSelection({self.columns!r}, required={self.required!r})"

    @staticmethod
    def _require(names: list[str], available: list[str], where: str) -> None:
        missing = [name for name in names if name not in available]
        if not missing:
            return
        raise DataError(
            f"column(s) {quoted(missing)} are not among the model's input columns",
            where=where,
            fix=(
                f"{did_you_mean(missing[0], available)}a transform sees the training split "
                "without the target (data.target), as changed by the transforms before it: the "
                "target cannot be transformed or lagged, and a dropped column is gone; "
                f"input columns here: {quoted(available, limit=30)}"
            ),
        )
