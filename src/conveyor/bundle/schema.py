"""The input schema a bundle carries: columns, dtypes, nulls, ranges and categories."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

_MAX_CATEGORIES = 1000


def infer_schema(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One entry per column of the training features, in order."""
    import pandas as pd

    columns: list[dict[str, Any]] = []
    for name in frame.columns:
        series = frame[name]
        entry: dict[str, Any] = {
            "name": str(name),
            "dtype": str(series.dtype),
            "nullable": bool(series.isna().any()),
        }
        if pd.api.types.is_bool_dtype(series):
            pass
        elif pd.api.types.is_numeric_dtype(series):
            values = series.dropna()
            if len(values):
                entry["min"], entry["max"] = _plain(values.min()), _plain(values.max())
        else:
            categories = sorted(map(str, series.dropna().unique()))
            if len(categories) <= _MAX_CATEGORIES:
                entry["categories"] = categories
        columns.append(entry)
    return columns


def _plain(value: Any) -> float | int:  # noqa: ANN401 - a numpy scalar
    number = value.item() if hasattr(value, "item") else value
    return number if not (isinstance(number, float) and math.isnan(number)) else 0.0
