"""One column at a time out of a pyarrow Table or a pandas DataFrame, as numpy or as counts.

Profiles and drift checks walk a table column by column so that at most one column's values
(plus its sorted copy) are materialised at once: a million-row table with 25 columns never
needs more than a few copies of a single column. Only ever imported lazily (it imports pyarrow
and numpy at the top).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from conveyor.errors import DataError

if TYPE_CHECKING:
    from typing import TypeAlias

    import pandas as pd

    Data: TypeAlias = pa.Table | pd.DataFrame

Kind = Literal["numeric", "categorical"]


def column_names(data: Data) -> list[str]:
    """The column names of ``data``, as strings."""
    if isinstance(data, pa.Table):
        return list(data.column_names)
    return [str(name) for name in data.columns]


def row_count(data: Data) -> int:
    """The number of rows of ``data``."""
    return int(data.num_rows) if isinstance(data, pa.Table) else len(data)


def column(data: Data, name: str) -> pa.ChunkedArray:
    """Column ``name`` as arrow; pandas NaN/None become nulls (``from_pandas``)."""
    if isinstance(data, pa.Table):
        return data.column(name)
    series = data[name] if name in data.columns else data[_pandas_label(data, name)]
    converted = pa.array(series, from_pandas=True)  # chunked already for arrow-backed strings
    return converted if isinstance(converted, pa.ChunkedArray) else pa.chunked_array([converted])


def _pandas_label(data: pd.DataFrame, name: str) -> Any:  # noqa: ANN401 - any pandas label
    return next(label for label in data.columns if str(label) == name)


def infer_kind(values: pa.ChunkedArray) -> Kind:
    """``numeric`` for integer, float and decimal columns; all else (bool too) categorical."""
    kind = values.type
    if pa.types.is_dictionary(kind):
        return "categorical"
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "numeric"
    return "categorical"


def sorted_numeric(values: pa.ChunkedArray, *, where: str) -> tuple[np.ndarray, int]:
    """The finite values sorted ascending (float64, zeros +0.0), and how many were null/NaN/inf."""
    total = len(values)
    if values.null_count:
        values = values.drop_null()
    try:
        array = np.asarray(values.to_numpy(), dtype=np.float64)
    except (TypeError, ValueError, pa.ArrowInvalid) as exc:
        raise DataError(
            f"column holds {values.type} values, not numbers",
            where=where,
            fix="declare the column categorical, or clean the data so it holds numbers",
        ) from exc
    finite = np.isfinite(array)
    if not finite.all():
        array = array[finite]
    if array.flags.writeable:  # a private copy already (cast, filtered): sort it in place
        array.sort()
    else:  # a zero-copy view of arrow's buffer
        array = np.sort(array)
    # -0.0 == 0.0 to a sort, which is not stable: which zero lands first (the min, a quantile)
    # would depend on the input's order, one sort or files merged, and JSON tells them apart
    array[np.searchsorted(array, 0.0, "left") : np.searchsorted(array, 0.0, "right")] = 0.0
    return array, total - len(array)


def category_counts(values: pa.ChunkedArray) -> tuple[dict[str, int], int]:
    """Non-null counts per category key (see ``value_key``), and the null count."""
    nulls = values.null_count
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if nulls:
        values = values.drop_null()
    counted = pc.value_counts(values)
    counts: dict[str, int] = {}
    keys = counted.field("values").to_pylist()
    for key, count in zip(keys, counted.field("counts").to_pylist(), strict=True):
        if isinstance(key, float) and math.isnan(key):
            nulls += count
            continue
        label = value_key(key)
        counts[label] = counts.get(label, 0) + count
    return counts, nulls


def value_key(value: object) -> str:
    """The JSON key of one value: integral numbers without ``.0``, so 1 and 1.0 match."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def distinct_count(sorted_values: np.ndarray) -> int:
    """The number of distinct values in an ascending array."""
    if len(sorted_values) == 0:
        return 0
    return 1 + int(np.count_nonzero(sorted_values[1:] != sorted_values[:-1]))


def sorted_counts(sorted_values: np.ndarray) -> dict[str, int]:
    """Counts per distinct value of an ascending array, keyed by ``value_key``."""
    if len(sorted_values) == 0:
        return {}
    starts = np.flatnonzero(np.concatenate(([True], sorted_values[1:] != sorted_values[:-1])))
    sizes = np.diff(np.append(starts, len(sorted_values)))
    return {
        value_key(float(sorted_values[s])): int(n)
        for s, n in zip(starts.tolist(), sizes.tolist(), strict=True)
    }
