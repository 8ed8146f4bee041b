"""Reading results out of experiment commits with one real ``git cat-file --batch``; telling
live DVC queue workers from dead ones by their real processes; reading ``dvc queue status``."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import TYPE_CHECKING

import psutil
import pytest

from conveyor.errors import SweepError
from conveyor.experiments._dvc import live_workers, parse_queue_table, show_files

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


# ``dvc queue status`` of DVC 3 (dvc/commands/queue/status.py): running, queued, failed, then
# successful entries; Created may hold a space.
REQUEUED = """\
Task     Name    Created         Status
1a2b3c4  l-2     09:40 PM        Running
9f8e7d6  l-1     09:41 PM        Queued
5d6e7f8  l-1     09:39 PM        Failed
0a0b0c0  l-3     09:38 PM        Failed
1b1b1b1  l-3     09:42 PM        Failed
2c2c2c2  l-4     Dec 01, 2026    Success

Worker status: 1 active, 0 idle
"""


def test_a_trial_queued_again_reads_as_its_live_attempt_not_the_failed_one_dvc_kept() -> None:
    entries = parse_queue_table(REQUEUED)
    assert {name: (e.task, e.status) for name, e in entries.items()} == {
        "l-1": ("9f8e7d6", "queued"),  # listed before its earlier, failed attempt
        "l-2": ("1a2b3c4", "running"),
        "l-3": ("1b1b1b1", "failed"),  # between finished attempts, the later line
        "l-4": ("2c2c2c2", "success"),
    }


def test_an_empty_queue_has_no_entries() -> None:
    assert (
        parse_queue_table("No experiment tasks in the queue.\n\nWorker status: 0 active, 0 idle\n")
        == {}
    )
