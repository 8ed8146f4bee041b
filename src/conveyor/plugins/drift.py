"""The drift-test plugin kind (``conveyor.drift_tests``): one column, both sides, one verdict.

``monitor.drift.method`` (and each ``monitor.drift.columns.<name>.method``) names a registered
drift test: the built-ins ``ks``, ``chisquare``, ``ztest``, ``wasserstein``, ``jensenshannon``
and ``psi``, or a plugin's (``myplug.energy``). Monitoring lines one column of the reference
profile and of the batch up as a :class:`ColumnSample` and calls :meth:`DriftTest.run`; the
test returns an :class:`Outcome`, and :meth:`DriftTest.drifted` turns it into the verdict at
the configured threshold (``default_threshold`` when none is set). Like Hydra's ``Launcher``,
the methods take keyword arguments only, so that later arguments never break a plugin.

A plugin subclasses :class:`DriftTest`, registers it in the ``conveyor.drift_tests`` group and
runs ``conveyor.testing.DriftTestContract``. numpy is imported inside methods only, so that
discovering the tests stays cheap.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from conveyor.plugins.base import Component, P

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "ColumnKind",
    "ColumnSample",
    "DriftTest",
    "GridCounts",
    "NumericReference",
    "Outcome",
]

ColumnKind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class Outcome:
    """A test's statistic and, for hypothesis tests, its p-value."""

    statistic: float
    p_value: float | None = None


@dataclass(frozen=True)
class NumericReference:
    """A numeric profile entry as arrays: the quantile grid, and the raw values if kept.

    A reference is known only through its profile: its values when it had at most 1000 of
    them, otherwise a 1001-point quantile grid (``u = 0, 0.001, ..., 1``).
    """

    quantiles: np.ndarray
    """Quantiles at ``u = 0, 1/(n-1), ..., 1`` (numpy's 'linear' method), ascending."""
    sample: np.ndarray | None
    """The reference values, ascending, when the profile kept them."""
    count: int
    std: float

    def cdf(self, points: np.ndarray) -> np.ndarray:
        """Share of reference values <= each point: exact from the sample, else from the grid.

        On the grid, the last grid point <= x gives the lower bound and the CDF is linear
        up to the next (strictly greater) grid point, so tied quantiles (a spike of equal
        values) are handled: F jumps at the tie, as the true CDF does.
        """
        import numpy as np

        if self.sample is not None:
            return np.searchsorted(self.sample, points, side="right") / len(self.sample)
        grid = self.quantiles
        steps = len(grid) - 1
        above = np.searchsorted(grid, points, side="right")  # grid points <= x
        low = np.clip(above - 1, 0, steps)
        high = np.clip(above, 0, steps)
        span = grid[high] - grid[low]
        with np.errstate(divide="ignore", invalid="ignore"):
            part = np.where(span > 0, (points - grid[low]) / span, 0.0)
        shares = (low + part) / steps
        return np.where(above == 0, 0.0, np.where(above > steps, 1.0, shares))


