"""The git and DVC commands ``conveyor ct`` runs in the project, each failure a clear error."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from conveyor import _git
from conveyor.errors import CommandNotFoundError, ContinuousTrainingError, GitError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

LOCK_NAME = "conveyor-ct.lock"
_TAIL_LINES = 30


def run(root: Path, *args: str, what: str, fix: str | None = None) -> str:
    """Run ``git``/``dvc`` in ``root``; its stdout, or a ConveyorError with the output's tail."""
    try:
        return _git.run(root, args).out
    except CommandNotFoundError as exc:
        raise ContinuousTrainingError(
            f"the '{args[0]}' command is not installed",
            where="conveyor ct",
            fix=f"install {args[0]} (conveyor ct runs git and dvc)",
        ) from exc
    except GitError as exc:
        output = exc.output.strip().splitlines()
        tail = "\n    ".join(output[-_TAIL_LINES:])
        raise ContinuousTrainingError(
            f"{what} failed ('{' '.join(args)}' exited {exc.returncode}):\n    {tail}",
            where="conveyor ct",
            fix=fix or "fix the cause above and run conveyor ct again",
        ) from exc


def head(root: Path) -> str:
    """The commit the work tree is on."""
    return run(root, "git", "rev-parse", "HEAD", what="reading HEAD").strip()


def show_file(root: Path, commit: str, path: str) -> str | None:
    """The text of ``path`` at ``commit``; None when the commit does not have it."""
    found = _git.show_file(root, commit, path)
    return None if found is None else found.decode("utf-8", "replace")


def require_clean(root: Path) -> None:
    """Refuse to start over uncommitted changes to tracked files (ct commits and restores)."""
    changed = run(
        root, "git", "status", "--porcelain", "--untracked-files=no", what="git status"
    ).splitlines()
    if changed:
        shown = ", ".join(line[3:] for line in changed[:5])
        raise ContinuousTrainingError(
            f"uncommitted changes in {shown}: conveyor ct commits its results and restores the "
            "work tree on failure, which would lose them",
            where="conveyor ct",
            fix="commit or stash them, then run conveyor ct again",
        )


def restore(root: Path, commit: str) -> None:
    """Put tracked files and DVC outputs back as ``commit`` has them."""
    run(root, "git", "reset", "-q", "--hard", commit, what="restoring the work tree")
    run(root, "dvc", "checkout", "--force", "-q", what="restoring the DVC outputs")


def commit(root: Path, paths: list[str], message: str) -> str:
    """Stage ``paths`` (and every tracked change) and commit; the new commit's sha."""
    run(root, "git", "add", "-A", "--", *paths, what="git add")
    run(root, "git", "add", "-u", what="git add")
    run(root, "git", "commit", "-q", "--no-verify", "-m", message, what="git commit")
    return head(root)


@contextmanager
def ct_lock(root: Path) -> Iterator[None]:
    """Hold ``.git/conveyor-ct.lock``: a second ``conveyor ct`` fails at once, not later."""
    from filelock import FileLock, Timeout

    common = run(root, "git", "rev-parse", "--git-common-dir", what="finding .git").strip()
    path = (root / common / LOCK_NAME).resolve()
    try:
        with FileLock(path, timeout=0):
            yield
    except Timeout as exc:
        raise ContinuousTrainingError(
            f"another 'conveyor ct' holds '{path}'",
            where="conveyor ct",
            fix="wait for it to finish (runs never overlap); if none is running, delete the file",
        ) from exc
