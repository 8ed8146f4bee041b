"""Queueing a trial while a DVC queue worker holds the experiments lock waits for it.

DVC refuses to queue at once (``'refs/exps/celery/stash' is busy``) while another process holds
its rwlock on the stash, and a worker holds it for a fraction of a second each time it sets a
trial up: with workers started while trials are queued, a sweep of structural trials failed so
in CI. Here a real process holds the real lock, recorded in DVC's own rwlock file, and DVC's own
API queues (``conveyor.experiments._enqueue``).
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import pytest

from conveyor.errors import SweepError
from conveyor.experiments import _dvc, _enqueue, queue
from conveyor.experiments.plan import SweepState, Trial, TrialFiles
from tests.conftest import git_dvc_repo

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.slow

HELD_SECONDS = 2.0
"""How long the lock holder lives: several of the queueing's retries."""


COMMITTED = "x: 0\ny: 0\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    stage = "stages:\n  gate:\n    cmd: 'true'\n    params: [x, y]\n"
    return git_dvc_repo(tmp_path / "repo", {"params.yaml": COMMITTED, "dvc.yaml": stage})


def _files(*trials: Trial) -> dict[str, TrialFiles]:
    """Each trial's params.yaml, as the sweep composes it: its ``x=N`` and ``y=N`` applied."""
    files = {}
    for trial in trials:
        values = dict(o.split("=", 1) for o in trial.overrides)
        text = f"x: {values.get('x', 0)}\ny: {values.get('y', 0)}\n"
        files[trial.name] = TrialFiles(text)
    return files


