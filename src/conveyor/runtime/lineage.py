"""Lineage: what produced an output, in terms that hold before the commit that stores it.

A stage runs before the commit that will hold its outputs exists (edit conf/, ``dvc repro``,
commit), so lineage never names a commit: the registry's tag supplies that when a version is
registered. A bundle records what DVC records, which the same inputs always reproduce: the md5
of every dependency (the value dvc.lock holds), the params the stage read, and the versions of
the libraries that shape the model. So a fresh clone's ``dvc repro`` rebuilds the same bytes.

What differs between two runs of the same inputs (wall time, whether conf/ and the code matched
HEAD) goes to a run record under ``.conveyor/runs/`` (git-ignored), never into a tracked output;
:mod:`conveyor.runtime.provenance` reads both to say where a model came from.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from conveyor import _atomic, _git
from conveyor.errors import GitError

if TYPE_CHECKING:
    from pathlib import Path

LIBRARIES = ("conveyor-mlops", "scikit-learn", "xgboost", "numpy", "pandas", "skops")
DISTRIBUTIONS = {"xgboost": ("xgboost-cpu", "xgboost")}
"""Libraries that more than one wheel provides, each under the name lineage records: the
default install is ``xgboost-cpu`` (no NVIDIA NCCL), a GPU user's is ``xgboost``, and both
import as ``xgboost`` with the same booster, so a model's identity does not depend on which."""
RUNS_DIR = ".conveyor/runs"
WATCHED = ("conf", "params.yaml", "dvc.yaml")
"""What decides a stage's inputs besides its deps: compared with HEAD in the run record."""


def file_md5(path: Path) -> str:
    """md5 of the file's bytes: what DVC 3 records for a file."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def dvc_md5(path: Path) -> str:
    """The md5 dvc.lock records for ``path``: a file's, or a directory's ``<md5>.dir``.

    A directory's is the md5 of DVC's listing: ``[{"md5": ..., "relpath": ...}]`` sorted by
    path, as JSON with sorted keys (``dvc_data.hashfile.tree.Tree.as_bytes``).
    """
    if not path.is_dir():
        return file_md5(path)
    entries = sorted(
        (
            {"md5": file_md5(file), "relpath": file.relative_to(path).as_posix()}
            for file in path.rglob("*")
            if file.is_file()
        ),
        key=lambda entry: entry["relpath"],
    )
    listing = json.dumps(entries, sort_keys=True).encode("utf-8")
    return hashlib.md5(listing, usedforsecurity=False).hexdigest() + ".dir"


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a trained model.

    Python as ``3.11``: a patch release changes no numerics here, and the same bundle should
    come out of CI's 3.11 as out of a laptop's. The libraries' exact versions count (the
    repository pins them in constraints.txt).
    """
    versions = {"python": ".".join(platform.python_version_tuple()[:2])}
    for name in LIBRARIES:
        if (found := distribution_version(DISTRIBUTIONS.get(name, (name,)))) is not None:
            versions[name] = found
    return versions


def distribution_version(names: tuple[str, ...]) -> str | None:
    """The version of the first of ``names`` that is installed, or None if none is."""
    for name in names:
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return None


def lineage(root: Path, params: dict[str, Any], deps: tuple[str, ...]) -> dict[str, Any]:
    """What produced a model: the params it read, its dependencies' md5s, library versions.

    ``inputs`` is one sha256 over the three: equal inputs, equal identity, on any machine.
    """
    found = {
        "params": params,
        "deps": {path: dvc_md5(root / path) for path in deps},
        "versions": library_versions(),
    }
    return {**found, "inputs": input_identity(found)}


def input_identity(data: dict[str, Any]) -> str:
    """``sha256:<hex>`` of ``data`` as canonical JSON."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_run(
    root: Path, stage: str, outputs: tuple[str, ...], *, seconds: float, extra: tuple[str, ...]
) -> Path:
    """Write ``.conveyor/runs/<stage>.json``: this run's volatile facts, outside git and DVC.

    Args:
        root: The project.
        stage: The stage that ran.
        outputs: Its outputs, recorded by md5 so a reader can tell which run made a file.
        seconds: Wall time of the run.
        extra: Project-local code the stage ran, compared with HEAD besides :data:`WATCHED`.

    Returns:
        The record's path.
    """
    head, differs = worktree_state(root, (*WATCHED, *extra))
    record = {
        "stage": stage,
        "seconds": round(seconds, 3),
        "outputs": {path: dvc_md5(root / path) for path in outputs if (root / path).exists()},
        "head": head,
        "differs_from_head": differs,
    }
    folder = root / RUNS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():  # like .pytest_cache: the folder ignores itself in any project
        _atomic.write_text(ignore, "# written by conveyor: run records stay local\n*\n")
    path = folder / f"{stage}.json"
    _atomic.write_text(path, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return path


def worktree_state(root: Path, paths: tuple[str, ...]) -> tuple[str | None, list[str] | None]:
    """(HEAD's commit, the ``paths`` whose work-tree files differ from it); Nones outside git."""
    try:
        head = _git.git(root, "rev-parse", "--verify", "-q", "HEAD", check=False)
        if head.returncode != 0:
            return None, None
        present = [p for p in paths if (root / p).exists()]
        # --relative: paths from ``root``, which may be a folder inside the repository
        changed = _git.git(root, "diff", "--name-only", "--relative", "HEAD", "--", *present)
        new = _git.git(root, "ls-files", "--others", "--exclude-standard", "--", *present)
    except GitError:  # git is not installed, or cannot run in ``root``
        return None, None
    return head.out.strip(), sorted({*changed.out.splitlines(), *new.out.splitlines()})
