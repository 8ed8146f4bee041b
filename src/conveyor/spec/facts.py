"""The project's facts: what commands beside ``conveyor run`` need to know about a project.

The task, the target, the primary metric, the model's name and directory, the seed and the
registry stage that holds the champion are read from params.yaml (what ``conveyor compile``
wrote from conf/) here and nowhere else: the sweep ranks by, ``conveyor monitor`` and
``conveyor ct`` measure, and the evaluate stage marks the same primary metric.

The rule for that metric is :func:`conveyor.spec.evaluate.primary_metric`: ``evaluate.primary``,
else the first of ``evaluate.metrics``. Its direction is the metric component's
(:func:`conveyor.runtime.facts.higher_is_better`), and reading the facts of a project root is
:func:`conveyor.runtime.facts.read_facts`: this module stays pure, a mapping in, facts out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from conveyor._paths import PARAMS_FILE, model_dir
from conveyor.errors import SpecError
from conveyor.spec.evaluate import EvaluateSpec, primary_metric
from conveyor.spec.project import ProjectMetaSpec, ProjectSpec

if TYPE_CHECKING:
    from conveyor.spec._base import Task

__all__ = ["ProjectFacts"]

_MISSING = object()
_FIX = "run 'conveyor compile' to see where in conf/ (params.yaml is generated)"


@dataclass(frozen=True)
class ProjectFacts:
    """What params.yaml says about the project, typed and checked."""

    name: str
    """``project.name``: also the model's name in the registry."""
    task: Task
    """``project.task``."""
    target: str
    """``data.target``: the label column."""
    metrics: tuple[str, ...]
    """``evaluate.metrics``, in order."""
    primary: str | None
    """``evaluate.primary`` as written (None: the first metric ranks)."""
    seed: int
    """``seed``."""
    champion_stage: str = "prod"
    """``evaluate.champion_stage``: the registry stage whose version is the champion."""

    @property
    def primary_metric(self) -> str:
        """The metric that ranks models: ``evaluate.primary``, else the first metric."""
        return primary_metric(self.metrics, self.primary)

    @property
    def model_dir(self) -> str:
        """Where the pipeline writes the model's bundle: ``models/<project.name>``."""
        return model_dir(self.name)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ProjectFacts:
        """The facts of ``params`` (params.yaml's content), each checked against its spec.

        Raises:
            SpecError: A fact is missing or invalid (params.yaml edited by hand, or old).
        """
        project = _parse(params, "project", ProjectMetaSpec)
        metrics = _parse(params, "evaluate.metrics", EvaluateSpec.model_fields["metrics"])
        primary = _parse(params, "evaluate.primary", str | None, None)
        if primary is not None and primary not in metrics:
            raise SpecError(
                f"'evaluate.primary' in {PARAMS_FILE} is invalid: primary metric '{primary}' "
                f"is not computed; choose one of: {', '.join(metrics)}",
                where=PARAMS_FILE,
                fix=_FIX,
            )
        return cls(
            name=project.name,
            task=project.task,
            target=_parse(params, "data.target", str),
            metrics=tuple(metrics),
            primary=primary,
            seed=_parse(params, "seed", ProjectSpec.model_fields["seed"]),
            champion_stage=_parse(
                params,
                "evaluate.champion_stage",
                EvaluateSpec.model_fields["champion_stage"],
                "prod",
            ),
        )


def _parse(params: Mapping[str, Any], key: str, model: Any, default: Any = _MISSING) -> Any:  # noqa: ANN401 - the value of a pydantic type or field
    """The value at dotted ``key``, validated as ``model`` (a type or a pydantic field)."""
    from pydantic import TypeAdapter, ValidationError
    from pydantic.fields import FieldInfo

    node: Any = params
    for part in key.split("."):
        node = node.get(part, _MISSING) if isinstance(node, Mapping) else _MISSING
        if node is _MISSING:
            if default is not _MISSING:
                return default
            raise SpecError(
                f"'{key}' is missing from {PARAMS_FILE}",
                where=PARAMS_FILE,
                fix="run 'conveyor compile' to regenerate params.yaml from conf/",
            )
    if isinstance(model, FieldInfo):  # a spec model's field: its type and constraints
        model = Annotated[model.annotation, model]
    try:
        return TypeAdapter(model).validate_python(node)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join([key, *map(str, first["loc"])])
        raise SpecError(
            f"'{path}' in {PARAMS_FILE} is invalid: {first['msg']}", where=PARAMS_FILE, fix=_FIX
        ) from exc
