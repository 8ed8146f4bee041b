"""The base of every spec model: strict, immutable, and named after its YAML keys."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from conveyor._task import TASKS, Task

__all__ = ["NAME_PATTERN", "TASKS", "StrictModel", "Task"]

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
"""Names users choose (project, sources) become file and DVC stage names, so keep them plain."""


class StrictModel(BaseModel):
    """A YAML node: unknown keys are errors, values are immutable once validated."""

    # defer_build: a schema is built on first use, so compile pays only for the models it uses.
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, defer_build=True)
