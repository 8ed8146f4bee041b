"""Lazy package exports: a name resolves to its submodule's attribute on first use.

``conveyor compile`` and ``conveyor --help`` import packages such as ``registry`` or
``serving`` only for a name or two; their heavy submodules (git, FastAPI, scipy) load when a
name is first used, not when the package is imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


def lazy_getattr(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that finds ``name`` in ``package.<homes[name]>``."""

    def attribute(name: str) -> Any:  # noqa: ANN401 - whatever the submodule defines
        if name not in homes:
            msg = f"module '{package}' has no attribute '{name}'"
            raise AttributeError(msg)
        return getattr(importlib.import_module(f"{package}.{homes[name]}"), name)

    return attribute
