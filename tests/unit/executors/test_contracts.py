"""The built-in executors pass the conveyor.testing suite that executor plugins pass.

Each class opens its executor once: a pool of two processes, and a real Dask LocalCluster of
two single-threaded worker processes that the dask executor starts itself (address unset).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from conveyor.executors.dask import ADDRESS_VARIABLE, DaskExecutor
from conveyor.executors.local import LocalExecutor
from conveyor.testing import ExecutorContract
from conveyor.testing._executor import ITEMS, square_later

if TYPE_CHECKING:
    from conveyor.plugins import Session


class TestLocalExecutor(ExecutorContract):
    component = LocalExecutor
    name = "local"
    params: ClassVar[dict[str, Any]] = {"workers": 2}
    shares_once = True

    def test_runs_in_the_pools_processes(self, session: Session) -> None:
        import os

        assert session.workers == 2
        pids = {pid for _, _, pid in session.map(square_later, range(ITEMS))}
        assert os.getpid() not in pids
        assert 1 <= len(pids) <= 2


class TestDaskExecutor(ExecutorContract):
    component = DaskExecutor
    name = "dask"
    params: ClassVar[dict[str, Any]] = {"workers": 2, "memory_limit": "1GiB"}
    shares_once = True

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _no_scheduler_in_environment(cls) -> Any:
        with pytest.MonkeyPatch.context() as patch:
            patch.delenv(ADDRESS_VARIABLE, raising=False)
            yield

    @pytest.fixture(scope="class")
    @classmethod
    def session(cls, _no_scheduler_in_environment: None) -> Any:
        with cls().executor().open(where="executor", source="contract") as session:
            yield session

    # Each starts a cluster of its own and kills one of its workers (10-30 s): in the full run,
    # not in the daily subset (docs/testing.md).
    @pytest.mark.slow
    def test_a_worker_that_dies_is_an_executor_error(self) -> None:
        super().test_a_worker_that_dies_is_an_executor_error()

    @pytest.mark.slow
    def test_a_worker_that_dies_in_submit_is_an_executor_error(self) -> None:
        super().test_a_worker_that_dies_in_submit_is_an_executor_error()

    def test_starts_a_local_cluster_of_the_configured_workers(self, session: Session) -> None:
        import os

        assert session.workers == 2
        pids = {pid for _, _, pid in session.map(square_later, range(ITEMS))}
        assert os.getpid() not in pids
        assert 1 <= len(pids) <= 2
