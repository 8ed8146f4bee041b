"""Lining a profile entry and a batch column up for a drift test: arrays, bins, aligned counts.

A reference is known only through its profile: raw values when it had at most
``SAMPLE_LIMIT`` of them, otherwise a 1001-point quantile grid (and counts for discrete
columns). The current batch is in full, as an ascending array or as counts. The tests
themselves are plugins (:mod:`conveyor.components.drift` holds the built-ins); this module
only lines the two sides up. Imported lazily (numpy at the top).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.monitoring import _columns
from conveyor.monitoring.profile import OTHER, QUANTILES
from conveyor.plugins.drift import GridCounts, NumericReference, grid_quantiles

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import pyarrow as pa

PSI_BINS = 10


@dataclass(frozen=True)
class Counted:
    """A numeric batch column counted into the reference grid (see ``_grid``), and exact facts."""

    grid: GridCounts
    below: int
    """Values below the reference's minimum."""
    above: int
    """Values above the reference's maximum."""
    values: np.ndarray | None
    """Counts of each of the reference's distinct values, when the profile kept counts."""
    extra: tuple[float, ...]
    """Up to EXTRA_VALUES distinct values the reference's counts do not have (ascending)."""
    total: float
    """The sum of the values (the mean is ``total / grid.count``)."""


@dataclass(frozen=True)
class Side:
    """A batch column: ascending finite values (numeric) or category counts, and its nulls.

    A numeric column of a batch above ``COUNT_ROWS`` rows has no ``ordered`` values but
    ``counted`` (its values counted into the reference grid's bins), and ``exact`` reads its
    values in full for a drift test that cannot work from counts.
    """

    count: int
    nulls: int
    ordered: np.ndarray | None = None
    counts: dict[str, int] | None = None
    counted: Counted | None = None
    exact: Callable[[], Side] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, values: pa.ChunkedArray, kind: str, name: str) -> Side:
        """Read one batch column as the profile entry's ``kind`` says."""
        if kind == "numeric":
            where = f"column '{name}' of the batch"
            ordered, nulls = _columns.sorted_numeric(values, where=where)
            return cls(len(ordered), nulls, ordered=ordered)
        counts, nulls = _columns.category_counts(values)
        return cls(sum(counts.values()), nulls, counts=counts)

    @property
    def null_rate(self) -> float:
        """Nulls over all rows of the column."""
        total = self.count + self.nulls
        return self.nulls / total if total else 0.0


@dataclass(frozen=True)
class Tally:
    """Both sides as counts over the same keys (categories, distinct values, or bins)."""

    keys: list[str]
    reference: np.ndarray
    current: np.ndarray
    first: int  # the key a z-test compares against the rest


def numeric_reference(summary: Mapping[str, Any]) -> NumericReference:
    """The arrays of a numeric profile entry (with at least one value)."""
    sample = summary.get("sample")
    values = None if sample is None else np.sort(np.asarray(sample, dtype=np.float64))
    grid = summary.get("quantiles")
    if grid is None and values is not None:  # small columns keep the values, not the grid
        grid = grid_quantiles(values, QUANTILES)
    return NumericReference(
        quantiles=np.asarray(grid, dtype=np.float64),
        sample=values,
        count=int(summary["count"]),
        std=float(summary["std"]),
    )


def quantile_edges(reference: NumericReference, bins: int = PSI_BINS) -> np.ndarray:
    """Interior edges of ``bins`` reference-quantile bins (ties merged; the end bins open)."""
    steps = len(reference.quantiles) - 1
    picks = [round(steps * k / bins) for k in range(1, bins)]
    return np.unique(reference.quantiles[picks])


def numeric_bins(
    reference: NumericReference, current: np.ndarray, interior: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Reference shares and current counts in the bins (-inf, e1], (e1, e2], ..., (ek, inf)."""
    below_ref = np.concatenate(([0.0], reference.cdf(interior), [1.0]))
    below_cur = np.concatenate(
        ([0], np.searchsorted(current, interior, side="right"), [len(current)])
    )
    return np.diff(below_ref), np.diff(below_cur).astype(np.float64)


def aligned_counts(
    reference: Mapping[str, int], current: Mapping[str, int], *, other: str | None
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Keys (reference first, then new ones) and both sides' counts over them.

    With ``other`` (the reference summed its rare categories under that key), current keys the
    reference does not name are counted under ``other`` instead of as new categories.
    """
    keys = list(reference)
    position = {key: i for i, key in enumerate(keys)}
    cur = np.zeros(len(keys), dtype=np.float64)
    extra: dict[str, int] = {}
    for key, n in current.items():
        if key in position:
            cur[position[key]] += n
        elif other is not None:
            cur[position[other]] += n
        else:
            extra[key] = n
    keys.extend(extra)
    ref = np.array([*reference.values(), *([0] * len(extra))], dtype=np.float64)
    return keys, ref, np.concatenate((cur, np.array(list(extra.values()), dtype=np.float64)))


def value_tally(summary: Mapping[str, Any], current: np.ndarray) -> Tally:
    """Counts per reference value (ascending); current values it never had go under OTHER."""
    counts: dict[str, int] = summary["counts"]
    values = np.array([float(key) for key in counts])
    cur = (
        np.searchsorted(current, values, side="right")
        - np.searchsorted(current, values, side="left")
    ).astype(np.float64)
    keys, ref = list(counts), np.array(list(counts.values()), dtype=np.float64)
    if rest := len(current) - int(cur.sum()):
        keys.append(OTHER)
        ref, cur = np.append(ref, 0.0), np.append(cur, float(rest))
    return Tally(keys, ref, cur, 0)


def bin_tally(reference: NumericReference, current: np.ndarray) -> Tally:
    """Counts in the 10 reference-quantile bins (the reference's scaled from its shares)."""
    interior = quantile_edges(reference)
    ref_shares, cur = numeric_bins(reference, current, interior)
    labels = [f"<= {edge:.4g}" for edge in interior.tolist()] + ["above"]
    return Tally(labels, ref_shares * reference.count, cur, 0)
