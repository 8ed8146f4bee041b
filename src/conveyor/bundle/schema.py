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


class SchemaStats:
    """:func:`infer_schema` of a frame seen in batches, without holding the frame.

    Each batch adds its dtypes, nulls, ranges and distinct labels; :meth:`columns` is what
    :func:`infer_schema` returns for the batches concatenated. A column whose batches disagree
    on dtype (integers in one, integers with nulls, so floats, in another) gets the dtype the
    whole frame would have (``numpy.result_type``; ``object`` when that fails).
    """

    def __init__(self) -> None:
        self._names: list[str] = []
        self._dtypes: dict[str, list[Any]] = {}
        self._nulls: dict[str, bool] = {}
        self._low: dict[str, Any] = {}
        self._high: dict[str, Any] = {}
        self._values: dict[str, set[str] | None] = {}  # None: more than _MAX_CATEGORIES

    def add(self, frame: pd.DataFrame) -> None:
        """Count one batch (its columns are the first batch's, in the same order)."""
        import pandas as pd

        if not self._names:
            self._names = [str(name) for name in frame.columns]
        for name in frame.columns:
            key, series = str(name), frame[name]
            dtypes = self._dtypes.setdefault(key, [])
            if series.dtype not in dtypes:
                dtypes.append(series.dtype)
            self._nulls[key] = self._nulls.get(key, False) or bool(series.isna().any())
            values = series.dropna()
            if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
                if len(values):
                    low, high = values.min(), values.max()
                    self._low[key] = low if key not in self._low else min(self._low[key], low)
                    self._high[key] = high if key not in self._high else max(self._high[key], high)
                continue
            seen = self._values.get(key, set())
            if seen is not None:
                seen |= set(map(str, values.unique()))
                self._values[key] = seen if len(seen) <= _MAX_CATEGORIES else None

    def columns(self) -> list[dict[str, Any]]:
        """One entry per column, as :func:`infer_schema` gives for the whole frame."""
        import numpy as np
        import pandas as pd

        columns: list[dict[str, Any]] = []
        for key in self._names:
            dtypes = self._dtypes[key]
            try:
                dtype = dtypes[0] if len(dtypes) == 1 else np.result_type(*dtypes)
            except TypeError:
                dtype = np.dtype("object")
            entry: dict[str, Any] = {"name": key, "dtype": str(dtype), "nullable": self._nulls[key]}
            if pd.api.types.is_bool_dtype(dtype):
                pass
            elif pd.api.types.is_numeric_dtype(dtype):
                if key in self._low:
                    cast = dtype.type
                    entry["min"] = _plain(cast(self._low[key]))
                    entry["max"] = _plain(cast(self._high[key]))
            else:
                seen = self._values.get(key, set())
                if seen is not None:
                    entry["categories"] = sorted(seen)
            columns.append(entry)
        return columns
