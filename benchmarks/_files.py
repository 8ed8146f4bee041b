"""Shared benchmark helper: compare output files without holding them in the driver."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def digest(path: Path) -> str:
    """The file's sha256, read 1 MiB at a time.

    Never the whole file into the benchmark's driver: a child's ``ru_maxrss`` starts at the
    parent's resident size (Linux keeps the high-water mark across ``fork`` and ``exec``), so a
    driver that held a file's bytes once would raise every later child's measured peak to its
    own size.
    """
    found = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(2**20):
            found.update(chunk)
    return found.hexdigest()
