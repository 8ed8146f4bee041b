"""The queue workers a sweep starts: DVC's own, polling every 0.1 s (experiments/_queue_worker)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from conveyor.experiments import _queue_worker
from tests.conftest import git_dvc_repo


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


def test_a_worker_starts_without_pinging_its_own_name(tmp_path: Path) -> None:
    """The ping is a celery broadcast that waits a whole second for an answer nobody gives."""
    from dvc.repo import Repo

    root = git_dvc_repo(tmp_path / "p")
    with Repo(str(root)) as repo:
        queue = repo.experiments.celery_queue
        asked: list[object] = []
        queue.celery.control.ping = lambda *a, **k: asked.append(a) or [{"x": "pong"}]
        assert queue.worker.ping("dvc-exp-x-1@localhost")  # dvc_task's own: a broadcast
        assert _queue_worker.without_ping(queue.worker).ping("dvc-exp-x-1@localhost") is None
    assert len(asked) == 1


def test_workers_are_named_as_dvc_names_them(tmp_path: Path) -> None:
    """So `dvc queue status/stop/kill` and a later `dvc queue start` take them for DVC's."""
    wdir = str(tmp_path / ".dvc" / "tmp" / "exps" / "celery")
    digest = hashlib.sha256(wdir.encode("utf-8")).hexdigest()[:6]
    assert _queue_worker.node_name(wdir, 2) == f"dvc-exp-{digest}-2@localhost"


def test_the_queue_s_folder_is_dvc_s_without_asking_dvc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also when the project is reached through a symlink: the starter runs in the project,
    and DVC names workers from the folder it resolves, as the process's working directory is."""
    import os

    from dvc.repo import Repo

    root = git_dvc_repo(tmp_path / "p")
    (tmp_path / "link").symlink_to(root)
    monkeypatch.chdir(tmp_path / "link")
    with Repo(os.getcwd()) as repo:
        assert _queue_worker.celery_dir(os.getcwd()) == repo.experiments.celery_queue.wdir


def test_only_workers_no_process_names_are_started() -> None:
    nodes = ["dvc-exp-abc123-1@localhost", "dvc-exp-abc123-2@localhost"]
    lines = [
        "python -m conveyor.experiments._queue_worker work dvc-exp-abc123-1@localhost --clean",
        "[celeryd: dvc-exp-abc123-9@localhost:MainProcess] -active- (worker)",
    ]
    assert _queue_worker.missing(nodes, lines) == ["dvc-exp-abc123-2@localhost"]
    assert _queue_worker.missing(nodes, []) == nodes


def test_a_sweep_s_worker_counts_as_a_live_worker_and_its_starter_does_not(
    tmp_path: Path,
) -> None:
    """Read from the process table, as the sweep does: a stand-in process with each command line
    (``python -c 'sleep' ARGS`` keeps ARGS on its command line) running in the project."""
    import subprocess
    import sys

    from conveyor.experiments._dvc import live_workers

    def running(*args: str) -> subprocess.Popen[bytes]:
        sleep = "import time; time.sleep(60)"
        return subprocess.Popen([sys.executable, "-c", sleep, *args], cwd=tmp_path)

    starter = running(_queue_worker.MODULE, "start", "2")
    worker = running(_queue_worker.MODULE, "work", "dvc-exp-abc123-1@localhost", "--clean")
    try:
        assert live_workers(tmp_path) == 1
        (tmp_path / "elsewhere").mkdir()
        assert live_workers(tmp_path / "elsewhere") == 0  # another project's folder
    finally:
        for process in (starter, worker):
            process.kill()
            process.wait()
    assert live_workers(tmp_path) == 0


def test_a_wrong_command_line_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert _queue_worker.main(["start", "two"]) == 2
    assert _queue_worker.main([]) == 2
    assert "usage: python -m conveyor.experiments._queue_worker" in capsys.readouterr().err


def test_a_step_of_another_shape_keeps_dvc_s_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        _queue_worker, "LOCK_RETRIED", (("dvc.repo.experiments.queue.base", "Nothing", "x"),)
    )
    assert _queue_worker.with_quick_lock_retries() == []


def test_a_worker_s_idle_monitor_outlives_a_message_read_mid_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """dvc_task's monitor thread reads the broker's message files; one that kombu has created
    but not yet written fails to parse, and the thread died with the worker still running."""
    import json
    import threading

    from dvc.repo import Repo

    root = git_dvc_repo(tmp_path / "p")
    with Repo(str(root)) as repo:
        queue = repo.experiments.celery_queue
        inbox = Path(queue.celery.conf.broker_transport_options["data_folder_in"])
        inbox.mkdir(parents=True, exist_ok=True)
        half = inbox / "0_half.msg"
        half.write_bytes(b'{"body": "eyJ')  # a message file caught while kombu writes it
        worker = queue.worker
        worker.timeout = 0.05
        with pytest.raises(json.JSONDecodeError):  # dvc_task's own monitor dies of it
            worker.monitor("dvc-exp-x-1@localhost")
        lasting = _queue_worker.with_lasting_monitor(worker, pause=0.05)
        thread = threading.Thread(target=lasting.monitor, args=("dvc-exp-x-1@localhost",))
        thread.start()
        deadline = time.monotonic() + 60
        while "queue monitor failed" not in caplog.text:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert thread.is_alive()  # failed, and watches again
        half.unlink()  # written and taken: the queue is empty
        thread.join(timeout=60)
        assert not thread.is_alive()  # it found the queue empty and shut the worker down


def test_a_worker_s_pid_is_on_disk_whole_before_its_info(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoever sees a worker's info file (a sweep, DVC's queue, a test) reads its pid file
    next: it must be there and complete by then, not written after the info as DVC does."""
    from dvc_task.proc.process import ProcessInfo

    seen: list[str] = []
    dump = ProcessInfo.dump

    def dump_and_look(self: ProcessInfo, filename: str) -> None:
        pidfile = tmp_path / "dvc-exp-worker-1.pid"
        seen.append(pidfile.read_text() if pidfile.exists() else "<missing>")
        dump(self, filename)

    monkeypatch.setattr(ProcessInfo, "dump", dump_and_look)
    _queue_worker._record(str(tmp_path), "dvc-exp-worker-1", 4242, "out", None)
    _queue_worker._record(str(tmp_path), "dvc-exp-worker-1", 4242, "out", 0)
    assert seen == ["4242", "4242"]
    assert (tmp_path / "dvc-exp-worker-1.pid").read_text() == "4242"
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["dvc-exp-worker-1.json", "dvc-exp-worker-1.pid"]  # no temporary left
