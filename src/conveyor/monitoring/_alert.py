"""One monitoring run's findings as every alert format needs them (:class:`Alert`).

A module of its own so the formats (:mod:`._formats`, :mod:`._gauges`) and the delivery
(:mod:`conveyor.monitoring.alert`) both import it, and not each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor.monitoring.monitor import MonitorResult


@dataclass(frozen=True)
class Alert:
    """What one monitoring run found, as every target format needs it."""

    project: str | None
    model: str | None
    version: str | None
    batch: tuple[str, ...]
    report: str
    rows: int
    dataset_drift: bool
    drifted_share: float
    columns: tuple[dict[str, Any], ...]
    """Every tested column: ``{column, method, statistic, threshold, p_value, drifted}``."""
    prediction: dict[str, Any] | None
    performance: dict[str, Any] | None
    quality: tuple[dict[str, Any], ...]
    quality_issues: int
    headline: str
    time: float

    @property
    def fires(self) -> bool:
        """Whether a decision says drift: dataset or prediction drift, or a performance drop."""
        prediction = bool(self.prediction and self.prediction["drifted"])
        return self.dataset_drift or prediction or self.performance_drop

    @property
    def performance_drop(self) -> bool:
        """Whether the metric worsened by more than it may (False when unlabelled)."""
        return bool(self.performance and self.performance["dropped"])

    @classmethod
    def from_result(
        cls, result: MonitorResult, *, project: str | None, report: str, time: float
    ) -> Alert:
        """The alert of ``result``; ``report`` names its drift.json, ``time`` is when it ran."""
        from conveyor.monitoring.report import headline

        document = result.document
        model, version = _model(document["inputs"]["model"])
        keys = ("column", "method", "statistic", "threshold", "p_value", "drifted")
        prediction = document["prediction"]
        performance = result.performance
        return cls(
            project=project,
            model=model,
            version=version,
            batch=tuple(document["inputs"]["current"]),
            report=report,
            rows=int(document["rows"]),
            dataset_drift=result.dataset_drift,
            drifted_share=float(document["drifted_share"]),
            columns=tuple({key: c[key] for key in keys} for c in document["columns"]),
            prediction=None if prediction is None else {k: prediction[k] for k in keys[1:]},
            performance=None if performance is None else dict(performance),
            quality=tuple(document["quality"]),
            quality_issues=int(document["quality_issues"]),
            headline=headline(result.report, performance)[1],
            time=time,
        )


def _model(text: str | None) -> tuple[str | None, str | None]:
    if not text:
        return None, None
    name, _, version = text.partition(" ")
    return name, version or None
