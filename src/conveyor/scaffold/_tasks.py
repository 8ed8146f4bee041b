"""The tasks ``conveyor init --task`` scaffolds: a bundled dataset, models and defaults each.

Each task has a folder ``templates/tasks/<task>/conf/`` (data, evaluate, model and monitor
options) laid over the shared ``templates/project/``; this table says which of its files the
defaults list picks and how the README describes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from conveyor._task import TASKS, Task
from conveyor.errors import InitError

__all__ = ["DEFAULT_TASK", "TEMPLATES", "TaskTemplate", "choose"]

DEFAULT_TASK: Task = "binary_classification"

_EXAMPLE_PARAM = {
    "logistic_regression": "C=0.3",
    "random_forest": "n_estimators=300",
    "xgboost": "max_depth=6",
    "hist_gradient_boosting": "learning_rate=0.1",
}


@dataclass(frozen=True)
class TaskTemplate:
    """What one task's scaffold is: its data, evaluate option, and models (default first)."""

    task: Task
    dataset: str
    """The ``conf/data/`` option (named after the bundled scikit-learn dataset)."""
    evaluate: str
    """The ``conf/evaluate/`` option."""
    models: tuple[str, ...]
    """The ``conf/model/`` options written; the first is the default."""
    description: str
    """One line for conf/config.yaml and the README."""

    def tokens(self, model: str) -> dict[str, str]:
        """Template tokens for a project of this task whose defaults list picks ``model``."""
        others = [name for name in self.models if name != model]
        return {
            "__TASK__": self.task,
            "__DATASET__": self.dataset,
            "__EVALUATE__": self.evaluate,
            "__MODEL__": model,
            "__OTHER_MODEL__": others[0],
            "__MODEL_FILES__": ", ".join(f"{name}.yaml" for name in others),
            "__PARAM__": _EXAMPLE_PARAM[model],
            "__DESCRIPTION__": self.description,
        }


TEMPLATES: dict[Task, TaskTemplate] = {
    "binary_classification": TaskTemplate(
        "binary_classification",
        dataset="breast_cancer",
        evaluate="classification",
        models=("logistic_regression", "xgboost", "random_forest"),
        description="a binary classifier on scikit-learn's bundled breast-cancer data "
        "(569 rows, 30 features, no download)",
    ),
    "multiclass_classification": TaskTemplate(
        "multiclass_classification",
        dataset="wine",
        evaluate="classification",
        models=("logistic_regression", "xgboost", "random_forest"),
        description="a three-class classifier on scikit-learn's bundled wine data "
        "(178 rows, 13 features, no download)",
    ),
    "regression": TaskTemplate(
        "regression",
        dataset="diabetes",
        evaluate="regression",
        models=("random_forest", "hist_gradient_boosting", "xgboost"),
        description="a regressor of diabetes progression on scikit-learn's bundled diabetes "
        "data (442 rows, 10 features, no download)",
    ),
}


def choose(task: str | None, model: str | None) -> tuple[TaskTemplate, str]:
    """The template of ``task`` and the model its defaults list picks.

    Raises:
        InitError: ``task`` is not a task, or ``model`` is not one the task's scaffold offers.
    """
    name = DEFAULT_TASK if task is None else task
    template = TEMPLATES.get(name)  # type: ignore[call-overload]
    if template is None:
        raise InitError(
            f"unknown task '{name}'",
            where="--task",
            fix=f"choose one of: {', '.join(TASKS)}",
        )
    if model is None:
        return template, template.models[0]
    if model not in template.models:
        raise InitError(
            f"the {template.task} scaffold has no model '{model}'",
            where="--model",
            fix=f"choose one of: {', '.join(template.models)} (others: edit conf/model/ after "
            "init; 'conveyor plugins' lists every installed model and its tasks)",
        )
    return template, model
