"""The built-in drift tests (``conveyor.drift_tests``): scipy's tests on a profile and a batch.

=================  ==============  ====================================  =======================
name               columns         statistic                             drift when (default)
=================  ==============  ====================================  =======================
``ks``             numeric         two-sample Kolmogorov-Smirnov D       p <= 0.05
``chisquare``      any             chi-square of the counts              p < 0.05
``ztest``          any             two-proportion z (first key vs rest)  p < 0.05
``wasserstein``    numeric         W1 / max(std_ref, 0.001)              >= 0.1
``jensenshannon``  any             Jensen-Shannon distance (natural log) >= 0.1
``psi``            any             population stability index            >= 0.25
=================  ==============  ====================================  =======================

The tests are scipy's (``ks_2samp``, ``chisquare``, ``jensenshannon``, ``norm``, ``kstwo``);
monitoring lines the two sides up (:class:`conveyor.plugins.drift.ColumnSample`). numpy and
scipy are imported inside functions, so that loading a test class stays cheap.

All six work from counts (``from_counts``): a batch above ``COUNT_ROWS`` rows comes as its
values counted into the bins of the reference's quantile grid (``sample.current_grid``, a
:class:`~conveyor.plugins.drift.GridCounts`), never as its values. ``chisquare``, ``ztest``,
``jensenshannon`` and ``psi`` see the very counts they see on values (the 10 PSI bins are
sums of grid bins; distinct values and categories are counted exactly). ``ks`` and
``wasserstein`` are approximated on the grid:

- ``ks``: D = max |F_ref - F_cur| over the grid's edges, where F_cur is exact. Between two
  edges both CDFs are monotone, so D is at most the exact statistic and at most
  ``max_i max(p_i, r_i)`` below it, with ``p_i`` the batch's share in bin i and ``r_i`` the
  reference's share strictly inside it (0 for a kept sample, whose values are edges; about
  0.001 per grid step). The p-value is ``kstwo``'s at n*m/(n+m), as for a grid reference.
- ``wasserstein``: Q_cur is the inverse of the CDF taken as linear within each bin (the end
  bins run from the batch's minimum and to its maximum), in the same trapezoid rule. At each
  grid point the approximate and the exact quantile lie in the same bin, so the statistic
  moves by at most ``sum_i (p_i + 0.001) * w_i / max(std_ref, 0.001)``, ``w_i`` the bin's
  width: tiny inside the reference's range, large only when much of the batch lies far
  outside it, where the column has drifted far past any threshold anyway.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from conveyor.plugins import NoParams
from conveyor.plugins.drift import (
    ColumnKind,
    ColumnSample,
    DriftTest,
    GridCounts,
    NumericReference,
    Outcome,
    grid_quantiles,
)

if TYPE_CHECKING:
    import numpy as np

EPSILON = 1e-4  # replaces empty bins' shares in PSI (and empty expected cells in chi-square)
MIN_STD = 0.001  # Evidently's floor for the Wasserstein normaliser
_NUMERIC: frozenset[ColumnKind] = frozenset({"numeric"})


class KolmogorovSmirnov(DriftTest[NoParams]):
    """``ks`` — two-sample KS on a numeric column; drift when p <= the threshold."""

    kinds = _NUMERIC
    p_value = True
    from_counts = True
    default_threshold: ClassVar[float] = 0.05

    def run(self, *, sample: ColumnSample) -> Outcome:
        """``scipy.stats.ks_2samp``, or its asymptotic p-value on the reference's grid."""
        if sample.current is None and sample.current_grid is not None:
            return ks_counts(_reference(sample), sample.current_grid)
        return ks(_reference(sample), _current(sample))

    def drifted(self, *, outcome: Outcome, threshold: float) -> bool:
        """P at or below ``threshold`` (Evidently's rule for KS)."""
        return outcome.p_value is not None and outcome.p_value <= threshold


class ChiSquare(DriftTest[NoParams]):
    """``chisquare`` — chi-square goodness of fit of the batch counts; drift when p < it."""

    p_value = True
    from_counts = True
    default_threshold: ClassVar[float] = 0.05

    def run(self, *, sample: ColumnSample) -> Outcome:
        """The batch's counts against the reference shares."""
        return chisquare(sample.reference_counts, sample.current_counts)


class ZTest(DriftTest[NoParams]):
    """``ztest`` — pooled two-proportion z-test of the first key; drift when p < it."""

    p_value = True
    from_counts = True
    default_threshold: ClassVar[float] = 0.05

    def run(self, *, sample: ColumnSample) -> Outcome:
        """The share of values other than the first key, on both sides."""
        return ztest(sample.first, sample.reference_counts, sample.current_counts)


class Wasserstein(DriftTest[NoParams]):
    """``wasserstein`` — normalised W1 distance on a numeric column; drift when >= it."""

    kinds = _NUMERIC
    from_counts = True
    default_threshold: ClassVar[float] = 0.1

    def run(self, *, sample: ColumnSample) -> Outcome:
        """W1 between the quantile functions over the reference's std."""
        if sample.current is None and sample.current_grid is not None:
            return wasserstein_counts(_reference(sample), sample.current_grid)
        return wasserstein_norm(_reference(sample), _current(sample))


class JensenShannon(DriftTest[NoParams]):
    """``jensenshannon`` — Jensen-Shannon distance of the counts; drift when >= it."""

    from_counts = True
    default_threshold: ClassVar[float] = 0.1

    def run(self, *, sample: ColumnSample) -> Outcome:
        """The distance between the two count vectors."""
        return jensenshannon(sample.reference_counts, sample.current_counts)


