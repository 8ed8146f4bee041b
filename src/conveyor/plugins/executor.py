"""The executor plugin kind (``conveyor.executors``): where heavy work runs.

``executor.kind`` names a registered executor, the built-ins ``local`` (a process pool on this
machine, the default) and ``dask`` (a Dask cluster: ``conveyor-mlops[dask]``), or a plugin's
(``myplug.ray``); ``executor.params`` configures it, checked against its ``Params`` at
compile time. The executor decides *where* work runs, never *what* it computes: its keys are
not stage params, so switching executor reruns nothing, and tests hold outputs identical
across executors.

Work that fans out opens the executor as a context manager and gets a :class:`Session`::

    with executor.open(where="executor", source="params.yaml") as session:
        parts = session.map(score_shard, shards, resources={"memory": 2**30})

What every task needs (a loaded model) is shared once, and its stand-in passed to ``submit``::

    model = session.share(predictor)  # sent to each worker once, not with every task
    futures = [session.submit(score_shard, shard, model) for shard in shards]

A plugin subclasses :class:`Executor`, registers it in the ``conveyor.executors`` group and
runs ``conveyor.testing.ExecutorContract``. As with Hydra's ``Launcher``, the methods take
keyword arguments only (after the work itself), so later arguments never break a plugin.
Executors import their engine (dask, ray) inside :meth:`Executor.open` only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, TypeVar

from conveyor.plugins.base import Component, P

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from concurrent.futures import Future
    from contextlib import AbstractContextManager

__all__ = ["Executor", "InlineSession", "Session"]

T = TypeVar("T")
R = TypeVar("R")


class Session(ABC):
    """An open executor: a client with its workers, valid inside ``Executor.open``.

    Functions and items travel to the workers by pickle (cloudpickle on Dask), so a mapped
    function must be importable (module level) and its items small descriptions of work (file
    paths, row ranges), not the data itself.
    """

    @property
    @abstractmethod
    def workers(self) -> int:
        """How many tasks can run at once (worker processes, or pool size)."""

    @abstractmethod
    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        resources: Mapping[str, float] | None = None,
    ) -> list[R]:
        """``[fn(item) for item in items]``, run on the workers; results in item order.

        ``resources`` is what one task needs, by name (``{"memory": 2**30}``): it guides
        placement where the engine can reserve it, and never changes a result.

        Raises:
            Exception: The first exception an item raised (in item order), as ``fn`` raised it;
                the other items are cancelled or left to finish, never half-reported.
        """

    def share(self, value: T) -> T:
        """Send ``value`` to the workers once; a stand-in for it in :meth:`submit`'s arguments.

        Pass the stand-in as a top-level argument of :meth:`submit` (not inside an item, a
        list or a dataclass): the task receives ``value`` as the worker holds it. An executor
        that can, sends ``value`` once per worker (``client.scatter(broadcast=True)`` on
        Dask, a pool initializer locally) and each worker unpickles it once, instead of with
        every task. It travels as :meth:`map`'s items do (by pickle): share what the caller
        built and trusts, never bytes from elsewhere. The stand-in is valid until the
        session closes.

        This default returns ``value`` itself, sent with every task that takes it: correct
        for any executor, and the cost sharing saves.
        """
        return value

    @abstractmethod
    def submit(
        self,
        fn: Callable[..., R],
        *args: Any,  # noqa: ANN401 - whatever fn takes
        resources: Mapping[str, float] | None = None,
    ) -> Future[R]:
        """Run ``fn(*args)`` on a worker; a :class:`concurrent.futures.Future` of its result.

        The Future holds what ``fn`` raised, as raised; a worker that dies running it (after
        the engine's retries) is an ExecutorError naming the setting and the fix, as in
        :meth:`map`.
        """


class InlineSession(Session):
    """This process as a session: each task runs here, one after another, in item order.

    What runs on it holds one item's data at a time: the monitor's counted batches and the
    validate stage over its memory budget use it, so that partitioned work has one code path
    in process and on a cluster.
    """

    @property
    def workers(self) -> int:
        """One: the calling process."""
        return 1

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        resources: Mapping[str, float] | None = None,
    ) -> list[R]:
        """``[fn(item) for item in items]``."""
        del resources
        return [fn(item) for item in items]

    def submit(
        self,
        fn: Callable[..., R],
        *args: Any,  # noqa: ANN401 - whatever fn takes
        resources: Mapping[str, float] | None = None,
    ) -> Future[R]:
        """``fn(*args)``, run now; its result (or exception) in a finished Future."""
        from concurrent.futures import Future

        del resources
        future: Future[R] = Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:  # handed to the caller, as an executor hands it
            future.set_exception(exc)
        return future


class Executor(Component[P]):
    """Runs conveyor's heavy work somewhere (``conveyor.executors``)."""

    @abstractmethod
    def open(self, *, where: str, source: str | None = None) -> AbstractContextManager[Session]:
        """Connect (or start workers); close everything it started on exit.

        ``where`` is the dotted YAML path of the executor's node (``executor``) and ``source``
        the file that set it (``conf/executor/dask.yaml``), so that a message can name the
        very setting at fault: ``executor.params.address (conf/executor/dask.yaml)``.

        Raises:
            ExecutorError: The workers cannot be started or reached; the message names the
                setting (``<where>.params.address``), the address, and the fix.
        """

    def open_for_subprocesses(
        self, *, where: str, source: str | None = None
    ) -> AbstractContextManager[Session]:
        """:meth:`open`, for tasks that start a process and wait for it (a sweep's trials).

        Such a task holds no CPU while its process works, so the workers need not be
        processes: an executor that starts its own workers may run them as threads of this
        process, and save each one a Python start-up and its engine's imports (the ``dask``
        executor does, for the LocalCluster it starts). Workers it connects to stay as they
        are. This default is :meth:`open`.
        """
        return self.open(where=where, source=source)
