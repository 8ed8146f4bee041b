"""Queueing a trial while a DVC queue worker holds the experiments lock waits for it.

DVC refuses ``dvc exp run --queue`` at once (``'refs/exps/celery/stash' is busy``) while another
process holds its rwlock on the stash, and a worker holds it for a second or so each time it sets
a trial up: with workers started while trials are queued, a sweep of structural trials (one
``dvc exp run --queue`` each) failed so in CI. Here a real process holds the real lock, recorded
in DVC's own rwlock file, and real ``dvc`` commands queue.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

import pytest

from conveyor.errors import SweepError
from conveyor.experiments import _dvc, queue
from conveyor.experiments.plan import SweepState, Trial
from tests.conftest import git_dvc_repo

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.slow

HELD_SECONDS = 2.0
"""How long the lock holder lives: several of the queueing's retries."""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    stage = "stages:\n  gate:\n    cmd: 'true'\n    params: [x, y]\n"
    return git_dvc_repo(tmp_path / "repo", {"params.yaml": "x: 0\ny: 0\n", "dvc.yaml": stage})


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
        queue.enqueue(repo, state, trial, None)
    finally:
        timer.cancel()
    assert holder.poll() is not None, "queued while the lock was still held"
    assert trial.status == "queued"
    assert _dvc.queue_status(repo).get("s-1") is not None


def test_a_grid_is_queued_once_the_worker_lets_go(
    repo: Path, holder: subprocess.Popen[bytes]
) -> None:
    trials = [Trial("s-1", ["x=1", "y=3"]), Trial("s-2", ["x=2", "y=3"])]
    state = _state(trials)
    timer = _release_later(holder)
    try:
        assert queue.enqueue_grid(repo, state, trials)
    finally:
        timer.cancel()
    assert [t.status for t in trials] == ["queued", "queued"]
    entries = _dvc.queue_status(repo)
    assert entries.get("s-1") is not None
    assert entries.get("s-2") is not None


def test_a_lock_never_let_go_fails_with_dvcs_words(
    repo: Path, holder: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue, "LOCK_PATIENCE", 1.0)
    trial = Trial("s-1", ["x=1"])
    with pytest.raises(SweepError, match="is busy, it is being blocked by") as caught:
        queue.enqueue(repo, _state([trial]), trial, None)
    assert "queueing trial 's-1'" in str(caught.value)
    assert holder.poll() is None
    assert trial.status == "pending"


def test_another_failure_is_not_retried(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, ...]] = []
    real_run = _dvc.run

    def counted(root: Path, *args: str, **kwargs: object):  # type: ignore[no-untyped-def]
        calls.append(args)
        return real_run(root, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_dvc, "run", counted)
    trial = Trial("s-1", ["x"])  # not an override: DVC refuses it, and no lock is involved
    with pytest.raises(SweepError):
        queue.enqueue(repo, _state([trial]), trial, None)
    assert len([c for c in calls if c[:4] == ("dvc", "exp", "run", "--queue")]) == 1
