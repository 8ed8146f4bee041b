"""One writer per DVC repository: a direct ``conveyor run`` never races ``dvc repro``.

DVC serialises its commands with ``.dvc/tmp/lock`` (an ``flock`` through zc.lockfile, or a
flufl hard-link lock with ``core.hardlink_lock``). While a stage's command runs, ``dvc repro``
releases that lock and instead records its pid against the stage's deps and outs in
``.dvc/tmp/rwlock``. So:

- a stage that dvc runs finds its own dvc (an ancestor process) in the rwlock, and goes on;
- any other run refuses while a live dvc holds the rwlock or the repository lock, and
  otherwise holds the repository lock itself for the whole stage, so that a ``dvc repro``
  started meanwhile refuses as it would for a second dvc.

A direct run is a debugging tool: it changes the work tree without recording dvc.lock, so the
two must not interleave. This reads DVC's files, not its Python API (``conveyor run`` never
imports dvc): the format is DVC's ``dvc/rwlock.py`` and ``dvc/lock.py``.
"""

from __future__ import annotations

import configparser
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.errors import StageError

if TYPE_CHECKING:
    from collections.abc import Iterator

_LOCK_WAIT = 3.0  # seconds; what dvc itself waits for its lock before giving up
_TRIES = 6


@contextmanager
def repo_lock(root: Path, stage: str) -> Iterator[None]:
    """Run the body as the repository's one writer, or refuse with a :class:`StageError`."""
    tmp = _dvc_tmp(root)
    if tmp is None:  # not a DVC project (a bare folder in tests, a copied bundle)
        yield
        return
    holders = _rwlock_holders(tmp)
    if holders.keys() & _ancestors():
        yield  # dvc runs this stage: it holds the stage's paths for us
        return
    if holders:
        pid, cmd = next(iter(sorted(holders.items())))
        raise _busy(
            stage,
            f"dvc repro is running in this repository (pid {pid}: '{cmd}' holds .dvc/tmp/rwlock)",
        )
    if _hardlink_mode(tmp):
        if (tmp / "lock").exists():
            raise _busy(
                stage, "a dvc command is running in this repository (it holds .dvc/tmp/lock)"
            )
        yield
        return
    handle = _flock(tmp / "lock")
    if handle is None:
        owner = _lock_owner(tmp / "lock")
        raise _busy(stage, f"dvc is running in this repository (pid {owner} holds .dvc/tmp/lock)")
    try:
        yield
    finally:
        handle.close()  # closing the file releases the flock


def _busy(stage: str, what: str) -> StageError:
    return StageError(
        f"{what}; a direct run now would leave the work tree and dvc.lock disagreeing",
        where=f"stage '{stage}'",
        fix=f"wait for it to finish (or stop it), then run 'dvc repro {stage}', which runs "
        "the stage and records it in dvc.lock",
    )


def _dvc_tmp(root: Path) -> Path | None:
    """``.dvc/tmp`` of the repository that holds ``root`` (DVC looks upward too)."""
    for folder in (root.resolve(), *root.resolve().parents):
        if (folder / ".dvc").is_dir():
            tmp = folder / ".dvc" / "tmp"
            tmp.mkdir(exist_ok=True)
            return tmp
    return None


def _rwlock_holders(tmp: Path) -> dict[int, str]:
    """Live pids listed in ``.dvc/tmp/rwlock``, with their commands (dead ones are stale)."""
    try:
        data: Any = json.loads((tmp / "rwlock").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        data = {}  # dvc rewrites it in place: a torn read is retried by dvc, and by us below
        time.sleep(_LOCK_WAIT / _TRIES)
        try:
            data = json.loads((tmp / "rwlock").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
    holders: dict[int, str] = {}
    if not isinstance(data, dict):
        return holders
    for mode in ("write", "read"):
        entries = data.get(mode)
        for infos in entries.values() if isinstance(entries, dict) else ():
            for info in infos if isinstance(infos, list) else [infos]:
                pid = info.get("pid") if isinstance(info, dict) else None
                if isinstance(pid, int) and _alive(pid):
                    holders[pid] = str(info.get("cmd", "dvc"))
    return holders


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return pid > 0


_acting_for: list[int] = []  # set once in a warm stage's child (conveyor.cli.warm)


def act_for(client: int) -> None:
    """Take the ancestry of ``client``, whose stage this process runs.

    A warm stage's child runs for a ``conveyor run`` client that its dvc started, while its own
    parent is the stage server (conveyor.cli.warm).
    """
    _acting_for[:] = [client]


def _ancestors() -> set[int]:
    """This process's parent, grandparent, ... (from /proc on Linux; else the parent only)."""
    found: set[int] = set()
    pid = _acting_for[0] if _acting_for else os.getppid()
    while pid > 1 and pid not in found:
        found.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
            pid = int(stat.rpartition(")")[2].split()[1])  # the field after state: ppid
        except (OSError, ValueError, IndexError):
            break
    return found


def _hardlink_mode(tmp: Path) -> bool:
    """Whether dvc is configured with ``core.hardlink_lock`` (a flufl lock, not an flock)."""
    config = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        config.read([tmp.parent / "config", tmp.parent / "config.local"], encoding="utf-8")
    except configparser.Error:
        return False
    value = config.get("core", "hardlink_lock", fallback="false").strip().lower()
    return value in ("true", "1", "yes", "on")


def _flock(path: Path) -> Any:  # noqa: ANN401 - an open file whose flock we hold
    """DVC's lock, taken as zc.lockfile takes it; None if another process holds it."""
    handle = path.open("a+", encoding="ascii")
    try:
        import fcntl
    except ImportError:  # Windows: dvc locks with msvcrt there; not guarded
        return handle
    for attempt in range(_TRIES):
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            if attempt == _TRIES - 1:
                handle.close()
                return None
            time.sleep(_LOCK_WAIT / _TRIES)
            continue
        handle.seek(0)
        handle.truncate()
        handle.write(f" {os.getpid()}\n")  # what zc.lockfile writes: who holds it
        handle.flush()
        return handle
    return None


def _lock_owner(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip() or "unknown"
    except OSError:
        return "unknown"
