"""Atomic writes: a killed process never leaves a half-written file, a missing folder or a mix.

Everything is written under a hidden temporary name beside its final path, then renamed in:

- a file: ``os.replace`` (rename(2)), atomic on POSIX;
- a directory: ``renameat2(RENAME_EXCHANGE)`` swaps the new folder and the old one in one step
  (Linux 3.15+, on ext4, xfs, btrfs, tmpfs, overlayfs...), after which the old content sits at
  the temporary name and is deleted. Where the kernel or filesystem refuses the exchange
  (EINVAL, ENOSYS; or not Linux), two renames, old aside then new in, and :func:`recover` puts
  the old folder back if a kill fell between them;
- a set of files (one stage's outputs): each is written to a temporary, then a journal naming
  them is committed, then each is renamed in. A kill before the journal leaves the old set; a
  kill after it is rolled forward by :func:`recover`. Readers see one set or the other once
  ``recover`` has run, which ``conveyor run`` does for every input and output of its stage.

Temporary names carry the writer's pid: ``.<name>.<pid>.<random>.tmp``, ``.<name>.old-<pid>``,
``.conveyor-set.<pid>.<random>.json``. :func:`recover` (run before every write, and by
``conveyor run``) removes those whose process is gone, so they do not pile up in ``git status``.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_RENAMEAT2_SYSCALL = {  # where an old libc lacks the wrapper (glibc < 2.28, musl < 1.2.2)
    "x86_64": 316,
    "i386": 353,
    "i686": 353,
    "aarch64": 276,
    "riscv64": 276,
    "loongarch64": 276,
    "armv7l": 382,
    "armv6l": 382,
    "ppc64le": 357,
    "ppc64": 357,
    "s390x": 347,
}
_UNSUPPORTED = (errno.EINVAL, errno.ENOSYS)
_JOURNAL = re.compile(r"\.conveyor-set\.(\d+)\.[a-z0-9_]{8}\.(json|part)")
_TEMP = re.compile(r"\.(.+)\.(\d+)\.[a-z0-9_]{8}\.tmp")
_ASIDE = re.compile(r"\.(.+)\.old-(\d+)")
_LEGACY = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")

_live: set[Path] = set()
"""Temporaries this process is writing now; any other with its pid is from a killed run."""


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary sibling and an atomic rename."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically, byte for byte (no newline translation)."""
    write_bytes(path, text.encode("utf-8"))


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary file path beside ``path``; rename it over ``path`` on success."""
    with atomic_paths([path]) as (tmp,):
        yield tmp


@contextmanager
def atomic_paths(paths: Sequence[Path]) -> Iterator[list[Path]]:
    """Yield one temporary file per path (all in one folder); rename them in as a set.

    Raises:
        ValueError: the paths are not distinct names in one folder.
    """
    folder = paths[0].parent
    if any(p.parent != folder for p in paths) or len({p.name for p in paths}) < len(paths):
        raise ValueError(f"a set of outputs must be distinct files in one folder: {paths}")
    folder.mkdir(parents=True, exist_ok=True)
    recover(*paths)
    temps = [_temporary(p, folder=False) for p in paths]
    journal, committed = None, False
    try:
        yield temps
        mode = 0o666 & ~_umask()
        for tmp in temps:
            os.chmod(tmp, mode)
        if len(paths) == 1:
            os.replace(temps[0], paths[0])
        else:
            journal = _write_journal(folder, list(zip(temps, paths, strict=True)))
            committed = True  # from here on, a failure is finished by the next recover()
            for tmp, path in zip(temps, paths, strict=True):
                os.replace(tmp, path)
            journal.unlink()
    finally:
        _live.difference_update(temps)
        if journal is not None:
            _live.discard(journal)
        if not committed:
            for tmp in temps:
                tmp.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``path``; swap it in for ``path`` on success.

    At every instant ``path`` is the old complete directory or the new one: the two are
    exchanged in one ``renameat2`` call. The new directory gets the mode ``mkdir`` would give
    it (0o777 less the umask), not ``mkdtemp``'s 0o700.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    recover(path)
    tmp = _temporary(path, folder=True)
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        _swap_in(tmp, path)  # afterwards ``tmp`` holds the old directory, if there was one
    finally:
        _live.discard(tmp)
        if os.path.lexists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def scratch_dir(path: Path) -> Iterator[Path]:
    """Yield a temporary directory beside ``path`` for work files (a sort's spill); then delete it.

    Named like the other temporaries, so a killed run's scratch is removed by :func:`recover`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    recover(path)
    tmp = _temporary(path, folder=True)
    try:
        yield tmp
    finally:
        _live.discard(tmp)
        shutil.rmtree(tmp, ignore_errors=True)


def recover(*paths: Path) -> None:
    """Repair what killed writers left beside ``paths``: roll sets forward, remove the rest.

    Only leftovers whose writer is dead are touched: a journal of a committed set is rolled
    forward; a directory set aside by a two-rename swap goes back if its path is missing,
    and is deleted otherwise; any other temporary is deleted.
    """
    for folder in dict.fromkeys(p.parent for p in paths):
        names = _listing(folder)
        for name in names:
            if (match := _JOURNAL.fullmatch(name)) and not _alive(folder / name, match[1]):
                if match[2] == "json":
                    _roll_forward(folder, folder / name)
                (folder / name).unlink(missing_ok=True)
        mine = {p.name for p in paths if p.parent == folder}
        for name in _listing(folder):
            if match := _TEMP.fullmatch(name) or _ASIDE.fullmatch(name):
                target, pid = match[1], match[2]
            elif _LEGACY.fullmatch(name) and name[1:-13] in mine:
                target, pid = name[1:-13], "0"  # written before temporaries carried a pid
            else:
                continue
            leftover = folder / name
            if _alive(leftover, pid):
                continue
            if _ASIDE.fullmatch(name) and not os.path.lexists(folder / target):
                os.rename(leftover, folder / target)  # killed between the two renames
            else:
                _remove(leftover)


def _listing(folder: Path) -> list[str]:
    try:
        return sorted(entry.name for entry in os.scandir(folder) if entry.name.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _alive(leftover: Path, pid_text: str) -> bool:
    """Whether the process named in a leftover's name may still be writing it."""
    pid = int(pid_text)
    if pid <= 0:
        return False
    if pid == os.getpid():
        return leftover in _live  # else a killed run that had our pid (containers reuse pids)
    if os.name == "nt":  # os.kill would terminate it: assume alive
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _remove(leftover: Path) -> None:
    if leftover.is_dir() and not leftover.is_symlink():
        shutil.rmtree(leftover, ignore_errors=True)
    else:
        leftover.unlink(missing_ok=True)


def _temporary(path: Path, *, folder: bool) -> Path:
    prefix, parent = f".{path.name}.{os.getpid()}.", path.parent
    if folder:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=parent))
    else:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=parent)
        os.close(fd)
        tmp = Path(name)
    _live.add(tmp)
    return tmp


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (thread-safe)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# -- a set of files: the journal ----------------------------------------------------------


