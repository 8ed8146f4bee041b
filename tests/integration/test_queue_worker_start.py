"""``_queue_worker start``: forks of one process that imported DVC, kept as DVC keeps its own.

Real ``git``, ``dvc init`` and DVC's celery workers, in a temporary project with nothing queued,
so the workers exit by themselves after DVC's idle wait (10 s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest

from conveyor.experiments import _queue_worker
from conveyor.experiments._dvc import live_workers

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.slow  # starts DVC's queue workers and waits for them to exit


def _eventually(check: Callable[[], object], what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not within {seconds:g} s: {what}"
        time.sleep(0.1)


def _info(wdir: Path, number: int) -> dict[str, object] | None:
    try:
        found: dict[str, object] = json.loads((wdir / f"dvc-exp-worker-{number}.json").read_text())
        return found
    except (FileNotFoundError, ValueError):  # not written yet
        return None


def _running(root: Path, node: str) -> list[int]:
    """The live processes in ``root`` whose command line (or celery title) names ``node``."""
    found = []
    for process in psutil.process_iter(["cmdline", "cwd", "status"]):
        title = " ".join(process.info["cmdline"] or [])
        live = process.info["status"] != psutil.STATUS_ZOMBIE
        cwd = process.info["cwd"]  # None when not ours to read
        if node in title and live and cwd is not None and Path(cwd).resolve() == root.resolve():
            found.append(process.pid)
    return found


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _exit_code(wdir: Path, number: int) -> object:
    return (_info(wdir, number) or {}).get("returncode")


def test_start_forks_the_missing_workers_each_kept_as_dvc_keeps_one(tmp_path: Path) -> None:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["dvc", "init", "-q"], cwd=tmp_path, check=True, env=env)
    start = [sys.executable, "-m", _queue_worker.MODULE, "start", "2"]
    subprocess.run(start, cwd=tmp_path, check=True, env=env, timeout=120)
    wdir = Path(_queue_worker.celery_dir(str(tmp_path)))
    _eventually(lambda: _info(wdir, 1) and _info(wdir, 2), "both workers' info files")
    workers = []
    for number in (1, 2):
        pid = int((wdir / f"dvc-exp-worker-{number}.pid").read_text())
        out = str(wdir / f"dvc-exp-worker-{number}.out")
        assert _info(wdir, number) == {
            "pid": pid, "stdin": None, "stdout": out, "stderr": None, "returncode": None,
        }  # fmt: skip
        worker = psutil.Process(pid)
        node = _queue_worker.node_name(str(wdir), number)
        assert node in " ".join(worker.cmdline())  # how missing() and live_workers know it
        assert worker.cwd() == str(tmp_path)
        assert os.getpgid(pid) != os.getpgrp()  # detached from the caller's group
        workers.append(worker)
    assert workers[0].pid != workers[1].pid
    assert live_workers(tmp_path) == 2

    subprocess.run(start, cwd=tmp_path, check=True, env=env, timeout=120)  # none is missing
    time.sleep(1.0)  # a twin would be up by now (a worker is ready in about half a second)
    # No twin: a worker still running is the only process of its node. (One may have exited
    # meanwhile: DVC's idle wait counts 10 s from its start, which a loaded machine can spend
    # before here; CI once saw 1 live worker. Its node is then free, and may be started again.)
    for number, worker in enumerate(workers, start=1):
        running = _running(tmp_path, _queue_worker.node_name(str(wdir), number))
        if _alive(worker):
            assert running == [worker.pid]
        else:
            assert len(running) <= 1, running

    _, alive = psutil.wait_procs(workers, timeout=90)  # nothing queued: DVC's idle exit
    assert not alive, [" ".join(p.cmdline()) for p in alive]
    for number in (1, 2):
        _eventually(lambda: _exit_code(wdir, number) == 0, f"worker {number}'s exit code")  # noqa: B023
        log = (wdir / f"dvc-exp-worker-{number}.out").read_text()
        assert "celery@" in log or "dvc-exp-" in log, log  # celery's banner, in its own log
        assert _tracebacks_but_kombu_s_race(log) == [], log


def _tracebacks_but_kombu_s_race(log: str) -> list[str]:
    """The tracebacks in a worker's log but one: kombu's filesystem broker can read the table
    of an exchange just created, still empty (a JSONDecodeError in its ``get_table`` or
    ``_queue_bind``), as two workers starting together bind their control queues. CI saw
    kombu's JSON error once between these two workers, in its ``_get``: the workers' message
    reads are conveyor's since (experiments/_broker.py), which wait for a whole message, and
    none may fail so."""
    blocks = log.split("Traceback (most recent call last):")[1:]
    return [
        block
        for block in blocks
        if not (
            "kombu/transport/filesystem.py" in block
            and "JSONDecodeError" in block
            and "in _get" not in block
            and "take_whole" not in block
        )
    ]
