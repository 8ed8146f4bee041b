"""conveyor: declarative MLOps. Hydra configs in, a plain, reviewable DVC pipeline out."""

from __future__ import annotations

from typing import Any

from conveyor.errors import (
    BundleError,
    CompileError,
    ConveyorError,
    PluginError,
    SpecError,
    StageError,
)

__all__ = [
    "BundleError",
    "CompileError",
    "ConveyorError",
    "PluginError",
    "SpecError",
    "StageError",
    "__version__",
]


def __getattr__(name: str) -> Any:  # noqa: ANN401 - module attribute
    if name == "__version__":
        from importlib.metadata import version

        return version("conveyor-mlops")
    raise AttributeError(f"module 'conveyor' has no attribute {name!r}")
