"""One column of a batch against its profile entry: the test, PSI, plot data, quality checks.

The machinery behind :func:`conveyor.monitoring.drift.compare`; imported lazily (numpy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.monitoring import _columns, _stats
from conveyor.monitoring.drift import (
    DEFAULT_THRESHOLDS,
    P_VALUE_METHODS,
    ColumnDrift,
    QualityIssue,
    check_method,
)
from conveyor.monitoring.profile import OTHER, SAMPLE_LIMIT

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pyarrow as pa

    from conveyor.monitoring.drift import ColumnTest, DriftOptions

PLOT_BINS = 20
PLOT_CATEGORIES = 20


@dataclass(frozen=True)
class Side:
    """A batch column: ascending finite values (numeric) or category counts, and its nulls."""

    count: int
    nulls: int
    ordered: np.ndarray | None = None
    counts: dict[str, int] | None = None

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


def drift(
    name: str, summary: Mapping[str, Any], side: Side, test: ColumnTest, *, where: str | None
) -> ColumnDrift:
    """Test one column; ``where`` is set when ``test`` is a per-column override."""
    kind = summary["kind"]
    if summary["count"] == 0 or side.count == 0:  # nothing to compare; null_rate reports it
        return ColumnDrift(name, kind, "none", 0.0, 0.0, False, None, 0.0, 0, side.count, {})
    if kind == "numeric":
        assert side.ordered is not None  # noqa: S101 - Side.of sets it for numeric columns
        return _numeric(name, summary, side.ordered, test, where)
    assert side.counts is not None  # noqa: S101 - Side.of sets it for categorical columns
    return _categorical(name, summary, side.counts, test, where)


def _numeric(
    name: str, summary: Mapping[str, Any], current: np.ndarray, test: ColumnTest, where: str | None
) -> ColumnDrift:
    reference = _stats.NumericReference.of(summary)
    discrete = _value_tally(summary, current) if "counts" in summary else None
    if summary["unique"] > 5 or discrete is None:
        values = 6  # only "more than 5" matters
    else:
        known = len(summary["counts"])  # distinct values on both sides, together
        matched = int(np.count_nonzero(discrete.current[:known]))
        values = known + _columns.distinct_count(current) - matched
    method = _method(test, "numeric", name, where, reference.count, values)
    tally = discrete or _bin_tally(reference, current)
    outcome = _run(method, tally, reference, current)
    return _result(
        name,
        "numeric",
        method,
        test,
        outcome,
        tally,
        reference.count,
        len(current),
        _numeric_plot(reference, current),
    )


def _categorical(
    name: str,
    summary: Mapping[str, Any],
    current: dict[str, int],
    test: ColumnTest,
    where: str | None,
) -> ColumnDrift:
    counts: dict[str, int] = summary["counts"]
    keys, ref, cur = _stats.aligned_counts(
        counts, current, other=OTHER if OTHER in counts else None
    )
    tally = Tally(keys, ref, cur, keys.index(min(keys)))
    method = _method(test, "categorical", name, where, int(summary["count"]), len(keys))
    outcome = _run(method, tally, None, None)
    return _result(
        name,
        "categorical",
        method,
        test,
        outcome,
        tally,
        int(summary["count"]),
        int(cur.sum()),
        _categorical_plot(tally),
    )


def _method(
    test: ColumnTest, kind: str, name: str, where: str | None, rows: int, values: int
) -> str:
    """The test to run: the configured one, or Evidently's default for the sample size."""
    if test.method != "auto":
        if where is not None:
            check_method(test.method, kind, name, where)
            return test.method
        if not (kind == "categorical" and test.method in ("ks", "wasserstein")):
            return test.method
        # a project-wide numeric-only method leaves categorical columns on auto
    if rows <= SAMPLE_LIMIT:
        if kind == "numeric" and values > 5:
            return "ks"
        return "chisquare" if values > 2 else "ztest"
    return "wasserstein" if kind == "numeric" and values > 5 else "jensenshannon"


def _run(
    method: str, tally: Tally, reference: _stats.NumericReference | None, current: np.ndarray | None
) -> _stats.Outcome:
    if method == "ks" and reference is not None and current is not None:
        return _stats.ks(reference, current)
    if method == "wasserstein" and reference is not None and current is not None:
        return _stats.wasserstein_norm(reference, current)
    if method == "chisquare":
        return _stats.chisquare(tally.reference, tally.current)
    if method == "ztest":
        return _stats.ztest(tally.first, tally.reference, tally.current)
    if method == "jensenshannon":
        return _stats.jensenshannon(tally.reference, tally.current)
    return _stats.Outcome(_psi(tally))  # "psi"


def _psi(tally: Tally) -> float:
    return _stats.psi(_stats.shares(tally.reference), _stats.shares(tally.current))


