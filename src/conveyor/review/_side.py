"""One side of ``conveyor diff``: the revision it names, or the working tree.

Its own module because both the diff and its metric deltas describe a side, and neither may
import the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Side:
    """One side of a diff: a git revision, or the working tree (``rev`` None)."""

    label: Literal["BASE", "HEAD"]
    rev: str | None
    commit: str | None

    def describe(self) -> str:
        """``main @ 1a2b3c4``, or ``working tree``."""
        if self.rev is None or self.commit is None:
            return "working tree"
        short = self.commit[:7]
        return short if self.commit.startswith(self.rev) else f"{self.rev} @ {short}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"rev": self.rev, "commit": self.commit, "working_tree": self.rev is None}
