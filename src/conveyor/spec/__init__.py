"""The YAML contract as pydantic models: pure, no I/O, no Hydra."""

from __future__ import annotations

from conveyor.spec._base import TASKS, Task
from conveyor.spec.card import CardSpec
from conveyor.spec.component import ComponentSpec
from conveyor.spec.data import CombineSpec, DataSpec, JoinSpec, SplitSpec
from conveyor.spec.deploy import DeployTargetSpec
from conveyor.spec.evaluate import EvaluateSpec
from conveyor.spec.executor import ExecutorSpec
from conveyor.spec.facts import ProjectFacts
from conveyor.spec.features import FeaturesSpec, TransformSpec
from conveyor.spec.gate import MetricGateSpec
from conveyor.spec.model import ModelSpec
from conveyor.spec.monitor import (
    ColumnTestSpec,
    DriftSpec,
    MonitorSpec,
    PerformanceSpec,
    QualitySpec,
    RetrainSpec,
)
from conveyor.spec.project import ProjectMetaSpec, ProjectSpec, is_classification
from conveyor.spec.schema import ColumnSchema, RowsSchema, SchemaSpec, TimeSchema
from conveyor.spec.tracking import TrackingSpec

__all__ = [
    "TASKS",
    "CardSpec",
    "ColumnSchema",
    "ColumnTestSpec",
    "CombineSpec",
    "ComponentSpec",
    "DataSpec",
    "DeployTargetSpec",
    "DriftSpec",
    "EvaluateSpec",
    "ExecutorSpec",
    "FeaturesSpec",
    "JoinSpec",
    "MetricGateSpec",
    "ModelSpec",
    "MonitorSpec",
    "PerformanceSpec",
    "ProjectFacts",
    "ProjectMetaSpec",
    "ProjectSpec",
    "QualitySpec",
    "RetrainSpec",
    "RowsSchema",
    "SchemaSpec",
    "SplitSpec",
    "Task",
    "TimeSchema",
    "TrackingSpec",
    "TransformSpec",
    "is_classification",
]
