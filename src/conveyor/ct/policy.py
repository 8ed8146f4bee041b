"""The retrain policy of ``conveyor ct``: monitoring evidence in, a decision with its reasons out.

Pure: :func:`decide` reads ``monitor.retrain`` (which triggers count, and ``every_days``) and a
:class:`Signals` summary of one batch's monitoring, and says whether to retrain and why. Every
trigger is explained either way, so a decision record shows what fired and what did not::

    decide(RetrainSpec(triggers=["dataset_drift"]), signals, now=now)
    Decision(retrain=True, reasons=["dataset_drift: 4 of 9 columns drifted (44% >= 40%): ..."])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datetime as dt

    from conveyor.monitoring.drift import DriftReport
    from conveyor.spec.monitor import RetrainSpec, RetrainTrigger

_SHOWN_COLUMNS = 5


@dataclass(frozen=True)
class Performance:
    """The model's metric on the labelled batch against its reference (``reports/metrics.json``).

    ``drop`` is signed so that positive is worse, in the metric's units. ``max_drop`` is a
    fraction of the reference's magnitude when ``relative`` (``monitor.performance.relative``),
    else in the metric's units.
    """

    metric: str
    reference: float | None
    current: float | None
    drop: float | None
    max_drop: float
    relative: bool = False

    @property
    def tolerated(self) -> float | None:
        """``max_drop`` in the metric's units (None: relative with no reference)."""
        if not self.relative:
            return self.max_drop
        return None if self.reference is None else self.max_drop * abs(self.reference)

    @property
    def dropped(self) -> bool:
        """True when the metric worsened by more than it may."""
        tolerated = self.tolerated
        return self.drop is not None and tolerated is not None and self.drop > tolerated

    def describe_limit(self) -> str:
        """``max_drop 0.1 (relative: 5.35)`` or ``max_drop 0.05``."""
        if not self.relative:
            return f"max_drop {self.max_drop:g}"
        tolerated = self.tolerated
        shown = "no reference" if tolerated is None else f"{tolerated:.4g}"
        return f"max_drop {self.max_drop:.0%} of the reference = {shown}"


@dataclass(frozen=True)
class Signals:
    """What monitoring one batch found, as the policy needs it."""

    dataset_drift: bool
    drifted_share: float
    dataset_share: float
    drifted_columns: tuple[str, ...] = ()
    tested_columns: int = 0
    prediction_drift: bool | None = None
    """None when either side has no prediction to compare."""
    performance: Performance | None = None
    """None when the batch has no labels."""
    trained_at: dt.datetime | None = None
    """When the model in production was registered; None when there is none."""

    @classmethod
    def from_report(
        cls,
        report: DriftReport,
        dataset_share: float,
        *,
        performance: Performance | None = None,
        trained_at: dt.datetime | None = None,
    ) -> Signals:
        """The signals of a drift report (plus performance and the champion's age)."""
        return cls(
            dataset_drift=report.dataset_drift,
            drifted_share=report.drifted_share,
            dataset_share=dataset_share,
            drifted_columns=tuple(report.drifted()),
            tested_columns=len(report.columns),
            prediction_drift=None if report.prediction is None else report.prediction.drifted,
            performance=performance,
            trained_at=trained_at,
        )

    def to_dict(self) -> dict[str, Any]:
        """The drift summary of a decision record."""
        perf = self.performance
        return {
            "dataset_drift": self.dataset_drift,
            "drifted_share": round(self.drifted_share, 4),
            "drifted_columns": list(self.drifted_columns),
            "prediction_drift": self.prediction_drift,
            "performance": None
            if perf is None
            else {
                "metric": perf.metric,
                "reference": perf.reference,
                "current": perf.current,
                "drop": perf.drop,
                "max_drop": perf.max_drop,
                "relative": perf.relative,
                "dropped": perf.dropped,
            },
            "trained_at": None if self.trained_at is None else self.trained_at.isoformat(),
        }


@dataclass(frozen=True)
class Decision:
    """Whether to retrain; ``reasons`` lists the triggers that fired (or, if none, why not)."""

    retrain: bool
    reasons: list[str] = field(default_factory=list)


def decide(retrain: RetrainSpec, signals: Signals, *, now: dt.datetime) -> Decision:
    """Retrain when any trigger in ``retrain.triggers`` fires on ``signals``.

    Args:
        retrain: ``monitor.retrain`` (its triggers, and ``every_days`` for ``schedule``).
        signals: what monitoring the batch found, and when the champion was trained.
        now: the current time (timezone-aware, as ``signals.trained_at``).

    Returns:
        The decision: fired triggers as reasons, or each trigger's "did not fire" explanation.
    """
    fired: list[str] = []
    quiet: list[str] = []
    for trigger in retrain.triggers:
        did, why = _check(trigger, retrain, signals, now)
        (fired if did else quiet).append(f"{trigger}: {why}")
    if fired:
        return Decision(True, fired)
    return Decision(False, quiet or ["no retrain triggers are configured (monitor.retrain)"])


def _check(
    trigger: RetrainTrigger, retrain: RetrainSpec, signals: Signals, now: dt.datetime
) -> tuple[bool, str]:
    if trigger == "dataset_drift":
        share = (
            f"{len(signals.drifted_columns)} of {signals.tested_columns} columns drifted "
            f"({signals.drifted_share:.0%} {'>=' if signals.dataset_drift else '<'} "
            f"{signals.dataset_share:.0%})"
        )
        if signals.drifted_columns:
            shown = ", ".join(signals.drifted_columns[:_SHOWN_COLUMNS])
            more = len(signals.drifted_columns) - _SHOWN_COLUMNS
            share += f": {shown}" + (f" and {more} more" if more > 0 else "")
        return signals.dataset_drift, share
    if trigger == "prediction_drift":
        if signals.prediction_drift is None:
            return False, "no prediction to compare (the reference or the batch has none)"
        return signals.prediction_drift, (
            "the predictions drifted" if signals.prediction_drift else "the predictions are stable"
        )
    if trigger == "performance":
        perf = signals.performance
        if perf is None or perf.drop is None:
            return False, "no labelled performance on this batch"
        sign = ">" if perf.dropped else "<="
        return perf.dropped, (
            f"{perf.metric} worsened by {perf.drop:.4g} ({sign} {perf.describe_limit()}): "
            f"{perf.current:.4g} on the batch vs {perf.reference:.4g} reference"
        )
    # schedule
    assert retrain.every_days is not None  # noqa: S101 - RetrainSpec requires it with schedule
    if signals.trained_at is None:
        return True, "no model in production yet"
    age = (now - signals.trained_at).total_seconds() / 86_400
    due = age >= retrain.every_days
    return due, f"the model is {age:.1f} days old ({'>=' if due else '<'} {retrain.every_days})"