def _result(
    name: str,
    kind: Any,  # noqa: ANN401 - the Literal of ColumnDrift.kind
    method: str,
    test: ColumnTest,
    outcome: _stats.Outcome,
    tally: Tally,
    reference_rows: int,
    current_rows: int,
    plot: dict[str, list[Any]],
) -> ColumnDrift:
    threshold = test.threshold if test.threshold is not None else DEFAULT_THRESHOLDS[method]
    if method in P_VALUE_METHODS:
        assert outcome.p_value is not None  # noqa: S101 - hypothesis tests return one
        p = outcome.p_value
        drifted = p <= threshold if method == "ks" else p < threshold
    else:
        drifted = outcome.statistic >= threshold
    return ColumnDrift(
        name=name,
        kind=kind,
        method=method,
        statistic=outcome.statistic,
        threshold=threshold,
        drifted=bool(drifted),
        p_value=outcome.p_value,
        psi=_psi(tally),
        reference_rows=reference_rows,
        current_rows=current_rows,
        plot=plot,
    )


def _value_tally(summary: Mapping[str, Any], current: np.ndarray) -> Tally:
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


def _bin_tally(reference: _stats.NumericReference, current: np.ndarray) -> Tally:
    """Counts in the 10 reference-quantile bins (the reference's scaled from its shares)."""
    interior = _stats.quantile_edges(reference)
    ref_shares, cur = _stats.numeric_bins(reference, current, interior)
    labels = [f"<= {edge:.4g}" for edge in interior.tolist()] + ["above"]
    return Tally(labels, ref_shares * reference.count, cur, 0)


def _numeric_plot(reference: _stats.NumericReference, current: np.ndarray) -> dict[str, list[Any]]:
    """Shares in PLOT_BINS equal-width bins spanning both sides' 0.1%-99.9% quantiles."""
    grid = reference.quantiles
    low_cur, high_cur = _columns.grid_quantiles(current, len(grid))[[1, -2]].tolist()
    low, high = min(float(grid[1]), low_cur), max(float(grid[-2]), high_cur)
    if high <= low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, PLOT_BINS + 1)
    ref, cur = _stats.numeric_bins(reference, current, edges[1:-1])
    return {
        "edges": edges.tolist(),
        "reference": ref.tolist(),
        "current": _stats.shares(cur).tolist(),
    }


def _categorical_plot(tally: Tally) -> dict[str, list[Any]]:
    """Shares of the PLOT_CATEGORIES most common categories (both sides), the rest as OTHER."""
    ref, cur = _stats.shares(tally.reference), _stats.shares(tally.current)
    order = np.argsort(-(ref + cur), kind="stable")
    top, rest = order[:PLOT_CATEGORIES], order[PLOT_CATEGORIES:]
    categories = [tally.keys[i] for i in top.tolist()]
    ref_top, cur_top = ref[top].tolist(), cur[top].tolist()
    if len(rest):
        categories.append(OTHER)
        ref_top.append(float(ref[rest].sum()))
        cur_top.append(float(cur[rest].sum()))
    return {"categories": categories, "reference": ref_top, "current": cur_top}


def quality(
    name: str, summary: Mapping[str, Any], side: Side, options: DriftOptions
) -> list[QualityIssue]:
    """The data-quality issues of one batch column."""
    issues = []
    jump = side.null_rate - float(summary["null_rate"])
    if jump > options.null_rate_increase:
        detail = f"null rate {summary['null_rate']:.1%} -> {side.null_rate:.1%}"
        issues.append(QualityIssue(name, "null_rate", jump, options.null_rate_increase, detail))
    if summary["count"] == 0 or side.count == 0:
        return issues
    if side.ordered is not None:
        low, high = float(summary["min"]), float(summary["max"])
        outside = int(np.searchsorted(side.ordered, low, side="left"))
        outside += side.count - int(np.searchsorted(side.ordered, high, side="right"))
        share = outside / side.count
        if share > options.out_of_range_share:
            detail = f"{outside} of {side.count} values outside [{low:.6g}, {high:.6g}]"
            issues.append(
                QualityIssue(name, "out_of_range", share, options.out_of_range_share, detail)
            )
    elif side.counts is not None and OTHER not in summary["counts"]:
        new = {key: n for key, n in side.counts.items() if key not in summary["counts"]}
        share = sum(new.values()) / side.count
        if share > options.new_category_share:
            named = sorted(new, key=lambda key: -new[key])[:5]
            more = f" and {len(new) - 5} more" if len(new) > 5 else ""
            detail = f"{len(new)} new: {', '.join(map(repr, named))}{more}"
            issues.append(
                QualityIssue(name, "new_categories", share, options.new_category_share, detail)
            )
    return issues