def _write_journal(folder: Path, moves: list[tuple[Path, Path]]) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".conveyor-set.{os.getpid()}.", suffix=".part", dir=folder)
    part, journal = Path(name), Path(name).with_suffix(".json")
    _live.update((part, journal))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"moves": [[tmp.name, path.name] for tmp, path in moves]}, handle)
        os.replace(part, journal)
    finally:
        _live.discard(part)
    return journal


def _roll_forward(folder: Path, journal: Path) -> None:
    """Finish the renames of a committed set; ignore anything that is not a sibling temp."""
    try:
        moves = json.loads(journal.read_text(encoding="utf-8"))["moves"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    for move in moves if isinstance(moves, list) else []:
        if not (
            isinstance(move, list) and len(move) == 2 and all(isinstance(m, str) for m in move)
        ):
            continue
        tmp, path = move
        match = _TEMP.fullmatch(tmp)
        if match is None or match[1] != path or "/" in path or path in (".", ".."):
            continue
        if os.path.lexists(folder / tmp):
            os.replace(folder / tmp, folder / path)


# -- a directory: one exchange --------------------------------------------------------------


def _swap_in(tmp: Path, path: Path) -> None:
    """Put ``tmp`` at ``path``; the old ``path``, if any, ends at ``tmp``."""
    if not os.path.lexists(path):
        os.rename(tmp, path)
        return
    error = _renameat2(tmp, path)
    if error == 0:
        return
    if error not in _UNSUPPORTED:
        raise OSError(error, os.strerror(error), str(tmp), None, str(path))
    aside = path.with_name(f".{path.name}.old-{os.getpid()}")
    _live.add(aside)
    try:
        os.rename(path, aside)
        try:
            os.rename(tmp, path)
        except OSError:
            os.rename(aside, path)
            raise
        os.rename(aside, tmp)  # the caller deletes the old directory with its temporary
    finally:
        _live.discard(aside)


def _renameat2(src: Path, dst: Path, *, via: str = "libc") -> int:
    """``renameat2(src, dst, RENAME_EXCHANGE)``: 0, or the errno (ENOSYS off Linux).

    ``via="syscall"`` calls the system call by number, as done when libc has no wrapper.
    """
    if not sys.platform.startswith("linux"):
        return errno.ENOSYS
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    args = (_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_EXCHANGE)
    wrapper = getattr(libc, "renameat2", None) if via == "libc" else None
    if wrapper is not None:
        wrapper.argtypes = (
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_uint,
        )
        wrapper.restype = ctypes.c_int
        result = wrapper(*args)
    else:
        import platform

        number = _RENAMEAT2_SYSCALL.get(platform.machine())
        if number is None:
            return errno.ENOSYS
        libc.syscall.restype = ctypes.c_long
        result = libc.syscall(
            ctypes.c_long(number),
            ctypes.c_int(args[0]),
            ctypes.c_char_p(args[1]),
            ctypes.c_int(args[2]),
            ctypes.c_char_p(args[3]),
            ctypes.c_uint(args[4]),
        )
    return 0 if result == 0 else ctypes.get_errno()
