"""Which types a bundle may hold: an exact-type allowlist, never a module prefix.

skops rebuilds one Python object per node of a bundle's ``schema.json``, and each node names
what to call: ``{"__module__": "builtins", "__class__": "exec", "__loader__":
"ConstructorFromReduceNode"}`` calls ``exec`` with the node's arguments. A bundle is therefore
loaded only when every type it names is on this list, and nothing inside the bundle (its
metadata, its manifest) can add to it. The list is:

- what skops itself rebuilds as plain data: numbers, strings, containers, numpy arrays, dtypes
  and random generators (without ``builtins.map``, functions or ufuncs: calling things is what
  an attacker needs, and no model conveyor builds holds one);
- the Pipeline and ColumnTransformer that ``train`` assembles;
- the exact types each installed model and transform declares in ``trusted_types``, and the
  estimator classes of the installed models (so a plugin's own estimator needs no declaration);
- what the caller vouches for: the class the project's reviewed ``params.yaml`` names as
  ``model._target_`` and the exact classes it lists in ``model.trusted_types``
  (:func:`declared_types`), read from the project, never from the bundle. Nothing from the
  standard library or another module that can run code can be listed.
"""

from __future__ import annotations

import contextlib
import functools
from typing import TYPE_CHECKING, Any

from conveyor.errors import BundleError, ConveyorError
from conveyor.plugins import Model, Plugins, Transform
from conveyor.plugins.target import declared_class_problem, import_target, project_importable
from conveyor.spec.model import untrustable

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from pathlib import Path

PARAMS_FILE = "params.yaml"
_SAFE_BUILTINS = frozenset(
    {"bool", "bytearray", "bytes", "dict", "float", "int", "list", "set", "slice", "str", "tuple"}
)
_PLUGIN_KINDS = ("model", "transform")
_COLUMN_SELECTION = "conveyor.components.transformers.selection.ColumnSelection"
"""Which columns each ColumnTransformer of ``train`` selects (runtime.estimator builds it)."""


def type_name(cls: type[Any]) -> str:
    """``module.Class``, the name skops gives a type (``sklearn.pipeline.Pipeline``)."""
    return f"{cls.__module__}.{cls.__name__}"


@functools.cache
def safe_types() -> frozenset[str]:
    """The plain-data types skops rebuilds without calling anything a file chooses."""
    import numpy as np

    scalars = {type_name(t) for t in np.sctypeDict.values() if t.__module__.startswith("numpy")}
    bit_generators = {
        f"numpy.random.{name}"
        for name in dir(np.random)
        if isinstance(obj := getattr(np.random, name), type)
        and issubclass(obj, np.random.BitGenerator)
        and obj is not np.random.BitGenerator
    }
    return frozenset(
        {f"builtins.{name}" for name in _SAFE_BUILTINS}
        | {"collections.OrderedDict", "numpy.ndarray", "numpy.dtype"}
        | {type_name(np.random.Generator), type_name(np.random.RandomState)}
        | scalars
        | bit_generators
    )


@functools.cache
def pipeline_types() -> frozenset[str]:
    """What ``train`` wraps every model in: Pipeline, one ColumnTransformer per transform."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer  # a 'passthrough' remainder, fitted

    wrappers = (Pipeline, ColumnTransformer, FunctionTransformer)
    return frozenset(map(type_name, wrappers)) | {_COLUMN_SELECTION}


def _components(plugins: Plugins) -> Iterator[type[Any]]:
    for kind in _PLUGIN_KINDS:
        registry = plugins[kind]
        for name in registry.names():
            try:
                yield registry.load(name, where=f"{kind} '{name}'")
            except ConveyorError:  # a broken plugin vouches for nothing
                continue


@functools.cache
def installed_types() -> frozenset[str]:
    """The ``trusted_types`` every installed model and transform declares (nothing imported)."""
    found: set[str] = set()
    for component in _components(Plugins.discover()):
        if issubclass(component, (Model, Transform)):
            found |= component.trusted_types
    return frozenset(found)


@functools.cache
def estimator_types() -> frozenset[str]:
    """The estimator class of every installed model, for every task it supports.

    This imports each model's library, so it is only asked when a bundle holds a type that
    nothing cheaper explains (a third-party model that declares no ``trusted_types``).
    """
    found: set[str] = set()
    for component in _components(Plugins.discover()):
        if not issubclass(component, Model):
            continue
        for task in component.tasks:
            try:
                model = component.from_config({}, task)
                found.add(type_name(model.estimator_class(task)))  # type: ignore[attr-defined]
            except Exception:  # noqa: S112 - a plugin that cannot say vouches for nothing
                continue
    return frozenset(found)


def declared_types(params: Mapping[str, Any], root: Path | None = None) -> frozenset[str]:
    """The classes a project's params.yaml vouches for: ``model._target_`` and ``trusted_types``.

    The ``_target_`` class is imported (from ``root`` too, for a module kept in the project) to
    learn the name skops gives it: ``sklearn.linear_model.Ridge`` is
    ``sklearn.linear_model._ridge.Ridge``. Each ``model.trusted_types`` entry counts only when
    it is a class defined under exactly that name and outside the modules that can run code
    (:func:`conveyor.spec.model.untrustable`): compile refuses anything else, and a
    params.yaml edited by hand, or at an old commit, is held to the same rule.
    """
    model = params.get("model")
    if not isinstance(model, dict):
        return frozenset()
    target, listed = model.get("_target_"), model.get("trusted_types")
    names = [n for n in listed if isinstance(n, str)] if isinstance(listed, list) else []
    with project_importable(root) if root is not None else contextlib.nullcontext():
        found = {n for n in names if untrustable(n) is None and declared_class_problem(n) is None}
        if isinstance(target, str) and "." in target:
            try:
                found.add(type_name(import_target(target, where="model._target_")))
            except ConveyorError:  # not importable here: trust the name exactly as written
                found.add(target)
    return frozenset(found)


def project_types(root: Path) -> frozenset[str]:
    """:func:`declared_types` of the project at ``root`` (empty when it has no params.yaml)."""
    import yaml

    try:
        params = yaml.safe_load((root / PARAMS_FILE).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return frozenset()
    return declared_types(params, root) if isinstance(params, dict) else frozenset()


def refused_types(found: Iterable[str], trusted: Iterable[str] = ()) -> list[str]:
    """The types in ``found`` that are on no list, sorted."""
    allowed = safe_types() | pipeline_types() | installed_types() | frozenset(trusted)
    unknown = set(found) - allowed
    if unknown:
        unknown -= estimator_types()
    return sorted(unknown)


def schema_types(schema: Any, *, where: str) -> set[str]:  # noqa: ANN401 - parsed JSON
    """Every type a skops ``schema.json`` names, from every node at any depth.

    A node is any object with a ``__loader__`` key, which is how skops recognises one; a node
    without string ``__module__`` and ``__class__`` is refused rather than guessed at.
    """
    found: set[str] = set()
    stack = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if "__loader__" in item:
                module, cls = item.get("__module__"), item.get("__class__")
                if not (isinstance(module, str) and isinstance(cls, str) and module and cls):
                    raise BundleError(
                        "a node of the pipeline names no type ('__module__', '__class__')",
                        where=where,
                        fix="the file was not written by skops; retrain the model",
                    )
                found.add(f"{module}.{cls}")
            stack.extend(item.values())
    return found
