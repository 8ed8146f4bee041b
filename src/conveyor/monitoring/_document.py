"""What a monitoring run says: its result, the drift.json document and the terminal's paragraph.

:func:`drift_document` shapes the comparison, the performance and the inputs as ``dvc metrics
show/diff`` tabulates them; :func:`summary` is the paragraph ``conveyor monitor`` and the
``monitor`` stage print. The HTML report is :mod:`conveyor.monitoring.report`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.bundle.predictor import Predictor
    from conveyor.monitoring.drift import DriftReport

PERFORMANCE_KEYS = (
    "metric",
    "value",
    "reference",
    "drop",
    "max_drop",
    "relative",
    "tolerated_drop",
    "rows",
)
"""What drift.json's ``performance`` holds (``MonitorResult.performance`` holds more)."""


class Scored(Protocol):
    """What drift.json says of the model's scoring: ``_scores.Scores``, or a streamed tally."""

    @property
    def unscored(self) -> int:
        """Rows the model refused."""

    @property
    def problems(self) -> tuple[str, ...]:
        """The first input problems of those rows."""


@dataclass(frozen=True)
class MonitorResult:
    """What one monitoring run found and where it wrote it."""

    report: DriftReport
    performance: dict[str, Any] | None
    """``{metric, value, reference, drop, max_drop, relative, tolerated_drop, dropped, rows,
    source}``; None unlabelled."""
    document: dict[str, Any]
    """The ``drift.json`` document."""
    json_path: Path
    html_path: Path

    @property
    def dataset_drift(self) -> bool:
        """Whether the share of drifted columns reached ``dataset_share``."""
        return bool(self.report.dataset_drift)

    @property
    def performance_drop(self) -> bool:
        """Whether the metric worsened by more than it may (False when unlabelled)."""
        return bool(self.performance and self.performance["dropped"])


def summary(result: MonitorResult, root: Path) -> str:
    """One paragraph for the terminal: the verdict, what drifted, performance, the reports."""
    from conveyor.monitoring.report import describe_test, headline, tolerance_text

    report = result.report
    alert, verdict = headline(report, result.performance)
    # The worst finding's label shouts (DATASET DRIFT: ..., PREDICTION DRIFT; also ...); all
    # clear does not (no dataset drift: ...).
    label = len(verdict.split(":")[0].split(";")[0])
    head = verdict[:label].upper() if alert else verdict[0].lower() + verdict[1:label]
    verdict = head + verdict[label:]
    lines = [f"{verdict} in {report.rows:,} rows"]
    for column in sorted(report.columns, key=lambda c: c.name):
        if column.drifted:
            lines.append(f"  drifted: {column.name}: {describe_test(column)}")
    if report.prediction is not None:
        state = "drifted" if report.prediction.drifted else "stable"
        lines.append(f"  prediction: {state}: {describe_test(report.prediction)}")
    for issue in report.quality:
        lines.append(f"  quality: {issue.column}: {issue.detail}")
    performance = result.performance
    if performance is not None:
        value, reference = performance["value"], performance["reference"]
        shown = "n/a" if value is None else f"{value:.4f}"
        against = "" if reference is None else f" (reference {reference:.4f})"
        flag = ": PERFORMANCE DROP" if performance["dropped"] else ""
        if reference is not None:
            flag += f" (tolerated drop {tolerance_text(performance)})"
        lines.append(f"  {performance['metric']}: {shown}{against}{flag}")
    written = ", ".join(_relative(path, root) for path in (result.json_path, result.html_path))
    lines.append(f"wrote {written}")
    return "\n".join(lines)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def drift_document(
    report: DriftReport,
    performance: dict[str, Any] | None,
    scores: Scored | None,
    files: tuple[str, ...],
    predictor: Predictor | None,
    reference_name: str,
) -> dict[str, Any]:
    """drift.json, shaped for ``dvc metrics show/diff``.

    DVC tabulates every number and string under nested objects but skips lists, so the flat
    verdict comes first, ``performance`` holds a few numbers, and the per-column details are
    lists (``columns``, ``quality``), which DVC leaves out of its table.
    """
    details = report.to_dict()
    flat = ("dataset_drift", "drifted_share", "drifted_columns", "prediction_drift")
    document: dict[str, Any] = {key: details[key] for key in flat}
    document.update(
        quality_issues=details["quality_issues"],
        rows=details["rows"],
        reference_rows=details["reference_rows"],
        unscored_rows=scores.unscored if scores is not None else 0,
    )
    if performance is not None:
        document["performance_drop"] = int(performance["dropped"])
        document["performance"] = {key: performance[key] for key in PERFORMANCE_KEYS}
    document["inputs"] = {
        "current": list(files),
        "reference": reference_name,
        "model": None if predictor is None else f"{predictor.name} {predictor.version}",
        "labels": performance["source"] if performance is not None else None,
        "unscored_reasons": list(scores.problems) if scores is not None else [],
    }
    document["columns"] = [{"column": name, **body} for name, body in details["columns"].items()]
    document["prediction"] = details["prediction"]
    document["quality"] = details["quality"]
    return document
