"""The one runner of ``git`` and ``dvc`` subprocesses, and the git reads several packages share.

Every git or dvc command conveyor runs goes through :func:`git` or :func:`dvc` (a test scans
``src/`` for any other). As in DVC's ``dvc/scm.py``, failures come out as one error subtree,
:class:`~conveyor.errors.GitError`, holding the command, its exit code and its output; the
caller that owns the user's message (the registry, ``conveyor ct``, a sweep, ``conveyor diff``,
``conveyor init``) raises its own error ``from`` it, adding where and the fix.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conveyor.errors import CommandNotFoundError, GitError, NotARepositoryError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from pathlib import Path

_log = logging.getLogger("conveyor.commands")  # `conveyor -v`: each command and its time

PROGRAMS = ("git", "dvc")
"""The programs this module runs; nothing else."""
_NOT_A_REPO = "not a git repository"
_SHOWN_LINES = 10


@dataclass(frozen=True)
class Completed:
    """A command that ran to its end: its arguments, exit code and raw output."""

    command: tuple[str, ...]
    """As the caller named it (``("git", "rev-parse", "HEAD")``), not the resolved path."""
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def out(self) -> str:
        """The standard output as text (UTF-8; undecodable bytes replaced)."""
        return self.stdout.decode("utf-8", "replace")

    @property
    def err(self) -> str:
        """The standard error as text (UTF-8; undecodable bytes replaced)."""
        return self.stderr.decode("utf-8", "replace")

    @property
    def output(self) -> str:
        """Everything the command printed: its stdout, then its stderr."""
        return self.out + self.err


def git(root: Path, *args: str, check: bool = True, stdin: bytes | None = None) -> Completed:
    """Run ``git args...`` in ``root``; with ``check``, a non-zero exit raises :class:`GitError`."""
    return run(root, ("git", *args), check=check, stdin=stdin)


def dvc(root: Path, *args: str, check: bool = True, detach: bool = False) -> Completed:
    """Run ``dvc args...`` in ``root``, like :func:`git`.

    ``detach`` is for commands that leave daemons behind (``dvc queue start``): their output
    goes to a file, because a daemon holding our pipe open would block us until it exits.
    """
    return run(root, ("dvc", *args), check=check, detach=detach)


def run(
    root: Path,
    command: Sequence[str],
    *,
    check: bool = True,
    stdin: bytes | None = None,
    detach: bool = False,
    env: Mapping[str, str] | None = None,
) -> Completed:
    """Run ``command``, whose first word is ``git`` or ``dvc``, in ``root``.

    Raises :class:`CommandNotFoundError` when the program is not installed (whatever
    ``check``), and :class:`GitError` (:class:`NotARepositoryError` when git says so) when it
    cannot start or, with ``check``, exits non-zero. DVC's analytics are off; stdin is empty
    unless ``stdin`` gives it bytes; ``env`` adds to (or overrides) this process's environment.
    """
    named = tuple(command)
    executable = _executable(root, named)
    argv = [executable, *named[1:]]
    environment = {**os.environ, **(env or {}), "DVC_NO_ANALYTICS": "1"}
    started = time.monotonic()
    try:
        if detach:
            done = _run_detached(root, named, argv, environment)
        else:
            finished = subprocess.run(
                argv,
                cwd=root,
                input=stdin,
                stdin=subprocess.DEVNULL if stdin is None else None,
                capture_output=True,
                check=False,
                env=environment,
            )
            done = Completed(named, finished.returncode, finished.stdout, finished.stderr)
    except OSError as exc:
        raise _cannot_start(root, named, exc) from exc
    seconds = time.monotonic() - started
    _log.debug("ran '%s': exit %d in %.2f s", shlex.join(named), done.returncode, seconds)
    if check and done.returncode != 0:
        raise failure(root, done)
    return done


def run_stoppable(
    root: Path,
    command: Sequence[str],
    *,
    stop: Callable[[], bool],
    env: Mapping[str, str] | None = None,
    every: float = 0.2,
    grace: float = 3.0,
) -> Completed | None:
    """:func:`run` without ``check``, in a process group of its own that ``stop`` can end.

    While the command runs, ``stop()`` is asked every ``every`` seconds; once it says True,
    the whole group (the command and every process it started) gets SIGTERM, then SIGKILL
    after ``grace`` seconds or as soon as the command itself has exited, so nothing it started
    runs on; the result is then None. For work another process calls off: a sweep's trial on
    an executor's worker, stopped by Ctrl-C on the driver. Whatever ends this call early (an
    exception in this thread) ends the group the same way.
    """
    named = tuple(command)
    executable = _executable(root, named)
    environment = {**os.environ, **(env or {}), "DVC_NO_ANALYTICS": "1"}
    try:
        process = subprocess.Popen(
            [executable, *named[1:]],
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environment,
            start_new_session=True,  # its own group: ended as one, apart from ours
        )
    except OSError as exc:
        raise _cannot_start(root, named, exc) from exc
    try:
        while True:
            try:
                out, err = process.communicate(timeout=every)
            except subprocess.TimeoutExpired:
                if stop():
                    break
                continue
            signal_group(process.pid, signal.SIGKILL)  # anything it left behind
            return Completed(named, process.returncode, out, err)
    finally:
        if process.returncode is None:
            _end_group(process, grace)
    return None


def _end_group(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM to the process group led by ``process``; SIGKILL after ``grace`` seconds."""
    signal_group(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.communicate(timeout=grace)
    signal_group(process.pid, signal.SIGKILL)
    process.communicate()


def signal_group(group: int, number: int) -> None:
    """Send signal ``number`` to process group ``group``; nothing if it has gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, number)


def _run_detached(
    root: Path, named: tuple[str, ...], argv: list[str], env: dict[str, str]
) -> Completed:
    import tempfile

    with tempfile.TemporaryFile("w+b") as log:
        code = subprocess.call(
            argv, cwd=root, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
        )
        log.seek(0)
        output = log.read()
    return Completed(named, code, output, b"")


def failure(root: Path, done: Completed) -> GitError:
    """The :class:`GitError` for ``done``, a command that exited non-zero."""
    lines = [line for line in (done.err.strip() or done.out.strip()).splitlines() if line.strip()]
    shown = "\n    ".join(lines[-_SHOWN_LINES:]) or "(no output)"
    not_a_repo = done.command[0] == "git" and _NOT_A_REPO in done.err
    cls = NotARepositoryError if not_a_repo else GitError
    return cls(
        f"'{' '.join(done.command)}' exited {done.returncode}:\n    {shown}",
        where=str(root),
        fix="run it inside a git repository" if not_a_repo else "fix the cause shown above",
        command=done.command,
        returncode=done.returncode,
        stdout=done.out,
        stderr=done.err,
    )


def cat_file(repo: Path, names: Iterable[str]) -> dict[str, bytes]:
    """The content of each object ``name`` (a sha, or ``rev:path``) that exists, by name.

    Many objects, one ``git cat-file --batch`` process (diff, sweep leaderboards). Names git
    reports as missing are left out; a :class:`GitError` when git itself fails, e.g. outside a
    repository.
    """
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return {}
    out = git(repo, "cat-file", "--batch", stdin="".join(f"{n}\n" for n in wanted).encode()).stdout
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


def resolve_commit(root: Path, rev: str) -> str | None:
    """The full sha of the commit ``rev`` names (branch, tag, ``HEAD~1``...); None if none."""
    done = git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    return done.out.strip() if done.returncode == 0 else None


def show_file(root: Path, commit: str, path: str) -> bytes | None:
    """The bytes of ``path`` (relative to ``root``) at ``commit``; None if it is not there."""
    done = git(root, "show", f"{commit}:./{path}", check=False)
    return done.stdout if done.returncode == 0 else None


def ls_files(root: Path, paths: Sequence[str] = (), *, untracked: bool = False) -> list[str]:
    """The files git tracks under ``paths`` (all when empty), relative to ``root``.

    With ``untracked``, also the untracked files git does not ignore. Names that are not UTF-8
    round-trip through ``surrogateescape``. A :class:`GitError` outside a git work tree.
    """
    extra = ("--cached", "--others", "--exclude-standard") if untracked else ()
    out = git(root, "ls-files", "-z", *extra, "--", *paths).stdout
    return [name for name in out.decode("utf-8", "surrogateescape").split("\0") if name]


def _executable(root: Path, named: tuple[str, ...]) -> str:
    """The path of ``named``'s program (git or dvc); a located error when it is not installed."""
    if not named or named[0] not in PROGRAMS:
        msg = f"conveyor._git runs only {' and '.join(PROGRAMS)}, not {named[:1]}"
        raise ValueError(msg)
    executable = shutil.which(named[0])
    if executable is None:
        raise CommandNotFoundError(
            f"the '{named[0]}' command is not installed",
            where=str(root),
            fix=f"install {named[0]} and make sure it is on PATH",
            command=named,
        )
    return executable


def _cannot_start(root: Path, named: tuple[str, ...], exc: OSError) -> GitError:
    return GitError(
        f"'{' '.join(named)}' could not start: {exc}",
        where=str(root),
        fix=f"check that '{root}' exists and {named[0]} can run there",
        command=named,
    )
