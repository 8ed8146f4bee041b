"""``FrameOrdinalEncoder``: ``OrdinalEncoder`` that encodes DataFrame columns with pandas codes.

``OrdinalEncoder`` turns each text column into an array of Python objects before encoding; on a
million rows of ten text columns that is several hundred MB more than the data. For a DataFrame
with the default ``categories="auto"`` and no infrequent-category grouping, this class learns
the same sorted categories and encodes with a pandas index lookup, which works on the
column as it is. Anything else goes through ``OrdinalEncoder`` unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.preprocessing import OrdinalEncoder
from sklearn.utils.validation import check_is_fitted


class FrameOrdinalEncoder(OrdinalEncoder):  # type: ignore[misc]
    """``OrdinalEncoder`` with a column-wise pandas path: same categories, same codes."""

    def fit(self, X: Any, y: Any = None) -> FrameOrdinalEncoder:  # noqa: ANN401, N803
        """Learn each column's categories (sorted; a missing value is not a category code)."""
        self.by_column_ = (
            isinstance(X, pd.DataFrame)
            and X.shape[1] > 0
            and all(isinstance(c, str) for c in X.columns)
            and self.categories == "auto"
            and self.min_frequency is None
            and self.max_categories is None
            and self.handle_unknown == "use_encoded_value"
            and np.isnan(self.encoded_missing_value)
        )
        if not self.by_column_:
            super().fit(X, y)
            return self
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.levels_ = [np.sort(X[c].dropna().unique()) for c in X.columns]
        # What OrdinalEncoder reports: the sorted levels, then NaN when the column had gaps.
        self.categories_ = [
            np.append(levels.astype(object), np.nan) if X[c].isna().any() else levels
            for c, levels in zip(X.columns, self.levels_, strict=True)
        ]
        return self

    def transform(self, X: Any) -> Any:  # noqa: ANN401, N803 - scikit-learn's signature
        """Codes 0..n-1 for known levels, ``unknown_value`` for new ones, NaN for missing ones."""
        check_is_fitted(self)
        if not self.by_column_:
            return super().transform(X)
        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(X, columns=self.feature_names_in_)  # noqa: N806
        if list(X.columns) != list(self.feature_names_in_):
            self._check_feature_names(X, reset=False)  # raises scikit-learn's own message
        encoded = {}
        columns = zip(X.columns, self.levels_, self.categories_, strict=True)
        for column, levels, categories in columns:
            values = X[column]
            has_missing = len(categories) > len(levels)
            codes = pd.Index(levels).get_indexer(values).astype(np.float64)  # -1: not a level
            missing = values.isna().to_numpy()
            codes[codes == -1] = self.unknown_value
            if has_missing:  # as OrdinalEncoder: a gap never seen in training is unknown
                codes[missing] = np.nan
            encoded[column] = codes
        return pd.DataFrame(encoded, index=X.index)

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> Any:  # noqa: ANN401, N803
        """``fit`` then ``transform`` (``OrdinalEncoder``'s own would skip the pandas path)."""
        del fit_params
        return self.fit(X, y).transform(X)
