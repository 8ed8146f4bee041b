"""``conveyor sweep`` on ``executor: dask``: each trial a task on a real Dask LocalCluster.

Every trial runs ``dvc exp run`` in its own clone on a worker and pushes its experiment back
(experiments/_cluster.py); the same grid through DVC's local queue is the reference, and the
experiments must match it param for param and metric for metric (training is deterministic,
one thread). The reproduced project (its outputs in the run-cache) keeps each trial to the
stages the swept key invalidates.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from conveyor.executors.dask import ADDRESS_VARIABLE
from tests.conftest import (
    DEFAULT_SIGINT,
    VENV_BIN,
    commit_all,
    conveyor,
    conveyor_in_process,
    sh,
)
from tests.integration.test_sweep import _metrics, _params
from tests.sweep_project import experiments, sweep_state

pytestmark = pytest.mark.slow  # every case runs 'conveyor sweep'


def _cluster(**config: Any) -> Any:
    import dask
    from distributed import LocalCluster

    with dask.config.set(config):  # read when the (in-process) scheduler starts
        return LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )


def _project(template: Path, root: Path, executor: str) -> Path:
    """A committed copy of the reproduced project on ``executor`` (deploy stages dropped)."""
    shutil.copytree(template, root, symlinks=True)
    config = root / "conf" / "config.yaml"
    text = config.read_text().replace("executor: local", f"executor: {executor}")
    config.write_text(text.replace("deploy: [rest, batch]", "deploy: []"))
    conveyor_in_process("compile", cwd=root)
    commit_all(root, f"on {executor}")
    return root


def _sweep(root: Path, address: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [VENV_BIN / "conveyor", "sweep", *args],
        cwd=root,
        env=_on(address),
        capture_output=True,
        text=True,
        check=False,
    )


def _sweep_process(
    root: Path, address: str | None, *args: str, interruptible: bool = False
) -> subprocess.Popen[str]:
    """``conveyor sweep ARGS`` in the background, with its output piped. ``interruptible``:
    SIGINT's default restored first, as in a terminal's foreground job (DEFAULT_SIGINT)."""
    prefix = [sys.executable, "-c", DEFAULT_SIGINT] if interruptible else []
    return subprocess.Popen(
        [*prefix, VENV_BIN / "conveyor", "sweep", *args],
        cwd=root,
        env=_on(address),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _on(address: str | None) -> dict[str, str]:
    """This environment, pointed at the scheduler at ``address`` (None: a cluster the sweep
    starts)."""
    env = {k: v for k, v in os.environ.items() if k != ADDRESS_VARIABLE}
    return env if address is None else {**env, ADDRESS_VARIABLE: address}


def _clones(prefix: str) -> list[str]:
    return [p.name for p in Path(tempfile.gettempdir()).glob(f"conveyor-{prefix}-*")]


def _without_executor(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k != "executor"}


def test_a_grid_on_dask_lands_the_same_experiments_as_the_local_queue(
    scheduler: str, reproduced_template: Path, tmp_path: Path
) -> None:
    grid = ["model.params.max_depth=2,3", "-j", "2", "--target", "evaluate", "--name", "dg"]
    on_dask = _project(reproduced_template, tmp_path / "dask", "dask")
    done = _sweep(on_dask, scheduler, *grid, "--json")
    assert done.returncode == 0, done.stderr
    assert "trials run on the 'dask' executor (2 workers)" in done.stderr
    queued = _project(reproduced_template, tmp_path / "queue", "local")
    reference = json.loads(conveyor("sweep", *grid, "--json", cwd=queued).stdout)

    board = json.loads(done.stdout)
    assert [r["status"] for r in board["rows"]] == ["success", "success"]
    assert board["rows"] == reference["rows"]  # names, ranks, params, metrics, exactly
    shown, expected = experiments(on_dask), experiments(queued)
    assert sorted(shown) == sorted(expected) == ["dg-1", "dg-2"]
    for name in ("dg-1", "dg-2"):
        assert _without_executor(_params(shown[name])) == _without_executor(_params(expected[name]))
        assert _metrics(shown[name]) == _metrics(expected[name])
    assert _params(shown["dg-2"])["model"]["params"]["max_depth"] == 3
    assert [t["status"] for t in sweep_state(on_dask, "dg")["trials"]] == ["success", "success"]
    assert _clones("dg") == []  # each task removed its clone
    assert sh("git", "status", "--porcelain", cwd=on_dask).stdout == ""  # the workspace untouched

    # --show and --apply read the same refs, and the outputs are in the user's own cache.
    shown_board = json.loads(conveyor("sweep", "--show", "--json", cwd=on_dask).stdout)
    assert shown_board["rows"] == board["rows"]
    conveyor("sweep", "--apply", "best", cwd=on_dask)
    metrics = json.loads((on_dask / "reports/metrics.json").read_text())
    assert metrics == board["rows"][0]["metrics"]


def test_a_cluster_the_sweep_starts_runs_its_trials_on_worker_threads(
    reproduced_template: Path, tmp_path: Path
) -> None:
    """No scheduler named: the sweep's own LocalCluster has thread workers, and every trial's
    dvc process is a child of one fork server in the driver, not of a worker process's."""
    root = _project(reproduced_template, tmp_path / "project", "dask")
    grid = ["model.params.max_depth=2,3", "-j", "2", "--target", "evaluate", "--name", "st"]
    driver = _sweep_process(root, None, *grid)
    parents: set[str] = set()  # the command lines of the dvc processes' parents
    seen: set[str] = set()  # every command line below the driver
    while driver.poll() is None:
        with contextlib.suppress(psutil.Error):
            for process in psutil.Process(driver.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    line = " ".join(process.cmdline())  # setproctitle's: one string
                    seen.add(line)
                    parent = process.parent()
                    above = " ".join(parent.cmdline()) if parent is not None else ""
                    # a trial's dvc process, not one of its own forks (which keep its title
                    # until they exec a stage)
                    if line.startswith("dvc exp run ") and not above.startswith("dvc exp run "):
                        assert parent is not None
                        assert parent.ppid() == driver.pid, above
                        parents.add(above)
        time.sleep(0.02)
    _, errors = driver.communicate()
    assert driver.returncode == 0, errors
    assert "trials run on the 'dask' executor (2 workers)" in errors
    assert sorted(experiments(root)) == ["st-1", "st-2"]
    assert len(parents) == 1  # one fork server for both workers
    assert "multiprocessing.forkserver" in parents.pop()
    assert not [line for line in seen if "spawn_main" in line]  # no worker process started


def test_a_failed_trial_on_dask_is_reported_with_its_log(
    scheduler: str, reproduced_template: Path, tmp_path: Path
) -> None:
    # rows.min is a schema check: it compiles, and the validate stage fails at run time.
    root = _project(reproduced_template, tmp_path / "project", "dask")
    done = _sweep(
        root, scheduler, "data.schema.rows.min=10,100000", "-j", "2", "--target", "validate"
    )
    assert done.returncode == 1, done.stderr
    assert "(data.schema.rows.min=100000):" in done.stderr
    assert "dvc exp run failed (exit" in done.stderr  # the task's own report
    assert "rows" in done.stderr  # the tail of its log says why
    (state,) = (root / ".dvc/tmp/conveyor-sweeps").glob("*.json")
    trials = json.loads(state.read_text())["trials"]
    assert [t["status"] for t in trials] == ["success", "failed"]
    assert "100000" in trials[1]["error"]
    assert trials[0]["name"] in experiments(root)
    assert trials[1]["name"] not in experiments(root)


def _trial_workers(address: str) -> list[psutil.Process]:
    """The Dask worker processes that run a trial's ``dvc exp run`` right now."""
    from distributed import Client

    with Client(address, timeout=30) as client:
        pids = list(client.run(os.getpid).values())
    found = []
    for pid in pids:
        worker = psutil.Process(pid)
        if any("exp" in _cmdline(c) for c in worker.children(recursive=True)):
            found.append(worker)
    return found


def test_a_worker_killed_mid_trial_fails_it_and_resume_completes_it(
    reproduced_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No retries (allowed-failures 0): the worker killed with its trial's processes (a machine
    lost) is Dask's KilledWorker, the trial fails with the executor's message, exit 1; --resume
    runs it again and it lands once."""
    root = _project(reproduced_template, tmp_path / "project", "dask")
    scratch = tmp_path / "worker-tmp"  # the workers' temporary directory (they inherit TMPDIR)
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    with _cluster(**{"distributed.scheduler.allowed-failures": 0}) as cluster:
        args = ["model.params.max_depth=2", "--target", "train", "--name", "k"]
        process = _sweep_process(root, cluster.scheduler_address, *args)
        deadline = time.monotonic() + 600
        while not (workers := _trial_workers(cluster.scheduler_address)):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the trial never started"
            time.sleep(0.5)
        for worker in workers:
            for child in worker.children(recursive=True):
                child.send_signal(signal.SIGKILL)
            worker.send_signal(signal.SIGKILL)
        out, err = process.communicate(timeout=600)
        assert process.returncode == 1, out + err
        assert "Dask workers kept dying while running 'run_trial'" in err
        assert "'conveyor sweep --resume' runs it again" in err
        assert [t["status"] for t in sweep_state(root, "k")["trials"]] == ["failed"]

        done = _sweep(root, cluster.scheduler_address, "--resume", "--name", "k")
        assert done.returncode == 0, done.stderr
    assert [t["status"] for t in sweep_state(root, "k")["trials"]] == ["success"]
    assert [n for n in experiments(root) if n.startswith("k")] == ["k-1"]
    assert len(list(scratch.glob("conveyor-k-1-*"))) == 1  # the killed one's; resume's removed


GATED = """\
import os
import time
from pathlib import Path

from sklearn.linear_model import LogisticRegression

GATE = Path({gate!r})


class Gated(LogisticRegression):
    \"\"\"Fits once the test opens the gate: still fitting when the test acts on its trial.\"\"\"

    def fit(self, X, y, **kwargs):
        (GATE / f"fitting-{{os.getpid()}}").touch()
        deadline = time.monotonic() + 600
        while not (GATE / "open").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return super().fit(X, y, **kwargs)
"""


def _gated_project(template: Path, root: Path, gate: Path) -> Path:
    """The reproduced project on dask with a model whose fit waits for ``gate/open``: a trial
    is caught mid-fit for sure, and released the moment the test is done with it (no sleep)."""
    gate.mkdir()
    shutil.copytree(template, root, symlinks=True)
    (root / "gated.py").write_text(GATED.format(gate=str(gate)))
    (root / "conf" / "model" / "gated.yaml").write_text(
        "_target_: gated.Gated\nparams:\n  C: 1.0\n  max_iter: 500\n"
    )
    config = root / "conf" / "config.yaml"
    text = config.read_text().replace("executor: local", "executor: dask")
    text = text.replace("deploy: [rest, batch]", "deploy: []")
    config.write_text(text.replace("model: xgboost", "model: gated"))
    conveyor_in_process("compile", cwd=root)
    commit_all(root, "on dask, a model that waits for the test")
    return root


def _fitting(gate: Path, deadline: float, process: subprocess.Popen[str]) -> list[int]:
    """Wait until a trial's fit has started; the pids of the fits that started so far."""
    while not (started := sorted(gate.glob("fitting-*"))):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the trial never started fitting"
        time.sleep(0.1)
    return [int(p.name.split("-")[1]) for p in started]


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_ended(pid: int, deadline: float) -> None:
    while _alive(pid):
        assert time.monotonic() < deadline, f"process {pid} still runs"
        time.sleep(0.1)


def test_a_worker_killed_mid_trial_is_retried_and_its_experiment_lands_once(
    reproduced_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dask's retry (allowed-failures 1): the worker running the trial is killed with the
    trial's processes mid-fit (a lost machine); Dask runs the task again on a live worker, the
    sweep succeeds without --resume, and the experiment is in 'dvc exp show' once."""
    gate = tmp_path / "gate"
    root = _gated_project(reproduced_template, tmp_path / "project", gate)
    scratch = tmp_path / "worker-tmp"  # the workers' temporary directory (they inherit TMPDIR)
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    with _cluster(**{"distributed.scheduler.allowed-failures": 1}) as cluster:
        args = ["model.params.C=0.5", "--target", "train", "--name", "r"]
        process = _sweep_process(root, cluster.scheduler_address, *args)
        deadline = time.monotonic() + 600
        (first,) = _fitting(gate, deadline, process)
        (worker,) = _trial_workers(cluster.scheduler_address)
        for child in worker.children(recursive=True):
            child.send_signal(signal.SIGKILL)
        worker.send_signal(signal.SIGKILL)
        _wait_ended(first, deadline)  # the warm stage died with its client
        (gate / "open").touch()  # the retry fits at once
        out, err = process.communicate(timeout=600)
    assert process.returncode == 0, out + err
    fits = [int(p.name.split("-")[1]) for p in gate.glob("fitting-*")]
    assert len(fits) == 2, fits  # killed mid-fit, then run again
    assert [t["status"] for t in sweep_state(root, "r")["trials"]] == ["success"]
    shown = experiments(root)
    assert [n for n in shown if n.startswith("r")] == ["r-1"]
    assert _params(shown["r-1"])["model"]["params"]["C"] == 0.5
    assert len(list(scratch.glob("conveyor-r-1-*"))) == 1  # the killed one's; the retry's removed


def _trial_processes(address: str) -> list[psutil.Process]:
    """Every process under the cluster's workers but their fork servers (``_dvc_forkserver``,
    which live as long as the worker): what trials run there (none when idle)."""
    from distributed import Client

    with Client(address, timeout=30) as client:
        pids = list(client.run(os.getpid).values())
    found = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            found += psutil.Process(pid).children(recursive=True)
    helpers = ("multiprocessing.forkserver", "multiprocessing.resource_tracker")
    return [p for p in found if not any(h in " ".join(_cmdline(p)) for h in helpers)]


def test_ctrl_c_stops_the_trials_on_the_workers_and_resume_finishes_them(
    scheduler: str, reproduced_template: Path, tmp_path: Path
) -> None:
    """SIGINT to the driver while both trials are mid-fit on the workers (a fit that would wait
    ten minutes): the sweep exits 130 within seconds, no process of either trial runs on, no
    clone, experiment or change is left in the repository, and --resume runs both."""
    gate = tmp_path / "gate"
    root = _gated_project(reproduced_template, tmp_path / "project", gate)
    name = f"i{time.time_ns() % 10**6}"  # its own clones' prefix among earlier runs' leftovers
    args = ["model.params.C=0.5,2.0", "-j", "2", "--target", "train", "--name", name]
    process = _sweep_process(root, scheduler, *args, interruptible=True)
    deadline = time.monotonic() + 600
    while len(fits := _fitting(gate, deadline, process)) < 2:
        time.sleep(0.1)
    trial = [p for p in _trial_processes(scheduler) if _alive(p.pid)]
    assert any("exp" in _cmdline(p) for p in trial), [_cmdline(p) for p in trial]

    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, out + err
    assert f"--resume --name {name}" in err
    for pid in fits + [p.pid for p in trial]:
        _wait_ended(pid, time.monotonic() + 10)  # the warm stages go with their clients
    assert not [p for p in _trial_processes(scheduler) if _alive(p.pid)]
    assert _clones(name) == []  # each task removed its clone
    assert sh("git", "for-each-ref", "refs/exps", cwd=root).stdout == ""
    assert sh("git", "status", "--porcelain", cwd=root).stdout == ""
    assert [t["status"] for t in sweep_state(root, name)["trials"]] == ["pending", "pending"]
    assert not (root / f".dvc/tmp/conveyor-sweeps/{name}.stop").exists()

    (gate / "open").touch()
    done = _sweep(root, scheduler, "--resume", "--name", name)
    assert done.returncode == 0, done.stderr
    assert [t["status"] for t in sweep_state(root, name)["trials"]] == ["success", "success"]
    shown = experiments(root)
    assert sorted(shown) == [f"{name}-1", f"{name}-2"]
    assert _params(shown[f"{name}-2"])["model"]["params"]["C"] == 2.0


def test_ctrl_c_stops_the_trials_on_the_thread_workers_of_a_cluster_the_sweep_starts(
    reproduced_template: Path, tmp_path: Path
) -> None:
    """The workers are threads of the driver that takes the SIGINT: its trials (forks of its
    fork server, in sessions of their own) are ended all the same, and nothing is left."""
    gate = tmp_path / "gate"
    root = _gated_project(reproduced_template, tmp_path / "project", gate)
    name = f"t{time.time_ns() % 10**6}"
    args = ["model.params.C=0.5,2.0", "-j", "2", "--target", "train", "--name", name]
    process = _sweep_process(root, None, *args, interruptible=True)
    deadline = time.monotonic() + 600
    while len(fits := _fitting(gate, deadline, process)) < 2:
        time.sleep(0.1)
    below = psutil.Process(process.pid).children(recursive=True)
    trials = [p.pid for p in below if _cmdline(p)[:3] == ["dvc", "exp", "run"]]
    assert len(trials) == 2, [_cmdline(p) for p in below]

    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, out + err
    assert "Traceback" not in err
    for pid in fits + trials:
        _wait_ended(pid, time.monotonic() + 10)
    assert _clones(name) == []
    assert sh("git", "for-each-ref", "refs/exps", cwd=root).stdout == ""
    assert [t["status"] for t in sweep_state(root, name)["trials"]] == ["pending", "pending"]
    assert not (root / f".dvc/tmp/conveyor-sweeps/{name}.stop").exists()


def _cmdline(process: psutil.Process) -> list[str]:
    """Its words: a forked ``dvc exp run`` shows its title as one string (setproctitle)."""
    try:
        return " ".join(process.cmdline()).split()
    except psutil.Error:
        return []


def test_uncommitted_changes_are_refused_before_the_executor_starts(project: Path) -> None:
    """A clone of the base commit would silently drop them; untracked files are not refused."""
    from conveyor.errors import SweepError
    from conveyor.experiments._progress import Progress
    from conveyor.experiments.sweep import SweepRequest, start_sweep

    config = project / "conf" / "config.yaml"
    config.write_text(config.read_text().replace("executor: local", "executor: dask"))
    conveyor_in_process("compile", cwd=project)
    (project / "notes.txt").write_text("v1\n")
    commit_all(project, "on dask")
    (project / "notes.txt").write_text("v2\n")
    (project / "scratch.txt").write_text("untracked\n")
    request = SweepRequest(overrides=("model.params.max_depth=2,3",), name="u")
    with pytest.raises(SweepError, match=r"uncommitted changes in notes.txt: trials on the 'dask'"):
        start_sweep(project, request, Progress(live=False))
    assert sh("git", "for-each-ref", "refs/exps", cwd=project).stdout == ""
