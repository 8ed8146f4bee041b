"""Drift between a reference profile and a new batch: the options and the report.

:func:`conveyor.monitoring.compare` walks the batch one column at a time. Each column gets one
drift test (a ``conveyor.drift_tests`` plugin), chosen as Evidently 0.7 chooses by default
("auto"), unless ``DriftOptions`` names one:

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

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["ColumnDrift", "ColumnTest", "DriftOptions", "DriftReport", "QualityIssue"]

Check = Literal["new_categories", "out_of_range", "null_rate"]


@dataclass(frozen=True)
class ColumnTest:
    """How one column is tested: a drift test's name (or ``auto``), and its threshold.

    A ``threshold`` of None takes the test's ``default_threshold``.
    """

    method: str = "auto"
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
