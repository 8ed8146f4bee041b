"""The ``dvc`` and ``git`` commands a sweep runs; each failure is a SweepError with the output."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor import _git
from conveyor.errors import CommandNotFoundError, GitError, SweepError

if TYPE_CHECKING:
    from collections.abc import Iterator

TAIL_LINES = 20


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
    """Read the DVC queue (unnamed entries are skipped) and count its live workers.

    ``dvc queue status`` has no JSON output, so its table is read: ``Task Name Created Status``,
    where Created may hold a space (``04:38 PM``) but Status never does. Its last line, ``Worker
    status: N active``, is not used: DVC asks the workers over celery with a one-second timeout,
    so a busy machine (or a worker finishing a trial) reads as "0 active" while every worker is
    alive, and a trial would be declared dead while it runs. :func:`live_workers` asks the OS.
    """
    done = run(root, "dvc", "queue", "status", what="reading the experiment queue")
    return QueueStatus(parse_queue_table(done.out), live_workers(root))


LIVE = ("queued", "running")
"""Statuses of an entry that has not finished."""


def parse_queue_table(text: str) -> dict[str, QueueEntry]:
    """The entries of ``dvc queue status``'s table by name: each name's current attempt.

    DVC lists running, queued, failed, then successful entries. A name can have two: a trial
    queued again after a failed attempt that DVC still lists. Its live entry (queued or
    running) is the current attempt, whatever the order; between finished ones, the later line
    is the newer (DVC lists them in the order their workers took them).
    """
    entries: dict[str, QueueEntry] = {}
    rows = False  # after the header; an empty queue is a sentence instead of a table
    for line in text.splitlines():
        cells = line.split()
        if cells[:2] == ["Task", "Name"]:
            rows = True
        if not rows or len(cells) < 4 or cells[0] == "Task" or line.startswith("Worker status:"):
            continue
        entry = QueueEntry(cells[0], cells[1], cells[-1].lower())
        known = entries.get(entry.name)
        if entry.name != "None" and (known is None or known.status not in LIVE):
            entries[entry.name] = entry
    return entries


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
        if cwd is None or ("queue-worker" not in title and "celeryd: dvc-exp-" not in title):
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
