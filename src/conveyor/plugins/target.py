"""The ``_target_: package.Class`` escape hatch: any scikit-learn-compatible estimator."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

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
    """The keyword arguments ``cls()`` accepts, and whether it also takes ``**kwargs``."""
    parameters = inspect.signature(cls).parameters.values()
    named = [p.name for p in parameters if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    return named, any(p.kind is p.VAR_KEYWORD for p in parameters)
