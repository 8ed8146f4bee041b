"""The LocalCluster the dask executor starts when no scheduler is named: a real one worker."""

from __future__ import annotations

import functools

import dask
import pytest

from conveyor.executors.dask import ADDRESS_VARIABLE, PROFILER_SETTING, DaskExecutor

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
