"""The base of every spec model: strict, immutable, and named after its YAML keys."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Task = Literal["binary_classification", "multiclass_classification", "regression"]
"""The learning task (``project.task``); here, below every spec module, as several use it."""
TASKS: tuple[Task, ...] = ("binary_classification", "multiclass_classification", "regression")

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
"""Names users choose (project, sources) become file and DVC stage names, so keep them plain."""


class StrictModel(BaseModel):
    """A YAML node: unknown keys are errors, values are immutable once validated."""

    # defer_build: a schema is built on first use, so compile pays only for the models it uses.
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, defer_build=True)
