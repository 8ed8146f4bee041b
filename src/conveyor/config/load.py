"""Compose ``conf/``, validate it into a ProjectSpec, and check every component it names.

All problems are collected and raised together as one SpecError, each located by dotted path
and the conf file that set it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from conveyor.components.models import MAX_ROUNDS
from conveyor.config.compose import CONFIG_DIR, ComposedConfig, compose, flatten
from conveyor.config.problems import problems_from
from conveyor.config.provenance import Provenance, trace
from conveyor.errors import ConfigProblem, SpecError
from conveyor.plugins import Plugins
from conveyor.plugins.target import (
    declared_class_problem,
    import_target,
    project_importable,
    signature_params,
)
from conveyor.spec import TASKS, EvaluateSpec, FeaturesSpec, ModelSpec, ProjectSpec, Task
from conveyor.spec.component import ComponentSpec
from conveyor.spec.model import untrustable

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.config.recompose import Composer


_ROUNDS = ("n_estimators", "max_iter")
"""``_target_`` parameters whose size is the work of a fit, bounded like the built-in models'."""


@dataclass(frozen=True)
class LoadedProject:
    """A validated project: the spec, the composed text for params.yaml, and provenance."""

    root: Path
    spec: ProjectSpec
    composed: ComposedConfig
    provenance: Provenance
    plugins: Plugins


def load_project(
    root: Path,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    plugins: Plugins | None = None,
    composer: Composer | None = None,
) -> LoadedProject:
    """Compose and validate the project at ``root``; raise one SpecError listing every problem.

    A ``composer`` (for ``root``'s conf/) shares one Hydra compose among override lists that
    choose the same config groups (a sweep's trials); the result is the same.
    """
    plugins = plugins or Plugins.discover()
    conf_dir = root / CONFIG_DIR
    composed = composer.compose(overrides) if composer else compose(conf_dir, overrides)
    provenance = trace(root, conf_dir, composed.choices, composed.overrides)
    problems = _missing_values(composed.data, provenance)
    missing = {p.path for p in problems}
    spec: ProjectSpec | None = None
    try:
        spec = ProjectSpec.model_validate(composed.data)
    except ValidationError as exc:
        problems += [
            p for p in problems_from(exc, ProjectSpec, "", provenance) if p.path not in missing
        ]
    with project_importable(root):
        problems += ComponentChecker(plugins, provenance).check(composed.data)
    if problems:
        raise SpecError.from_problems(_dedupe(problems))
    assert spec is not None  # no problems means the spec validated  # noqa: S101
    return LoadedProject(root, spec, composed, provenance, plugins)


def _missing_values(data: dict[str, Any], provenance: Provenance) -> list[ConfigProblem]:
    return [
        ConfigProblem(
            path,
            provenance.file(path),
            "required value is missing ('???')",
            f"set it in {provenance.file(path)}, or on the command line: {path}=<value>",
        )
        for path, value in flatten(data).items()
        if value == "???"
    ]


