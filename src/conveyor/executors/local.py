"""``local``: a pool of worker processes on this machine (the default executor).

The pool starts fresh interpreters (``spawn``), as Dask workers are, so work that runs here
runs on a cluster too: the mapped function must be importable and its items picklable.
Resources are not reserved (one machine, one pool); they never change a result.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from conveyor.plugins.executor import Executor, Session

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping
    from concurrent.futures import Future, ProcessPoolExecutor

T = TypeVar("T")
R = TypeVar("R")


class LocalParams(BaseModel):
    """``executor.params`` of ``local``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workers: int | None = Field(default=None, ge=1, le=1024)
    """Worker processes; null: one per CPU core."""


class LocalSession(Session):
    """An open process pool."""

    def __init__(self, pool: ProcessPoolExecutor, workers: int) -> None:
        self._pool = pool
        self._workers = workers

    @property
    def workers(self) -> int:
        """The pool's size."""
        return self._workers

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        resources: Mapping[str, float] | None = None,
    ) -> list[R]:
        """Results in item order; the first failing item's exception is raised."""
        del resources
        futures = [self._pool.submit(fn, item) for item in items]
        try:
            return [future.result() for future in futures]
        finally:
            for future in futures:
                future.cancel()

    def submit(
        self,
        fn: Callable[..., R],
        *args: Any,  # noqa: ANN401 - whatever fn takes
        resources: Mapping[str, float] | None = None,
    ) -> Future[R]:
        """Run ``fn(*args)`` in the pool."""
        del resources
        return self._pool.submit(fn, *args)


class LocalExecutor(Executor[LocalParams]):
    """Runs work in a process pool on this machine."""

    Params = LocalParams

    @contextmanager
    def open(self, *, where: str, source: str | None = None) -> Iterator[Session]:
        """Start the pool; on exit, cancel what has not started and wait for the rest."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        del where, source
        workers = self.params.workers or os.cpu_count() or 1
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        try:
            yield LocalSession(pool, workers)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
