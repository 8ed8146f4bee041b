"""``dask``: a Dask cluster (``pip install 'conveyor-mlops[dask]'``).

Where the scheduler is, in order:

1. ``DASK_SCHEDULER_ADDRESS`` in the environment (what ``dask-scheduler``, dask-jobqueue and
   a Slurm job script set; like Dask's own config, the environment wins over files);
2. ``executor.params.address`` (``tcp://10.0.0.5:8786``);
3. neither: a ``LocalCluster`` of ``workers`` single-threaded worker processes, each limited
   to ``memory_limit``, started on open and closed on exit; for tasks that wait on a process
   of their own (:meth:`DaskExecutor.open_for_subprocesses`: a sweep's trials), its workers
   are threads of this process instead.

A scheduler that does not answer within ``connect_timeout`` seconds is an ExecutorError naming
the address and where it came from, before any work starts. dask is imported in
:meth:`DaskExecutor.open` only, so conveyor runs without the extra until a project picks
``executor=dask``.
"""

from __future__ import annotations

import os
import re
from contextlib import ExitStack, contextmanager, suppress
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator

from conveyor._malloc import KeepingFreedMemory
from conveyor.errors import ExecutorError, PluginError
from conveyor.plugins.executor import Executor, Session

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping
    from concurrent.futures import Future
    from contextlib import AbstractContextManager

T = TypeVar("T")
R = TypeVar("R")

ADDRESS_VARIABLE = "DASK_SCHEDULER_ADDRESS"
PROFILER_SETTING = "distributed.worker.profile.enabled"
"""Dask's worker profiler, off on the LocalCluster conveyor starts."""
MEMORY_MANAGER_SETTING = "distributed.scheduler.active-memory-manager.start"
"""Dask's active memory manager, not started on the LocalCluster conveyor starts."""
MEMORY_PATTERN = r"auto|\d+(\.\d+)?\s*([kKMGT]i?B|B)?"


