"""The ``_target_: package.Class`` escape hatch: any scikit-learn-compatible estimator."""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

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


def signature_params(cls: type[Any]) -> tuple[list[str], bool]:
    """The keyword arguments ``cls()`` accepts, and whether it still takes any ``**kwargs``."""
    found = estimator_params(cls)
    open_ended = _takes_kwargs_to_the_top(cls)
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
    found: dict[str, inspect.Parameter] = {}
    if not _collect(inspect.signature(cls).parameters.values(), found):
        return found
    for klass in cls.__mro__[1:]:
        init = vars(klass).get("__init__")
        if klass is object or init is None:
            continue
        parameters = list(inspect.signature(init).parameters.values())[1:]  # without self
        if not _collect(parameters, found):
            break
    return found


def _collect(parameters: Iterable[inspect.Parameter], found: dict[str, inspect.Parameter]) -> bool:
    """Add the named ``parameters`` to ``found``; whether they include ``**kwargs``."""
    takes_kwargs = False
    for parameter in parameters:
        if parameter.kind is parameter.VAR_KEYWORD:
            takes_kwargs = True
        elif parameter.kind is not parameter.VAR_POSITIONAL:
            found.setdefault(parameter.name, parameter)
    return takes_kwargs


def _takes_kwargs_to_the_top(cls: type[Any]) -> bool:
    """Whether every ``__init__`` up the MRO forwards ``**kwargs`` (so any name is accepted)."""
    if not _collect(inspect.signature(cls).parameters.values(), {}):
        return False
    for klass in cls.__mro__[1:]:
        init = vars(klass).get("__init__")
        if klass is object or init is None:
            continue
        if not _collect(list(inspect.signature(init).parameters.values())[1:], {}):
            return False
    return True
