"""Many git objects read by one process: ``git cat-file --batch`` (diff, sweep leaderboards)."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path


def cat_file(repo: Path, names: Iterable[str]) -> dict[str, bytes]:
    """The content of each object ``name`` (a sha, or ``rev:path``) that exists, by name.

    Names git reports as missing are left out. Raises ``subprocess.CalledProcessError`` (with
    git's stderr) when git itself fails, e.g. outside a repository.
    """
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return {}
    out = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=repo,
        input="".join(f"{name}\n" for name in wanted).encode(),
        capture_output=True,
        check=True,
    ).stdout
    found: dict[str, bytes] = {}
    position = 0
    for name in wanted:
        header_end = out.index(b"\n", position)
        header = out[position:header_end].split()  # "<oid> <type> <size>" or "<name> missing"
        position = header_end + 1
        if len(header) == 3 and header[2].isdigit():
            size = int(header[2])
            found[name] = out[position : position + size]
            position += size + 1  # the content is followed by a newline
    return found
