"""Lineage recorded in every bundle: code version, git commit, params and data hashes."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from conveyor import _git
from conveyor.bundle import sha256_file
from conveyor.errors import GitError

if TYPE_CHECKING:
    from pathlib import Path

LIBRARIES = ("conveyor-mlops", "scikit-learn", "xgboost", "numpy", "pandas", "skops")


def git_commit(root: Path) -> str | None:
    """The commit checked out at ``root``, or None outside git."""
    try:
        done = _git.git(root, "rev-parse", "HEAD", check=False)
    except GitError:  # git is not installed, or cannot run in ``root``
        return None
    return done.out.strip() or None if done.returncode == 0 else None


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a trained model."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


def lineage(root: Path, params: dict[str, Any], inputs: tuple[str, ...]) -> dict[str, Any]:
    """What produced a model: commit, params it read, sha256 of each input file, versions."""
    return {
        "git_commit": git_commit(root),
        "params": params,
        "data": {path: sha256_file(root / path) for path in inputs},
        "versions": library_versions(),
    }
