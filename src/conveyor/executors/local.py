"""``local``: a pool of worker processes on this machine (the default executor).

The pool starts fresh interpreters (``spawn``), as Dask workers are, so work that runs here
runs on a cluster too: the mapped function must be importable and its items picklable.
Resources are not reserved (one machine, one pool); they never change a result.

:meth:`LocalSession.share` restarts the pool (after the tasks already submitted finish) with an
initializer that unpickles every shared value once in each worker process; tasks carry only
a small token for it. Share what the tasks need before submitting them.
"""

from __future__ import annotations

import os
import pickle
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field

from conveyor.errors import ExecutorError
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


_WORKER_SHARED: dict[str, Any] = {}
"""In a pool's worker process: the values shared with it, by token."""


@dataclass(frozen=True)
class _Shared:
    """The stand-in for a shared value: a token the worker looks up."""

    token: str


def _install(shared: dict[str, bytes]) -> None:
    """The pool's initializer: unpickle each shared value once in this worker."""
    # pickled by the session's own process, from values its caller built and trusts
    _WORKER_SHARED.update({token: pickle.loads(data) for token, data in shared.items()})  # noqa: S301


def _call_with_shared(fn: Callable[..., R], args: tuple[Any, ...]) -> R:
    """``fn(*args)`` with each stand-in replaced by the worker's value (runs in a worker)."""
    return fn(*(_WORKER_SHARED[a.token] if isinstance(a, _Shared) else a for a in args))


class LocalSession(Session):
    """An open process pool."""

    def __init__(self, workers: int, where: str) -> None:
        self._workers = workers
        self._where = where
        self._shared: dict[str, bytes] = {}
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_install,
            initargs=(dict(self._shared),),
        )

    def close(self) -> None:
        """Cancel what has not started and wait for the rest."""
        self._pool.shutdown(wait=True, cancel_futures=True)

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
        from concurrent.futures.process import BrokenProcessPool

        del resources
        try:
            futures = [self._pool.submit(fn, item) for item in items]
        except BrokenProcessPool as exc:  # an earlier task's worker died: the pool is done
            raise self._died(fn, exc) from exc
        try:
            return [future.result() for future in futures]
        except BrokenProcessPool as exc:  # killed (out of memory, a signal) mid-task
            raise self._died(fn, exc) from exc
        finally:
            for future in futures:
                future.cancel()

    def _died(self, fn: Callable[..., object], exc: BaseException) -> ExecutorError:
        return ExecutorError(
            f"a worker process died while running '{getattr(fn, '__name__', fn)}' ({exc})",
            where=self._where,
            fix="free memory or lower executor.params.workers, then run again; nothing was written",
        )

    def share(self, value: T) -> T:
        """A token for ``value``, which each worker of a restarted pool unpickles once.

        The pool restarts after the tasks already submitted finish, so share first.
        """
        token = f"shared-{len(self._shared)}"
        self._shared[token] = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        self._pool.shutdown(wait=True)
        self._pool = self._start()
        return cast("T", _Shared(token))

    def submit(
        self,
        fn: Callable[..., R],
        *args: Any,  # noqa: ANN401 - whatever fn takes
        resources: Mapping[str, float] | None = None,
    ) -> Future[R]:
        """Run ``fn(*args)`` in the pool; a worker that dies is the ExecutorError of :meth:`map`."""
        from concurrent.futures import Future
        from concurrent.futures.process import BrokenProcessPool

        del resources
        relay: Future[R] = Future()
        try:
            if any(isinstance(arg, _Shared) for arg in args):
                task = self._pool.submit(_call_with_shared, fn, args)
            else:
                task = self._pool.submit(fn, *args)
        except BrokenProcessPool as exc:  # an earlier task's worker died: the pool is done
            relay.set_exception(self._died(fn, exc))
            return relay

        def done(finished: Future[R]) -> None:
            try:
                relay.set_result(finished.result())
            except BrokenProcessPool as exc:  # killed (out of memory, a signal) mid-task
                failure = self._died(fn, exc)
                failure.__cause__ = exc
                relay.set_exception(failure)
            except BaseException as exc:  # relayed to the caller as is
                relay.set_exception(exc)

        task.add_done_callback(done)
        return relay


class LocalExecutor(Executor[LocalParams]):
    """Runs work in a process pool on this machine."""

    Params = LocalParams

    @contextmanager
    def open(self, *, where: str, source: str | None = None) -> Iterator[Session]:
        """Start the pool; on exit, cancel what has not started and wait for the rest."""
        workers = self.params.workers or os.cpu_count() or 1
        session = LocalSession(workers, f"{where} ({source})" if source else where)
        try:
            yield session
        finally:
            session.close()
