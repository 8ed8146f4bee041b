"""Warn about source files a fresh clone would not have: tracked by neither git nor DVC."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from conveyor import _git
from conveyor.errors import GitError

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.compiler.ir import Pipeline


def source_deps(pipeline: Pipeline) -> list[tuple[str, str]]:
    """(stage, dependency) for every dependency of an ingest stage."""
    from conveyor.runtime.stages.ingest import PREFIX

    return [(s.name, dep) for s in pipeline.stages if s.name.startswith(PREFIX) for dep in s.deps]


def untracked_sources(deps: list[tuple[str, str]], root: Path) -> list[str]:
    """One warning per ingest (stage, dependency) that neither git nor a ``.dvc`` file tracks."""
    if not deps:
        return []
    in_git = _git_files(root, [dep for _, dep in deps])
    warnings = []
    for stage, dep in deps:
        if _dvc_tracked(root, dep) or any(f == dep or f.startswith(f"{dep}/") for f in in_git):
            continue
        warnings.append(
            f"'{dep}' (read by stage '{stage}') is tracked by neither git nor DVC, so a fresh "
            f"clone cannot reproduce it; run: dvc add {dep} && git add {dep}.dvc"
        )
    return warnings


def _git_files(root: Path, paths: list[str]) -> set[str]:
    """Files under ``paths`` that git tracks (none outside a git work tree)."""
    try:
        return set(_git.ls_files(root, paths))
    except GitError:
        return set()


def _dvc_tracked(root: Path, dep: str) -> bool:
    """Whether ``dep`` or a folder above it has a ``.dvc`` file."""
    path = PurePosixPath(dep)
    return any((root / f"{p}.dvc").is_file() for p in (path, *path.parents) if str(p) != ".")


def on_disk(root: Path, path: str) -> bool:
    """Whether ``path`` is in the work tree, or its ``.dvc`` file is (``dvc pull`` brings it)."""
    return (root / path).exists() or (root / f"{path}.dvc").exists()
