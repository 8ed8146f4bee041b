"""The only package that imports Hydra and OmegaConf: compose, validate, trace provenance."""

from __future__ import annotations

from conveyor.config.compose import CONFIG_DIR, CONFIG_NAME, ComposedConfig, compose, flatten
from conveyor.config.load import LoadedProject, load_project
from conveyor.config.provenance import Origin, Provenance

__all__ = [
    "CONFIG_DIR",
    "CONFIG_NAME",
    "ComposedConfig",
    "LoadedProject",
    "Origin",
    "Provenance",
    "compose",
    "flatten",
    "load_project",
]
