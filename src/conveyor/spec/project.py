"""The root of the YAML contract: what ``conf/config.yaml`` composes to."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from conveyor.spec._base import NAME_PATTERN, StrictModel
from conveyor.spec.data import DataSpec
from conveyor.spec.evaluate import EvaluateSpec
from conveyor.spec.features import FeaturesSpec
from conveyor.spec.model import ModelSpec

Task = Literal["binary_classification", "multiclass_classification", "regression"]
TASKS: tuple[Task, ...] = ("binary_classification", "multiclass_classification", "regression")


class ProjectMetaSpec(StrictModel):
    """``project:`` — the name (also the model's name) and the learning task."""

    name: str = Field(pattern=NAME_PATTERN)
    task: Task


class ProjectSpec(StrictModel):
    """The whole composed configuration."""

    project: ProjectMetaSpec
    seed: int = Field(ge=0, le=2**32 - 1)
    data: DataSpec
    features: FeaturesSpec = Field(default_factory=FeaturesSpec)
    model: ModelSpec
    evaluate: EvaluateSpec

    @model_validator(mode="after")
    def _split_fits_task(self) -> ProjectSpec:
        if self.project.task == "regression" and self.data.split.strategy == "stratified":
            msg = (
                "data.split.strategy 'stratified' needs class labels, but project.task is "
                "'regression'; use strategy: random"
            )
            raise ValueError(msg)
        return self


def is_classification(task: Task) -> bool:
    """Whether ``task`` predicts classes (and so has probabilities)."""
    return task != "regression"
