"""Compare a batch with its profile, column by column: the test, PSI, plot data, quality checks.

:func:`compare` is the public entry (``conveyor.monitoring.compare``; the types it returns are in
:mod:`conveyor.monitoring.drift`). Each column is lined up as a
:class:`~conveyor.plugins.drift.ColumnSample` and handed to the drift test that
``DriftOptions`` names, or that "auto" picks, loaded from the ``conveyor.drift_tests`` registry
passed in. Imported lazily (numpy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np

from conveyor.components.drift import psi, shares
from conveyor.errors import ConveyorError, DataError, SpecError
from conveyor.monitoring import _columns, _grid, _plots, _stats
from conveyor.monitoring.drift import (
    ColumnDrift,
    ColumnTest,
    DriftOptions,
    DriftReport,
    QualityIssue,
)
from conveyor.monitoring.profile import OTHER, SAMPLE_LIMIT
from conveyor.plugins.drift import (
    ColumnSample,
    DriftTest,
    Outcome,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import pandas as pd
    import pyarrow as pa

    from conveyor.monitoring.profile import Profile
    from conveyor.plugins import Registry


AUTO_METHODS = ("ks", "chisquare", "ztest", "wasserstein", "jensenshannon")
"""The tests ``auto`` picks from (:func:`_method`)."""
BUILT_IN = "conveyor."
"""The module prefix of conveyor's own tests, which every worker running conveyor has."""


class Tests:
    """The drift tests of one comparison, each loaded (and checked) once.

    ``registry`` None: only the tests loaded already (:meth:`for_worker`).
    """

    def __init__(self, registry: Registry | None) -> None:
        self.registry = registry
        self._built: dict[str, DriftTest[Any]] = {}

    def get(self, name: str, *, where: str) -> DriftTest[Any]:
        """The test registered as ``name``; ``where`` locates the name in errors."""
        if name not in self._built:
            if self.registry is None:
                raise KeyError(f"drift test '{name}' was not loaded for this worker")
            cls = self.registry.load(name, where=where)
            self._built[name] = cast("DriftTest[Any]", cls.from_config({}))
        return self._built[name]

    def for_worker(self, options: DriftOptions) -> Tests | None:
        """Every test ``options`` can run, loaded here, to compare counts on a worker.

        None, and the comparison stays here, when one of them is not conveyor's own (a
        worker may lack the package that registers it), does not load (its error is raised
        here, located, as without an executor), or needs the column's values rather than
        its counts (only counts travel).
        """
        methods = {options.default.method, *(test.method for test in options.columns.values())}
        loaded = Tests(None)
        for name in sorted((methods - {"auto"}) | set(AUTO_METHODS)):
            try:
                test = self.get(name, where="monitor.drift.method")
            except ConveyorError:
                return None
            if not (type(test).__module__.startswith(BUILT_IN) and test.from_counts):
                return None
            loaded._built[name] = test
        return loaded


def compare(
    reference: Profile,
    current: pa.Table | pd.DataFrame,
    *,
    options: DriftOptions | None = None,
    current_prediction: np.ndarray | None = None,
    tests: Registry | None = None,
) -> DriftReport:
    """Test every profiled column of ``current`` (but ``options.ignore``) against ``reference``.

    Args:
        reference: The reference profile.
        current: The batch (pyarrow Table or pandas DataFrame); extra columns are ignored.
        options: Methods, thresholds and quality limits (default: the defaults).
        current_prediction: The model's predictions on ``current``, for prediction drift
            (compared only when the profile has predictions too).
        tests: The ``conveyor.drift_tests`` registry (default: the installed entry points).

    Returns:
        The report.

    Raises:
        DataError: The batch lacks a profiled column, or a numeric column holds non-numbers.
        SpecError: A per-column override names a test that cannot test that column's kind.
        UnknownComponentError: A method names no installed drift test.
    """
    import pyarrow as pa

    from conveyor.plugins import Registry

    options = options or DriftOptions()
    loaded = Tests(tests if tests is not None else Registry.discover("drift_test"))
    ignored = set(options.ignore)
    names = [name for name in reference.names if name not in ignored]
    present = set(_columns.column_names(current))
    if missing := [name for name in names if name not in present]:
        raise DataError(
            f"the batch lacks {len(missing)} profiled column(s): {', '.join(map(repr, missing))}",
            where="current data",
            fix="score batches with the training columns, or list these under monitor.drift.ignore",
        )
    rows = _columns.row_count(current)
    prediction = None
    if reference.prediction is not None and current_prediction is not None:
        scores = np.asarray(current_prediction).reshape(-1)
        if len(scores) != rows:
            raise DataError(
                f"{len(scores)} predictions for {rows} rows",
                where="current data",
                fix="pass one prediction per row of the batch",
            )
        kind = reference.prediction["kind"]
        prediction = _stats.Side.of(pa.chunked_array([pa.array(scores)]), kind, "prediction")

    def side_of(name: str, kind: str) -> _stats.Side:
        return _stats.Side.of(_columns.column(current, name), kind, name)

    return compare_sides(reference, names, side_of, rows, prediction, options, loaded)


