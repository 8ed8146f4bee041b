"""Monitoring a large batch in bounded memory: each file counted into the reference's grid.

A batch of more than :data:`COUNT_ROWS` rows (known from the files' metadata before any value
is read: Parquet footers; CSV files are counted in a streaming pass) is never one table. Each
file is read on its own, once (one task per file on an executor, one after another in process:
:mod:`conveyor.monitoring._counted`), and summarised per column:

- a numeric column as counts in the bins ``(-inf, e0], (e0, e1], ..., (ek, inf)`` of the
  reference's quantile grid (its distinct points, and its values when the profile kept them;
  the ``side="right"`` convention of ``_stats.numeric_bins``, so the 10 PSI bins are exact
  sums of these), with exact count, nulls, min, max and sum, the values outside the
  reference's range, and, when the reference kept counts of its few distinct values, exact
  counts of each (and up to :data:`EXTRA_VALUES` values it never had);
- a categorical column as its category counts (bounded already).

Parts merge by addition, in file order, so a run in process and one on any executor hold the
same numbers and write the same drift.json. The built-in drift tests work from these counts
(:mod:`conveyor.components.drift` documents how ``ks`` and ``wasserstein`` are approximated,
and their bounds); a plugin test whose ``from_counts`` is False gets the column's exact
values, read again file by file, as for a small batch. The drift.html histogram of a counted
column takes the batch's CDF as linear within a grid bin.

Batches that the model must score, or that carry labels, are counted the same way, the
model's scores with them (``_scored``); the metric keeps the labelled rows' scores.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from conveyor.errors import UsageError
from conveyor.monitoring import _stats
from conveyor.monitoring.profile import OTHER
from conveyor.plugins.drift import GridCounts

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from conveyor.plugins.drift import NumericReference

COUNT_ROWS = 1_000_000
"""A batch with more rows than this is counted into the reference grid, file by file."""
COUNT_ROWS_VARIABLE = "CONVEYOR_MONITOR_COUNT_ROWS"
"""An environment variable that replaces :data:`COUNT_ROWS` (tests lower it)."""
EXTRA_VALUES = 6
"""Distinct values the reference never had that a count keeps: enough to tell 'more than 5'."""


def count_rows() -> int:
    """The row threshold: :data:`COUNT_ROWS`, or the environment's override."""
    text = os.environ.get(COUNT_ROWS_VARIABLE)
    if text is None:
        return COUNT_ROWS
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise UsageError(
            f"{COUNT_ROWS_VARIABLE}={text!r} is not a row count",
            where="environment",
            fix=f"set it to a whole number of rows (default {COUNT_ROWS:,}), or unset it",
        )
    return value


def is_large(files: Sequence[Path]) -> bool:
    """Whether ``files`` hold more than :func:`count_rows` rows, from their metadata.

    A file that cannot be read counts as no rows: the in-process reader reports it as it
    always has. CSV files are counted (a streaming pass) only when their size in bytes could
    take the batch over the threshold.
    """
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    limit, rows = count_rows(), 0
    csv_bytes = sum(_size(file) for file in files if file.suffix == ".csv")
    for file in sorted(files, key=lambda f: f.suffix == ".csv"):  # footers first, CSV if needed
        try:
            if file.suffix == ".csv":
                if rows + csv_bytes <= limit:  # a row takes at least one byte: cannot be over
                    return False
                with pcsv.open_csv(file) as reader:
                    rows += sum(batch.num_rows for batch in reader)
            else:
                rows += pq.ParquetFile(file).metadata.num_rows
        except (OSError, pa.ArrowException):
            continue
        if rows > limit:
            return True
    return False


def _size(file: Path) -> int:
    try:
        return file.stat().st_size
    except OSError:
        return 0


@dataclass(frozen=True)
class ColumnCount:
    """How to count one column of every file (built on the driver, shipped with the task)."""

    name: str
    type: pa.DataType | None
    """The batch's type, to cast the file's values to (None: the file's own type)."""
    kind: str
    numeric: bool
    as_scores: bool
    edges: np.ndarray
    low: float | None
    high: float | None
    values: np.ndarray | None


@dataclass(frozen=True)
class Part:
    """One file's share of one column."""

    nulls: int
    counts: dict[str, int] | None = None
    bins: np.ndarray | None = None
    below: int = 0
    above: int = 0
    values: np.ndarray | None = None
    extra: tuple[float, ...] = ()
    minimum: float = math.inf
    maximum: float = -math.inf
    total: float = 0.0


def count(values: pa.ChunkedArray, column: ColumnCount) -> Part:
    """One file's values of ``column``, counted into its grid."""
    if column.type is not None and values.type != column.type:
        values = values.cast(column.type)
    if column.as_scores:  # as logged_score reads it: float64, nulls as NaN
        values = pa.chunked_array([pa.array(np.asarray(values.to_numpy(), dtype=np.float64))])
    side = _stats.Side.of(values, column.kind, column.name)
    if side.ordered is None:
        return Part(side.nulls, counts=side.counts)
    ordered = side.ordered
    below_edges = np.searchsorted(ordered, column.edges, side="right")
    bins = np.diff(np.concatenate(([0], below_edges, [len(ordered)]))).astype(np.int64)
    below = above = 0
    if column.low is not None and column.high is not None:
        below = int(np.searchsorted(ordered, column.low, side="left"))
        above = len(ordered) - int(np.searchsorted(ordered, column.high, side="right"))
    counts, extra = None, ()
    if column.values is not None:
        counts = np.searchsorted(ordered, column.values, side="right") - np.searchsorted(
            ordered, column.values, side="left"
        )
        distinct = ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]
        extra = tuple(distinct[~np.isin(distinct, column.values)][:EXTRA_VALUES].tolist())
    if not len(ordered):
        return Part(side.nulls, bins=bins, values=counts)
    return Part(
        side.nulls,
        bins=bins,
        below=below,
        above=above,
        values=counts,
        extra=extra,
        minimum=float(ordered[0]),
        maximum=float(ordered[-1]),
        total=float(ordered.sum()),
    )