class DaskParams(BaseModel):
    """``executor.params`` of ``dask``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str | None = None
    """The scheduler (``tcp://host:8786``); null: ``DASK_SCHEDULER_ADDRESS``, or a LocalCluster."""
    workers: int | None = Field(default=None, ge=1, le=1024)
    """LocalCluster worker processes (one thread each); null: one per CPU core."""
    memory_limit: int | str = "auto"
    """Per LocalCluster worker: bytes or ``4GiB``; ``auto``: the machine's memory / workers."""
    connect_timeout: float = Field(default=5.0, gt=0, le=600)
    """Seconds to wait for the scheduler before giving up."""

    @field_validator("memory_limit")
    @classmethod
    def _a_size(cls, value: int | str) -> int | str:
        if isinstance(value, int):
            if value < 1:
                msg = f"{value} is not a memory size: write a positive number of bytes"
                raise ValueError(msg)
        elif not re.fullmatch(MEMORY_PATTERN, value):
            msg = (
                f"'{value}' is not a memory size: write bytes (1073741824), a size with a unit "
                "('4GiB', '512MB') or 'auto'"
            )
            raise ValueError(msg)
        return value


class DaskSession(Session):
    """A connected ``distributed.Client``.

    Every task it runs keeps glibc's freed blocks for reuse while it runs
    (:mod:`conveyor._malloc`): under the ``MALLOC_TRIM_THRESHOLD_`` Dask's nanny sets, each
    chunk's arrays were fresh mmaps, and a scoring task took 7% longer in page faults.
    """

    def __init__(self, client: Any, where: str) -> None:  # noqa: ANN401 - distributed.Client
        self._client = client
        self._where = where
        self._held: list[Any] = []  # dask cancels a task once its future is forgotten
        self._shared: list[Any] = []  # and forgets scattered data: held until the session ends
        self._closing = False

    def close(self) -> None:
        """Mark the session as closing: Dask now cancels every task still held, on purpose."""
        self._closing = True

    @property
    def client(self) -> Any:  # noqa: ANN401 - distributed.Client
        """The connected ``distributed.Client`` (``model.fit.mode: distributed`` needs it)."""
        return self._client

    @property
    def workers(self) -> int:
        """Threads across the cluster's workers (one per worker in a conveyor LocalCluster)."""
        info = self._client.scheduler_info()
        return sum(int(w.get("nthreads", 1)) for w in info["workers"].values()) or 1

    def _resources(self, wanted: Mapping[str, float] | None) -> dict[str, float] | None:
        """Only resources some worker declares: Dask would hold a task for others forever."""
        if not wanted:
            return None
        declared = {
            name
            for worker in self._client.scheduler_info()["workers"].values()
            for name in worker.get("resources", {})
        }
        kept = {name: value for name, value in wanted.items() if name in declared}
        return kept or None

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        resources: Mapping[str, float] | None = None,
    ) -> list[R]:
        """Results in item order; the first failing item's exception is raised."""
        items = list(items)
        if not items:
            return []
        from distributed import KilledWorker

        task = KeepingFreedMemory(fn)
        futures = self._client.map(task, items, pure=False, resources=self._resources(resources))
        try:
            return list(self._client.gather(futures))
        except KilledWorker as exc:  # Dask retried it on other workers, and they died too
            raise self._died(fn, exc) from exc
        finally:
            self._client.cancel(futures)

    def _died(self, fn: Callable[..., object], exc: BaseException) -> ExecutorError:
        return ExecutorError(
            f"Dask workers kept dying while running '{getattr(fn, '__name__', fn)}' ({exc})",
            where=self._where,
            fix="give each worker more memory (executor.params.memory_limit) or make each "
            "task smaller, then run again; nothing was written",
        )

    def _cancelled(self, fn: Callable[..., object]) -> ExecutorError:
        return ExecutorError(
            f"the Dask cluster cancelled '{getattr(fn, '__name__', fn)}' while it ran (its "
            "worker, or this client's connection to the scheduler, was lost)",
            where=self._where,
            fix="check the cluster's workers and scheduler, then run again; nothing was written",
        )

    def share(self, value: T) -> T:
        """``value`` scattered to every worker (``broadcast=True``); its Dask future.

        A task given the future as an argument gets the worker's copy, so ``value`` crosses
        the network once per worker and is unpickled there once; a worker that joins later
        fetches it from a peer.
        """
        [future] = self._client.scatter([value], broadcast=True, hash=False)
        self._shared.append(future)
        return cast("T", future)

    def submit(
        self,
        fn: Callable[..., R],
        *args: Any,  # noqa: ANN401 - whatever fn takes
        resources: Mapping[str, float] | None = None,
    ) -> Future[R]:
        """Run ``fn(*args)`` on a worker; a standard Future relays the result.

        A task whose workers kept dying (Dask's ``KilledWorker``, after its retries) relays
        the same ExecutorError as :meth:`map`; any other exception is relayed as raised.
        """
        from concurrent.futures import CancelledError, Future, InvalidStateError

        from distributed import KilledWorker

        task = self._client.submit(
            KeepingFreedMemory(fn), *args, pure=False, resources=self._resources(resources)
        )
        self._held.append(task)
        relay: Future[R] = Future()

        def cancelled() -> None:
            if self._closing:  # the caller gave up on it (another task failed)
                if relay.cancel():  # and tell wait() and as_completed(), which look for it
                    with suppress(RuntimeError):  # the caller cancelled and notified first
                        relay.set_running_or_notify_cancel()
            else:  # the cluster dropped it while the caller still waits: say so, located
                with suppress(InvalidStateError):
                    relay.set_exception(self._cancelled(fn))

        def done(finished: Any) -> None:  # noqa: ANN401 - a distributed.Future
            self._held.remove(finished)
            if finished.status == "cancelled":
                # Never ask a cancelled task for its outcome: as the session closes, that waits
                # on the client's event loop, which is stopping (a `conveyor score` whose worker
                # was killed once hung at exit, Dask's callback thread waiting on a dead loop).
                cancelled()
                return
            # A relay the caller cancelled (another task failed first) takes no outcome:
            # setting one would raise InvalidStateError inside Dask's callback, which Dask
            # prints as a traceback.
            with suppress(InvalidStateError):
                try:
                    result = finished.result()
                except CancelledError:  # cancelled since the check above: Dask's own subclass
                    cancelled()  # (a killed worker's task once escaped as a traceback)
                except KilledWorker as exc:
                    failure = self._died(fn, exc)
                    failure.__cause__ = exc
                    relay.set_exception(failure)
                except BaseException as exc:  # relayed to the caller as is
                    relay.set_exception(exc)
                else:
                    relay.set_result(result)

        task.add_done_callback(done)
        return relay


