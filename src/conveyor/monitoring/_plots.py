"""The drift report's plots: each column's reference and current shares, binned alike."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.components.drift import shares
from conveyor.monitoring import _grid, _stats
from conveyor.monitoring.profile import OTHER
from conveyor.plugins.drift import grid_quantiles

if TYPE_CHECKING:
    from conveyor.plugins.drift import GridCounts, NumericReference

PLOT_BINS = 20
PLOT_CATEGORIES = 20


def numeric_plot(reference: NumericReference, current: np.ndarray) -> dict[str, list[Any]]:
    """Shares in PLOT_BINS equal-width bins spanning both sides' 0.1%-99.9% quantiles."""
    grid = reference.quantiles
    low_cur, high_cur = grid_quantiles(current, len(grid))[[1, -2]].tolist()
    low, high = min(float(grid[1]), low_cur), max(float(grid[-2]), high_cur)
    if high <= low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, PLOT_BINS + 1)
    ref, cur = _stats.numeric_bins(reference, current, edges[1:-1])
    return {
        "edges": edges.tolist(),
        "reference": ref.tolist(),
        "current": shares(cur).tolist(),
    }


def counted_plot(reference: NumericReference, grid: GridCounts) -> dict[str, list[Any]]:
    """:func:`numeric_plot` of a counted column (its CDF linear within a grid bin)."""
    quantiles = reference.quantiles
    step = 1.0 / (len(quantiles) - 1)
    low_cur, high_cur = grid.quantiles(np.array([step, 1.0 - step])).tolist()
    low, high = min(float(quantiles[1]), low_cur), max(float(quantiles[-2]), high_cur)
    if high <= low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, PLOT_BINS + 1)
    interior = edges[1:-1]
    ref = np.diff(np.concatenate(([0.0], reference.cdf(interior), [1.0])))
    cur = _grid.batch_cdf_counts(grid, interior)
    return {"edges": edges.tolist(), "reference": ref.tolist(), "current": shares(cur).tolist()}


def categorical_plot(tally: _stats.Tally) -> dict[str, list[Any]]:
    """Shares of the PLOT_CATEGORIES most common categories (both sides), the rest as OTHER."""
    ref, cur = shares(tally.reference), shares(tally.current)
    order = np.argsort(-(ref + cur), kind="stable")
    top, rest = order[:PLOT_CATEGORIES], order[PLOT_CATEGORIES:]
    categories = [tally.keys[i] for i in top.tolist()]
    ref_top, cur_top = ref[top].tolist(), cur[top].tolist()
    if len(rest):
        categories.append(OTHER)
        ref_top.append(float(ref[rest].sum()))
        cur_top.append(float(cur[rest].sum()))
    return {"categories": categories, "reference": ref_top, "current": cur_top}