def combine(parts: Sequence[Part]) -> Part:
    """One part from the parts of one column, in order (a file's, counted a read at a time).

    Every count adds up, extremes are the extremes, the totals are added in order, and the
    values the reference never had are the smallest :data:`EXTRA_VALUES` of all parts' (each
    part keeps its own smallest, so none is lost); categories keep the order they were first
    seen in.
    """
    if len(parts) == 1:
        return parts[0]
    nulls = sum(part.nulls for part in parts)
    if parts[0].bins is None:  # categorical
        counts: dict[str, int] = {}
        for part in parts:
            for key, n in (part.counts or {}).items():
                counts[key] = counts.get(key, 0) + n
        return Part(nulls, counts=counts)
    values = None
    if parts[0].values is not None:
        values = _added([part.values for part in parts], len(parts[0].values))
    total = 0.0
    for part in parts:
        total += part.total
    return Part(
        nulls,
        bins=_added([part.bins for part in parts], len(parts[0].bins)),
        below=sum(part.below for part in parts),
        above=sum(part.above for part in parts),
        values=values,
        extra=tuple(sorted({value for part in parts for value in part.extra})[:EXTRA_VALUES]),
        minimum=min(part.minimum for part in parts),
        maximum=max(part.maximum for part in parts),
        total=total,
    )


def merge(parts: Sequence[Part], column: ColumnCount) -> _stats.Side:
    """The whole batch's column from its files' parts (added in file order)."""
    whole = combine(parts)
    if column.kind != "numeric":
        counts = whole.counts or {}
        return _stats.Side(sum(counts.values()), whole.nulls, counts=counts)
    assert whole.bins is not None  # noqa: S101 - count() gives every numeric part its bins
    count = int(whole.bins.sum())
    grid = GridCounts(column.edges, whole.bins, count, whole.minimum, whole.maximum)
    counted = _stats.Counted(grid, whole.below, whole.above, whole.values, whole.extra, whole.total)
    return _stats.Side(count, whole.nulls, counted=counted)


def _added(arrays: Sequence[np.ndarray | None], size: int) -> np.ndarray:
    """The element-wise sum of the parts' arrays (in file order)."""
    total = np.zeros(size, dtype=np.int64)
    for array in arrays:
        if array is not None:
            total += array
    return total


def grid_edges(reference: NumericReference) -> np.ndarray:
    """The bins' edges: the grid's distinct points, and the kept values."""
    points = reference.quantiles
    if reference.sample is not None:
        points = np.concatenate((points, reference.sample))
    return np.unique(points)


def column_count(
    name: str, summary: Mapping[str, Any], *, numeric: bool, as_scores: bool
) -> ColumnCount:
    """How to count column ``name`` against its profile entry ``summary`` (in a file's type)."""
    kind = summary["kind"]
    edges, low, high, values = np.empty(0), None, None, None
    if kind == "numeric" and summary["count"]:
        edges = grid_edges(_stats.numeric_reference(summary))
        low, high = float(summary["min"]), float(summary["max"])
        if "counts" in summary:
            values = np.array([float(key) for key in summary["counts"]])
    return ColumnCount(name, None, kind, numeric, as_scores, edges, low, high, values)


def bin_tally(reference: NumericReference, grid: GridCounts) -> _stats.Tally:
    """``_stats.bin_tally`` from the grid counts: the same 10 bins, the same counts."""
    interior = _stats.quantile_edges(reference)
    at = np.cumsum(grid.counts)[np.searchsorted(grid.edges, interior)]
    cur = np.diff(np.concatenate(([0], at, [grid.count]))).astype(np.float64)
    ref_shares = np.diff(np.concatenate(([0.0], reference.cdf(interior), [1.0])))
    labels = [f"<= {edge:.4g}" for edge in interior.tolist()] + ["above"]
    return _stats.Tally(labels, ref_shares * reference.count, cur, 0)


def value_tally(summary: Mapping[str, Any], counted: _stats.Counted) -> _stats.Tally:
    """``_stats.value_tally`` from the exact counts of the reference's values."""
    assert counted.values is not None  # noqa: S101 - counted when the summary has counts
    counts: dict[str, int] = summary["counts"]
    keys, ref = list(counts), np.array(list(counts.values()), dtype=np.float64)
    cur = counted.values.astype(np.float64)
    if rest := counted.grid.count - int(cur.sum()):
        keys.append(OTHER)
        ref, cur = np.append(ref, 0.0), np.append(cur, float(rest))
    return _stats.Tally(keys, ref, cur, 0)


def batch_cdf_counts(grid: GridCounts, interior: np.ndarray) -> np.ndarray:
    """Counts in the bins cut at ``interior`` (any points), the CDF linear within a grid bin."""
    below = grid.cdf(interior) * grid.count
    return np.diff(np.concatenate(([0.0], below, [float(grid.count)])))
