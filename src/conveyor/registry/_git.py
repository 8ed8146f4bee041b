"""The few git plumbing calls the registry needs, through the ``git`` command (no heavy imports)."""

from __future__ import annotations

import subprocess
from pathlib import Path  # noqa: TC003 - used at run time by subprocess

from conveyor.registry._errors import RegistryError

_NO_REPO = "not a git repository"


def run_git(root: Path, *args: str) -> str:
    """Run ``git`` in ``root``; its stdout, or a RegistryError carrying git's own message."""
    done = _run(root, args)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        if _NO_REPO in message:  # the common case: say it plainly, not git's whole command line
            raise RegistryError(
                f"'{root}' is not in a git repository, and the registry is git tags",
                fix="run 'git init' and commit the project (a version points at a commit)",
            )
        raise RegistryError(
            f"'git {args[0]}' failed: {message}",
            where=str(root),
            fix="run conveyor in a git repository with at least one commit",
        )
    return done.stdout.decode("utf-8", "replace")


def _run(root: Path, args: tuple[str, ...]) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise RegistryError(
            "the 'git' command is not installed", fix="install git; the registry is git tags"
        ) from exc


def is_git_repo(root: Path) -> bool:
    """Whether ``root`` lies inside a git work tree that has at least one commit."""
    return root.is_dir() and _run(root, ("rev-parse", "--verify", "-q", "HEAD")).returncode == 0


def git_dir(root: Path) -> Path:
    """The repository's common ``.git`` directory (shared by worktrees), where the lock lives."""
    return (root / run_git(root, "rev-parse", "--git-common-dir").strip()).resolve()


def resolve_commit(root: Path, rev: str) -> str:
    """The full sha of the commit that ``rev`` names."""
    done = _run(root, ("rev-parse", "--verify", "-q", f"{rev}^{{commit}}"))
    if done.returncode != 0:
        raise RegistryError(
            f"'{rev}' names no commit",
            where=str(root),
            fix="pass a commit, branch or tag that exists (see 'git log')",
        )
    return done.stdout.decode().strip()


def show_file(root: Path, commit: str, path: str) -> bytes | None:
    """The bytes of ``path`` (relative to ``root``) at ``commit``; None if it is not there."""
    done = _run(root, ("show", f"{commit}:./{path}"))
    return done.stdout if done.returncode == 0 else None


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
    ident = done.stdout.decode().strip()
    return ident[: ident.rindex(">") + 1] if ">" in ident else ident
