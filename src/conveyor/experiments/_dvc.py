"""The ``dvc`` and ``git`` commands a sweep runs, and its reads of DVC's queue.

The reads go through DVC's API, in this process; each failure is a SweepError with the
command's output or the read's cause.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from time import sleep
from typing import TYPE_CHECKING

from conveyor import _git
from conveyor.errors import CommandNotFoundError, GitError, SweepError

if TYPE_CHECKING:
    from collections.abc import Iterator

TAIL_LINES = 20
_log = logging.getLogger("conveyor.sweep")


def run(
    root: Path,
    *args: str,
    what: str,
    check: bool = True,
    detach: bool = False,
    env: dict[str, str] | None = None,
) -> _git.Completed:
    """Run ``git``/``dvc`` in ``root``; raise a SweepError naming ``what`` when it fails.

    ``detach`` is for commands that leave daemons behind (``dvc queue start``): their output
    goes to a file, because a daemon holding our pipe open would block us until it exits.
    ``env`` adds environment variables (the daemons inherit them).
    """
    with _as_sweep_error(what):
        return _git.run(root, args, check=check, detach=detach, env=env)


@contextmanager
def _as_sweep_error(what: str) -> Iterator[None]:
    """A GitError as the SweepError a sweep shows: the command, exit code and output's tail."""
    try:
        yield
    except CommandNotFoundError as exc:
        program = exc.command[0]
        raise SweepError(
            f"the '{program}' command is not installed",
            where="conveyor sweep",
            fix=f"install {program} (sweeps run as DVC experiments)",
        ) from exc
    except GitError as exc:
        raise failure(what, exc) from exc


def failure(what: str, done: _git.Completed | GitError) -> SweepError:
    """The SweepError for a command that failed: the command, its exit code, its output's tail."""
    shown = "\n    ".join(tail(done.output))
    return SweepError(
        f"{what} failed ('{' '.join(done.command)}' exited {done.returncode}):\n    {shown}",
        where="conveyor sweep",
        fix="fix the cause above; finished trials are kept: conveyor sweep --resume",
    )


def tail(text: str, lines: int = TAIL_LINES) -> list[str]:
    """The last ``lines`` non-empty lines of ``text``."""
    return [line for line in text.strip().splitlines() if line.strip()][-lines:]


@dataclass(frozen=True)
class QueueEntry:
    """A row of ``dvc queue status``."""

    task: str
    name: str
    status: str


@dataclass(frozen=True)
class QueueStatus:
    """``dvc queue status``: entries by experiment name, and how many workers are alive."""

    entries: dict[str, QueueEntry]
    live_workers: int

    def get(self, name: str) -> QueueEntry | None:
        """The entry of experiment ``name``, if the queue has one."""
        return self.entries.get(name)

    def is_ghost(self, name: str) -> bool:
        """Whether ``name`` shows as running although no worker process is alive (they died)."""
        entry = self.entries.get(name)
        return entry is not None and entry.status == "running" and self.live_workers == 0


def queue_status(root: Path) -> QueueStatus:
    """Read the DVC queue's named entries and count its live workers.

    Read in this process through DVC's own API, ``celery_queue.status()``, which is what ``dvc
    queue status`` prints. The command cost a DVC start-up per read (about a second of the CPU
    the trials run on) and then asked the workers over celery with a one-second timeout, for a
    ``Worker status: N active`` line that is not used: a busy machine (or a worker finishing a
    trial) reads as "0 active" while every worker is alive, and a trial would be declared dead
    while it runs. :func:`live_workers` asks the OS. DVC is imported at the first read.
    """
    status = QueueStatus(current_attempts(_queue_rows(root)), live_workers(root))
    _log.debug(
        "read DVC's queue: %s; live workers: %d",
        ", ".join(f"{e.name} {e.status}" for e in status.entries.values()) or "empty",
        status.live_workers,
    )
    return status


READ_ATTEMPTS = 3
"""Reads of the queue before its error is the sweep's: a worker moving a message file from the
broker's queue to ``processed`` while it is read makes one read fail (the file is gone, or half
written), and the next read finds it in its new place."""