def _dedupe(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    seen: dict[tuple[str, str], ConfigProblem] = {}
    for problem in problems:
        seen.setdefault((problem.path, problem.what), problem)
    return list(seen.values())


class ComponentChecker:
    """Checks that each ``kind:`` is installed, fits the task, and gets valid ``params:``.

    Works on the raw composed data section by section, so a problem in one section does not
    hide the problems of another.
    """

    def __init__(self, plugins: Plugins, provenance: Provenance) -> None:
        self.plugins = plugins
        self.provenance = provenance

    def check(self, data: dict[str, Any]) -> list[ConfigProblem]:
        """Every component problem in ``data``."""
        task = _task(data)
        problems: list[ConfigProblem] = []
        sources = _section(data, "data", "sources")
        if isinstance(sources, dict):
            for name, raw in sources.items():
                problems += self._component("source", raw, f"data.sources.{name}", task)
        features = _parse(FeaturesSpec, _section(data, "features"))
        if features is not None:
            for index, transform in enumerate(features.transforms):
                problems += self._component(
                    "transform", transform.model_dump(), f"features.transforms.{index}", task
                )
        model = _parse(ModelSpec, _section(data, "model"))
        if model is not None:
            problems += self._model(model, task)
            problems += self._fit(model, _section(data, "executor"))
        problems += self._trusted_types(_section(data, "model", "trusted_types"))
        evaluate = _parse(EvaluateSpec, _section(data, "evaluate"))
        if evaluate is not None:
            for index, name in enumerate(evaluate.metrics):
                problems += self._metric(name, f"evaluate.metrics.{index}", task)
            problems += self._gate_directions(evaluate)
        targets = _section(data, "deploy")
        if isinstance(targets, dict):
            for name, raw in targets.items():
                problems += self._component("target", raw, f"deploy.{name}", task)
        drift = _section(data, "monitor", "drift")
        if isinstance(drift, dict):
            problems += self._drift_tests(drift)
        executor = _section(data, "executor")
        if isinstance(executor, dict):
            problems += self._component("executor", {"kind": "local", **executor}, "executor", task)
        return problems

    def _problem(self, path: str, what: str, fix: str | None = None) -> ConfigProblem:
        return ConfigProblem(path, self.provenance.file(path), what, fix)

    def _component(self, kind: str, raw: Any, path: str, task: Task | None) -> list[ConfigProblem]:  # noqa: ANN401
        if not isinstance(raw, dict):
            return []
        component = _parse(ComponentSpec, {k: v for k, v in raw.items() if k != "columns"})
        if component is None:
            return []  # the structural problem is already reported by the spec validation
        registry = self.plugins[kind]
        if component.kind not in registry:
            return [
                self._problem(
                    f"{path}.kind",
                    f"unknown {kind} '{component.kind}'",
                    registry.suggest(component.kind),
                )
            ]
        cls = registry.load(component.kind, where=f"{path}.kind")
        problems = self._task_fits(cls.tasks, kind, component.kind, path, task)
        params_model = cls.params_model(task or cls.tasks[0])
        return problems + self._params(params_model, component.params, f"{path}.params")

    def _params(
        self, model: type[BaseModel], params: dict[str, Any], path: str
    ) -> list[ConfigProblem]:
        try:
            model.model_validate(params)
        except ValidationError as exc:
            return problems_from(exc, model, path, self.provenance)
        return []

    def _task_fits(
        self, tasks: tuple[Task, ...], kind: str, name: str, path: str, task: Task | None
    ) -> list[ConfigProblem]:
        if task is None or task in tasks:
            return []
        return [
            self._problem(
                f"{path}.kind" if kind != "metric" else path,
                f"{kind} '{name}' does not support project.task '{task}'",
                f"choose a {kind} made for {task}; '{name}' supports: {', '.join(tasks)}",
            )
        ]

    def _model(self, model: ModelSpec, task: Task | None) -> list[ConfigProblem]:
        if model.kind is not None:
            raw = {"kind": model.kind, "params": model.params}
            return self._component("model", raw, "model", task)
        assert model.target is not None  # noqa: S101 - ModelSpec guarantees one of the two
        try:
            cls = import_target(model.target, where="model._target_")
        except SpecError as exc:
            return [self._problem("model._target_", exc.what, exc.fix)]
        named, takes_kwargs = signature_params(cls)
        problems = []
        for key in [] if takes_kwargs else model.params:
            if key not in named:
                close = difflib.get_close_matches(key, named, n=3, cutoff=0.6)
                hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
                problems.append(
                    self._problem(
                        f"model.params.{key}",
                        f"{model.target} has no parameter '{key}'",
                        f"{hint}valid parameters: {', '.join(named)}",
                    )
                )
        return problems or self._bounded(model) or self._estimator_constraints(cls, model)

    def _fit(self, model: ModelSpec, executor: Any) -> list[ConfigProblem]:  # noqa: ANN401
        """``model.fit`` settings only for a model that trains that way; distributed on Dask."""
        registry = self.plugins["model"]

        def supports(kind: str | None, setting: str) -> bool:
            if kind is None or kind not in registry:
                return False
            cls = registry.load(kind, where="model.kind")
            return setting in getattr(cls, "fit_settings", frozenset())

        problems = []
        for key, value, default in (
            ("mode", model.fit.mode, "local"),
            ("memory", model.fit.memory, "in_memory"),
        ):
            if value == default or supports(model.kind, value):
                continue
            able = [name for name in registry.names() if supports(name, value)]
            problems.append(
                self._problem(
                    f"model.fit.{key}",
                    f"model '{model.label}' cannot be trained with 'fit.{key}: {value}'",
                    f"set model.fit.{key}: {default}, or choose a model that can: "
                    f"{', '.join(able) or '(none installed)'}",
                )
            )
        kind = executor.get("kind", "local") if isinstance(executor, dict) else "local"
        if model.fit.mode == "distributed" and not problems and kind != "dask":
            problems.append(
                self._problem(
                    "model.fit.mode",
                    f"'fit.mode: distributed' trains on a Dask cluster, and executor is '{kind}'",
                    "compile with executor=dask (conf/executor/dask.yaml; docs/scaling.md), or "
                    "set model.fit.mode: local",
                )
            )
        return problems

    def _trusted_types(self, names: Any) -> list[ConfigProblem]:  # noqa: ANN401 - raw YAML
        """Each well-formed ``model.trusted_types`` entry is a class, named as skops does."""
        if not isinstance(names, list):
            return []  # the spec validation reports it
        return [
            self._problem(f"model.trusted_types.{index}", *problem)
            for index, name in enumerate(names)
            if isinstance(name, str)
            and untrustable(name) is None  # else the spec validation reports it
            and (problem := declared_class_problem(name)) is not None
        ]

    def _bounded(self, model: ModelSpec) -> list[ConfigProblem]:
        """The built-in models' bound on trees and iterations, for a ``_target_`` estimator too."""
        return [
            self._problem(
                f"model.params.{key}",
                f"got {value!r}: at most {MAX_ROUNDS:,} trees or iterations can be run",
                f"set '{key}' to at most {MAX_ROUNDS:,}",
            )
            for key in _ROUNDS
            if isinstance(value := model.params.get(key), int | float)
            and not isinstance(value, bool)
            and value > MAX_ROUNDS
        ]

    def _estimator_constraints(self, cls: type[Any], model: ModelSpec) -> list[ConfigProblem]:
        """Values checked by the estimator itself (scikit-learn's parameter constraints)."""
        validate = getattr(cls, "_validate_params", None)
        if validate is None:
            return []
        try:
            validate(cls(**model.params))
        except (ValueError, TypeError) as exc:  # InvalidParameterError is a ValueError
            message = str(exc).strip().splitlines()[0]
            key = next((k for k in model.params if f"'{k}'" in message), None)
            path = f"model.params.{key}" if key else "model.params"
            return [
                self._problem(
                    path, _lower_first(message), f"fix the value in {self.provenance.file(path)}"
                )
            ]
        return []

    def _metric(self, name: str, path: str, task: Task | None) -> list[ConfigProblem]:
        registry = self.plugins["metric"]
        if name not in registry:
            return [self._problem(path, f"unknown metric '{name}'", registry.suggest(name))]
        cls = registry.load(name, where=path)
        return self._task_fits(cls.tasks, "metric", name, path, task)

    def _gate_directions(self, evaluate: EvaluateSpec) -> list[ConfigProblem]:
        """``max_decrease`` gates a higher-is-better metric, ``max_increase`` a lower one."""
        registry = self.plugins["metric"]
        problems = []
        for metric, gate in evaluate.gates.items():
            key = gate.change_key
            if key not in ("max_decrease", "max_increase") or metric not in registry:
                continue
            cls = registry.load(metric, where=f"evaluate.gates.{metric}")
            higher = bool(getattr(cls, "higher_is_better", True))
            if (key == "max_increase") == higher:
                better, worse, right = (
                    ("higher", "decrease", "max_decrease")
                    if higher
                    else ("lower", "increase", "max_increase")
                )
                problems.append(
                    self._problem(
                        f"evaluate.gates.{metric}.{key}",
                        f"'{metric}' is {better}-is-better, so a model gets worse by a {worse}, "
                        f"which {key} does not bound",
                        f"write {right}: {getattr(gate, key):g} (how much worse than the "
                        "champion the model may be)",
                    )
                )
        return problems

    def _drift_tests(self, drift: dict[str, Any]) -> list[ConfigProblem]:
        """Each ``method`` under ``monitor.drift`` names an installed drift test (or ``auto``)."""
        nodes = [("monitor.drift", drift)]
        columns = drift.get("columns")
        if isinstance(columns, dict):
            nodes += [(f"monitor.drift.columns.{name}", node) for name, node in columns.items()]
        registry = self.plugins["drift_test"]
        problems = []
        for path, node in nodes:
            method = node.get("method") if isinstance(node, dict) else None
            if not isinstance(method, str) or method == "auto":
                continue  # the spec validation reports a malformed node
            if method not in registry:
                options = ["auto", *registry.names()]
                close = difflib.get_close_matches(method, options, n=3, cutoff=0.6)
                hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
                problems.append(
                    self._problem(
                        f"{path}.method",
                        f"unknown drift test '{method}'",
                        f"{hint}available: {', '.join(options)}",
                    )
                )
                continue
            cls = registry.load(method, where=f"{path}.method")
            threshold: Any = node.get("threshold")
            if getattr(cls, "p_value", False) and _number(threshold) and threshold >= 1:
                problems.append(
                    self._problem(
                        path,
                        f"'{method}' compares a p-value with the threshold, so it must be below "
                        f"1 (got {threshold:g}); 0.05 is the usual choice",
                    )
                )
        return problems


def _section(data: dict[str, Any], *keys: str) -> Any:  # noqa: ANN401 - raw YAML data
    node: Any = data
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _parse(model: type[BaseModel], raw: Any) -> Any:  # noqa: ANN401 - raw YAML data
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


def _task(data: dict[str, Any]) -> Task | None:
    task = _section(data, "project", "task")
    return task if task in TASKS else None


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _number(value: Any) -> bool:  # noqa: ANN401 - raw YAML data
    return isinstance(value, int | float) and not isinstance(value, bool)
