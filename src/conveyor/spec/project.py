"""The root of the YAML contract: what ``conf/config.yaml`` composes to."""

from __future__ import annotations

from pydantic import Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from conveyor.spec._base import NAME_PATTERN, StrictModel, Task
from conveyor.spec.card import CardSpec, Text
from conveyor.spec.data import DataSpec
from conveyor.spec.deploy import NO_GATES_MESSAGE, DeployTargetSpec, TargetName
from conveyor.spec.evaluate import EvaluateSpec, task_plots
from conveyor.spec.executor import ExecutorSpec
from conveyor.spec.features import FeaturesSpec
from conveyor.spec.model import ModelSpec
from conveyor.spec.monitor import MonitorSpec
from conveyor.spec.tracking import TrackingSpec


class ProjectMetaSpec(StrictModel):
    """``project:`` — the name (also the model's name), the learning task, a description."""

    name: str = Field(pattern=NAME_PATTERN)
    task: Task
    description: Text | None = None
    """What the model does, in a sentence or two: the opening of its model card."""


class ProjectSpec(StrictModel):
    """The whole composed configuration."""

    project: ProjectMetaSpec
    seed: int = Field(ge=0, le=2**32 - 1)
    data: DataSpec
    features: FeaturesSpec = Field(default_factory=FeaturesSpec)
    model: ModelSpec
    evaluate: EvaluateSpec
    deploy: dict[TargetName, DeployTargetSpec] = Field(default_factory=dict)
    """Deploy targets by name; each becomes a ``deploy-<name>`` stage gated on the blessing."""
    monitor: MonitorSpec = Field(default_factory=MonitorSpec)
    """Drift monitoring and the retrain policy; the default profiles but compares nothing."""
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec)
    """Where heavy work runs (``local`` by default); not a stage param, so it reruns nothing."""
    tracking: TrackingSpec = Field(default_factory=TrackingSpec)
    """Where train/evaluate runs are logged (off by default); not a stage param either."""
    card: CardSpec = Field(default_factory=CardSpec)
    """The words of the model card (``reports/model_card.md``); read by the ``card`` stage only."""

    @model_validator(mode="after")
    def _split_and_plots_fit_task(self) -> ProjectSpec:
        task = self.project.task
        if task == "regression" and self.data.split.strategy == "stratified":
            msg = (
                "data.split.strategy 'stratified' needs class labels, but project.task is "
                "'regression'; use strategy: random"
            )
            raise ValueError(msg)
        fitting = task_plots(task)
        misfits = [
            InitErrorDetails(
                type=PydanticCustomError(
                    "value_error",
                    "plot '{plot}' does not fit project.task '{task}'; choose from: {fitting}",
                    {"plot": plot, "task": task, "fitting": ", ".join(fitting)},
                ),
                loc=("evaluate", "plots", index),
                input=plot,
            )
            for index, plot in enumerate(self.evaluate.plots or ())
            if plot not in fitting
        ]
        if self.deploy and not self.evaluate.gates:
            misfits.append(
                InitErrorDetails(
                    type=PydanticCustomError(
                        "value_error", "{message}", {"message": NO_GATES_MESSAGE}
                    ),
                    loc=("deploy",),
                    input=sorted(self.deploy),
                )
            )
        metric = self.monitor.performance.metric
        if metric is not None and metric not in self.evaluate.metrics:
            misfits.append(
                InitErrorDetails(
                    type=PydanticCustomError(
                        "value_error",
                        "metric '{metric}' is not computed by evaluate, so reports/metrics.json "
                        "holds no reference value for it; choose one of: {metrics}",
                        {"metric": metric, "metrics": ", ".join(self.evaluate.metrics)},
                    ),
                    loc=("monitor", "performance", "metric"),
                    input=metric,
                )
            )
        if misfits:
            # A ValidationError raised here keeps each error's loc, so the message names
            # evaluate.plots.<i> and its conf file instead of the root of the config.
            raise ValidationError.from_exception_data(type(self).__name__, misfits)
        return self


def is_classification(task: Task) -> bool:
    """Whether ``task`` predicts classes (and so has probabilities)."""
    return task != "regression"
