"""The collect loop of experiments/_collect alone: when it fetches again, what it logs, what it
raises after its patience, what it returns.

Whether a ref is still missing is scripted here (``uncollected``); its git reads, and the loop
around DVC's real fetches, run on real repositories in tests/integration/test_sweep_collect.py.
The clock is the test's, so the patience's boundary is exact.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from conveyor.errors import SweepError
from conveyor.experiments import _collect

EXP = SimpleNamespace(scm=SimpleNamespace(root_dir="/work/project"))
EXECUTOR = SimpleNamespace(root_dir="/work/project/.dvc/tmp/exps/run/t-1")
BOTH = ["refs/exps/ab/cd/t-1", "refs/exps/ab/cd/t-2"]


class Missing:
    """``uncollected``'s answers, one per call; the last one repeats."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)

    def __call__(self, scm: object, executor: object) -> list[str]:
        assert (scm, executor) == (EXP.scm, EXECUTOR)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class Clock:
    """``time`` for the module: ``sleep`` moves ``monotonic`` on, and nothing else does."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    made = Clock()
    monkeypatch.setattr(_collect, "time", made)
    return made


def _fetches(*results: dict[str, str]) -> tuple[list[tuple[Any, ...]], Any]:
    calls: list[tuple[Any, ...]] = []
    answers = list(results)

    def collect(*args: Any) -> dict[str, str]:
        calls.append(args)
        return answers.pop(0) if len(answers) > 1 else answers[0]

    return calls, collect


def test_nothing_missing_returns_dvcs_results_after_one_fetch(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_collect, "uncollected", Missing([]))
    calls, collect = _fetches({"c0ffee": "0" * 64})
    assert _collect.until_collected(collect)(EXP, EXECUTOR, "result") == {"c0ffee": "0" * 64}
    assert calls == [(EXP, EXECUTOR, "result")]
    assert clock.slept == []


def test_missing_refs_are_fetched_again_until_they_arrive_logged_once(
    clock: Clock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_collect, "uncollected", Missing(BOTH, BOTH[1:], BOTH[1:], []))
    calls, collect = _fetches({}, {}, {}, {"c0ffee": "0" * 64})
    with caplog.at_level(logging.WARNING, logger="conveyor.sweep"):
        results = _collect.until_collected(collect, every=0.05)(EXP, EXECUTOR, None)
    assert results == {"c0ffee": "0" * 64}  # the fetch that brought the refs
    assert len(calls) == 4
    assert clock.slept == [0.05, 0.05, 0.05]
    assert [r.getMessage() for r in caplog.records] == [
        "collecting again: refs/exps/ab/cd/t-1, refs/exps/ab/cd/t-2 not in the repository yet"
    ]


def test_after_its_patience_the_error_names_the_refs_the_copy_and_the_fix(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fetches at 0, 0.5 and 1.0 s of a 1 s patience: the third is the last (its time is up)."""
    monkeypatch.setattr(_collect, "uncollected", Missing(BOTH))
    calls, collect = _fetches({})
    with pytest.raises(SweepError) as raised:
        _collect.until_collected(collect, patience=1.0, every=0.5)(EXP, EXECUTOR, None)
    assert len(calls) == 3
    error = raised.value
    assert error.what == (
        "refs/exps/ab/cd/t-1, refs/exps/ab/cd/t-2 did not reach the repository from "
        "/work/project/.dvc/tmp/exps/run/t-1 in 3 fetches over 1 s"
    )
    assert error.where == "/work/project"
    assert error.fix == (
        "if a git lock file (.git/shallow.lock, or the ref's own .lock) is left from a killed "
        "git process, remove it; then 'conveyor sweep --resume' runs the trial again"
    )


def test_no_patience_means_one_fetch(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_collect, "uncollected", Missing(BOTH[:1]))
    calls, collect = _fetches({})
    with pytest.raises(SweepError):
        _collect.until_collected(collect, patience=0)(EXP, EXECUTOR, None)
    assert (len(calls), clock.slept) == (1, [])
