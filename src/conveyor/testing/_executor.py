"""``ExecutorContract``: the suite every ``conveyor.executors`` plugin passes.

The functions the suite maps live at module level here, so that a worker in another process
(or on another machine with conveyor installed) can import them, as it must import the
functions conveyor itself maps.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from conveyor.errors import ExecutorError
from conveyor.testing._contract import ComponentContract

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conveyor.plugins import Executor, Session

ITEMS = 8
"""How many items the suite maps: more than the two workers a test cluster has."""


def square_later(item: int) -> tuple[int, float, int]:
    """``item``, a float computed from it, and the worker's pid; later items finish first."""
    time.sleep(0.02 * (ITEMS - 1 - item))
    return item, (item + 0.1) ** 2 / 3.0, os.getpid()


def fail_on_three(item: int) -> int:
    """``item``, except that item 3 raises (naming itself)."""
    if item == 3:
        msg = f"item {item} failed on purpose"
        raise ValueError(msg)
    return item


def die(item: int) -> int:
    """Kill the worker process running it, as the OOM killer would."""
    os._exit(1)


def add(first: int, second: int) -> int:
    """``first + second``: what ``submit`` runs."""
    return first + second


def pid_and(value: Any, extra: int) -> tuple[Any, int, int]:  # noqa: ANN401 - any value
    """``value`` as the task received it, ``extra``, and the worker's pid."""
    return value, extra, os.getpid()


def payload_sum(value: Arrivals, extra: int) -> tuple[int, int, int]:
    """The sum of ``value``'s payload (not the value: that would travel back), and the pid."""
    return sum(value.payload), extra, os.getpid()


class Arrivals:
    """A value that leaves a file in ``folder`` each time a process unpickles it."""

    def __init__(self, folder: str, payload: list[int]) -> None:
        self.folder = folder
        self.payload = payload

    def __reduce__(self) -> tuple[Any, ...]:
        """Unpickled through :func:`_arrive`, which counts the arrival."""
        return (_arrive, (self.folder, self.payload))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Arrivals) and other.payload == self.payload

    __hash__ = None  # type: ignore[assignment]


def _arrive(folder: str, payload: list[int]) -> Arrivals:
    import pathlib
    import uuid

    (pathlib.Path(folder) / f"{os.getpid()}-{uuid.uuid4().hex}").touch()
    return Arrivals(folder, payload)