class PopulationStability(DriftTest[NoParams]):
    """``psi`` — population stability index of the counts; drift when >= it."""

    from_counts = True
    default_threshold: ClassVar[float] = 0.25

    def run(self, *, sample: ColumnSample) -> Outcome:
        """PSI over the sample's keys (categories, values or 10 quantile bins)."""
        return Outcome(psi(shares(sample.reference_counts), shares(sample.current_counts)))


def _reference(sample: ColumnSample) -> NumericReference:
    if sample.reference is None:
        msg = f"a numeric test got a {sample.kind} column"
        raise TypeError(msg)
    return sample.reference


def _current(sample: ColumnSample) -> np.ndarray:
    if sample.current is None:
        msg = f"a numeric test got a {sample.kind} column"
        raise TypeError(msg)
    return sample.current


def shares(counts: np.ndarray) -> np.ndarray:
    """Counts as shares of their total (zeros if the total is zero)."""
    import numpy as np

    total = counts.sum()
    return counts / total if total > 0 else np.zeros_like(counts)


def psi(reference_shares: np.ndarray, current_shares: np.ndarray) -> float:
    """Population stability index, sum((q - p) * ln(q / p)), empty shares replaced by EPSILON."""
    import numpy as np

    p = np.where(reference_shares > 0, reference_shares, EPSILON)
    q = np.where(current_shares > 0, current_shares, EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def wasserstein_norm(reference: NumericReference, current: np.ndarray) -> Outcome:
    """W1 between the quantile functions (trapezoid rule over the grid) / max(std_ref, 0.001)."""
    import numpy as np

    grid = reference.quantiles
    gaps = np.abs(grid - grid_quantiles(current, len(grid)))
    w1 = float((gaps.sum() - (gaps[0] + gaps[-1]) / 2) / (len(grid) - 1))
    return Outcome(w1 / max(reference.std, MIN_STD))


def wasserstein_counts(reference: NumericReference, current: GridCounts) -> Outcome:
    """:func:`wasserstein_norm` with the batch's quantiles read off its grid counts."""
    import numpy as np

    grid = reference.quantiles
    gaps = np.abs(grid - current.quantiles(np.linspace(0.0, 1.0, len(grid))))
    w1 = float((gaps.sum() - (gaps[0] + gaps[-1]) / 2) / (len(grid) - 1))
    return Outcome(w1 / max(reference.std, MIN_STD))


def ks_counts(reference: NumericReference, current: GridCounts) -> Outcome:
    """KS D = max |F_ref - F_cur| over the grid's edges (F_cur exact there), kstwo's p."""
    import numpy as np
    from scipy import stats

    below = np.cumsum(current.counts)[:-1] / current.count
    statistic = float(np.max(np.abs(reference.cdf(current.edges) - below), initial=0.0))
    n, m = reference.count, current.count
    return Outcome(statistic, float(stats.kstwo.sf(statistic, round(n * m / (n + m)))))


def ks(reference: NumericReference, current: np.ndarray) -> Outcome:
    """Two-sample KS: ``scipy.stats.ks_2samp`` on the raw reference values when kept.

    A reference profiled from more than 1000 values has only its quantile grid: the
    statistic is then sup |F_ref - F_cur| over both sides' grids, and the p-value scipy's
    ``kstwo`` distribution at the effective size n*m/(n+m) (ks_2samp's asymptotic mode).
    """
    import numpy as np
    from scipy import stats

    if reference.sample is not None:
        result = stats.ks_2samp(reference.sample, current)
        return Outcome(float(result.statistic), float(result.pvalue))
    points = np.concatenate((reference.quantiles, grid_quantiles(current, 1001)))
    cur_cdf = np.searchsorted(current, points, side="right") / len(current)
    statistic = float(np.max(np.abs(reference.cdf(points) - cur_cdf)))
    n, m = reference.count, len(current)
    return Outcome(statistic, float(stats.kstwo.sf(statistic, round(n * m / (n + m)))))


def chisquare(reference: np.ndarray, current: np.ndarray) -> Outcome:
    """Chi-square goodness of fit of current counts against reference shares x current total.

    An empty expected cell (a category the reference never saw) would make the statistic
    infinite; its share becomes EPSILON (the others rescaled) so the result stays finite.
    """
    import numpy as np
    from scipy import stats

    expected = shares(reference)
    if np.any((expected == 0) & (current > 0)):
        expected = shares(np.where(expected > 0, expected, EPSILON))
    keep = (expected > 0) | (current > 0)
    result = stats.chisquare(current[keep], expected[keep] * current.sum())
    return Outcome(float(result.statistic), float(result.pvalue))


def ztest(first: int, reference: np.ndarray, current: np.ndarray) -> Outcome:
    """Pooled two-proportion z-test of the share of values other than key ``first``.

    This is Evidently's z-test (``first`` is the smallest value); with more than two values it
    compares "the first value vs the rest".
    """
    import numpy as np
    from scipy import stats

    n1, n2 = reference.sum(), current.sum()
    p1, p2 = 1 - reference[first] / n1, 1 - current[first] / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    spread = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if spread <= 0:  # both sides hold the same single value
        return Outcome(0.0, 1.0)
    z = float((p1 - p2) / np.sqrt(spread))
    return Outcome(z, float(2 * stats.norm.sf(abs(z))))


def jensenshannon(reference: np.ndarray, current: np.ndarray) -> Outcome:
    """Jensen-Shannon distance (natural log) between the two count vectors."""
    from scipy.spatial import distance

    return Outcome(float(distance.jensenshannon(reference, current)))
