"""Drift between a reference profile and a new batch: per column, per dataset, per prediction.

``compare`` walks the batch one column at a time. Each column gets one test, chosen as
Evidently 0.7 chooses by default ("auto"), unless ``DriftOptions`` overrides it:

=====================  ==============================================  ======================
reference values        column                                          test, drift when
=====================  ==============================================  ======================
<= 1000                 numeric, > 5 distinct values                    KS, p <= 0.05
<= 1000                 numeric 3-5 values, categorical > 2             chi-square, p < 0.05
<= 1000                 <= 2 values                                     z-test, p < 0.05
> 1000                  numeric, > 5 distinct values                    W1 / std_ref >= 0.1
> 1000                  categorical, numeric <= 5 values                Jensen-Shannon >= 0.1
=====================  ==============================================  ======================

Distinct values count both sides. Large samples get distances, not p-values: at a million
rows a KS test flags a 0.02 sigma shift (p ~ 1e-36) that nobody would call drift. PSI is always
reported (10 reference-quantile bins, open end bins, empty shares 1e-4) and decides drift when
asked for (``method="psi"``, threshold 0.25). Data-quality checks ride along: categories the
reference never saw, values outside the reference range, and a jump in the null rate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from conveyor.errors import DataError, SpecError

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from conveyor.monitoring.profile import Profile

__all__ = [
    "DEFAULT_THRESHOLDS",
    "ColumnDrift",
    "ColumnTest",
    "DriftOptions",
    "DriftReport",
    "Method",
    "QualityIssue",
    "compare",
]

Method = Literal["auto", "ks", "chisquare", "ztest", "wasserstein", "jensenshannon", "psi"]
Check = Literal["new_categories", "out_of_range", "null_rate"]

DEFAULT_THRESHOLDS: Mapping[str, float] = {
    "ks": 0.05,
    "chisquare": 0.05,
    "ztest": 0.05,
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "psi": 0.25,
}
P_VALUE_METHODS = frozenset({"ks", "chisquare", "ztest"})
NUMERIC_ONLY = frozenset({"ks", "wasserstein"})


@dataclass(frozen=True)
class ColumnTest:
    """How one column is tested: the method, and its threshold (None: the method's default)."""

    method: Method = "auto"
    threshold: float | None = None


@dataclass(frozen=True)
class DriftOptions:
    """What counts as drift and as a data-quality issue (``monitor.drift`` and ``.quality``)."""

    default: ColumnTest = ColumnTest()
    columns: Mapping[str, ColumnTest] = field(default_factory=dict)
    dataset_share: float = 0.5
    ignore: tuple[str, ...] = ()
    null_rate_increase: float = 0.1
    out_of_range_share: float = 0.05
    new_category_share: float = 0.01


@dataclass(frozen=True)
class ColumnDrift:
    """The drift test of one column.

    ``statistic`` is the test statistic (KS D, chi-square, z, W1/std, JS distance, or PSI for
    ``method="psi"``); drift is ``p_value`` below ``threshold`` for the hypothesis tests
    (``<=`` for KS), ``statistic >= threshold`` otherwise. ``plot`` feeds the HTML report:
    ``{"edges", "reference", "current"}`` (shares per bin; the end bins also hold whatever lies
    beyond the outer edges) for numeric columns, ``{"categories", "reference", "current"}``
    for categorical ones.
    """

    name: str
    kind: Literal["numeric", "categorical"]
    method: str
    statistic: float
    threshold: float
    drifted: bool
    p_value: float | None
    psi: float
    reference_rows: int
    current_rows: int
    plot: dict[str, list[Any]]


@dataclass(frozen=True)
class QualityIssue:
    """A data-quality check the batch fails: ``observed`` is above ``threshold``."""

    column: str
    check: Check
    observed: float
    threshold: float
    detail: str


@dataclass(frozen=True)
class DriftReport:
    """Drift of a batch against a reference profile (``rows`` = batch rows)."""

    columns: tuple[ColumnDrift, ...]
    drifted_share: float
    dataset_drift: bool
    prediction: ColumnDrift | None
    quality: tuple[QualityIssue, ...]
    rows: int
    reference_rows: int

    def drifted(self) -> list[str]:
        """Names of the drifted columns (the prediction is not a column)."""
        return [column.name for column in self.columns if column.drifted]

    def to_dict(self, *, plots: bool = False) -> dict[str, Any]:
        """A JSON-able dict; flat metrics first, then per column (plots only if asked).

        Example (``reports/drift.json``)::

            {"dataset_drift": 1, "drifted_share": 0.6, "drifted_columns": 3,
             "prediction_drift": 0.21, "quality_issues": 1, "rows": 5000,
             "reference_rows": 426, "columns": {"mean radius": {"kind": "numeric",
             "method": "ks", "statistic": 0.31, "threshold": 0.05, "drifted": true,
             "p_value": 1e-9, "psi": 0.8, "reference_rows": 426, "current_rows": 5000}},
             "prediction": {...} or null, "quality": [{"column": ..., "check": ...}]}
        """

        def entry(drift: ColumnDrift) -> dict[str, Any]:
            body = asdict(drift)
            del body["name"]
            if not plots:
                del body["plot"]
            return body

        return {
            "dataset_drift": int(self.dataset_drift),
            "drifted_share": self.drifted_share,
            "drifted_columns": len(self.drifted()),
            "prediction_drift": self.prediction.statistic if self.prediction else None,
            "quality_issues": len(self.quality),
            "rows": self.rows,
            "reference_rows": self.reference_rows,
            "columns": {drift.name: entry(drift) for drift in self.columns},
            "prediction": entry(self.prediction) if self.prediction else None,
            "quality": [asdict(issue) for issue in self.quality],
        }


def compare(
    reference: Profile,
    current: pa.Table | pd.DataFrame,
    *,
    options: DriftOptions = DriftOptions(),
    current_prediction: np.ndarray | None = None,
) -> DriftReport:
    """Test every profiled column of ``current`` (but ``options.ignore``) against ``reference``.

    Args:
        reference: The reference profile.
        current: The batch (pyarrow Table or pandas DataFrame); extra columns are ignored.
        options: Methods, thresholds and quality limits.
        current_prediction: The model's predictions on ``current``, for prediction drift
            (compared only when the profile has predictions too).

    Returns:
        The report.

    Raises:
        DataError: The batch lacks a profiled column, or a numeric column holds non-numbers.
        SpecError: A per-column override names a method that cannot test that column's kind.
    """
    import numpy as np
    import pyarrow as pa

    from conveyor.monitoring import _columns, _compare

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
    results: list[ColumnDrift] = []
    quality: list[QualityIssue] = []
    for name in names:
        summary = reference.column(name)
        side = _compare.Side.of(_columns.column(current, name), summary["kind"], name)
        test, where = _column_test(options, name)
        results.append(_compare.drift(name, summary, side, test, where=where))
        quality.extend(_compare.quality(name, summary, side, options))
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
        side = _compare.Side.of(pa.chunked_array([pa.array(scores)]), kind, "prediction")
        test = options.default  # a numeric-only default leaves a label prediction on auto
        prediction = _compare.drift("prediction", reference.prediction, side, test, where=None)
    drifted = sum(result.drifted for result in results)
    share = drifted / len(results) if results else 0.0
    return DriftReport(
        columns=tuple(results),
        drifted_share=share,
        dataset_drift=bool(results) and share >= options.dataset_share,
        prediction=prediction,
        quality=tuple(quality),
        rows=rows,
        reference_rows=reference.rows,
    )


def _column_test(options: DriftOptions, name: str) -> tuple[ColumnTest, str | None]:
    """The column's test and, for a per-column override, where it was configured."""
    if name in options.columns:
        return options.columns[name], f"monitor.drift.columns.{name}"
    return options.default, None


def check_method(method: str, kind: str, name: str, where: str) -> None:
    """SpecError when ``method`` cannot test a ``kind`` column (KS/Wasserstein need numbers)."""
    if kind == "categorical" and method in NUMERIC_ONLY:
        raise SpecError(
            f"method '{method}' needs numbers but column '{name}' is categorical",
            where=where,
            fix="use chisquare, ztest, jensenshannon or psi (or auto) for this column",
        )
