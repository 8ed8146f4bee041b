"""glibc's allocator keeps freed large blocks while a conveyor task runs on a Dask worker.

Dask's nanny starts every worker with ``MALLOC_TRIM_THRESHOLD_=65536`` (distributed's
``nanny.pre-spawn-environ``), so that freed memory goes back to the OS soon. Setting it also
switches off glibc's sliding mmap threshold (mallopt(3)): every block of 128 KiB or more is then
a fresh ``mmap`` whose pages fault in one at a time, unmapped again when freed. Chunked scoring
allocates and frees arrays of megabytes for every chunk: a 500k-row file scored on a worker
took 47k page faults and 0.911 s, against 12k and 0.849 s with the thresholds raised
(``benchmarks/bench_malloc.py``, medians of 18 files).

:func:`freed_memory_kept` raises the mmap threshold to :data:`MMAP_THRESHOLD` and the trim
threshold to :data:`TRIM_THRESHOLD` while a task runs, so a chunk reuses the heap the chunk
before it freed. When the last task running in the process ends, it puts back the values the
environment set and trims the heap (``malloc_trim``), so the worker gives the memory back as
its nanny meant it to. It acts only where the environment fixed those thresholds (restoring
them is then exact) and the C library is glibc; anywhere else it changes nothing.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

R = TypeVar("R")

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
"""mallopt(3)'s parameter numbers (glibc's malloc.h)."""
TRIM_VARIABLE = "MALLOC_TRIM_THRESHOLD_"
MMAP_VARIABLE = "MALLOC_MMAP_THRESHOLD_"
GLIBC_DEFAULT = 128 * 1024
"""Both thresholds when the environment sets only the other one (and the sliding is off)."""
MMAP_THRESHOLD = 32 * 2**20
"""While a task runs: blocks under this come from the heap (a 65,536-row chunk's arrays do)."""
TRIM_THRESHOLD = 64 * 2**20
"""While a task runs: free memory at the heap's top kept up to this much, not given back."""

C_INT_MAX = 2**31 - 1
"""The largest value mallopt(3) takes (its ``value`` is a C ``int``)."""

_lock = threading.Lock()
_running = 0  # tasks inside freed_memory_kept in this process


def fixed_thresholds(environ: Mapping[str, str] | None = None) -> tuple[int, int] | None:
    """The (trim, mmap) thresholds the environment fixed for glibc; None if it fixed neither.

    None too when a value is not a whole number, does not fit mallopt's ``int`` (ctypes would
    pass 2**32 + 65536 as 65536), or ``GLIBC_TUNABLES`` tunes malloc: the values in force
    could not be put back.
    """
    environ = os.environ if environ is None else environ
    if TRIM_VARIABLE not in environ and MMAP_VARIABLE not in environ:
        return None
    if "glibc.malloc." in environ.get("GLIBC_TUNABLES", ""):
        return None
    try:
        trim = int(environ.get(TRIM_VARIABLE, GLIBC_DEFAULT))
        mmap = int(environ.get(MMAP_VARIABLE, GLIBC_DEFAULT))
    except ValueError:
        return None
    if not (0 <= trim <= C_INT_MAX and 0 <= mmap <= C_INT_MAX):
        return None  # glibc reads a size, mallopt takes an int: no way to put it back
    return trim, mmap


@functools.cache
def _glibc() -> Any:  # noqa: ANN401 - a ctypes library
    """This process's C library if it is glibc (mallopt and malloc_trim), else None."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    return ctypes.CDLL(None)


@contextmanager
def freed_memory_kept() -> Iterator[bool]:
    """Raise glibc's thresholds while the block runs; yields whether anything was changed."""
    global _running  # one count per process: the allocator is per process
    thresholds = fixed_thresholds()
    libc = _glibc() if thresholds is not None else None
    if libc is None or thresholds is None:
        yield False
        return
    with _lock:
        _running += 1
        if _running == 1:
            libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
            libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    try:
        yield True
    finally:
        with _lock:
            _running -= 1
            if _running == 0:  # the last task out puts the worker's own values back
                trim, mmap = thresholds
                libc.mallopt(M_MMAP_THRESHOLD, mmap)
                libc.mallopt(M_TRIM_THRESHOLD, trim)
                libc.malloc_trim(0)


class KeepingFreedMemory(Generic[R]):
    """``fn``, run inside :func:`freed_memory_kept`; picklable when ``fn`` is (a Dask task)."""

    def __init__(self, fn: Callable[..., R]) -> None:
        self.fn = fn
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)  # Dask names tasks by it

    def __call__(self, *args: Any) -> R:  # noqa: ANN401 - whatever fn takes
        with freed_memory_kept():
            return self.fn(*args)
