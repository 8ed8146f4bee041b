"""The few git plumbing calls the registry needs, each failure a RegistryError from the GitError."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path  # noqa: TC003 - used at run time
from typing import TYPE_CHECKING

from conveyor import _git
from conveyor.errors import CommandNotFoundError, GitError, NotARepositoryError
from conveyor.registry._errors import RegistryError

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextmanager
def _git_installed() -> Iterator[None]:
    """A missing ``git`` command, as the registry says it."""
    try:
        yield
    except CommandNotFoundError as exc:
        raise RegistryError(
            "the 'git' command is not installed", fix="install git; the registry is git tags"
        ) from exc


def run_git(root: Path, *args: str) -> str:
    """Run ``git`` in ``root``; its stdout, or a RegistryError carrying git's own message."""
    try:
        return _run(root, args, check=True).out
    except NotARepositoryError as exc:  # the common case: say it plainly, not git's command line
        raise RegistryError(
            f"'{root}' is not in a git repository, and the registry is git tags",
            fix="run 'git init' and commit the project (a version points at a commit)",
        ) from exc
    except GitError as exc:
        raise RegistryError(
            f"'git {args[0]}' failed: {exc.stderr.strip()}",
            where=str(root),
            fix="run conveyor in a git repository with at least one commit",
        ) from exc


def _run(root: Path, args: tuple[str, ...], *, check: bool = False) -> _git.Completed:
    with _git_installed():
        return _git.git(root, *args, check=check)


def is_git_repo(root: Path) -> bool:
    """Whether ``root`` lies inside a git work tree that has at least one commit."""
    return root.is_dir() and _run(root, ("rev-parse", "--verify", "-q", "HEAD")).returncode == 0


def git_dir(root: Path) -> Path:
    """The repository's common ``.git`` directory (shared by worktrees), where the lock lives."""
    return (root / run_git(root, "rev-parse", "--git-common-dir").strip()).resolve()


def resolve_commit(root: Path, rev: str) -> str:
    """The full sha of the commit that ``rev`` names."""
    with _git_installed():
        commit = _git.resolve_commit(root, rev)
    if commit is None:
        raise RegistryError(
            f"'{rev}' names no commit",
            where=str(root),
            fix="pass a commit, branch or tag that exists (see 'git log')",
        )
    return commit


def show_file(root: Path, commit: str, path: str) -> bytes | None:
    """The bytes of ``path`` (relative to ``root``) at ``commit``; None if it is not there."""
    with _git_installed():
        return _git.show_file(root, commit, path)


def uncommitted(root: Path, paths: list[str]) -> list[str]:
    """Which of ``paths`` differ from HEAD in the work tree or index, or are untracked."""
    out = run_git(root, "status", "--porcelain", "--untracked-files=all", "--", *paths)
    return sorted({line[3:].strip() for line in out.splitlines() if line.strip()})


def identity(root: Path) -> str:
    """``Name <email>`` of whoever git records as the tagger (user config or GIT_* env)."""
    done = _run(root, ("var", "GIT_COMMITTER_IDENT"))
    if done.returncode != 0:
        raise RegistryError(
            "git does not know who you are, and every registry event records its author",
            fix="run 'git config user.name \"Your Name\"' and "
            "'git config user.email you@example.com'",
        )
    ident = done.out.strip()
    return ident[: ident.rindex(">") + 1] if ">" in ident else ident
