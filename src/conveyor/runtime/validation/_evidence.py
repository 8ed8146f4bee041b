"""What one ``data.schema`` rule finds in a column, as evidence that adds up across partitions.

A rule's evidence is the rows it selects (how many, the first few as a sample) and what it
observed (the minimum, the offending values, the signs of infinities). Computed on the whole
column it is what the report shows; computed on each partition of the column (rows in order,
each partition's index the rows' positions in the whole) and merged with :func:`merge`, it is
the same, value for value:

- ``nulls``, ``min``, ``max``, ``allowed``, ``regex``, ``finite``: counts add up; the sample is
  the first rows of the partitions in order; the minimum is the least of the partitions' minima
  (of those with offending rows: any other partition's minimum is above the bound); the first
  distinct offending values are the first distinct among each partition's first distinct.
- ``unique`` does not merge: a value repeated across two partitions is unique in each. It is
  computed on the whole column (see :data:`MERGEABLE`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor.runtime.validation.report import ROW_KEY, SAMPLE_SIZE

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    import numpy.typing as npt
    import pandas as pd

    from conveyor.spec.schema import DType

    Mask = npt.NDArray[np.bool_]

SHOWN_VALUES = 5
"""Distinct offending values named in a failure's detail (one more is kept, to say '...')."""
MERGEABLE = frozenset({"nulls", "min", "max", "allowed", "regex", "finite"})
"""The checks whose evidence on a column's partitions merges into the whole column's."""
SIGNS = ("inf", "-inf")


@dataclass(frozen=True)
class Evidence:
    """The rows a rule selects in a column, and what it observed there."""

    rows: int
    """How many rows the rule selects (offending rows; for ``nulls``, the null rows)."""
    sample: tuple[dict[str, Any], ...] = ()
    """The first :data:`SAMPLE_SIZE` of them as ``{_row, column}`` records."""
    observed: Any = None
    """``min``/``max``: the column's minimum/maximum; ``allowed``/``regex``: the first distinct
    offending values (a Series); ``unique``: how many values repeat; ``finite``: the signs."""


def find(series: pd.Series, check: str, arg: Any, kind: DType | None) -> Evidence:  # noqa: ANN401
    """The evidence of ``check`` (with the rule's value ``arg``) in ``series`` (of ``kind``)."""
    import numpy as np

    if check == "nulls":
        return _found(series, as_mask(series.isna()))
    if check in ("min", "max"):
        mask = as_mask(series < arg if check == "min" else series > arg)
        if not mask.any():
            return Evidence(0)
        return _found(series, mask, series.min() if check == "min" else series.max())
    if check == "allowed":
        mask = ~as_mask(series.isin(arg))
        if not mask.any() or not (mask := mask & as_mask(series.notna())).any():
            return Evidence(0)
        return _found(series, mask, _distinct(series, mask))
    if check == "regex":
        text = series if kind in ("str", "category") else series.astype("str")
        mask = as_mask(series.notna()) & ~as_mask(text.str.fullmatch(arg))
        return _found(series, mask, _distinct(series, mask)) if mask.any() else Evidence(0)
    if check == "unique":
        mask = as_mask(series.duplicated(keep=False) & series.notna())
        return _found(series, mask, int(series[mask].nunique())) if mask.any() else Evidence(0)
    if check == "finite":
        mask = np.isinf(series.to_numpy())
        if not mask.any():
            return Evidence(0)
        sides = (series > 0, series < 0)
        signs = [s for s, m in zip(SIGNS, sides, strict=True) if as_mask(m)[mask].any()]
        return _found(series, mask, signs)
    raise ValueError(f"no such check: {check!r}")  # a bug: checks.py asks only for the above


def merge(check: str, parts: Sequence[Evidence]) -> Evidence:
    """The evidence of ``check`` on a whole column from its partitions' (in row order)."""
    import pandas as pd

    if check not in MERGEABLE:
        raise ValueError(f"the evidence of {check!r} does not merge")  # a bug, as above
    found = [part for part in parts if part.rows]
    rows = sum(part.rows for part in found)
    sample = tuple(record for part in found for record in part.sample)[:SAMPLE_SIZE]
    observed: Any = None
    if not found or check == "nulls":
        pass
    elif check in ("min", "max"):
        values = [part.observed for part in found]
        observed = min(values) if check == "min" else max(values)
    elif check == "finite":
        observed = [sign for sign in SIGNS if any(sign in part.observed for part in found)]
    else:  # allowed, regex: first distinct of the first distinct, as drop_duplicates keeps
        joined = pd.concat([part.observed for part in found])
        observed = joined.drop_duplicates().head(SHOWN_VALUES + 1)
    return Evidence(rows, sample, observed)


def _found(series: pd.Series, mask: Mask, observed: Any = None) -> Evidence:  # noqa: ANN401
    count, sample = sample_rows(series, mask, None)
    return Evidence(count, sample, observed)


def _distinct(series: pd.Series, mask: Mask) -> pd.Series:
    """Up to a few distinct offending values, in order of first appearance."""
    return series[mask].drop_duplicates().head(SHOWN_VALUES + 1)


def as_mask(values: Any) -> Mask:  # noqa: ANN401 - a boolean Series or array
    """A plain numpy boolean mask; missing (NA) counts as False."""
    import numpy as np

    if hasattr(values, "to_numpy"):
        if values.dtype == np.bool_:  # numpy-backed: no NA to fill, and no copy
            return values.to_numpy()  # type: ignore[no-any-return]
        return values.to_numpy(dtype=bool, na_value=False)  # type: ignore[no-any-return]
    return np.asarray(values, dtype=bool)


def sample_rows(
    series: pd.Series, mask: Mask, previous: pd.Series | None
) -> tuple[int, tuple[dict[str, Any], ...]]:
    """How many rows ``mask`` selects, and the first few as ``{_row, column}`` records."""
    import numpy as np

    positions = np.flatnonzero(mask)
    records = []
    for position in positions[:SAMPLE_SIZE]:
        record = {ROW_KEY: series.index[position], str(series.name): series.iloc[position]}
        if previous is not None:
            record["_previous"] = previous.iloc[position]
        records.append(record)
    return len(positions), tuple(records)
