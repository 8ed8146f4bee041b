"""Compile a project: compose and validate conf/, build the pipeline, render its files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from conveyor.compiler._outside import outside_sources
from conveyor.compiler.build import compile_project
from conveyor.compiler.render import PARAMS_YAML, render
from conveyor.compiler.tracking import source_deps, untracked_sources
from conveyor.compiler.writer import diff_files, write_files
from conveyor.config import load_project
from conveyor.errors import SpecError
from conveyor.runtime.schema_file import load_schema_file

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.compiler.drift import Drift
    from conveyor.compiler.ir import Pipeline
    from conveyor.config.recompose import Composer
    from conveyor.plugins import Plugins

__all__ = ["Compiled", "check", "check_drift", "compile_files"]


@dataclass(frozen=True)
class Compiled:
    """A compiled project: its pipeline and the text of every generated file."""

    pipeline: Pipeline
    files: dict[str, str]
    warnings: tuple[str, ...] = ()
    """Things that compile but will hurt later (e.g. a source file outside git and DVC)."""

    def write(self, root: Path) -> list[str]:
        """Write the files that changed; return their names."""
        return write_files(root, self.files)


def compile_files(
    root: Path,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    composer: Composer | None = None,
    plugins: Plugins | None = None,
) -> Compiled:
    """Compose, validate and compile the project at ``root``.

    Many compiles of one project (a sweep's trials) pass one ``composer`` and ``plugins``: each
    distinct choice of config groups is then composed once (:mod:`conveyor.config.recompose`).
    """
    project = load_project(root, overrides, plugins=plugins, composer=composer)
    if problems := outside_sources(project):
        raise SpecError.from_problems(problems)
    if project.spec.data.schema_file is not None:  # checked now, not first when validate runs
        load_schema_file(root, project.spec.data.schema_file)
    pipeline = compile_project(project)
    warnings = tuple(untracked_sources(source_deps(pipeline), root))
    return Compiled(pipeline, render(pipeline, project.composed), warnings)


def check(root: Path) -> str:
    """The diff between the committed files and what conf/ generates (no overrides)."""
    return diff_files(root, compile_files(root).files)


def check_drift(
    root: Path, *, composer: Composer | None = None, plugins: Plugins | None = None
) -> Drift:
    """:func:`check`, explained: whether params.yaml holds values conf/ does not, and the fix.

    A sweep passes the ``composer`` and ``plugins`` its trials compile with, so that this check
    and the trials that choose no config group share one Hydra compose.
    """
    from conveyor.compiler.drift import find_drift  # --check only: git and the explanation

    compiled = compile_files(root, composer=composer, plugins=plugins)
    diff = diff_files(root, compiled.files)
    return find_drift(root, diff, compiled.files[PARAMS_YAML])
