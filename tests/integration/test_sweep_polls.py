"""The sweep driver reads DVC's queue only when experiment refs stop coming or a worker is missing.

``dvc queue status`` is a whole DVC start-up (about a second of the CPU the trials run on), so
while trials keep finishing (a new ``refs/exps`` ref within every poll interval) and every worker
wanted is alive, ``conveyor.experiments.queue._refs_until_poll`` goes on reading refs (a
``git for-each-ref``) instead of returning for a queue read. Real git refs, a real DVC queue
worker (``dvc queue start``; idle, it exits by itself after about 10 s), the real process table.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING

import psutil
import pytest

from conveyor.experiments import _dvc, queue
from conveyor.experiments.plan import SweepState, Trial
from conveyor.experiments.queue import Pace, _refs_until_poll, _start_workers
from tests.conftest import git_dvc_repo, sh
from tests.sweep_project import worker_pids

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.slow

REFS = 1.0
"""Seconds between ref reads here (the sweep's are shorter): a feeder on a loaded machine still
gives the next ref well within one read."""
POLL = 2.0 * REFS
"""The poll interval here: two ref reads, so a queue read comes after the second of them."""
TRIALS = 5
FINISHING = 4
"""Trials given a ref one after another: more than the reads in one poll interval."""


@pytest.fixture(autouse=True)
def _ref_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue, "REFS_SECONDS", REFS)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return git_dvc_repo(tmp_path / "repo")


def _state() -> SweepState:
    trials = [Trial(f"p-{i}", [f"x={i}"], status="running") for i in range(1, TRIALS + 1)]
    return SweepState("p", "grid", "gate", 1, ["x=1,2,3,4,5"], trials)


def _finish_back_to_back(root: Path, state: SweepState, stop: threading.Event) -> None:
    """Give trials p-1.. their experiment ref one at a time, each once the driver has seen the
    one before: a worker finishing trials back to back, faster than the poll interval."""
    for trial in state.trials[:FINISHING]:
        sh("git", "update-ref", f"refs/exps/ab/{'c' * 38}/{trial.name}", "HEAD", cwd=root)
        while trial.status != "success" and not stop.wait(0.02):
            pass
        if stop.is_set():
            return


def _read_refs_with_trials_finishing(root: Path, state: SweepState) -> bool:
    stop = threading.Event()
    feeder = threading.Thread(target=_finish_back_to_back, args=(root, state, stop), daemon=True)
    feeder.start()
    try:
        return _refs_until_poll(root, state, state.trials, lambda: None, POLL)
    finally:
        stop.set()
        feeder.join(timeout=30)


@contextlib.contextmanager
def _a_live_worker(root: Path) -> Iterator[None]:
    """A real DVC queue worker, idle (it would exit by itself about 10 s after it starts)."""
    _start_workers(root, 1)  # as a sweep does: its output to a file, not a pipe a daemon holds
    try:
        deadline = time.monotonic() + 120
        while _dvc.live_workers(root) < 1:
            assert time.monotonic() < deadline, "the DVC queue worker never started"
            time.sleep(0.1)
        yield
    finally:
        for pid in worker_pids(root):  # ours
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()


def test_refs_that_keep_coming_defer_the_queue_read_while_the_worker_lives(repo: Path) -> None:
    with _a_live_worker(repo):
        state = _state()
        began = time.monotonic()
        unfinished = _read_refs_with_trials_finishing(repo, state)
        took = time.monotonic() - began
    assert unfinished
    # Every ref arrived within the poll interval of the one before: no return for a queue read
    # until all four were seen (a fixed interval returns after two reads: p-3 still running).
    assert [t.status for t in state.trials] == ["success"] * FINISHING + ["running"]
    assert took >= FINISHING * REFS + POLL - REFS  # no ref came for a poll


def test_with_no_worker_alive_the_queue_is_read_after_one_poll_interval(repo: Path) -> None:
    """A missing worker is for ``dvc queue status`` to explain (a dead worker's trial, a worker
    to start again): refs coming in do not put that read off."""
    assert _dvc.live_workers(repo) == 0
    state = _state()
    assert _read_refs_with_trials_finishing(repo, state)
    statuses = [t.status for t in state.trials]
    assert statuses[2:] == ["running"] * (TRIALS - 2), statuses  # two reads, then the queue's


def test_the_pace_of_refs_is_kept_across_a_queue_read(repo: Path) -> None:
    """A trial's length is the gap between refs, wherever the queue reads fall: a read while the
    first trial runs does not shorten the wait for the second."""
    with _a_live_worker(repo):
        state = _state()
        pace = Pace()
        started = pace.last
        assert _refs_until_poll(repo, state, state.trials, lambda: None, POLL, pace)  # no ref
        sh("git", "update-ref", f"refs/exps/ab/{'c' * 38}/p-1", "HEAD", cwd=repo)
        assert _refs_until_poll(repo, state, state.trials, lambda: None, POLL, pace)
        ended = time.monotonic()
    assert [t.status for t in state.trials] == ["success"] + ["running"] * (TRIALS - 1)
    # p-1 took from the start (not from the last queue read) to pace.last, so p-2 is due as
    # long after it, and the queue read waits a poll interval past that.
    assert started < pace.last - POLL
    assert ended >= pace.last + (pace.last - started) + POLL
