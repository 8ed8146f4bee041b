"""``.conveyor/outbox/``: what could not be delivered yet, one JSON file each, until it is.

Alerts (``conveyor monitor``) wait at the top of the folder; tracking runs that an MLflow
server did not take wait in ``mlflow/`` (a *box*), each with the files it would have uploaded
copied beside it in ``<file>.files/``. A file never holds a URL or headers: those may carry
secrets, and are read again from conf/ and the environment when it is sent. Files are named so
that name order is queueing order (``<ns since the epoch>-<name>.json``); the attachments are
copied first and the JSON written atomically last, so a killed run leaves a whole entry or none
that counts. The folder ignores itself in git; a ``.conveyor`` that a symlink leads out of the
project is refused.
"""

from __future__ import annotations

import json
import shutil
import time
from typing import TYPE_CHECKING, Any

from conveyor import _atomic
from conveyor._paths import real_path_outside

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

OUTBOX_DIR = ".conveyor/outbox"
_IGNORE = "# written by conveyor: what could not be delivered yet (alerts, tracking runs)\n*\n"


def folder(root: Path, box: str = "") -> Path:
    """The outbox (or its ``box``) of the project at ``root``; OSError if a symlink leads out."""
    base = root / OUTBOX_DIR
    path = base / box if box else base
    if (real := real_path_outside(root, path)) is not None:
        raise OSError(f"{OUTBOX_DIR} leads out of the project (to {real}); not used")
    return path


def write(
    root: Path,
    name: str,
    document: Mapping[str, Any],
    *,
    box: str = "",
    files: Mapping[str, Path] | None = None,
) -> Path:
    """Queue ``document`` (and copies of ``files``: relative name -> source); the file written.

    OSError (with why) when it cannot be; nothing of a failed entry is left behind.
    """
    path = folder(root, box)
    attached: Path | None = None
    try:
        path.mkdir(parents=True, exist_ok=True)
        ignore = root / OUTBOX_DIR / ".gitignore"
        if not ignore.exists():
            _atomic.write_text(ignore, _IGNORE)
        stamp = time.time_ns()
        file = path / f"{stamp:020d}-{name}.json"
        while file.exists() or attachments(file).exists():  # two entries in one clock tick
            stamp += 1
            file = path / f"{stamp:020d}-{name}.json"
        if files:
            attached = attachments(file)
            for relative, source in sorted(files.items()):
                target = attached / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                if source.is_dir():
                    shutil.copytree(source, target)
                else:
                    shutil.copyfile(source, target)
        _atomic.write_text(file, json.dumps(document, indent=2, sort_keys=True) + "\n")
    except OSError as exc:
        if attached is not None:
            shutil.rmtree(attached, ignore_errors=True)
        raise OSError(f"cannot write to {OUTBOX_DIR}: {exc.strerror or exc}") from exc
    return file


def documents(root: Path, box: str = "") -> tuple[list[tuple[Path, Any]], list[str]]:
    """(file, parsed JSON) of each queued entry, oldest first, and one problem per bad file."""
    path = folder(root, box)
    if not path.is_dir():
        return [], []
    found: list[tuple[Path, Any]] = []
    problems: list[str] = []
    for file in sorted(path.glob("*.json")):
        if not file.is_file() or file.is_symlink():
            problems.append(f"{shown(root, file)} is not a regular file; left alone")
            continue
        try:
            found.append((file, json.loads(file.read_text(encoding="utf-8"))))
        except (OSError, ValueError) as exc:
            problems.append(f"{shown(root, file)} cannot be read ({exc}); left alone")
    return found, problems


def attachments(file: Path) -> Path:
    """The folder of files queued with the entry ``file``."""
    return file.with_suffix(".files")


def remove(file: Path) -> None:
    """Forget a delivered entry (its JSON first: without it, the attachments count for nothing)."""
    file.unlink(missing_ok=True)
    shutil.rmtree(attachments(file), ignore_errors=True)


def shown(root: Path, file: Path) -> str:
    """``file`` as warnings show it: relative to the project root."""
    try:
        return file.relative_to(root).as_posix()
    except ValueError:
        return str(file)
