"""The ``_target_: package.Class`` escape hatch: any scikit-learn-compatible estimator."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import types
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

from conveyor.errors import SpecError


def import_target(target: str, *, where: str) -> type[Any]:
    """Import ``package.module.Class`` and check it looks like a scikit-learn estimator."""
    module_name, _, attr = target.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SpecError(
            f"cannot import '{module_name}' for _target_ '{target}': {exc}",
            where=where,
            fix="check the spelling, install the package, or put your module at the project root",
        ) from exc
    found = getattr(module, attr, None)
    if not isinstance(found, type):
        raise SpecError(
            f"'{module_name}' has no class '{attr}'",
            where=where,
            fix=f"check the class name in _target_ '{target}'",
        )
    if not all(callable(getattr(found, m, None)) for m in ("fit", "predict", "get_params")):
        raise SpecError(
            f"'{target}' is not a scikit-learn-compatible estimator "
            "(it needs fit, predict and get_params)",
            where=where,
            fix="use an estimator class, or register a model plugin with kind:",
        )
    return found


def declared_class_problem(name: str) -> tuple[str, str] | None:
    """Why ``name`` (an entry of ``model.trusted_types``) is not a class skops records, or None.

    Imports its module, as ``_target_`` is imported: the name must be a class, spelled as
    skops records it (``module.Class`` where the class is defined, not where it is re-exported).

    Returns:
        (what, fix) of the problem, or None when ``name`` is such a class.
    """
    module_name, _, attr = name.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return (
            f"cannot import '{module_name}' for '{name}': {exc}",
            "check the spelling, or install the package that defines the class",
        )
    found = getattr(module, attr, None)
    if found is None and importlib.util.find_spec(name) is not None:
        found = importlib.import_module(name)
    if found is None:
        return f"'{module_name}' has no class '{attr}'", f"check the class name in '{name}'"
    if isinstance(found, types.ModuleType):
        return f"'{name}' is a module, not a class", "name one class; module prefixes are not taken"
    if not isinstance(found, type):
        return (
            f"'{name}' is not a class",
            "only classes can be trusted (a function named in a bundle is what calls code)",
        )
    recorded = f"{found.__module__}.{found.__name__}"
    if recorded != name:
        return f"'{name}' is defined elsewhere: skops records it as '{recorded}'", (
            f"write '{recorded}'"
        )
    return None


def signature_params(cls: type[Any]) -> tuple[list[str], bool]:
    """The keyword arguments ``cls()`` accepts, and whether it accepts any name at all.

    Any name is accepted when every ``__init__`` up the MRO forwards ``**kwargs``.
    """
    found, open_ended = _walk_signatures(cls)
    return list(found), open_ended


def estimator_params(cls: type[Any]) -> dict[str, inspect.Parameter]:
    """Named arguments of ``cls(...)``, in signature order, without ``*args`` and ``**kwargs``.

    An ``__init__`` that takes ``**kwargs`` usually forwards them to its base class, so the walk
    goes on up the MRO until an ``__init__`` without ``**kwargs``: ``xgboost.XGBClassifier`` is
    ``(objective, **kwargs)``, and its real arguments are those of ``XGBModel.__init__``.
    A subclass's own declaration of an argument wins over its bases'.

    Args:
        cls: An estimator class (or any class).

    Returns:
        Argument name -> ``inspect.Parameter``.
    """
    return _walk_signatures(cls)[0]


def _walk_signatures(cls: type[Any]) -> tuple[dict[str, inspect.Parameter], bool]:
    found: dict[str, inspect.Parameter] = {}
    if not _collect(inspect.signature(cls).parameters.values(), found):
        return found, False
    for klass in cls.__mro__[1:]:
        init = vars(klass).get("__init__")
        if klass is object or init is None:
            continue
        parameters = list(inspect.signature(init).parameters.values())[1:]  # without self
        if not _collect(parameters, found):
            return found, False
    return found, True


def _collect(parameters: Iterable[inspect.Parameter], found: dict[str, inspect.Parameter]) -> bool:
    """Add the named ``parameters`` to ``found``; whether they include ``**kwargs``."""
    takes_kwargs = False
    for parameter in parameters:
        if parameter.kind is parameter.VAR_KEYWORD:
            takes_kwargs = True
        elif parameter.kind is not parameter.VAR_POSITIONAL:
            found.setdefault(parameter.name, parameter)
    return takes_kwargs


@contextmanager
def project_importable(root: Path) -> Iterator[None]:
    """Let modules at the project ``root`` be imported (``_target_: mymodels.Estimator``)."""
    entry = str(root.resolve())
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        sys.path.remove(entry)
