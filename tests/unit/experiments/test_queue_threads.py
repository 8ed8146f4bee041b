"""Threads per trial: cores shared out among parallel trials, a user's own setting kept."""

from __future__ import annotations

import pytest

from conveyor.experiments.queue import THREAD_VARIABLES, thread_limits


@pytest.fixture(autouse=True)
def _unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("cores", "jobs", "threads"), [(8, 1, "8"), (8, 2, "4"), (8, 3, "2"), (2, 2, "1"), (2, 4, "1")]
)
def test_each_trial_gets_its_share_of_the_cores_and_at_least_one(
    cores: int, jobs: int, threads: str
) -> None:
    assert thread_limits(jobs, cores) == dict.fromkeys(THREAD_VARIABLES, threads)


def test_a_variable_the_user_set_is_left_to_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    limits = thread_limits(2, 8)
    assert "OMP_NUM_THREADS" not in limits
    assert limits["OPENBLAS_NUM_THREADS"] == "4"


def test_the_machines_cores_are_used_when_not_given() -> None:
    assert int(thread_limits(1)["OMP_NUM_THREADS"]) >= 1
