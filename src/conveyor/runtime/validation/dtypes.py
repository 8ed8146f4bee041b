"""Which ``data.schema`` dtype a column has, lenient across pandas' many text and int types.

pandas 3 reads text as ``str`` (``object`` in older files, ``string`` or Arrow strings from some
sources), and ints with nulls as nullable ``Int64``; a schema names the kind of value, not the
storage, so all of those match ``str`` and ``int``. A float column holding only whole numbers is
still ``float``: its nulls or a cast made it so, and a model sees floats.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from conveyor.spec.schema import DType

# infer_dtype's names for object columns whose values all share one kind.
_OBJECT_KINDS: dict[str, DType] = {
    "string": "str",
    "empty": "str",
    "boolean": "bool",
    "integer": "int",
    "floating": "float",
    "mixed-integer-float": "float",
    "datetime": "datetime",
    "datetime64": "datetime",
}


def classify(series: pd.Series) -> DType | None:
    """The schema dtype of ``series``; None for an object column of mixed kinds."""
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    kind = dtype.kind
    if kind == "b":
        return "bool"
    if kind in "iu":
        return "int"
    if kind == "f":
        return "float"
    if kind == "M":
        return "datetime"
    if kind in "US" or isinstance(dtype, pd.StringDtype):
        return "str"
    if kind == "O":
        return _OBJECT_KINDS.get(pd.api.types.infer_dtype(series, skipna=True))
    return None


def matches(actual: DType | None, expected: DType) -> bool:
    """Whether a column classified ``actual`` meets ``dtype: expected``.

    ``number`` is int or float; ``category`` also takes text, as CSV and most sources have no
    categorical type.
    """
    if actual == expected:
        return True
    if expected == "number":
        return actual in ("int", "float")
    return expected == "category" and actual == "str"


def describe(series: pd.Series) -> str:
    """The dtype as a user reads it: ``float64``, ``str``, ``object (mixed)``."""
    import pandas as pd

    if series.dtype.kind == "O" and not isinstance(series.dtype, pd.StringDtype):
        return f"object ({pd.api.types.infer_dtype(series, skipna=True)})"
    return str(series.dtype)
