"""Check a component class when it loads, as pluggy's ``_verify_hook`` checks a hook.

A plugin that breaks the component contract is refused where it is loaded, naming itself,
instead of failing later in the middle of a stage or only in its own contract suite. The
checks are cheap (no estimator is built, no data is read):

- it subclasses the kind's base class and implements every abstract method;
- each implementation accepts the call conveyor makes: the same number of positional
  arguments, and for the keyword-only methods of the newer kinds (``DriftTest.run``) the same
  keyword-only names;
- its ``tasks`` is a non-empty tuple of known ``project.task`` values;
- its ``Params`` (and ``params_model`` for each task) is a pydantic model with
  ``extra="forbid"``, so a typo in ``params:`` fails ``conveyor compile``.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from conveyor.spec import TASKS

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)

if TYPE_CHECKING:
    from conveyor.plugins.base import Component


def problems(cls: object, base: type[Component[Any]]) -> tuple[str, ...]:
    """What is wrong with ``cls`` as a ``base`` component (empty when nothing is)."""
    if not (isinstance(cls, type) and issubclass(cls, base)):
        return (f"is not a subclass of conveyor.plugins.{base.__name__}",)
    return _class_problems(cls, base)


@functools.cache
def _class_problems(cls: type[Component[Any]], base: type[Component[Any]]) -> tuple[str, ...]:
    """Checked once per class: a compile loads the same components many times."""
    found = _abstract(cls)
    if found:
        return tuple(found)
    return (*_signatures(cls, base), *_tasks(cls), *_params(cls))


def _abstract(cls: type[Component[Any]]) -> list[str]:
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    if not missing:
        return []
    return [f"does not implement {', '.join(f'{name}()' for name in missing)}"]


def _signatures(cls: type[Component[Any]], base: type[Component[Any]]) -> list[str]:
    """Each method conveyor calls, as ``cls`` implements it, takes conveyor's call."""
    found = []
    for name in sorted(_called(base)):
        if getattr(cls, name) is getattr(base, name):
            continue  # inherited as is
        expected = inspect.signature(getattr(base, name))
        try:
            actual = inspect.signature(getattr(cls, name))
        except (TypeError, ValueError):
            continue  # a C-level or otherwise unintrospectable callable: trust it
        problem = _call_problem(expected, actual)
        if problem:
            found.append(
                f"{name}{_plain(actual)} {problem}; conveyor calls {name}{_plain(expected)}"
            )
    return found


@functools.cache
def _called(base: type[Component[Any]]) -> frozenset[str]:
    """The methods of ``base`` whose signature binds a plugin: abstract or keyword-only ones."""
    names = set()
    for klass in base.__mro__:
        for name, value in vars(klass).items():
            if getattr(value, "__isabstractmethod__", False) or _keyword_only(value):
                names.add(name)
    return frozenset(names)


def _keyword_only(value: object) -> bool:
    if not inspect.isfunction(value):
        return False
    return bool(value.__code__.co_kwonlyargcount)


def _plain(signature: inspect.Signature) -> inspect.Signature:
    """``signature`` without annotations, as a message shows it: ``(self, *, sample)``."""
    return signature.replace(
        parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
        return_annotation=signature.empty,
    )


def _call_problem(expected: inspect.Signature, actual: inspect.Signature) -> str | None:
    """Why a method with signature ``actual`` cannot take the calls ``expected`` describes."""
    positional = [p for p in expected.parameters.values() if p.kind in _POSITIONAL]
    keywords = [p.name for p in expected.parameters.values() if p.kind is p.KEYWORD_ONLY]
    try:
        actual.bind(*(None for _ in positional), **dict.fromkeys(keywords))
    except TypeError as exc:
        return f"cannot be called so ({exc})"
    for keyword in keywords:
        parameter = actual.parameters.get(keyword)
        if parameter is not None and parameter.kind is not parameter.KEYWORD_ONLY:
            return f"must take '{keyword}' as keyword-only (after '*')"
    return None


def _tasks(cls: type[Component[Any]]) -> list[str]:
    tasks = cls.tasks
    if not isinstance(tasks, tuple) or not tasks:
        return [f"declares tasks {tasks!r}; it needs a non-empty tuple of: {', '.join(TASKS)}"]
    unknown = [task for task in tasks if task not in TASKS]
    if unknown:
        return [
            f"declares unknown tasks {', '.join(map(repr, unknown))}; "
            f"known tasks are: {', '.join(TASKS)}"
        ]
    return []


def _params(cls: type[Component[Any]]) -> list[str]:
    found: list[str] = []
    checked: list[object] = []
    for label, task in [("Params", None), *((f"params_model('{t}')", t) for t in cls.tasks)]:
        try:
            model: object = cls.Params if task is None else cls.params_model(task)
        except Exception as exc:  # the plugin's bug, reported as its problem
            found.append(f"{label} raised {type(exc).__name__}: {exc}")
            continue
        if any(model is seen for seen in checked):
            continue
        checked.append(model)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            found.append(f"{label} is {model!r}, not a pydantic model")
        elif model.model_config.get("extra") != "forbid":
            found.append(
                f"{label} ({model.__name__}) accepts unknown keys; "
                "set model_config = ConfigDict(extra='forbid')"
            )
    return found
