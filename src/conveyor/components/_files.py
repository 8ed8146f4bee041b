"""What the file-reading sources share: strict params, project paths, globs, located errors.

A source path is project-relative and may be a file, a folder or a glob (``data/sales/*.parquet``).
DVC tracks what ``local_files()`` returns, so a glob becomes its static folder prefix: DVC then
reruns ingest when any file under that folder changes, including a new file the glob matches.

Every file a source reads is first checked with ``refuse_outside``: once symlinks are followed
it must still be inside the project (a link that stays inside is fine).
"""

from __future__ import annotations

import difflib
from pathlib import PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from conveyor._paths import real_path_outside
from conveyor.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

WHERE = "data.sources"
"""Where a source's errors point; ingest narrows it to ``data.sources.<name>``."""

_WILDCARDS = frozenset("*?[")


class StrictParams(BaseModel):
    """Base of the built-in sources' ``Params``: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def is_glob(path: str) -> bool:
    """Whether ``path`` holds a wildcard (``*``, ``?`` or ``[...]``)."""
    return any(char in _WILDCARDS for char in path)


def static_prefix(pattern: str) -> str:
    """The folders before the first wildcard: ``data/sales/*.parquet`` -> ``data/sales``."""
    fixed: list[str] = []
    for part in PurePosixPath(pattern).parts:
        if is_glob(part):
            break
        fixed.append(part)
    return "/".join(fixed)


def check_project_path(value: str, *, glob: bool = True) -> str:
    """Validate a project-relative path (a pydantic field validator); returns it normalised.

    Raises:
        ValueError: the path is absolute, leaves the project, or is a glob with no fixed folder.
    """
    if any(flavour(value).is_absolute() for flavour in (PurePosixPath, PureWindowsPath)):
        msg = f"'{value}' is absolute; write it relative to the project root (e.g. data/x.csv)"
        raise ValueError(msg)
    normalised = PurePosixPath(value).as_posix()
    if ".." in PurePosixPath(normalised).parts:
        msg = f"'{value}' leaves the project; sources read files inside the project only"
        raise ValueError(msg)
    if normalised == ".":
        msg = "the path is empty; name a file or folder inside the project"
        raise ValueError(msg)
    if is_glob(normalised):
        if not glob:
            msg = f"'{value}' is a glob; this parameter takes one file"
            raise ValueError(msg)
        if not static_prefix(normalised):
            msg = (
                f"'{value}' starts with a wildcard; put the files in a folder and glob inside it "
                "(e.g. data/sales/*.parquet), so that DVC can track that folder"
            )
            raise ValueError(msg)
    return normalised


def dependency(path: str) -> str:
    """What DVC should depend on for ``path``: itself, or a glob's static folder prefix."""
    return static_prefix(path) if is_glob(path) else path


def refuse_outside(root: Path, path: Path | str, *, key: str = "path") -> None:
    """Raise a DataError when ``path`` (project-relative, or under ``root``) leads out of it.

    ``key`` is the params key that named it (``path``, ``database``, ``tables.sales``).
    """
    relative = path if isinstance(path, str) else path.relative_to(root).as_posix()
    real = real_path_outside(root, root / relative)
    if real is not None:
        raise DataError(
            f"'{relative}' (params.{key}) is outside the project: its real path is '{real}'",
            where=WHERE,
            fix=outside_fix(f"params.{key}"),
        )


def outside_fix(key: str) -> str:
    """How to fix a source file that a symlink leads out of the project."""
    return (
        f"sources read files inside the project only: copy the data in (then 'dvc add' it) "
        f"and point {key} at the copy; a symlink may point only inside the project"
    )


def missing_path_error(root: Path, relative: str, *, kind: str, key: str = "path") -> DataError:
    """A DataError for a file that is not there, with close names from its folder."""
    parent = (root / relative).parent
    siblings = sorted(p.name for p in parent.iterdir()) if parent.is_dir() else []
    close = difflib.get_close_matches(PurePosixPath(relative).name, siblings, n=3, cutoff=0.6)
    hint = (
        f"did you mean {', '.join(repr(c) for c in close)} (in the same folder)? " if close else ""
    )
    return DataError(
        f"{kind} file '{relative}' does not exist (params.{key})",
        where=WHERE,
        fix=f"{hint}create it, fetch it with 'dvc pull {relative}', or correct params.{key}",
    )


def expand(
    root: Path, path: str, *, kind: str, suffixes: frozenset[str], key: str = "path"
) -> tuple[list[Path], Path]:
    """The files ``path`` names, sorted by name, and the folder that hive partitions start at.

    ``path`` is one file, a glob (matching files only), or a folder: every file under it whose
    suffix is in ``suffixes``, skipping hidden and ``_``-prefixed entries (``_SUCCESS``, ``.crc``).
    """
    target = root / path
    refuse_outside(root, static_prefix(path) if is_glob(path) else path, key=key)
    if is_glob(path):
        base = root / static_prefix(path)
        files = sorted((p for p in root.glob(path) if p.is_file()), key=_name_under(root))
        if not files:
            raise DataError(
                f"{kind} glob '{path}' (params.{key}) matches no file",
                where=WHERE,
                fix=f"check the pattern, or fetch the data with 'dvc pull {static_prefix(path)}'",
            )
        return _inside(root, files, key), base
    if target.is_dir():
        files = sorted(
            (p for p in target.rglob("*") if p.is_file() and _is_data_file(target, p, suffixes)),
            key=_name_under(target),
        )
        if not files:
            raise DataError(
                f"{kind} folder '{path}' (params.{key}) holds no "
                f"{'/'.join(sorted(suffixes))} files",
                where=WHERE,
                fix=f"put the data files in the folder, or point params.{key} at a file or glob",
            )
        return _inside(root, files, key), target
    if not target.is_file():
        raise missing_path_error(root, path, kind=kind, key=key)
    return [target], target.parent


def _inside(root: Path, files: list[Path], key: str) -> list[Path]:
    """``files``, once each is known to stay inside the project (a glob may pass a link).

    A file that is not a link is where its folder really is, so each folder is resolved once:
    10,000 files cost a few folder checks, not 10,000 ``realpath`` calls.
    """
    folders: set[Path] = set()
    for file in files:
        if file.is_symlink():
            refuse_outside(root, file, key=key)
        elif file.parent not in folders:
            refuse_outside(root, file.parent, key=key)
            folders.add(file.parent)
    return files


def _is_data_file(folder: Path, file: Path, suffixes: frozenset[str]) -> bool:
    parts = file.relative_to(folder).parts
    return file.suffix in suffixes and not any(p.startswith((".", "_")) for p in parts)


def _name_under(folder: Path) -> Callable[[Path], str]:
    return lambda p: p.relative_to(folder).as_posix()


def missing_columns_error(
    requested: Iterable[str], available: list[str], *, file: str, key: str = "columns"
) -> DataError | None:
    """A DataError naming the first requested column the data lacks, or None when all exist."""
    names = set(available)
    missing = [c for c in requested if c not in names]
    if not missing:
        return None
    close = difflib.get_close_matches(missing[0], available, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
    shown = ", ".join(available[:30]) + (" ..." if len(available) > 30 else "")
    quoted = ", ".join(f"'{c}'" for c in missing)
    return DataError(
        f"params.{key} names {quoted}, which '{file}' does not have",
        where=WHERE,
        fix=f"{hint}the file's columns are: {shown}",
    )
