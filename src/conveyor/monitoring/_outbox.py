"""``.conveyor/outbox/``: alerts that could not be delivered, one JSON file each, until they are.

A file holds what would have been sent (the body and its content type) and the name of the
target it was for, never the URL or the headers: those may carry secrets, and are read again
from ``monitor.alerts`` and the environment when the file is sent. Files are named so that
name order is queueing order (``<ns since the epoch>-<target>.json``) and written atomically,
so a killed run leaves either the whole file or none. The folder ignores itself in git, like
the compile cache; a ``.conveyor`` that a symlink leads out of the project is refused.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor import _atomic
from conveyor._paths import real_path_outside

if TYPE_CHECKING:
    from pathlib import Path

OUTBOX_DIR = ".conveyor/outbox"
FORMAT = 1


@dataclass(frozen=True)
class Queued:
    """One undelivered alert read back from its file."""

    path: Path
    target: str
    method: str
    content_type: str
    body: str


def folder(root: Path) -> Path:
    """The outbox of the project at ``root``; OSError if a symlink leads it elsewhere."""
    path = root / OUTBOX_DIR
    if (real := real_path_outside(root, path)) is not None:
        raise OSError(f"{OUTBOX_DIR} leads out of the project (to {real}); not used")
    return path


def put(root: Path, target: str, method: str, content_type: str, body: str, reason: str) -> Path:
    """Queue ``body`` for ``target``; the file written. OSError (with why) when it cannot be."""
    path = folder(root)
    document = {
        "format": FORMAT,
        "target": target,
        "method": method,
        "content_type": content_type,
        "body": body,
        "queued": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "reason": reason,
    }
    try:
        path.mkdir(parents=True, exist_ok=True)
        ignore = path / ".gitignore"
        if not ignore.exists():
            _atomic.write_text(ignore, "# written by conveyor monitor: undelivered alerts\n*\n")
        stamp = time.time_ns()
        file = path / f"{stamp:020d}-{target}.json"
        while file.exists():  # two alerts in one clock tick
            stamp += 1
            file = path / f"{stamp:020d}-{target}.json"
        _atomic.write_text(file, json.dumps(document, indent=2, sort_keys=True) + "\n")
    except OSError as exc:
        raise OSError(f"cannot write to {OUTBOX_DIR}: {exc.strerror or exc}") from exc
    return file


def pending(root: Path) -> tuple[list[Queued], list[str]]:
    """The queued alerts, oldest first, and one problem per file that cannot be read."""
    path = folder(root)
    if not path.is_dir():
        return [], []
    queued, problems = [], []
    for file in sorted(path.glob("*.json")):
        if not file.is_file() or file.is_symlink():
            problems.append(f"{shown(root, file)} is not a regular file; left alone")
            continue
        try:
            document: Any = json.loads(file.read_text(encoding="utf-8"))
            queued.append(_queued(file, document))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"{shown(root, file)} cannot be read ({exc}); left alone")
    return queued, problems


def _queued(file: Path, document: Any) -> Queued:  # noqa: ANN401 - JSON as read
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"not an outbox file of format {FORMAT}")
    fields = {key: document[key] for key in ("target", "method", "content_type", "body")}
    if not all(isinstance(value, str) for value in fields.values()):
        raise TypeError("target, method, content_type and body must be strings")
    if fields["method"] not in ("POST", "PUT"):
        raise ValueError(f"method '{fields['method']}' is neither POST nor PUT")
    return Queued(file, **fields)


def remove(item: Queued) -> None:
    """Forget a delivered alert."""
    item.path.unlink(missing_ok=True)


def shown(root: Path, file: Path) -> str:
    """``file`` as the warnings show it: relative to the project root."""
    try:
        return file.relative_to(root).as_posix()
    except ValueError:
        return str(file)
