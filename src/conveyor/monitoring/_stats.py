"""The statistics behind drift checks: scipy's tests on a profile's summaries and a new batch.

A reference is known only through its profile: raw values when it had at most
``SAMPLE_LIMIT`` of them, otherwise a 1001-point quantile grid (and counts for discrete
columns). The current batch is in full, as an ascending array or as counts. The tests are
scipy's (``ks_2samp``, ``chisquare``, ``jensenshannon``, ``norm``, ``kstwo``); this module only
lines the two sides up. Imported lazily (numpy at the top).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.monitoring import _columns

if TYPE_CHECKING:
    from collections.abc import Mapping

EPSILON = 1e-4  # replaces empty bins' shares in PSI (and empty expected cells in chi-square)
PSI_BINS = 10
MIN_STD = 0.001  # Evidently's floor for the Wasserstein normaliser


@dataclass(frozen=True)
class Outcome:
    """A test's statistic and, for hypothesis tests, its p-value."""

    statistic: float
    p_value: float | None = None


@dataclass(frozen=True)
class NumericReference:
    """A numeric profile entry as arrays: the quantile grid, and the raw values if kept."""

    quantiles: np.ndarray
    sample: np.ndarray | None
    count: int
    std: float

    @classmethod
    def of(cls, summary: Mapping[str, Any]) -> NumericReference:
        """The arrays of a numeric profile entry (with at least one value)."""
        sample = summary.get("sample")
        values = None if sample is None else np.sort(np.asarray(sample, dtype=np.float64))
        grid = summary.get("quantiles")
        if grid is None and values is not None:  # small columns keep the values, not the grid
            from conveyor.monitoring.profile import QUANTILES

            grid = _columns.grid_quantiles(values, QUANTILES)
        return cls(
            quantiles=np.asarray(grid, dtype=np.float64),
            sample=values,
            count=int(summary["count"]),
            std=float(summary["std"]),
        )

    def cdf(self, points: np.ndarray) -> np.ndarray:
        """Share of reference values <= each point: exact from the sample, else from the grid.

        On the grid, the last grid point <= x gives the lower bound and the CDF is linear
        up to the next (strictly greater) grid point, so tied quantiles (a spike of equal
        values) are handled: F jumps at the tie, as the true CDF does.
        """
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


def shares(counts: np.ndarray) -> np.ndarray:
    """Counts as shares of their total (zeros if the total is zero)."""
    total = counts.sum()
    return counts / total if total > 0 else np.zeros_like(counts)


def psi(reference_shares: np.ndarray, current_shares: np.ndarray) -> float:
    """Population stability index, sum((q - p) * ln(q / p)), empty shares replaced by EPSILON."""
    p = np.where(reference_shares > 0, reference_shares, EPSILON)
    q = np.where(current_shares > 0, current_shares, EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def wasserstein_norm(reference: NumericReference, current: np.ndarray) -> Outcome:
    """W1 between the quantile functions (trapezoid rule over the grid) / max(std_ref, 0.001)."""
    grid = reference.quantiles
    gaps = np.abs(grid - _columns.grid_quantiles(current, len(grid)))
    w1 = float((gaps.sum() - (gaps[0] + gaps[-1]) / 2) / (len(grid) - 1))
    return Outcome(w1 / max(reference.std, MIN_STD))


def ks(reference: NumericReference, current: np.ndarray) -> Outcome:
    """Two-sample KS: ``scipy.stats.ks_2samp`` on the raw reference values when kept.

    A reference profiled from more than SAMPLE_LIMIT values has only its quantile grid: the
    statistic is then sup |F_ref - F_cur| over both sides' grids, and the p-value scipy's
    ``kstwo`` distribution at the effective size n*m/(n+m) (ks_2samp's asymptotic mode).
    """
    from scipy import stats

    if reference.sample is not None:
        result = stats.ks_2samp(reference.sample, current)
        return Outcome(float(result.statistic), float(result.pvalue))
    points = np.concatenate((reference.quantiles, _columns.grid_quantiles(current, 1001)))
    cur_cdf = np.searchsorted(current, points, side="right") / len(current)
    statistic = float(np.max(np.abs(reference.cdf(points) - cur_cdf)))
    n, m = reference.count, len(current)
    return Outcome(statistic, float(stats.kstwo.sf(statistic, round(n * m / (n + m)))))


def chisquare(reference: np.ndarray, current: np.ndarray) -> Outcome:
    """Chi-square goodness of fit of current counts against reference shares x current total.

    An empty expected cell (a category the reference never saw) would make the statistic
    infinite; its share becomes EPSILON (the others rescaled) so the result stays finite.
    """
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
