"""Sweep trials whose DVC queue worker stalls, dies, or takes a trial and never runs it.

Each state is made on demand with real DVC workers and real trials, never left to timing:

- **Finishing late**: the worker is stopped (SIGSTOP) while its trial runs; the trial's
  ``dvc exp exec-run`` runs the stages, commits the experiment in its temporary copy and exits,
  and the worker, which brings the experiment into the project and records the task's result,
  stays stopped while the sweep polls twice its patience.
- **Dead after starting**: the worker and the trial it runs are killed once the trial has a log.
- **Dead before starting**: DVC's worker moves a task's message to the broker's ``processed``
  folder when it takes it (kombu's filesystem transport), sets the trial up (its log) only when
  it runs it, and writes the task's result when it ends. A worker that shuts down on an empty
  queue just as it takes a task exits in between, and DVC lists the trial as running forever,
  with no log. Here a celery ``task_prerun`` handler (a ``sitecustomize.py`` on the workers'
  ``PYTHONPATH``) makes the first worker that takes a task kill itself at that point: DVC's code
  runs unchanged, and the test asserts the files are what that race leaves.

The sweeps poll every second (``CONVEYOR_SWEEP_POLL``), so a dead worker is noticed in seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from typing import TYPE_CHECKING

import psutil
import pytest

from tests.conftest import VENV_BIN, conveyor, conveyor_in_process, dvc, sh
from tests.sweep_project import cmdline, experiments, sweep_project, sweep_state, worker_pids

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

pytestmark = pytest.mark.slow

POLL = 1.0
"""The sweep's CONVEYOR_SWEEP_POLL in these tests."""
PATIENCE = 600.0
"""Seconds a test waits for a state it made before it fails (a loaded CI machine is slow)."""


