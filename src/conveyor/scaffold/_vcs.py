"""Git and DVC set-up for a new project: init, Hydra composition on, the first commit."""

from __future__ import annotations

import logging
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor import _git
from conveyor.errors import GitError, InitError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence


def require_git(root: Path) -> None:
    """Refuse early, before anything is written, when ``git`` is not installed."""
    if shutil.which("git") is None:
        raise InitError(
            "git is not installed or not on PATH",
            where=str(root),
            fix="install git (https://git-scm.com/downloads) and run conveyor init again",
        )


def _run_git(root: Path, *args: str, check: bool = True) -> _git.Completed:
    try:
        return _git.git(root, *args, check=check)
    except GitError as exc:
        raise InitError(
            f"'git {' '.join(args)}' failed: {exc.stderr.strip() or exc.stdout.strip()}",
            where=str(root),
            fix="fix the git problem above and run conveyor init again",
        ) from exc


def git_toplevel(root: Path) -> Path | None:
    """The work tree that contains ``root``, or None when ``root`` is in no git repository."""
    done = _run_git(root, "rev-parse", "--show-toplevel", check=False)
    return Path(done.out.strip()).resolve() if done.returncode == 0 else None


def ensure_git(root: Path) -> tuple[bool, bool]:
    """Make ``root`` part of a git repository: (whether we ran git init, whether HEAD is unborn)."""
    created = git_toplevel(root) is None
    if created:
        _run_git(root, "init", "-q")
    unborn = _run_git(root, "rev-parse", "--verify", "-q", "HEAD", check=False).returncode != 0
    return created, unborn


@contextmanager
def _quiet_dvc() -> Iterator[None]:
    """DVC's API logs "Initialized DVC repository." at INFO; the CLI prints its own summary."""
    logger = logging.getLogger("dvc")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def ensure_dvc(root: Path) -> bool:
    """``dvc init`` (``--subdir`` below the git root) unless done; Hydra composition on.

    ``hydra.enabled`` makes ``dvc exp run -S`` recompose conf/ into params.yaml, as
    ``conveyor compile`` does. Returns whether DVC was initialised here.
    """
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    created = not (root / Repo.DVC_DIR).is_dir()
    try:
        with _quiet_dvc():
            if created:
                subdir = git_toplevel(root) != root.resolve()
                repo = Repo.init(str(root), subdir=subdir)
            else:
                repo = Repo(str(root))
            try:
                with repo.config.edit("repo") as config:
                    config["hydra"]["enabled"] = True
            finally:
                repo.close()
    except DvcException as exc:
        raise InitError(
            f"dvc could not be set up: {exc}",
            where=str(root),
            fix="fix the problem above, or run 'dvc init' and "
            "'dvc config hydra.enabled true' yourself, then 'conveyor compile'",
        ) from exc
    return created


def git_identity_problem(root: Path) -> str | None:
    """Why git cannot commit here (no user.name/user.email), or None when it can."""
    for ident in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
        done = _run_git(root, "var", ident, check=False)
        if done.returncode != 0:
            lines = [line for line in done.err.splitlines() if line.startswith("fatal:")]
            return lines[-1].removeprefix("fatal: ") if lines else "git has no user identity"
    return None


def stage(root: Path, paths: Sequence[str]) -> None:
    """``git add`` exactly ``paths`` (relative to ``root``), nothing the user had lying around."""
    _run_git(root, "add", "--", *paths)


def commit(root: Path, message: str) -> str:
    """Commit what is staged; return the short hash of the new commit."""
    _run_git(root, "commit", "-q", "-m", message)
    return _run_git(root, "rev-parse", "--short", "HEAD").out.strip()