class ExecutorContract(ComponentContract):
    """The suite of a ``conveyor.executors`` plugin.

    Subclass with ``component``, ``name`` and ``params``; set ``run_params`` when opening
    needs other params than ``params`` (an address of a test scheduler). The executor is opened
    once per class, and every check shares the session: ``map`` gives each item's result in
    item order, exactly what running the function here gives (what makes outputs identical
    across executors); the first failing item's own exception reaches the caller and the
    session stays usable; unknown ``resources`` never hold work back; ``submit`` returns a
    standard Future with the result or the exception; and ``workers`` is a positive count.
    """

    kind = "executor"
    component: ClassVar[type[Executor[Any]]]
    run_params: ClassVar[dict[str, Any] | None] = None
    """The params ``open`` is called with; ``params`` when None."""
    shares_once: ClassVar[bool] = False
    """Whether ``share`` sends a value once per worker (checked when True); the default
    ``Session.share`` sends it with every task, which is correct but not checked for it."""

    def executor(self) -> Executor[Any]:
        """The executor the run checks open."""
        executor: Executor[Any] = self.make(
            params=self.params if self.run_params is None else self.run_params
        )
        return executor

    @pytest.fixture(scope="class")
    @classmethod
    def session(cls) -> Iterator[Session]:
        """The executor opened once for the class's checks."""
        with cls().executor().open(where="executor", source="contract") as session:
            yield session

    def test_map_keeps_item_order(self, session: Session) -> None:
        """Results come in item order, though later items finish first."""
        results = session.map(square_later, range(ITEMS))
        assert [item for item, _, _ in results] == list(range(ITEMS))

    def test_map_gives_what_running_here_gives(self, session: Session) -> None:
        """Each result equals the function's result in this process, bit for bit."""
        results = session.map(square_later, range(ITEMS))
        assert [value for _, value, _ in results] == [square_later(i)[1] for i in range(ITEMS)]

    def test_map_of_no_items_is_empty(self, session: Session) -> None:
        """Mapping nothing returns ``[]`` (and starts no task)."""
        assert session.map(square_later, []) == []

    def test_map_raises_the_failing_items_exception(self, session: Session) -> None:
        """The item's own exception type and message reach the caller; the session goes on."""
        with pytest.raises(ValueError, match="item 3 failed on purpose"):
            session.map(fail_on_three, range(ITEMS))
        assert session.map(fail_on_three, [1, 2]) == [1, 2]

    def test_unknown_resources_do_not_hold_work_back(self, session: Session) -> None:
        """A resource no worker declares guides placement at most: the work still runs."""
        resources = {"memory": 2.0**20, "surely_not_a_resource": 1.0}
        assert session.map(fail_on_three, [0, 1], resources=resources) == [0, 1]
        assert session.submit(add, 2, 3, resources=resources).result(timeout=120) == 5

    def test_submit_returns_a_future_of_the_result(self, session: Session) -> None:
        """``submit`` runs ``fn(*args)``; its Future holds the result or the exception."""
        assert session.submit(add, 40, 2).result(timeout=120) == 42
        failed = session.submit(fail_on_three, 3)
        with pytest.raises(ValueError, match="item 3 failed on purpose"):
            failed.result(timeout=120)

    def test_open_for_subprocesses_runs_submitted_work(self) -> None:
        """``open_for_subprocesses`` runs tasks as ``open``'s session does.

        Its tasks wait on a process of their own (a sweep's trials); its workers may differ.
        """
        executor = self.executor()
        with executor.open_for_subprocesses(where="executor", source="contract") as session:
            assert session.workers >= 1
            assert session.submit(add, 40, 2).result(timeout=120) == 42
            failed = session.submit(fail_on_three, 3)
            with pytest.raises(ValueError, match="item 3 failed on purpose"):
                failed.result(timeout=120)

    def test_a_worker_that_dies_is_an_executor_error(self) -> None:
        """A worker killed mid-task is an ExecutorError with the setting and the fix.

        Out of memory or a signal, never the engine's own traceback. The check opens its own
        session: a dead worker may leave a session unusable.
        """
        executor = self.executor()
        with (
            executor.open(where="executor", source="contract") as session,
            pytest.raises(ExecutorError) as caught,
        ):
            session.map(die, range(2))
        assert caught.value.where == "executor (contract)"
        assert "'die'" in caught.value.what
        assert caught.value.fix

    def test_a_worker_that_dies_in_submit_is_an_executor_error(self) -> None:
        """``submit``'s Future holds the same ExecutorError when its worker dies.

        Sweep trials are submitted one by one, and a dead worker fails only its own trial.
        """
        executor = self.executor()
        with executor.open(where="executor", source="contract") as session:
            future = session.submit(die, 0)
            with pytest.raises(ExecutorError) as caught:
                future.result(timeout=300)
        assert caught.value.where == "executor (contract)"
        assert "'die'" in caught.value.what
        assert caught.value.fix

    def test_a_shared_value_reaches_every_task_intact(self, session: Session) -> None:
        """``submit`` with ``share``'s stand-in gives each task the value itself."""
        value = {"weights": [0.5, 1.5], "name": "model"}
        shared = session.share(value)
        futures = [session.submit(pid_and, shared, i) for i in range(ITEMS)]
        results = [future.result(timeout=120) for future in futures]
        assert [(v, i) for v, i, _ in results] == [(value, i) for i in range(ITEMS)]
        assert session.submit(add, session.share(40), 2).result(timeout=120) == 42

    def test_a_shared_value_is_unpickled_once_per_worker(
        self, session: Session, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        """With ``shares_once``: tasks do not carry the value; each worker unpickles it once.

        The workers must see the test's temporary folder (one machine, or a shared one).
        """
        if not self.shares_once:
            pytest.skip("this executor sends shared values with each task (Session.share)")
        folder = tmp_path_factory.mktemp("arrivals")
        shared = session.share(Arrivals(str(folder), list(range(1000))))
        tasks = ITEMS * 2
        futures = [session.submit(payload_sum, shared, i) for i in range(tasks)]
        results = [future.result(timeout=120) for future in futures]
        assert [(total, i) for total, i, _ in results] == [(499_500, i) for i in range(tasks)]
        arrivals = sorted(path.name.split("-")[0] for path in folder.iterdir())
        pids = {str(pid) for _, _, pid in results}
        assert len(arrivals) <= session.workers < tasks, arrivals
        assert pids <= set(arrivals)  # every worker that ran a task unpickled it, once

    def test_workers_is_a_positive_count(self, session: Session) -> None:
        """``workers`` says how many tasks can run at once."""
        workers = session.workers
        assert isinstance(workers, int)
        assert workers >= 1