@pytest.fixture
def project(
    project_template: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    root = tmp_path / "project"
    shutil.copytree(sweep_project(project_template, tmp_path_factory), root, symlinks=True)
    return root


def _wait_for(
    condition: Callable[[], object],
    what: str,
    process: subprocess.Popen[str],
    stderr: Path | None = None,
) -> None:
    """Until ``condition()`` holds; fail naming ``what`` if ``process`` (the sweep) ends first,
    with its output (and its ``stderr`` file, if it writes one)."""
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if process.poll() is not None:
            out, err = process.communicate()
            err = stderr.read_text() if stderr is not None else err
            pytest.fail(f"the sweep exited {process.returncode} before {what}:\n{out}\n{err}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


UNHURRIED = """\
import os
import time
from pathlib import Path

from sklearn.linear_model import LogisticRegression


class Unhurried(LogisticRegression):
    \"\"\"Fits once the test creates its gate file: still running when the test looks, however
    fast stages start, and no longer than the test needs.\"\"\"

    def fit(self, X, y, **kwargs):
        gate = Path(os.environ["UNHURRIED_GATE"])
        deadline = time.monotonic() + 300
        while not gate.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        return super().fit(X, y, **kwargs)
"""


def _sweep_until_its_trial_runs(
    project: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[subprocess.Popen[str], Path, psutil.Process]:
    """Start a one-trial sweep ``name`` (-j 1) of a model whose fit waits for a gate file; return
    once its trial runs on a worker and has a log: the sweep, the gate to create to let the fit
    finish, and the trial's ``dvc exp exec-run`` process."""
    (project / "unhurried.py").write_text(UNHURRIED)
    (project / "conf" / "model" / "unhurried.yaml").write_text(
        "_target_: unhurried.Unhurried\nparams:\n  C: 1.0\n  max_iter: 500\n"
    )
    config = project / "conf" / "config.yaml"
    config.write_text(config.read_text().replace("model: xgboost", "model: unhurried"))
    conveyor_in_process("compile", cwd=project)
    sh("git", "add", "-A", cwd=project)
    sh("git", "commit", "-qm", "a model that takes its time", cwd=project)
    gate = project.parent / f"{name}.gate"
    monkeypatch.setenv("UNHURRIED_GATE", str(gate))  # the workers and a resumed sweep inherit it
    # -v: a line on stderr for each read of DVC's queue (_queue_reads counts them). To a file,
    # which the test reads while the sweep runs.
    argv = ["conveyor", "-v", "sweep", "model.params.C=0.5", "-j", "1", "--name", name]
    with _stderr(project).open("w") as err:
        process = subprocess.Popen(
            [VENV_BIN / argv[0], *argv[1:]],
            cwd=project,
            env={**os.environ, "CONVEYOR_SWEEP_POLL": str(POLL)},
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    trials: list[psutil.Process] = []

    def started() -> bool:
        # DVC records the trial's process (its log) right after starting it: `dvc queue logs`
        # reads .dvc/tmp/exps/run/<task>/<task>.json.
        # a fork of the worker, titled as the process DVC would start (_forked_trial)
        titled = [(child, " ".join(cmdline(child)).split()) for child in _descendants(project)]
        trials[:] = [child for child, words in titled if words[:3] == ["dvc", "exp", "exec-run"]]
        return bool(trials) and bool(_logged_tasks(project))

    _wait_for(started, "the trial to start on a worker", process, _stderr(project))
    return process, gate, trials[0]


def _stderr(project: Path) -> Path:
    """Where the sweep ``_sweep_until_its_trial_runs`` started writes its stderr."""
    return project.parent / "sweep.err"


def _finished(project: Path, process: subprocess.Popen[str]) -> tuple[str, str]:
    """The sweep's stdout and stderr once it has exited."""
    out, _ = process.communicate(timeout=PATIENCE)
    return out, _stderr(project).read_text()


def _descendants(project: Path) -> list[psutil.Process]:
    """Every process under the project's queue workers (a worker may exit while we look)."""
    found = []
    for pid in worker_pids(project):
        with contextlib.suppress(psutil.Error):
            found += psutil.Process(pid).children(recursive=True)
    return found


def _logged_tasks(project: Path) -> list[Path]:
    """The process records (and so logs) DVC keeps of trials its workers started."""
    return [p for p in project.glob(".dvc/tmp/exps/run/*/*.json") if p.stem == p.parent.name]


def _gone(process: psutil.Process) -> bool:
    """Whether ``process`` has exited: a zombie while its (stopped) parent cannot reap it."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _queue_reads(project: Path, sweep: subprocess.Popen[str], count: int) -> None:
    """Until the sweep (``-v``) has read DVC's queue ``count`` times: its polls."""

    def enough() -> bool:
        return _stderr(project).read_text().count("conveyor: read DVC's queue: ") >= count

    _wait_for(enough, f"{count} polls of the sweep", sweep, _stderr(project))


def test_a_trial_whose_worker_stalls_before_collecting_it_is_a_success(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The finishing race, made certain. The trial's stages ran and DVC committed the experiment
    in the trial's temporary copy, but its worker is stopped before it brings the experiment
    into the project: DVC lists the trial Running, there is no experiment ref, and the worker
    would answer no celery inspect ("0 active"), for twice the polls after which a dead
    worker's trial is failed. The worker then resumes; the sweep must report the trial's success
    and exit 0, neither failing it nor killing it as a ghost."""
    from conveyor.experiments import _dvc
    from conveyor.experiments.queue import STARVED_POLLS

    process, gate, trial = _sweep_until_its_trial_runs(project, "w", monkeypatch)
    # -j 1: the trial may use every core (its model's n_jobs, if set, would still win). Read
    # from its stage's process: celery's retitling hides the worker's own environment, and the
    # trial, a fork of the worker, shows the worker's.
    expected = os.environ.get("OMP_NUM_THREADS", str(len(os.sched_getaffinity(0))))
    stages: list[psutil.Process] = []

    def stage_runs() -> bool:
        with contextlib.suppress(psutil.Error):
            found = trial.children(recursive=True)
            stages[:] = [p for p in found if "run" in cmdline(p) and "train" in cmdline(p)]
        return bool(stages)

    _wait_for(stage_runs, "the trial's train stage to start", process, _stderr(project))
    assert stages[0].environ().get("OMP_NUM_THREADS") == expected
    name = sweep_state(project, "w")["trials"][0]["name"]
    stopped = worker_pids(project)
    for pid in stopped:
        os.kill(pid, signal.SIGSTOP)
    try:
        gate.touch()  # the trial (not stopped) finishes its stages while its worker cannot
        # exec-run exits once the stages ran and the experiment is committed in its copy; its
        # stopped parent, the worker, cannot reap it.
        _wait_for(
            lambda: _gone(trial), "the trial's dvc exp exec-run to end", process, _stderr(project)
        )
        assert name not in _dvc.experiment_refs(project)  # not collected: the window is open
        _queue_reads(project, process, 2 * STARVED_POLLS + 1)
        assert sweep_state(project, "w")["trials"][0]["status"] == "running"
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
    out, err = _finished(project, process)
    assert process.returncode == 0, out + err
    assert [t["status"] for t in sweep_state(project, "w")["trials"]] == ["success"]
    assert not re.search(r"[1-9]\d* failed", err), err
    assert name in experiments(project)


def test_a_trial_whose_worker_dies_after_starting_it_fails_and_resume_completes_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that is gone (SIGKILL to it and the trial it runs) after the trial started (DVC
    keeps its log) is noticed from its process: the trial is reported failed, not queued again
    behind the user's back, and --resume reruns it."""
    process, gate, _ = _sweep_until_its_trial_runs(project, "k", monkeypatch)
    for pid in worker_pids(project):
        group = os.getpgid(pid)
        assert group != os.getpgrp(), "the worker shares the test's process group"
        os.killpg(group, signal.SIGKILL)  # the worker and the trial it runs
    out, err = _finished(project, process)
    assert process.returncode == 1, out + err
    assert "its DVC queue worker died" in err
    assert "queued again" not in err
    assert [t["status"] for t in sweep_state(project, "k")["trials"]] == ["failed"]

    gate.touch()  # the rerun's fit need not wait
    conveyor("sweep", "--resume", "--name", "k", "-j", "1", cwd=project)
    assert [t["status"] for t in sweep_state(project, "k")["trials"]] == ["success"]
    assert "k-1" in experiments(project)  # once: experiments() asserts no name twice


LOSE_FIRST_TASK = '''\
"""On the PYTHONPATH of a test's DVC queue workers: the first worker to take a task dies
before running it, as one that shuts down on an empty queue just as it takes a task."""
import os
import signal
import sys

# DVC's worker (`dvc exp queue-worker`), or those a sweep starts: forks of `python -m
# conveyor.experiments._queue_worker start JOBS`, whose argv is ['-m', 'start', ...] here
worker = "queue-worker" in sys.argv or sys.argv[1:2] in (["work"], ["start"])
if worker and os.environ.get("LOSE_FIRST_TASK"):
    from celery.signals import task_prerun

    @task_prerun.connect
    def _die_holding_it(**_):
        try:  # once, by one worker: the file says which
            fd = os.open(os.environ["LOSE_FIRST_TASK"], os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        os.kill(os.getpid(), signal.SIGKILL)
'''


def _losing_first_task(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment in which the first DVC queue worker to take a task dies holding it, and
    the file that worker writes its pid to before it dies."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(LOSE_FIRST_TASK)
    died = tmp_path / "died"
    path = os.pathsep.join(p for p in (str(hooks), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path, "LOSE_FIRST_TASK": str(died)}
    return {**env, "CONVEYOR_SWEEP_POLL": str(POLL)}, died


def test_a_worker_that_dies_holding_an_unstarted_trial_leaves_it_running_with_no_log(
    project: Path, tmp_path: Path
) -> None:
    """The state the shutdown race leaves, made by a real worker, as conveyor reads it; and
    conveyor's clean-up leaves no trace of it in DVC's queue or experiments."""
    from conveyor.experiments import _dvc, queue

    env, died = _losing_first_task(tmp_path)
    dvc(
        "exp", "run", "--queue", "-n", "lost", "-S", "model.params.max_depth=3", "gate", cwd=project
    )
    subprocess.run(
        [VENV_BIN / "dvc", "queue", "start", "-j", "1"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,  # the worker's daemon parent would hold a pipe
        stderr=subprocess.DEVNULL,
        check=True,
    )
    deadline = time.monotonic() + PATIENCE
    while not (died.exists() and died.read_text() and _dead(int(died.read_text()))):
        assert time.monotonic() < deadline, "no worker took the trial and died"
        time.sleep(0.1)

    celery = project / ".dvc/tmp/exps/celery"
    taken = [json.loads(f.read_bytes()) for f in (celery / "broker/processed").glob("*.msg")]
    tasks = [m["headers"]["id"] for m in taken if m["headers"].get("task", "").endswith("run_exp")]
    assert len(tasks) == 1  # the worker took it off the queue ...
    assert not (celery / "result" / f"celery-task-meta-{tasks[0]}").exists()  # ... no result
    assert not _logged_tasks(project)  # ... and never started it: no process, no log
    table = dvc("queue", "status", cwd=project).stdout
    assert [line.split()[-1] for line in table.splitlines() if " lost " in line] == ["Running"]
    status = _dvc.queue_status(project)
    assert status.live_workers == 0
    assert status.is_ghost("lost")
    assert _dvc.never_started(project, "lost")

    dvc("queue", "kill", "lost", cwd=project)  # as the sweep does with a ghost
    queue.forget_unstarted(project, "lost")
    assert " lost " not in dvc("queue", "status", cwd=project).stdout
    assert "lost" not in experiments(project)


def _dead(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_trial_a_worker_took_and_never_started_is_queued_again_and_succeeds(
    project: Path, tmp_path: Path
) -> None:
    """The sweep sees its trial Running with no worker alive and no log, queues it again once,
    starts a worker, and the trial lands: success, exit 0, one experiment, one queue entry."""
    env, died = _losing_first_task(tmp_path)
    done = subprocess.run(
        [VENV_BIN / "conveyor", "sweep", "model.params.max_depth=3", "-j", "1", "--name", "l"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=PATIENCE,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert died.exists()  # a worker took the trial and died holding it
    notes = [line for line in done.stderr.splitlines() if "queued again" in line]
    assert notes == [
        "trial l-1: a DVC queue worker took it and exited without starting it; queued again"
    ]
    assert not re.search(r"[1-9]\d* failed", done.stderr), done.stderr
    assert [t["status"] for t in sweep_state(project, "l")["trials"]] == ["success"]
    assert "l-1" in experiments(project)  # once: experiments() asserts no name twice
    table = dvc("queue", "status", cwd=project).stdout
    assert [line.split()[-1] for line in table.splitlines() if " l-1 " in line] == ["Success"]


def test_a_lost_trial_left_by_a_killed_sweep_is_resumed_once_and_lands_once(
    project: Path, tmp_path: Path
) -> None:
    """The sweep dies (SIGKILL) while its trial is lost: DVC lists it Running, no worker, no log.
    --resume finds the ghost, clears it, runs the trial; DVC keeps no failed twin of it."""
    env, died = _losing_first_task(tmp_path)
    sweep = subprocess.Popen(
        [VENV_BIN / "conveyor", "sweep", "model.params.max_depth=3", "-j", "1", "--name", "r"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: died.exists() and died.read_text(), "a worker to die holding it", sweep)
    finally:
        sweep.kill()
        sweep.wait()
    assert " r-1 " in dvc("queue", "status", cwd=project).stdout  # Running, as the worker left it

    conveyor("sweep", "--resume", "--name", "r", "-j", "1", cwd=project)
    assert [t["status"] for t in sweep_state(project, "r")["trials"]] == ["success"]
    assert "r-1" in experiments(project)  # once: experiments() asserts no name twice
    table = dvc("queue", "status", cwd=project).stdout
    assert [line.split()[-1] for line in table.splitlines() if " r-1 " in line] == ["Success"]


def test_a_trial_whose_message_a_worker_finds_half_written_runs_once_it_is_whole(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kombu writes a queued trial's message by creating its file, then locking and writing it.
    A worker polling in between took the empty file, stopped on the JSON error ("Unrecoverable
    error"), and the trial was lost. Here the queueing stops a second at that point while a
    ready worker polls (every 0.1 s): the worker leaves the file, then runs the whole message."""
    from kombu.transport import filesystem

    from conveyor.experiments import _dvc, _queue_worker, queue
    from conveyor.experiments._trials import validate
    from conveyor.experiments.plan import SweepState, Trial

    _queue_worker.spawn_workers(project, 1, {})
    log = project / ".dvc" / "tmp" / "exps" / "celery" / "dvc-exp-worker-1.out"
    deadline = time.monotonic() + PATIENCE
    while not (log.exists() and " ready." in log.read_text()):
        assert time.monotonic() < deadline, "timed out waiting for the worker to be ready"
        time.sleep(0.1)
    lock = filesystem.lock
    stalled: list[str] = []

    def late(file: object, flags: int) -> None:  # kombu's _put: created, not yet locked
        name = getattr(file, "name", "")
        if flags == filesystem.LOCK_EX and name.endswith(".celery.msg"):
            stalled.append(name)
            time.sleep(1.0)
        lock(file, flags)

    monkeypatch.setattr(filesystem, "lock", late)
    trial = Trial("h-1", ["model.params.max_depth=3"])
    state = SweepState("h", "grid", "gate", 1, ["model.params.max_depth=3"], [trial])
    queue.enqueue(project, state, [trial], validate(project, state, [trial]))
    assert len(stalled) == 1
    try:  # until the worker records the trial's end, failing at once if it stops
        while not ("h-1" in _dvc.experiment_refs(project) and " succeeded " in log.read_text()):
            assert "Unrecoverable error" not in log.read_text(), log.read_text()
            assert time.monotonic() < deadline, "timed out waiting for the trial"
            time.sleep(0.2)
    finally:
        for pid in worker_pids(project):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
    assert "Unrecoverable error" not in log.read_text()
    assert "h-1" in experiments(project)
