"""The YAML contract as pydantic models: pure, no I/O, no Hydra."""

from __future__ import annotations

from conveyor.spec.component import ComponentSpec
from conveyor.spec.data import CombineSpec, DataSpec, JoinSpec, SplitSpec
from conveyor.spec.deploy import DeployTargetSpec
from conveyor.spec.evaluate import EvaluateSpec
from conveyor.spec.features import FeaturesSpec, TransformSpec
from conveyor.spec.gate import MetricGateSpec
from conveyor.spec.model import ModelSpec
from conveyor.spec.project import TASKS, ProjectMetaSpec, ProjectSpec, Task, is_classification
from conveyor.spec.schema import ColumnSchema, RowsSchema, SchemaSpec, TimeSchema

__all__ = [
    "TASKS",
    "ColumnSchema",
    "CombineSpec",
    "ComponentSpec",
    "DataSpec",
    "DeployTargetSpec",
    "EvaluateSpec",
    "FeaturesSpec",
    "JoinSpec",
    "MetricGateSpec",
    "ModelSpec",
    "ProjectMetaSpec",
    "ProjectSpec",
    "RowsSchema",
    "SchemaSpec",
    "SplitSpec",
    "Task",
    "TimeSchema",
    "TransformSpec",
    "is_classification",
]
