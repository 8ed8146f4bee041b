"""``FrameImputer``: ``SimpleImputer`` that fills DataFrames column by column, in their dtypes.

``SimpleImputer`` turns its input into one 2-D array: text columns become Python objects (on a
million rows that is several times the column's size in memory), and with ``most_frequent`` or
``constant`` over numbers and text together, numeric columns come back as dtype object. For a
DataFrame with every column partly present, the common case, this class computes the same
statistics with pandas and fills with ``DataFrame.fillna``, so columns keep their dtypes and
untouched ones are not copied. Anything else (an indicator, an all-missing column, a custom
``missing_values``, arrays) goes through ``SimpleImputer`` unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.utils.validation import check_is_fitted


class FrameImputer(SimpleImputer):  # type: ignore[misc]
    """``SimpleImputer`` with a column-wise pandas path; same statistics, same output names."""

    def fit(self, X: Any, y: Any = None) -> FrameImputer:  # noqa: ANN401, N803 - sklearn API
        """Learn one fill value per column from the training rows."""
        self.by_column_ = self._by_column(X)
        if not self.by_column_:
            super().fit(X, y)
            return self
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.indicator_ = None
        numeric = all(pd.api.types.is_numeric_dtype(X[c]) for c in X.columns)
        values = [self._statistic(X[c], numeric) for c in X.columns]
        self.statistics_ = np.asarray(values, dtype=np.float64 if numeric else object)
        self._fit_dtype = X.dtypes.iloc[0] if numeric else np.dtype(object)
        return self

    def transform(self, X: Any) -> Any:  # noqa: ANN401, N803 - scikit-learn's signature
        """Fill missing values; numeric columns stay numeric."""
        check_is_fitted(self)
        if not getattr(self, "by_column_", False):
            out = super().transform(X)
            return out.infer_objects() if isinstance(out, pd.DataFrame) else out
        if list(X.columns) != list(self.feature_names_in_):
            self._check_feature_names(X, reset=False)  # raises scikit-learn's own message
        fills = dict(zip(X.columns, self.statistics_, strict=True))
        return X.fillna(fills)

    def _by_column(self, X: Any) -> bool:  # noqa: ANN401, N803
        """Whether the pandas path gives exactly ``SimpleImputer``'s result for ``X``."""
        if not isinstance(X, pd.DataFrame) or X.shape[1] == 0 or self.add_indicator:
            return False
        missing = self.missing_values
        if not (isinstance(missing, float) and np.isnan(missing)) and missing is not pd.NA:
            return False
        if self.strategy in ("mean", "median") and not all(
            pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c])
            for c in X.columns
        ):
            return False  # SimpleImputer's own error explains it
        numeric = [pd.api.types.is_numeric_dtype(X[c]) for c in X.columns]
        if self.strategy == "constant" and len(set(numeric)) > 1:
            return False  # one fill value for numbers and text: SimpleImputer's object output
        return bool(X.notna().any().all()) and all(isinstance(c, str) for c in X.columns)

    def _statistic(self, column: pd.Series, numeric: bool) -> Any:  # noqa: ANN401
        if self.strategy == "mean":
            return column.mean()
        if self.strategy == "median":
            return column.median()
        if self.strategy == "most_frequent":
            counts = column.value_counts()
            return min(counts.index[counts == counts.iloc[0]])  # ties: the smallest, as sklearn
        if self.fill_value is not None:
            return self.fill_value
        return 0 if numeric else "missing_value"
