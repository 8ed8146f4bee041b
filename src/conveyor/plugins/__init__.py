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
from conveyor.plugins.registry import GROUPS, Plugins, Registry

__all__ = [
    "GROUPS",
    "Component",
    "DeployContext",
    "DeployTarget",
    "Metric",
    "Model",
    "NoParams",
    "Plugins",
    "Registry",
    "Source",
    "Transform",
]
