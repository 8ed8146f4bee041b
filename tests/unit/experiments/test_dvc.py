"""Reading results out of experiment commits with one real ``git cat-file --batch``; telling
live DVC queue workers from dead ones by their real processes; reading DVC's queue."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import psutil
import pytest

from conveyor.errors import SweepError
from conveyor.experiments import _dvc
from conveyor.experiments._dvc import QueueEntry, current_attempts, live_workers, show_files
from tests.conftest import git_dvc_repo

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_files_of_several_commits_come_back_whole_and_missing_ones_are_left_out(
    tmp_path: Path,
) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / "m.json").write_text('{"auc": 0.9}\n\nsecond line ünïcode\n', encoding="utf-8")
    _git(tmp_path, "add", "m.json")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    first = _git(tmp_path, "rev-parse", "HEAD")
    (tmp_path / "m.json").write_text("", encoding="utf-8")  # empty: size 0
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "two")
    second = _git(tmp_path, "rev-parse", "HEAD")

    found = show_files(
        tmp_path, [(first, "m.json"), (first, "absent.json"), (second, "m.json"), (first, "m.json")]
    )

    assert found == {
        (first, "m.json"): '{"auc": 0.9}\n\nsecond line ünïcode\n',
        (second, "m.json"): "",
    }


def test_nothing_asked_runs_nothing(tmp_path: Path) -> None:
    assert show_files(tmp_path, []) == {}  # not a git repository: git is never called


def test_outside_a_repository_git_fails_as_a_sweep_error_with_its_message(tmp_path: Path) -> None:
    with pytest.raises(SweepError, match=r"(?s)reading results failed .*not a git repository"):
        show_files(tmp_path, [("HEAD", "m.json")])


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start real processes (killed afterwards); ``worker`` ones read like a DVC queue worker."""
    started: list[subprocess.Popen[bytes]] = []

    def start(cwd: Path, *, worker: bool = True, title: bool = False) -> subprocess.Popen[bytes]:
        role = ["exp", "queue-worker", "dvc-exp-abc123-1@localhost"] if worker else ["exp"]
        if title:  # as celery retitles a running worker
            role = ["[celeryd: dvc-exp-abc123-1@localhost:MainProcess] -active-"]
        code = "import time; time.sleep(60)"
        started.append(subprocess.Popen([sys.executable, "-c", code, *role], cwd=cwd))
        return started[-1]

    yield start
    for process in started:
        process.kill()
        process.wait()


def test_workers_running_in_the_project_are_counted(
    tmp_path: Path, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    spawn(tmp_path)
    spawn(tmp_path, title=True)
    assert live_workers(tmp_path) == 2


def test_workers_of_other_projects_exited_ones_and_other_programs_are_not(
    tmp_path: Path, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "other"
    project.mkdir()
    elsewhere.mkdir()
    spawn(elsewhere)  # another repository's worker
    spawn(project, worker=False)  # a DVC process in the project that is not a worker
    dead = spawn(project)
    dead.kill()  # a worker that died: a zombie until its parent waits for it
    while psutil.Process(dead.pid).status() != psutil.STATUS_ZOMBIE:
        time.sleep(0.01)
    assert live_workers(project) == 0
    spawn(project)
    assert live_workers(project) == 1


# ``celery_queue.status()`` of DVC 3 (what ``dvc queue status`` prints): running, queued,
# failed, then successful entries.
REQUEUED = [
    QueueEntry("1a2b3c4", "l-2", "running"),
    QueueEntry("9f8e7d6", "l-1", "queued"),
    QueueEntry("5d6e7f8", "l-1", "failed"),
    QueueEntry("0a0b0c0", "l-3", "failed"),
    QueueEntry("1b1b1b1", "l-3", "failed"),
    QueueEntry("2c2c2c2", "l-4", "success"),
]


def test_a_trial_queued_again_reads_as_its_live_attempt_not_the_failed_one_dvc_kept() -> None:
    entries = current_attempts(REQUEUED)
    assert {name: (e.task, e.status) for name, e in entries.items()} == {
        "l-1": ("9f8e7d6", "queued"),  # listed before its earlier, failed attempt
        "l-2": ("1a2b3c4", "running"),
        "l-3": ("1b1b1b1", "failed"),  # between finished attempts, the later row
        "l-4": ("2c2c2c2", "success"),
    }


HALF_WRITTEN = '{"body": "eyJ'
"""A kombu message file caught while its writer is still at it."""


MESSAGE = ".dvc/tmp/exps/celery/broker/processed/99_half.celery.msg"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git + DVC repository whose queue's processed messages hold one that is half written."""
    root = git_dvc_repo(tmp_path / "repo")
    assert _dvc.queue_status(root) == _dvc.QueueStatus({}, 0)  # DVC makes its broker's folders
    (root / MESSAGE).write_text(HALF_WRITTEN)
    return root


def test_each_read_is_logged_for_conveyor_v(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = git_dvc_repo(tmp_path / "repo")
    with caplog.at_level(logging.DEBUG, logger="conveyor.sweep"):
        _dvc.queue_status(root)
    assert caplog.messages == ["read DVC's queue: empty; live workers: 0"]


def test_a_message_file_finished_between_two_reads_is_read_the_second_time(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pauses: list[float] = []

    def writer_finishes(seconds: float) -> None:  # the worker moves its message on meanwhile
        pauses.append(seconds)
        (repo / MESSAGE).unlink()

    monkeypatch.setattr(_dvc, "sleep", writer_finishes)  # this module's, not time.sleep
    assert _dvc.queue_status(repo).entries == {}
    assert len(pauses) == 1


def test_a_queue_that_stays_unreadable_is_a_sweep_error_with_its_cause(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(_dvc, "sleep", pauses.append)
    with pytest.raises(SweepError) as raised:
        _dvc.queue_status(repo)
    assert len(pauses) == _dvc.READ_ATTEMPTS - 1
    assert "reading the experiment queue failed: JSONDecodeError: " in str(raised.value)
    assert "conveyor sweep --resume" in raised.value.render()
