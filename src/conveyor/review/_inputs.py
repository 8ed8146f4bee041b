"""The identity of a stage's external inputs (deps no stage writes) on one side of a diff.

Two sides agree on an input when its identity is equal, which is when ``dvc status`` would
find the file unchanged against a ``dvc.lock`` written at the other side:

- tracked by a ``.dvc`` file (its own, or a folder's above it): the md5 that file records;
  in the working tree, the md5 of the file itself (so data edited but not yet ``dvc add``-ed
  counts as changed, as DVC sees it). A DVC-tracked folder is compared by its ``.dvc`` md5.
- otherwise (code, small data in git): the git blob id of every file under the path, read
  from the revision's listing, or hashed from disk for the working tree (files that git would
  list: tracked plus untracked-not-ignored).

No DVC import: ``.dvc`` files are read as YAML and files hashed with hashlib.
"""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import yaml

from conveyor import _git
from conveyor.errors import GitError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from conveyor.review._revision import RevisionTree

Identity = tuple[str, ...]
"""``("md5", hex)`` for DVC-tracked data, ``("git", "relpath=blob", ...)`` otherwise."""

_CHUNK = 1 << 20
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def revision_identities(tree: RevisionTree, deps: Iterable[str]) -> dict[str, Identity]:
    """The identity of each dep at a git revision."""
    from conveyor.review._revision import read_blobs

    deps = list(deps)
    dvc_files = {dep: found for dep in deps if (found := _dvc_file(dep, tree.files)) is not None}
    blobs = read_blobs(tree.repo, (tree.files[f].sha for f in dvc_files.values()))
    result: dict[str, Identity] = {}
    for dep in deps:
        if dep in dvc_files:
            result[dep] = ("md5", _dvc_md5(blobs[tree.files[dvc_files[dep]].sha]))
            continue
        entries = sorted(
            f"{_below(path, dep)}={entry.sha}"
            for path, entry in tree.files.items()
            if path == dep or path.startswith(f"{dep}/")
        )
        result[dep] = ("git", *entries)
    return result


def working_identities(root: Path, deps: Iterable[str]) -> dict[str, Identity]:
    """The identity of each dep in the working tree at ``root``."""
    deps = list(deps)
    existing = {str(p.relative_to(root).as_posix()) for p in _dvc_files_on_disk(root, deps)}
    result: dict[str, Identity] = {}
    plain: list[str] = []
    for dep in deps:
        dvc_file = _dvc_file(dep, existing)
        if dvc_file is None:
            plain.append(dep)
            continue
        target = root / dep
        if dvc_file == f"{dep}.dvc" and target.is_file():
            result[dep] = ("md5", _md5(target))
        else:
            result[dep] = ("md5", _dvc_md5((root / dvc_file).read_bytes()))
    listed = _git_listed(root, plain)
    for dep in plain:
        files = [f for f in listed if f == dep or f.startswith(f"{dep}/")]
        if not files and (root / dep).exists():  # ignored by git, or no git at all
            files = _walk(root, dep)
        entries = sorted(f"{_below(f, dep)}={_blob_id(root / f)}" for f in files)
        result[dep] = ("git", *entries)
    return result


def _dvc_file(dep: str, files: Iterable[str] | dict[str, object]) -> str | None:
    """The ``.dvc`` file tracking ``dep`` or the nearest folder above it, if any."""
    path = PurePosixPath(dep)
    for candidate in (path, *path.parents):
        if str(candidate) != "." and f"{candidate}.dvc" in files:
            return f"{candidate}.dvc"
    return None


def _dvc_files_on_disk(root: Path, deps: list[str]) -> list[Path]:
    found = []
    for dep in deps:
        path = PurePosixPath(dep)
        for candidate in (path, *path.parents):
            if str(candidate) != "." and (root / f"{candidate}.dvc").is_file():
                found.append(root / f"{candidate}.dvc")
    return found


def _dvc_md5(text: bytes) -> str:
    """The md5 of the first output a ``.dvc`` file records ('' when it records none)."""
    document = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    outs = document.get("outs") if isinstance(document, dict) else None
    first = outs[0] if isinstance(outs, list) and outs and isinstance(outs[0], dict) else {}
    return str(first.get("md5") or first.get("checksum") or "")


def _git_listed(root: Path, paths: list[str]) -> list[str]:
    """Files git lists under ``paths``: tracked, plus untracked ones it does not ignore."""
    if not paths:
        return []
    try:
        return sorted(set(_git.ls_files(root, paths, untracked=True)))
    except GitError:
        return []


def _walk(root: Path, dep: str) -> list[str]:
    target = root / dep
    if target.is_file():
        return [dep]
    return sorted(p.relative_to(root).as_posix() for p in target.rglob("*") if p.is_file())


def _below(path: str, dep: str) -> str:
    return path[len(dep) + 1 :] if path != dep else "."


def _blob_id(path: Path) -> str:
    """What ``git hash-object`` prints for the file (ignoring clean/smudge filters)."""
    if not path.is_file():
        return "missing"
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode(), usedforsecurity=False)
    _feed(digest, path)
    return digest.hexdigest()


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    _feed(digest, path)
    return digest.hexdigest()


def _feed(digest: hashlib._Hash, path: Path) -> None:
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
