"""The plugin registry: entry-point groups, lazily loaded components, did-you-mean."""

from __future__ import annotations

from conveyor.plugins.base import (
    Component,
    DeployContext,
    DeployTarget,
    Metric,
    Model,
    NoParams,
    Source,
    Transform,
)
from conveyor.plugins.drift import ColumnSample, DriftTest, GridCounts, Outcome
from conveyor.plugins.executor import Executor, Session
from conveyor.plugins.registry import GROUPS, Plugins, Registry

__all__ = [
    "GROUPS",
    "ColumnSample",
    "Component",
    "DeployContext",
    "DeployTarget",
    "DriftTest",
    "Executor",
    "GridCounts",
    "Metric",
    "Model",
    "NoParams",
    "Outcome",
    "Plugins",
    "Registry",
    "Session",
    "Source",
    "Transform",
]
