"""Read a git revision of the project without touching the user's files, index or worktrees.

A revision is listed with one ``git ls-tree`` and its blobs streamed with one
``git cat-file --batch``; :func:`materialise` writes them into a temporary directory that
the caller owns (a ``tempfile.TemporaryDirectory``, removed even on error or Ctrl-C). Large
data files become empty placeholders: compiling only checks that a dependency exists, and
their identity comes from the git listing, never from their bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from conveyor import _git
from conveyor.errors import GitError, RevisionError

if TYPE_CHECKING:
    from collections.abc import Iterable

MAIN_BRANCHES = ("main", "master", "origin/HEAD")
"""Where the default BASE forks from: the first of these that exists."""
FULL_COPY_BYTES = 1 << 20
"""Blobs up to this size are written out; larger ones (data, not code) become placeholders."""
ALWAYS_COPIED = (".py", ".yaml", ".yml", ".json", ".dvc", ".toml", ".cfg", ".txt")
_SYMLINK, _SUBMODULE = "120000", "160000"


@dataclass(frozen=True)
class Entry:
    """One file of a revision: its git mode, blob id and size."""

    mode: str
    sha: str
    size: int


@dataclass(frozen=True)
class RevisionTree:
    """The files of the project directory at one commit, by project-relative POSIX path."""

    repo: Path
    """The git work tree's top directory (where git commands run)."""
    rev: str
    """The revision as the user named it."""
    commit: str
    files: dict[str, Entry]

    def read(self, path: str) -> bytes | None:
        """The content of ``path`` at this revision; None when it has no such file."""
        entry = self.files.get(path)
        if entry is None or entry.mode == _SUBMODULE:
            return None
        return read_blobs(self.repo, [entry.sha])[entry.sha]


def work_tree(root: Path) -> tuple[Path, str]:
    """The top of the git work tree holding ``root``, and ``root``'s path inside it."""
    try:
        top = _git.git(root, "rev-parse", "--show-toplevel").out.strip()
        prefix = _git.git(root, "rev-parse", "--show-prefix").out.strip()
    except GitError as exc:
        raise RevisionError(
            f"'{root}' is not inside a git repository, so there are no revisions to compare",
            where="conveyor diff",
            fix="run it inside the project's git clone (or 'git init' and commit conf/ first)",
        ) from exc
    return Path(top), prefix


def resolve(repo: Path, rev: str) -> str:
    """The commit id that ``rev`` names (a branch, tag, ``HEAD~1``, a short id...)."""
    commit = _git.resolve_commit(repo, rev)
    if commit is not None:
        return commit
    has_commits = _git.resolve_commit(repo, "HEAD") is not None
    fix = (
        "name a branch, tag or commit that exists ('git log --oneline' lists commits; "
        "'git fetch' brings remote branches)"
        if has_commits
        else "commit something first: the repository has no commits yet"
    )
    raise RevisionError(f"unknown revision '{rev}'", where="conveyor diff", fix=fix)


def default_base(repo: Path) -> str:
    """Where the current branch forked from the main branch; HEAD itself when on main.

    The main branch is the first of :data:`MAIN_BRANCHES` that exists; with none of them,
    HEAD (so the default diff shows the uncommitted changes).
    """
    head = resolve(repo, "HEAD")
    for branch in MAIN_BRANCHES:
        if _git.resolve_commit(repo, branch) is None:
            continue
        try:
            return _git.git(repo, "merge-base", "HEAD", branch).out.strip()
        except GitError:
            continue  # unrelated histories: try the next candidate
    return head


def list_tree(repo: Path, prefix: str, rev: str) -> RevisionTree:
    """Every file under the project directory ``prefix`` at ``rev``."""
    commit = resolve(repo, rev)
    treeish = f"{commit}:{prefix.rstrip('/')}" if prefix else commit
    try:
        listing = _git.git(repo, "ls-tree", "-r", "-z", "--long", treeish).stdout
    except GitError as exc:
        raise RevisionError(
            f"the project directory '{prefix.rstrip('/')}' does not exist at '{rev}'",
            where=f"revision '{rev}'",
            fix="diff against a revision that has the project, or run from another directory",
        ) from exc
    files: dict[str, Entry] = {}
    for record in listing.decode("utf-8", "surrogateescape").split("\0"):
        if not record:
            continue
        meta, _, path = record.partition("\t")
        mode, _kind, sha, size = meta.split()
        files[path] = Entry(mode, sha, int(size) if size.isdigit() else 0)
    return RevisionTree(repo, rev, commit, files)


def read_blobs(repo: Path, shas: Iterable[str]) -> dict[str, bytes]:
    """The content of each blob, streamed through one ``git cat-file --batch``."""
    return _git.cat_file(repo, shas)


def materialise(tree: RevisionTree, dest: Path) -> None:
    """Write ``tree`` into the empty directory ``dest``: code and config in full, data as stubs."""
    copied = {
        path: entry
        for path, entry in tree.files.items()
        if entry.mode not in (_SYMLINK, _SUBMODULE)
        and (entry.size <= FULL_COPY_BYTES or path.endswith(ALWAYS_COPIED))
    }
    blobs = read_blobs(tree.repo, (e.sha for e in copied.values()))
    for path, entry in tree.files.items():
        target = dest.joinpath(*PurePosixPath(path).parts)
        if entry.mode == _SUBMODULE:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blobs[entry.sha] if path in copied else b"")
