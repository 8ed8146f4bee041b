"""Project-local code a stage runs: a dependency in dvc.yaml and a part of a model's lineage.

A ``_target_`` class or a plugin that lives in the project (not in an installed distribution)
is code DVC must watch: editing it has to rerun the stage. conveyor's own code is versioned by
its release instead (recorded in lineage).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor.plugins.target import project_importable

if TYPE_CHECKING:
    from conveyor.plugins import Plugins
    from conveyor.runtime.plan import StagePlan


def code_deps(plan: StagePlan, plugins: Plugins, root: Path) -> list[str]:
    """The project-local files and packages ``plan`` runs, relative to ``root``, sorted."""
    modules = [t.rpartition(".")[0] for t in plan.targets]
    for kind, name in plan.components:
        entry_point = plugins[kind].entry_point(name)
        if entry_point is not None:
            modules.append(entry_point.module)
    found = {path for m in modules if (path := local_code_path(m, root)) is not None}
    return sorted(found)


def local_code_path(module: str, root: Path) -> str | None:
    """The file or top-level package directory of ``module`` when it lives under ``root``.

    A whole package is the dependency, not just one module, because a module may import its
    siblings.
    """
    top = module.split(".")[0]
    if top == "conveyor":
        return None
    root = root.resolve()
    with project_importable(root):
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            spec = None
    if spec is None or spec.origin is None:
        return None
    origin = Path(spec.origin).resolve()
    location = origin.parent if spec.submodule_search_locations else origin
    if not location.is_relative_to(root):
        return None
    return location.relative_to(root).as_posix()
