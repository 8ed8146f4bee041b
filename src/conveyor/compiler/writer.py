"""Write generated files atomically, or compare them with what is on disk."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from conveyor import _atomic

if TYPE_CHECKING:
    from pathlib import Path


def write_files(root: Path, files: dict[str, str]) -> list[str]:
    """Write each changed file; return the names that changed."""
    changed = [name for name, text in files.items() if _read(root / name) != text]
    for name in changed:
        _atomic.write_text(root / name, files[name])
    return changed


def diff_files(root: Path, files: dict[str, str]) -> str:
    """A unified diff from the files on disk to ``files``; empty when they match."""
    chunks: list[str] = []
    for name, text in files.items():
        current = _read(root / name)
        if current == text:
            continue
        chunks.extend(
            difflib.unified_diff(
                (current or "").splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"{name} (committed)" if current is not None else f"{name} (missing)",
                tofile=f"{name} (from conf/)",
            )
        )
    return "".join(chunks)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
