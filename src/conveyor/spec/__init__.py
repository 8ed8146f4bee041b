"""The YAML contract as pydantic models: pure, no I/O, no Hydra."""

from __future__ import annotations

from conveyor.spec.component import ComponentSpec
from conveyor.spec.data import DataSpec, SplitSpec
from conveyor.spec.evaluate import EvaluateSpec
from conveyor.spec.features import FeaturesSpec, TransformSpec
from conveyor.spec.model import ModelSpec
from conveyor.spec.project import TASKS, ProjectMetaSpec, ProjectSpec, Task, is_classification

__all__ = [
    "TASKS",
    "ComponentSpec",
    "DataSpec",
    "EvaluateSpec",
    "FeaturesSpec",
    "ModelSpec",
    "ProjectMetaSpec",
    "ProjectSpec",
    "SplitSpec",
    "Task",
    "TransformSpec",
    "is_classification",
]
