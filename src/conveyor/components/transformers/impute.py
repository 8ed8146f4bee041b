"""``FrameImputer``: ``SimpleImputer`` that gives numeric columns back their numeric dtype."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.impute import SimpleImputer


class FrameImputer(SimpleImputer):  # type: ignore[misc]
    """``SimpleImputer`` whose pandas output keeps numeric columns numeric.

    With ``most_frequent`` or ``constant`` over numeric and text columns together,
    ``SimpleImputer`` computes on one object array, so its pandas output has numeric columns of
    dtype object, which later ``columns: numeric`` selectors and the model would not take.
    """

    def transform(self, X: Any) -> Any:  # noqa: ANN401, N803 - scikit-learn's signature
        """Impute as ``SimpleImputer`` does, then restore the dtypes of object columns."""
        out = super().transform(X)
        if isinstance(out, pd.DataFrame):
            return out.infer_objects()
        return out