@pytest.fixture
def holder(repo: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A live process recorded in DVC's rwlock as writing the queue's stash, as a worker setting
    a trial up is: DVC takes the lock as held while that pid exists."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    lock_dir = repo / ".dvc" / "tmp" / "exps"
    lock_dir.mkdir(parents=True, exist_ok=True)
    info = {"pid": process.pid, "cmd": "dvc exp queue-worker (a test's stand-in)"}
    (lock_dir / "rwlock").write_text(json.dumps({"write": {"refs/exps/celery/stash": info}}))
    yield process
    process.kill()
    process.wait()


def _release_later(process: subprocess.Popen[bytes]) -> threading.Timer:
    """Kill ``process`` after :data:`HELD_SECONDS`: DVC then drops its dead entry from the lock."""

    def release() -> None:
        process.kill()
        process.wait()

    timer = threading.Timer(HELD_SECONDS, release)
    timer.start()
    return timer


def _state(trials: list[Trial]) -> SweepState:
    return SweepState("s", "grid", "gate", 1, ["x=1,2", "y=3"], trials)


def test_a_trial_is_queued_once_the_worker_lets_go(
    repo: Path, holder: subprocess.Popen[bytes]
) -> None:
    trial = Trial("s-1", ["x=1"])
    state = _state([trial])
    timer = _release_later(holder)
    try:
        queue.enqueue(repo, state, [trial], _files(trial))
    finally:
        timer.cancel()
    assert holder.poll() is not None, "queued while the lock was still held"
    assert trial.status == "queued"
    assert _dvc.queue_status(repo).get("s-1") is not None
    assert (repo / "params.yaml").read_text() == COMMITTED  # the trial's put back


def test_trials_are_queued_in_order_once_the_worker_lets_go(
    repo: Path, holder: subprocess.Popen[bytes]
) -> None:
    trials = [Trial("s-1", ["x=1", "y=3"]), Trial("s-2", ["x=2", "y=3"])]
    state = _state(trials)
    timer = _release_later(holder)
    try:
        queue.enqueue(repo, state, trials, _files(*trials))
    finally:
        timer.cancel()
    assert [t.status for t in trials] == ["queued", "queued"]
    entries = _dvc.queue_status(repo)
    assert entries.get("s-1") is not None
    assert entries.get("s-2") is not None


def test_a_lock_never_let_go_fails_with_dvcs_words(
    repo: Path, holder: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_enqueue, "LOCK_PATIENCE", 1.0)
    trial = Trial("s-1", ["x=1"])
    with pytest.raises(SweepError, match="is busy, it is being blocked by") as caught:
        queue.enqueue(repo, _state([trial]), [trial], _files(trial))
    assert "queueing trial 's-1'" in str(caught.value)
    assert holder.poll() is None
    assert trial.status == "pending"
    assert (repo / "params.yaml").read_text() == COMMITTED


def test_another_failure_is_not_retried(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conveyor import _retry

    waits: list[float] = []
    monkeypatch.setattr(_retry, "sleep", waits.append)
    trial = Trial("s-1", ["x=1"])
    state = SweepState("s", "grid", "no_such_stage", 1, ["x=1"], [trial])
    with pytest.raises(SweepError, match="no_such_stage") as caught:  # DVC's StageNotFound
        queue.enqueue(repo, state, [trial], _files(trial))
    assert "queueing trial 's-1' failed" in str(caught.value)
    assert waits == []
    assert trial.status == "pending"
    assert (repo / "params.yaml").read_text() == COMMITTED


def test_ctrl_c_while_dvc_stashes_a_trial_leaves_the_workspace_as_committed(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupted mid-stash (the trial's params.yaml written, DVC's stash under way): the
    committed file is back, git sees no change, and nothing is queued."""
    from dvc.repo.experiments.queue.base import BaseStashQueue

    def interrupted(*args: object, **kwargs: object) -> None:
        assert "x: 1" in (repo / "params.yaml").read_text()  # the trial's, in the stash
        raise KeyboardInterrupt

    monkeypatch.setattr(BaseStashQueue, "_pack_args", interrupted)
    trial = Trial("s-1", ["x=1"])
    with pytest.raises(KeyboardInterrupt):
        queue.enqueue(repo, _state([trial]), [trial], _files(trial))
    assert (repo / "params.yaml").read_text() == COMMITTED
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""
    assert trial.status == "pending"
    assert _dvc.queue_status(repo).get("s-1") is None


def test_a_worker_taking_a_trial_tries_the_lock_every_twentieth_of_a_second(
    repo: Path, holder: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other side: a queue worker's DVC waits a whole second between tries of the same lock
    (the sweep's first trial started its stages a second late while the next ones were
    queued). Here DVC's own step, taking a trial's stash entry, meets the held lock in a
    worker's patched DVC, which must try again after 0.05 s, and get it once it is free."""
    from dvc.repo import Repo
    from dvc.repo.experiments.executor.local import TempDirExecutor
    from dvc.repo.experiments.queue.base import BaseStashQueue, QueueEntry
    from dvc.repo.experiments.refs import CELERY_STASH

    from conveyor import _retry
    from conveyor.experiments import _queue_worker

    for _, owner, name in _queue_worker.LOCK_RETRIED:  # put DVC's back after the test
        cls = {"BaseStashQueue": BaseStashQueue, "TempDirExecutor": TempDirExecutor}[owner]
        monkeypatch.setattr(cls, name, inspect.getattr_static(cls, name))
    assert _queue_worker.with_quick_lock_retries() == [
        "BaseStashQueue.get_stash_entry",
        "TempDirExecutor.init_git",
        "BaseStashQueue.collect_git",
    ]
    backstop = threading.Timer(30, holder.kill)  # DVC's own retry would wait for this
    backstop.start()
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # the third retry lets the lock go
        slept.append(seconds)
        if len(slept) == 3:
            holder.kill()
            holder.wait()
        time.sleep(seconds)

    monkeypatch.setattr(_retry, "sleep", sleep)
    head = _dvc_head(repo)
    entry = QueueEntry(str(repo), str(repo), CELERY_STASH, "0" * 40, head, None, None, head)
    try:
        with Repo(str(repo)) as dvc_repo:
            taken = BaseStashQueue.get_stash_entry(dvc_repo.experiments, entry)
    finally:
        backstop.cancel()
    assert taken.stash_index is None  # no such trial queued: DVC's default entry, nothing dropped
    assert slept[:3] == [0.05] * 3  # DVC's own retry would sleep a second each time


def _dvc_head(repo: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