def _queue_rows(root: Path) -> list[QueueEntry]:
    """The queue's rows as ``dvc queue status`` lists them: running, queued, failed, success."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    for attempt in range(1, READ_ATTEMPTS + 1):
        try:
            with Repo(str(root)) as repo:
                rows = repo.experiments.celery_queue.status()
            return [
                QueueEntry(row["rev"][:7], row["name"], row["status"].lower())
                for row in rows
                if row.get("name")  # not a trial: sweeps name every one
            ]
        except (DvcException, OSError, ValueError) as exc:  # ValueError: a half-written JSON
            if attempt == READ_ATTEMPTS:
                raise SweepError(
                    f"reading the experiment queue failed: {type(exc).__name__}: {exc}",
                    where="conveyor sweep",
                    fix="check 'dvc queue status' in the project; finished trials are kept: "
                    "conveyor sweep --resume",
                ) from exc
            sleep(0.2 * attempt)
    raise AssertionError("unreachable")  # the loop returns or raises


LIVE = ("queued", "running")
"""Statuses of an entry that has not finished."""


def current_attempts(rows: list[QueueEntry]) -> dict[str, QueueEntry]:
    """The queue's entries by name: each name's current attempt.

    DVC lists running, queued, failed, then successful entries. A name can have two: a trial
    queued again after a failed attempt that DVC still lists. Its live entry (queued or
    running) is the current attempt, whatever the order; between finished ones, the later row
    is the newer (DVC lists them in the order their workers took them).
    """
    entries: dict[str, QueueEntry] = {}
    for entry in rows:
        known = entries.get(entry.name)
        if known is None or known.status not in LIVE:
            entries[entry.name] = entry
    return entries


WORKER_MARKS = ("queue-worker", "celeryd: dvc-exp-", "conveyor.experiments._queue_worker work")
"""What names a queue worker on its command line: DVC's ``dvc exp queue-worker``, celery's
title for it, or the one a sweep starts (:mod:`conveyor.experiments._queue_worker`)."""


def live_workers(root: Path) -> int:
    """How many DVC queue workers (``dvc exp queue-worker``) run in ``root``, asked of the OS.

    Not from the ``dvc-exp-worker-N.json`` files ``dvc queue start`` writes: when a worker that
    ran out of work exits after a new one took its number, the old one writes its exit code
    over the new one's file, and a live worker reads as dead.
    """
    import psutil  # a DVC dependency; only sweeps need it

    here = root.resolve()
    alive = 0
    for process in psutil.process_iter(["cmdline", "cwd", "status"]):
        # Celery retitles a worker "[celeryd: dvc-exp-<hash>-N@localhost:MainProcess] ...".
        title = " ".join(process.info["cmdline"] or [])
        cwd = process.info["cwd"]  # None when not ours to read: then not our worker either
        if cwd is None or not any(mark in title for mark in WORKER_MARKS):
            continue
        if process.info["status"] != psutil.STATUS_ZOMBIE and Path(cwd).resolve() == here:
            alive += 1
    return alive


NO_LOGS = "No output logs found for experiment"
"""What ``dvc queue logs`` says of an entry no worker ever started (DVC 3)."""


def never_started(root: Path, name: str) -> bool:
    """Whether the queue entry ``name`` has no log at all: no worker ever set it up.

    A DVC queue worker that is shutting down because the queue was empty can take a task queued
    at that moment and exit without running it; DVC then lists the entry as running forever.
    """
    done = run(root, "dvc", "queue", "logs", name, what="reading the log", check=False)
    return NO_LOGS in done.output


def queue_log(root: Path, name: str) -> str:
    """The tail of a queued experiment's log (``dvc queue logs``)."""
    done = run(root, "dvc", "queue", "logs", name, what="reading the log", check=False)
    return "\n".join(tail(done.output))


def experiment_refs(root: Path) -> dict[str, str]:
    """Every finished experiment's name -> commit, from ``refs/exps`` (fast: no DVC start-up)."""
    done = run(
        root,
        "git",
        "for-each-ref",
        "--format=%(objectname) %(refname)",
        "refs/exps",
        what="listing experiments",
    )
    refs: dict[str, str] = {}
    for line in done.out.splitlines():
        sha, _, ref = line.partition(" ")
        parts = ref.split("/")
        # refs/exps/<2 hex>/<38 hex>/<name>; stash and temp refs have other shapes.
        if len(parts) == 5 and parts[1] == "exps" and len(parts[2]) == 2:
            refs[parts[4]] = sha
    return refs


def head(root: Path) -> str:
    """The commit the work tree is on."""
    return run(root, "git", "rev-parse", "HEAD", what="reading HEAD").out.strip()


def show_files(root: Path, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The text of each ``(commit, path)`` that exists, read by one ``git cat-file --batch``."""
    keys = {f"{commit}:{path}": (commit, path) for commit, path in wanted}
    with _as_sweep_error("reading results"):
        found = _git.cat_file(root, keys)
    return {keys[name]: text.decode("utf-8", errors="replace") for name, text in found.items()}


def dirty(root: Path, paths: list[str]) -> list[str]:
    """Uncommitted (or untracked) files under ``paths``."""
    done = run(
        root, "git", "status", "--porcelain", "--untracked-files=all", "--", *paths, what="git"
    )
    return [line[3:] for line in done.out.splitlines() if line.strip()]
