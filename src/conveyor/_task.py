"""The learning tasks (``project.task``): pydantic-free, so the CLI can list them cheaply.

``conveyor init --help`` offers the tasks as choices; importing them from ``conveyor.spec``
would load pydantic and every spec model into each command's start-up.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["TASKS", "Task"]

Task = Literal["binary_classification", "multiclass_classification", "regression"]
TASKS: tuple[Task, ...] = ("binary_classification", "multiclass_classification", "regression")