@dataclass(frozen=True)
class GridCounts:
    """A numeric batch column counted into the bins of the reference's quantile grid.

    A batch above ``conveyor.monitoring.COUNT_ROWS`` rows is never held in memory: each file
    is counted into the bins ``(-inf, e0], (e0, e1], ..., (ek, inf)`` of ``edges`` (the
    reference grid's distinct points, and its kept values), and the counts are added up. The
    CDF is exact at the edges and taken as linear within a bin (the end bins run from the
    batch's minimum and to its maximum, which are exact).
    """

    edges: np.ndarray
    """The bins' edges, ascending and distinct (float64)."""
    counts: np.ndarray
    """Batch values per bin (int64, ``len(edges) + 1``): ``counts[i]`` lie in
    ``(edges[i-1], edges[i]]``, the first bin is ``(-inf, edges[0]]``, the last above."""
    count: int
    """Finite values counted (``counts.sum()``)."""
    minimum: float
    maximum: float

    def knots(self) -> tuple[np.ndarray, np.ndarray]:
        """The CDF's corners: values (edges clipped to [minimum, maximum]) and shares at them."""
        import numpy as np

        inner = np.clip(self.edges, self.minimum, self.maximum)
        values = np.concatenate(([self.minimum], inner, [self.maximum]))
        below = np.cumsum(self.counts)[:-1] / self.count
        return values, np.concatenate(([0.0], below, [1.0]))

    def cdf(self, points: np.ndarray) -> np.ndarray:
        """Share of batch values <= each point: exact at the edges, linear within a bin."""
        import numpy as np

        values, shares = self.knots()
        points = np.asarray(points, dtype=np.float64)
        last = np.searchsorted(values, points, side="right") - 1  # the last corner <= x
        low = np.clip(last, 0, len(values) - 2)
        span = values[low + 1] - values[low]
        with np.errstate(divide="ignore", invalid="ignore"):
            part = np.where(span > 0, (points - values[low]) / span, 0.0)
        inside = shares[low] + (shares[low + 1] - shares[low]) * np.clip(part, 0.0, 1.0)
        return np.where(last < 0, 0.0, np.where(last >= len(values) - 1, 1.0, inside))

    def quantiles(self, shares: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`cdf` at ``shares`` (in [0, 1]): linear within a bin."""
        import numpy as np

        values, below = self.knots()
        shares = np.asarray(shares, dtype=np.float64)
        high = np.clip(np.searchsorted(below, shares, side="left"), 1, len(below) - 1)
        low = high - 1
        step = below[high] - below[low]
        with np.errstate(divide="ignore", invalid="ignore"):
            part = np.where(step > 0, (shares - below[low]) / step, 0.0)
        found = values[low] + (values[high] - values[low]) * np.clip(part, 0.0, 1.0)
        return np.where(shares <= 0, self.minimum, found)

    def bin_shares(self) -> np.ndarray:
        """Each bin's share of the batch."""
        return self.counts / self.count


@dataclass(frozen=True)
class ColumnSample:
    """One column of the reference and of the batch, lined up for a test.

    Every column comes as counts of both sides over the same keys: its categories, its
    distinct values (a numeric column with few of them), or 10 reference-quantile bins. A
    numeric column also comes as the reference's arrays and the batch's values, or, for a
    batch too large to hold (a test whose ``from_counts`` is true only), as
    ``current_grid``: ``current`` is then None.
    """

    kind: ColumnKind
    keys: tuple[str, ...]
    """Categories, distinct values, or bins (``<= edge``, ..., ``above``)."""
    reference_counts: np.ndarray
    """Reference counts per key (float64; binned counts may be fractional)."""
    current_counts: np.ndarray
    """Batch counts per key (float64)."""
    first: int = 0
    """The key a two-proportion test compares against the rest (the smallest category)."""
    reference: NumericReference | None = None
    """Numeric columns: the reference's quantile grid and, if kept, its values."""
    current: np.ndarray | None = None
    """Numeric columns: the batch's finite values, ascending (float64); None when counted."""
    current_grid: GridCounts | None = None
    """Numeric columns of a counted batch: its values counted into the reference grid's bins."""


class DriftTest(Component[P]):
    """Tests one column of a batch against the reference (``conveyor.drift_tests``)."""

    kinds: ClassVar[frozenset[ColumnKind]] = frozenset({"numeric", "categorical"})
    """The column kinds the test can compare (``ks`` needs numbers)."""
    p_value: ClassVar[bool] = False
    """Whether the threshold is a p-value (drift when p falls below it) or a distance."""
    from_counts: ClassVar[bool] = False
    """Whether :meth:`run` works from ``sample.current_grid`` when ``sample.current`` is None.

    False (the default): a numeric column of a batch above ``COUNT_ROWS`` rows is read again
    in full for this test, as for a small batch (memory grows with the batch).
    """
    default_threshold: ClassVar[float]
    """The threshold when ``monitor.drift`` sets none (a p-value must lie in (0, 1))."""

    @abstractmethod
    def run(self, *, sample: ColumnSample) -> Outcome:
        """The statistic (and p-value, for a hypothesis test) of one column."""

    def drifted(self, *, outcome: Outcome, threshold: float) -> bool:
        """Whether ``outcome`` is drift: p below ``threshold``, or statistic at least it."""
        if self.p_value:
            return outcome.p_value is not None and outcome.p_value < threshold
        return outcome.statistic >= threshold


def grid_quantiles(sorted_values: np.ndarray, points: int) -> np.ndarray:
    """Quantiles at ``u = 0, 1/(points-1), ..., 1`` (numpy's 'linear' method), by indexing.

    The grid a profile keeps for a large column, and the one a test compares it with.
    """
    import numpy as np

    n = len(sorted_values)
    position = np.linspace(0.0, n - 1.0, points)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, n - 1)
    fraction = position - low
    lower = sorted_values[low]
    return np.asarray(lower + (sorted_values[high] - lower) * fraction, dtype=np.float64)