def compare_counted(
    reference: Profile,
    names: list[str],
    sides: Mapping[str, _stats.Side],
    rows: int,
    prediction_side: _stats.Side | None,
    options: DriftOptions,
    loaded: Tests,
) -> DriftReport:
    """:func:`compare_sides` on sides counted already: a task, run where the tests' scipy is.

    On an executor the driver then never imports scipy.stats (about 0.4 s of CPU, which
    it spent beside the workers counting): a worker of a running cluster has it imported
    from the last comparison on.
    """
    return compare_sides(
        reference, names, lambda name, _kind: sides[name], rows, prediction_side, options, loaded
    )


def compare_sides(
    reference: Profile,
    names: list[str],
    side_of: Callable[[str, str], _stats.Side],
    rows: int,
    prediction_side: _stats.Side | None,
    options: DriftOptions,
    loaded: Tests,
) -> DriftReport:
    """Test the columns ``names``, each read as a :class:`~_stats.Side` when its turn comes.

    ``side_of(name, kind)`` is called once per column, in order, so only one column's values
    are held at a time (a sharded batch merges its files' parts for that column then).
    """
    results: list[ColumnDrift] = []
    issues: list[QualityIssue] = []
    for name in names:
        summary = reference.column(name)
        side = side_of(name, summary["kind"])
        test, where = _column_test(options, name)
        results.append(drift(name, summary, side, test, loaded, where=where))
        issues.extend(quality(name, summary, side, options))
    prediction = None
    if reference.prediction is not None and prediction_side is not None:
        test = options.default  # a numeric-only default leaves a label prediction on auto
        prediction = drift(
            "prediction", reference.prediction, prediction_side, test, loaded, where=None
        )
    drifted = sum(result.drifted for result in results)
    share = drifted / len(results) if results else 0.0
    return DriftReport(
        columns=tuple(results),
        drifted_share=share,
        dataset_drift=bool(results) and share >= options.dataset_share,
        prediction=prediction,
        quality=tuple(issues),
        rows=rows,
        reference_rows=reference.rows,
    )


def _column_test(options: DriftOptions, name: str) -> tuple[ColumnTest, str | None]:
    """The column's test and, for a per-column override, where it was configured."""
    if name in options.columns:
        return options.columns[name], f"monitor.drift.columns.{name}"
    return options.default, None


def drift(
    name: str,
    summary: Mapping[str, Any],
    side: _stats.Side,
    test: ColumnTest,
    tests: Tests,
    *,
    where: str | None,
) -> ColumnDrift:
    """Test one column; ``where`` is set when ``test`` is a per-column override."""
    kind = summary["kind"]
    if summary["count"] == 0 or side.count == 0:  # nothing to compare; null_rate reports it
        return ColumnDrift(name, kind, "none", 0.0, 0.0, False, None, 0.0, 0, side.count, {})
    if kind == "numeric" and side.counted is not None:
        return _numeric_counted(name, summary, side, test, tests, where)
    if kind == "numeric":
        assert side.ordered is not None  # noqa: S101 - Side.of sets it for numeric columns
        return _numeric(name, summary, side.ordered, test, tests, where)
    assert side.counts is not None  # noqa: S101 - Side.of sets it for categorical columns
    return _categorical(name, summary, side.counts, test, tests, where)


def _numeric(
    name: str,
    summary: Mapping[str, Any],
    current: np.ndarray,
    test: ColumnTest,
    tests: Tests,
    where: str | None,
) -> ColumnDrift:
    reference = _stats.numeric_reference(summary)
    discrete = _stats.value_tally(summary, current) if "counts" in summary else None
    if summary["unique"] > 5 or discrete is None:
        values = 6  # only "more than 5" matters
    else:
        known = len(summary["counts"])  # distinct values on both sides, together
        matched = int(np.count_nonzero(discrete.current[:known]))
        values = known + _columns.distinct_count(current) - matched
    method, chosen = _method(test, tests, "numeric", name, where, reference.count, values)
    tally = discrete or _stats.bin_tally(reference, current)
    sample = ColumnSample(
        "numeric",
        tuple(tally.keys),
        tally.reference,
        tally.current,
        tally.first,
        reference=reference,
        current=current,
    )
    return _result(
        name,
        "numeric",
        method,
        chosen,
        test,
        chosen.run(sample=sample),
        tally,
        reference.count,
        len(current),
        _plots.numeric_plot(reference, current),
    )


