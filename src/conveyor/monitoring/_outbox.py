"""Alerts in ``.conveyor/outbox/`` (:mod:`conveyor._outbox`): one JSON file each, until sent.

A file holds what would have been sent (the body and its content type) and the name of the
target it was for, never the URL or the headers: those may carry secrets, and are read again
from ``monitor.alerts`` and the environment when the file is sent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor import _outbox
from conveyor._outbox import OUTBOX_DIR, folder, shown

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["FORMAT", "OUTBOX_DIR", "Queued", "folder", "pending", "put", "remove", "shown"]
FORMAT = 1


@dataclass(frozen=True)
class Queued:
    """One undelivered alert read back from its file."""

    path: Path
    target: str
    method: str
    content_type: str
    body: str


def put(root: Path, target: str, method: str, content_type: str, body: str, reason: str) -> Path:
    """Queue ``body`` for ``target``; the file written. OSError (with why) when it cannot be."""
    document = {
        "format": FORMAT,
        "target": target,
        "method": method,
        "content_type": content_type,
        "body": body,
        "queued": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "reason": reason,
    }
    return _outbox.write(root, target, document)


def pending(root: Path) -> tuple[list[Queued], list[str]]:
    """The queued alerts, oldest first, and one problem per file that cannot be read."""
    found, problems = _outbox.documents(root)
    queued = []
    for file, document in found:
        try:
            queued.append(_queued(file, document))
        except (ValueError, KeyError, TypeError) as exc:
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
    _outbox.remove(item.path)
