"""``evaluate:`` — the metrics computed on the test split, per slice, and the plots drawn."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, get_args

from pydantic import Field, ValidationInfo, field_validator

from conveyor.spec._base import StrictModel
from conveyor.spec.gate import MetricGateSpec

if TYPE_CHECKING:
    from collections.abc import Sequence

    from conveyor.spec._base import Task

Plot = Literal[
    "roc",
    "precision_recall",
    "confusion_matrix",
    "calibration",
    "predicted_vs_actual",
    "residuals",
    "feature_importance",
]
PLOTS: tuple[Plot, ...] = get_args(Plot)
CLASSIFICATION_PLOTS: tuple[Plot, ...] = (
    "roc",
    "precision_recall",
    "confusion_matrix",
    "calibration",
    "feature_importance",
)
REGRESSION_PLOTS: tuple[Plot, ...] = ("predicted_vs_actual", "residuals", "feature_importance")


def task_plots(task: Task) -> tuple[Plot, ...]:
    """The plots that fit ``task``: all of them are the default when ``plots`` is null."""
    return REGRESSION_PLOTS if task == "regression" else CLASSIFICATION_PLOTS


class EvaluateSpec(StrictModel):
    """Metric names (``conveyor.metrics`` entry points); ``primary`` ranks models.

    ``slices`` names columns of the test split: every metric is also computed for each value
    of each column. A numeric column with more than 10 distinct values is cut into 5 quantile
    bins (``pandas.qcut``, equal row counts; bins that would repeat an edge are merged), keyed
    by their interval, e.g. ``(11.7, 13.1]``; missing values form their own slice, ``missing``.

    ``plots`` picks the DVC plots and report figures; null means every plot that fits the task.
    """

    metrics: list[str] = Field(min_length=1)
    primary: str | None = None
    slices: list[str] = Field(default_factory=list)
    """Test-split columns to compute the metrics per value (or quantile bin) of."""
    plots: list[Plot] | None = None
    """Plots to write under reports/plots/; null: :func:`task_plots`."""
    gates: dict[str, MetricGateSpec] = Field(default_factory=dict)
    """Per metric: thresholds a model must meet to be blessed (the ``gate`` stage)."""
    champion_stage: str = Field(default="prod", pattern=r"^[a-z][a-z0-9_-]*$")
    """The registry stage whose version is the champion that ``min_delta`` compares with."""

    @field_validator("metrics")
    @classmethod
    def _each_metric_once(cls, metrics: list[str]) -> list[str]:
        if twice := sorted({m for m in metrics if metrics.count(m) > 1}):
            msg = f"metrics lists {', '.join(map(repr, twice))} more than once; list each once"
            raise ValueError(msg)
        return metrics

    @field_validator("primary")
    @classmethod
    def _primary_is_computed(cls, primary: str | None, info: ValidationInfo) -> str | None:
        metrics = info.data.get("metrics")
        if primary is not None and metrics is not None and primary not in metrics:
            msg = (
                f"primary metric '{primary}' is not computed; "
                f"add it to metrics or choose one of: {', '.join(metrics)}"
            )
            raise ValueError(msg)
        return primary

    @field_validator("gates")
    @classmethod
    def _gated_metrics_are_computed(
        cls, gates: dict[str, MetricGateSpec], info: ValidationInfo
    ) -> dict[str, MetricGateSpec]:
        metrics = info.data.get("metrics")
        unknown = [name for name in gates if metrics is not None and name not in metrics]
        if unknown:
            msg = (
                f"gates on {', '.join(map(repr, unknown))}, which evaluate does not compute; "
                f"add them to metrics or gate one of: {', '.join(metrics or [])}"
            )
            raise ValueError(msg)
        return gates

    @field_validator("slices", "plots")
    @classmethod
    def _each_once(cls, names: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if names is not None and (twice := sorted({n for n in names if names.count(n) > 1})):
            listed = ", ".join(map(repr, twice))
            msg = f"{info.field_name} lists {listed} more than once; list each once"
            raise ValueError(msg)
        return names

    def plots_for(self, task: Task) -> tuple[Plot, ...]:
        """The configured plots, or every plot that fits ``task`` when ``plots`` is null."""
        return task_plots(task) if self.plots is None else tuple(self.plots)

    @property
    def primary_metric(self) -> str:
        """``primary``, defaulting to the first metric listed (:func:`primary_metric`)."""
        return primary_metric(self.metrics, self.primary)


def primary_metric(metrics: Sequence[str], primary: str | None) -> str:
    """The metric that ranks models: ``primary`` (``evaluate.primary``), else the first listed.

    The one copy of the rule: the evaluate stage (and so the gate's reports), the sweep,
    ``conveyor monitor``, the monitor stage and ``conveyor ct`` all ask it, most through
    :class:`conveyor.spec.facts.ProjectFacts`.
    """
    return primary or metrics[0]
