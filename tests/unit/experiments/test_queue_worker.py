"""The queue workers a sweep starts: DVC's own, polling every 0.1 s (experiments/_queue_worker)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from conveyor.experiments import _queue_worker
from conveyor.experiments._dvc import WORKER_MARKS
from tests.conftest import git_dvc_repo

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def test_dvc_s_celery_app_polls_faster_and_keeps_its_folders(tmp_path: Path) -> None:
    from dvc.repo import Repo

    root = git_dvc_repo(tmp_path / "p")
    with Repo(str(root)) as repo:
        app = repo.experiments.celery_queue.celery
        before = dict(app.conf.broker_transport_options)
        _queue_worker.with_fast_polling(app)
        after = dict(app.conf.broker_transport_options)
    assert "polling_interval" not in before  # kombu's 1 s default
    assert after == {**before, "polling_interval": 0.1}
    assert after["data_folder_in"].startswith(str(root / ".dvc" / "tmp" / "exps" / "celery"))


def test_workers_are_named_as_dvc_names_them(tmp_path: Path) -> None:
    """So `dvc queue status/stop/kill` and a later `dvc queue start` take them for DVC's."""
    wdir = str(tmp_path / ".dvc" / "tmp" / "exps" / "celery")
    digest = hashlib.sha256(wdir.encode("utf-8")).hexdigest()[:6]
    assert _queue_worker.node_name(wdir, 2) == f"dvc-exp-{digest}-2@localhost"


def test_only_workers_no_process_names_are_started() -> None:
    nodes = ["dvc-exp-abc123-1@localhost", "dvc-exp-abc123-2@localhost"]
    lines = [
        "python -m conveyor.experiments._queue_worker work dvc-exp-abc123-1@localhost --clean",
        "[celeryd: dvc-exp-abc123-9@localhost:MainProcess] -active- (worker)",
    ]
    assert _queue_worker.missing(nodes, lines) == ["dvc-exp-abc123-2@localhost"]
    assert _queue_worker.missing(nodes, []) == nodes


def test_a_sweep_s_worker_counts_as_a_live_worker() -> None:
    line = "python -m conveyor.experiments._queue_worker work dvc-exp-abc123-1@localhost"
    assert any(mark in line for mark in WORKER_MARKS)
    starter = "python -m conveyor.experiments._queue_worker start 2"
    assert not any(mark in starter for mark in WORKER_MARKS)


def test_a_wrong_command_line_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert _queue_worker.main(["start", "two"]) == 2
    assert _queue_worker.main([]) == 2
    assert "usage: python -m conveyor.experiments._queue_worker" in capsys.readouterr().err