class DaskExecutor(Executor[DaskParams]):
    """Runs work on a Dask cluster: the configured scheduler, or a LocalCluster."""

    Params = DaskParams

    def open(self, *, where: str, source: str | None = None) -> AbstractContextManager[Session]:
        """Connect to the scheduler, or start a LocalCluster; close what was started on exit."""
        return self._opened(where, source, processes=True)

    def open_for_subprocesses(
        self, *, where: str, source: str | None = None
    ) -> AbstractContextManager[Session]:
        """:meth:`open`; a LocalCluster it starts has thread workers (the tasks wait).

        A sweep's trial task waits for its ``dvc exp run``, which a fork server in the
        worker's process starts: with threads, one fork server in this process serves every
        worker, and no worker process starts Python and imports Dask: bench_sweep's dask
        ``-j 2`` went from 1.105x the local queue's ``-j 2`` to 0.984x (docs/benchmarks.md).
        """
        return self._opened(where, source, processes=False)

    @contextmanager
    def _opened(self, where: str, source: str | None, *, processes: bool) -> Iterator[Session]:
        import logging

        try:
            import distributed
        except ImportError as exc:
            raise PluginError(
                f"executor 'dask' needs dask.distributed, which is not installed ({exc})",
                where=_located(f"{where}.kind", source),
                fix="pip install 'conveyor-mlops[dask]', or use executor=local",
            ) from exc
        engine: Any = distributed  # its functions are untyped
        address, origin = self._address(where, source)
        with ExitStack() as stack:
            stack.enter_context(_driver_logs_quiet())
            if address is None:
                import dask

                # Each worker's nanny hands it the config current here. The statistical
                # profiler samples every worker's stack every 10 ms for a dashboard page that
                # nobody opens on a cluster living as long as one command; by hand, a monitor
                # of 40 files took 9-20% less worker CPU without it. The active memory manager
                # drops the "extra" copies of a value `share` sent to every worker, which a
                # later task there then fetches and unpickles again (the executor contract
                # test saw one worker unpickle it twice). A cluster you start keeps your
                # configuration.
                with dask.config.set({PROFILER_SETTING: False, MEMORY_MANAGER_SETTING: False}):
                    cluster = engine.LocalCluster(
                        n_workers=self.params.workers or os.cpu_count() or 1,
                        threads_per_worker=1,
                        processes=processes,
                        # threads share this process: a limit would pause every worker
                        # for the driver's memory, not bound a task's (its process's)
                        memory_limit=self.params.memory_limit if processes else None,
                        dashboard_address=":0",  # a free port: never clashes with another
                        silence_logs=logging.ERROR,
                    )
                stack.callback(cluster.close)
                client = engine.Client(cluster, timeout=self.params.connect_timeout)
            else:
                client = self._connect(engine, address, origin)
            stack.callback(client.close)
            session = DaskSession(client, _located(where, source))
            stack.callback(session.close)  # first: the client's close cancels what is left
            yield session

    def _address(self, where: str, source: str | None) -> tuple[str | None, str]:
        """The scheduler's address and the setting it came from (for messages)."""
        from_env = os.environ.get(ADDRESS_VARIABLE, "").strip()
        if from_env:
            return from_env, f"{ADDRESS_VARIABLE} (environment)"
        if self.params.address:
            return self.params.address, _located(f"{where}.params.address", source)
        return None, ""

    def _connect(self, engine: Any, address: str, origin: str) -> Any:  # noqa: ANN401 - untyped
        timeout = self.params.connect_timeout
        try:
            return engine.Client(address, timeout=timeout)
        except (OSError, ValueError, TypeError) as exc:
            raise ExecutorError(
                f"cannot connect to the Dask scheduler at '{address}' within {timeout:g}s "
                f"({type(exc).__name__}: {exc})",
                where=origin,
                fix=_fix(origin),
            ) from exc


@contextmanager
def _driver_logs_quiet() -> Iterator[None]:
    """Dask's warnings in this process (the driver) at ERROR meanwhile, unless ``conveyor -v``.

    A worker that dies while the client gathers its result makes ``distributed.client`` log
    "Couldn't gather 1 keys, rescheduling": a timestamped line before conveyor's own error,
    which says what happened and what to do (a retry, or the located error). ``-v`` shows them.
    """
    import logging

    if logging.getLogger("conveyor").isEnabledFor(logging.DEBUG):
        yield
        return
    loggers = [logging.getLogger("distributed")] + [
        logger
        for name, logger in logging.root.manager.loggerDict.items()
        if name.startswith("distributed.") and isinstance(logger, logging.Logger) and logger.level
    ]  # the parent, and the children dask's config gave a level of their own
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.level, logging.ERROR))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _located(path: str, source: str | None) -> str:
    return f"{path} ({source})" if source else path


def _fix(origin: str) -> str:
    if origin.startswith(ADDRESS_VARIABLE):
        return (
            f"start the scheduler ('dask scheduler'), or unset {ADDRESS_VARIABLE} to start a "
            "local cluster; or run with executor=local"
        )
    return (
        "start the scheduler ('dask scheduler'), or set executor.params.address to null to "
        "start a local cluster; or run with executor=local"
    )
