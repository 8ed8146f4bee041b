"""spec -> pipeline IR -> dvc.yaml / params.yaml text; ``--check``; the compile cache.

Names load lazily: ``conveyor compile`` on an unchanged conf/ asks :mod:`.cache` first, and
that answer must not pay for Hydra, pydantic and the stage table the full compile imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor._lazy import lazy_getattr

if TYPE_CHECKING:
    from conveyor.compiler.build import compile_project
    from conveyor.compiler.drift import Drift
    from conveyor.compiler.ir import Pipeline, Stage
    from conveyor.compiler.project import Compiled, check, check_drift, compile_files
    from conveyor.compiler.render import DVC_YAML, PARAMS_YAML, render

__all__ = [
    "DVC_YAML",
    "PARAMS_YAML",
    "Compiled",
    "Drift",
    "Pipeline",
    "Stage",
    "check",
    "check_drift",
    "compile_files",
    "compile_project",
    "render",
]

__getattr__ = lazy_getattr(
    __name__,
    {
        "DVC_YAML": "render",
        "PARAMS_YAML": "render",
        "Compiled": "project",
        "Drift": "drift",
        "Pipeline": "ir",
        "Stage": "ir",
        "check": "project",
        "check_drift": "project",
        "compile_files": "project",
        "compile_project": "build",
        "render": "render",
    },
)