def _numeric_counted(
    name: str,
    summary: Mapping[str, Any],
    side: _stats.Side,
    test: ColumnTest,
    tests: Tests,
    where: str | None,
) -> ColumnDrift:
    """:func:`_numeric` on a column counted into the reference grid (see ``_grid``)."""
    counted = side.counted
    assert counted is not None  # noqa: S101 - the caller checked
    reference = _stats.numeric_reference(summary)
    discrete = _grid.value_tally(summary, counted) if "counts" in summary else None
    values = 6  # only "more than 5" matters; counted.extra keeps enough to tell
    if summary["unique"] <= 5 and discrete is not None:
        values = len(summary["counts"]) + len(counted.extra)
    method, chosen = _method(test, tests, "numeric", name, where, reference.count, values)
    if not chosen.from_counts and side.exact is not None:  # this test needs the values
        exact = side.exact()
        assert exact.ordered is not None  # noqa: S101 - a numeric side read in full
        return _numeric(name, summary, exact.ordered, test, tests, where)
    tally = discrete or _grid.bin_tally(reference, counted.grid)
    sample = ColumnSample(
        "numeric",
        tuple(tally.keys),
        tally.reference,
        tally.current,
        tally.first,
        reference=reference,
        current_grid=counted.grid,
    )
    return _result(
        name,
        "numeric",
        method,
        chosen,
        test,
        chosen.run(sample=sample),
        tally,
        reference.count,
        side.count,
        _plots.counted_plot(reference, counted.grid),
    )


def _categorical(
    name: str,
    summary: Mapping[str, Any],
    current: dict[str, int],
    test: ColumnTest,
    tests: Tests,
    where: str | None,
) -> ColumnDrift:
    counts: dict[str, int] = summary["counts"]
    keys, ref, cur = _stats.aligned_counts(
        counts, current, other=OTHER if OTHER in counts else None
    )
    tally = _stats.Tally(keys, ref, cur, keys.index(min(keys)))
    rows = int(summary["count"])
    method, chosen = _method(test, tests, "categorical", name, where, rows, len(keys))
    sample = ColumnSample("categorical", tuple(keys), ref, cur, tally.first)
    return _result(
        name,
        "categorical",
        method,
        chosen,
        test,
        chosen.run(sample=sample),
        tally,
        rows,
        int(cur.sum()),
        _plots.categorical_plot(tally),
    )


def _method(
    test: ColumnTest,
    tests: Tests,
    kind: str,
    name: str,
    where: str | None,
    rows: int,
    values: int,
) -> tuple[str, DriftTest[Any]]:
    """The test to run: the configured one, or Evidently's default for the sample size."""
    if test.method != "auto":
        chosen = tests.get(test.method, where=f"{where or 'monitor.drift'}.method")
        if where is not None:
            _check_kind(test.method, chosen, kind, name, where)
            return test.method, chosen
        if kind in chosen.kinds:
            return test.method, chosen
        # a project-wide test of the other kind (ks on categories) leaves this column on auto
    if rows <= SAMPLE_LIMIT:
        if kind == "numeric" and values > 5:
            method = "ks"
        else:
            method = "chisquare" if values > 2 else "ztest"
    else:
        method = "wasserstein" if kind == "numeric" and values > 5 else "jensenshannon"
    return method, tests.get(method, where="monitor.drift.method")


def _check_kind(method: str, chosen: DriftTest[Any], kind: str, name: str, where: str) -> None:
    """SpecError when the test ``method`` cannot test a ``kind`` column (KS needs numbers)."""
    if kind in chosen.kinds:
        return
    if kind == "categorical":
        raise SpecError(
            f"method '{method}' needs numbers but column '{name}' is categorical",
            where=where,
            fix="use chisquare, ztest, jensenshannon or psi (or auto) for this column",
        )
    raise SpecError(
        f"method '{method}' needs categories but column '{name}' is numeric",
        where=where,
        fix="use ks, wasserstein, chisquare, ztest, jensenshannon or psi (or auto) for it",
    )


def _psi(tally: _stats.Tally) -> float:
    return psi(shares(tally.reference), shares(tally.current))


def _result(
    name: str,
    kind: Any,  # noqa: ANN401 - the Literal of ColumnDrift.kind
    method: str,
    chosen: DriftTest[Any],
    test: ColumnTest,
    outcome: Outcome,
    tally: _stats.Tally,
    reference_rows: int,
    current_rows: int,
    plot: dict[str, list[Any]],
) -> ColumnDrift:
    threshold = test.threshold if test.threshold is not None else chosen.default_threshold
    return ColumnDrift(
        name=name,
        kind=kind,
        method=method,
        statistic=outcome.statistic,
        threshold=threshold,
        drifted=bool(chosen.drifted(outcome=outcome, threshold=threshold)),
        p_value=outcome.p_value,
        psi=_psi(tally),
        reference_rows=reference_rows,
        current_rows=current_rows,
        plot=plot,
    )


def quality(
    name: str, summary: Mapping[str, Any], side: _stats.Side, options: DriftOptions
) -> list[QualityIssue]:
    """The data-quality issues of one batch column."""
    issues = []
    jump = side.null_rate - float(summary["null_rate"])
    if jump > options.null_rate_increase:
        detail = f"null rate {summary['null_rate']:.1%} -> {side.null_rate:.1%}"
        issues.append(QualityIssue(name, "null_rate", jump, options.null_rate_increase, detail))
    if summary["count"] == 0 or side.count == 0:
        return issues
    if side.ordered is not None or side.counted is not None:
        low, high = float(summary["min"]), float(summary["max"])
        if side.counted is not None:
            outside = side.counted.below + side.counted.above
        else:
            assert side.ordered is not None  # noqa: S101 - one of the two is set
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
