"""The LocalCluster the dask executor starts when no scheduler is named: a real one worker."""

from __future__ import annotations

import functools
import os
import platform
import time
from concurrent.futures import wait
from typing import Any

import dask
import distributed  # noqa: F401 - its config defaults, which the profiler test reads
import pytest

from conveyor._malloc import TRIM_VARIABLE
from conveyor.errors import ExecutorError
from conveyor.executors.dask import (
    ADDRESS_VARIABLE,
    MEMORY_MANAGER_SETTING,
    PROFILER_SETTING,
    DaskExecutor,
)

pytestmark = pytest.mark.slow  # starts a LocalCluster (a scheduler and a worker process)


def test_its_workers_run_without_the_profiler_and_the_driver_keeps_its_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ADDRESS_VARIABLE, raising=False)
    executor = DaskExecutor.from_config({"workers": 1})
    assert isinstance(executor, DaskExecutor)
    setting = functools.partial(dask.config.get, PROFILER_SETTING)
    before = setting()
    with executor.open(where="executor") as session:
        on_worker = session.submit(setting).result()
        on_driver = setting()
    assert on_worker is False
    assert before is True  # Dask's default, in this test process
    assert on_driver is True  # unchanged by opening the cluster


def test_its_scheduler_keeps_every_worker_s_copy_of_a_shared_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Dask's active memory manager would drop the copies `share` sent to every worker but one;
    a later task on another worker would fetch and unpickle it again."""
    monkeypatch.delenv(ADDRESS_VARIABLE, raising=False)
    executor = DaskExecutor.from_config({"workers": 2})
    with executor.open(where="executor") as session:
        shared = session.share(list(range(10)))
        running = session.client.run_on_scheduler(
            lambda dask_scheduler: dask_scheduler.extensions["amm"].running
        )
        copies = len(session.client.who_has([shared])[shared.key])
    assert dask.config.get(MEMORY_MANAGER_SETTING) is True  # Dask's default, here
    assert running is False
    assert copies == 2


def test_a_task_running_when_the_session_closes_has_its_future_cancelled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The caller gave up on it (another task failed): Dask cancels it as the client closes,
    and its Future says so, without asking a client that is going away for its outcome."""
    monkeypatch.delenv(ADDRESS_VARIABLE, raising=False)
    executor = DaskExecutor.from_config({"workers": 1})
    with executor.open(where="executor") as session:
        running = session.submit(time.sleep, 60)
    running_or_cancelled = wait([running], timeout=60)
    assert running_or_cancelled.done == {running}
    assert running.cancelled(), running.exception()


def test_a_task_the_cluster_cancels_while_the_caller_waits_is_a_located_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not a bare CancelledError (a traceback from `conveyor score`): the cluster dropped a task
    the command still needed, as when its worker or the scheduler connection is lost."""
    monkeypatch.delenv(ADDRESS_VARIABLE, raising=False)
    executor = DaskExecutor.from_config({"workers": 1})
    with executor.open(where="executor (params.yaml)") as session:
        running = session.submit(time.sleep, 60)
        session.client.cancel(session._held)  # what the scheduler does to a lost task
        with pytest.raises(ExecutorError, match=r"cancelled 'sleep' while it ran") as raised:
            running.result(timeout=60)
    assert raised.value.where == "executor (params.yaml)"
    assert "nothing was written" in raised.value.render()


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt"
)
def test_its_tasks_reuse_freed_blocks_under_the_nanny_s_malloc_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Dask's nanny sets MALLOC_TRIM_THRESHOLD_, which makes every large block a fresh mmap; a
    task the session runs has glibc's thresholds raised while it runs (conveyor._malloc), a
    bare Dask task on the same worker does not."""
    monkeypatch.delenv(ADDRESS_VARIABLE, raising=False)
    pages = 16 * 2**20 // 4096

    def faults_per_block(_: object = None) -> float:
        import resource

        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(16):
            block = bytearray(16 * 2**20)  # malloc, then every page written
            del block
        return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 16

    executor = DaskExecutor.from_config({"workers": 1})
    with executor.open(where="executor") as session:
        threshold = session.client.submit(os.environ.get, TRIM_VARIABLE, pure=False).result()
        bare = session.client.submit(faults_per_block, pure=False).result()
        submitted = session.submit(faults_per_block).result()
        [mapped] = session.map(faults_per_block, [None])
        bare_again = session.client.submit(faults_per_block, pure=False).result()
    assert threshold == "65536"  # distributed's nanny.pre-spawn-environ
    assert bare > 0.9 * pages
    assert submitted < 0.1 * pages
    assert mapped < 0.1 * pages
    assert bare_again > 0.9 * pages  # the worker's own setting is back after the tasks


def test_for_subprocesses_its_workers_are_threads_here_and_otherwise_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sweep's trial waits on its own process: its LocalCluster's workers need no process
    each; score's and monitor's tasks compute, and get worker processes."""
    monkeypatch.delenv(ADDRESS_VARIABLE, raising=False)
    executor = DaskExecutor.from_config({"workers": 2})
    with executor.open_for_subprocesses(where="executor") as session:
        assert session.workers == 2
        pids = {session.submit(os.getpid).result() for _ in range(4)}
    assert pids == {os.getpid()}
    with executor.open(where="executor") as session:
        pid = session.submit(os.getpid).result()
    assert pid != os.getpid()


def test_thread_workers_have_no_memory_limit_for_they_would_measure_the_driver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker thread's memory monitor reads this whole process: with a limit meant for a
    worker process, it would pause the sweep's workers for the driver's own memory."""
    monkeypatch.delenv(ADDRESS_VARIABLE, raising=False)
    executor = DaskExecutor.from_config({"workers": 1, "memory_limit": "64MiB"})

    def limits(session: Any) -> list[Any]:
        found = session.client.run(lambda dask_worker: dask_worker.memory_manager.memory_limit)
        return list(found.values())

    with executor.open_for_subprocesses(where="executor") as session:
        assert limits(session) == [None]
    with executor.open(where="executor") as session:
        assert limits(session) == [64 * 2**20]
