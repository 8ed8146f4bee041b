"""``FrameTransformer``: a DataFrame-in, DataFrame-out scikit-learn transformer base."""

from __future__ import annotations

import difflib
from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from conveyor.errors import DataError


class FrameTransformer(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Fits on a DataFrame and returns one with the input's index.

    Subclasses implement ``_fit`` (learn from the training rows, return the output column
    names) and ``_output`` (compute the output frame). Columns are matched by name, so a
    transform at serving time checks that every column seen in fitting is present.
    """

    kind: ClassVar[str]
    """The ``kind:`` that builds this transformer, used to locate errors."""

    def fit(self, X: pd.DataFrame, y: Any = None) -> FrameTransformer:  # noqa: ANN401, N803
        """Learn from the training rows ``X`` (and ``y`` when the transform is supervised)."""
        frame = self._frame(X)
        self.feature_names_in_ = np.asarray(list(frame.columns), dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        self.names_out_ = self._fit(frame, y)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        """The output columns for the rows of ``X``, in their order and with their index."""
        check_is_fitted(self)
        frame = self._frame(X)
        expected = list(self.feature_names_in_)
        missing = [c for c in expected if c not in frame.columns]
        if missing:
            raise self.error(
                f"columns {quoted(missing)} seen in training are missing",
                fix=f"pass every column the model was trained on: {quoted(expected)}",
            )
        out = self._output(frame[expected])
        return out[self.names_out_]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:  # noqa: ANN401
        """The output column names, fixed at fit time."""
        del input_features
        check_is_fitted(self)
        return np.asarray(self.names_out_, dtype=object)

    @abstractmethod
    def _fit(self, frame: pd.DataFrame, y: Any) -> list[str]:  # noqa: ANN401
        """Learn what transforming needs; return the output column names."""

    @abstractmethod
    def _output(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The transformed rows (any column order; ``transform`` orders them)."""

    def error(self, what: str, *, fix: str) -> DataError:
        """A DataError located at this transform's ``kind:``."""
        return DataError(what, where=f"features.transforms (kind: {self.kind})", fix=fix)

    def _frame(self, X: Any) -> pd.DataFrame:  # noqa: ANN401, N803
        if not isinstance(X, pd.DataFrame):
            raise self.error(
                f"needs a pandas DataFrame, got {type(X).__name__}",
                fix="pass the rows as a DataFrame with named columns",
            )
        return X


def quoted(columns: list[str], limit: int = 20) -> str:
    """``'a', 'b', 'c'`` (at most ``limit`` names), for messages."""
    names = ", ".join(repr(c) for c in columns[:limit])
    return names + (" ..." if len(columns) > limit else "")


def did_you_mean(name: str, options: list[str]) -> str:
    """``did you mean 'x'? `` when a close option exists, else an empty string."""
    close = difflib.get_close_matches(name, options, n=3, cutoff=0.6)
    return f"did you mean {', '.join(map(repr, close))}? " if close else ""
