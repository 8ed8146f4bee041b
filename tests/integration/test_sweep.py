"""``conveyor sweep`` end to end: real Hydra, real DVC queue workers, real git experiments.

One small project per module (the default conf with ``deploy=[]`` and 40 trees, its first run in
the run-cache so trials only train, evaluate and gate), copied per test.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import psutil
import pytest
import yaml

from tests.conftest import DEFAULT_SIGINT, VENV_BIN, conveyor, conveyor_in_process, dvc, sh

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prepared(project_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sweep") / "project"
    shutil.copytree(project_template, root, symlinks=True)
    config = root / "conf" / "config.yaml"
    config.write_text(config.read_text().replace("deploy: [rest, batch]", "deploy: []"))
    conveyor_in_process("compile", cwd=root)
    dvc("repro", "gate", cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "small project", cwd=root)
    return root


@pytest.fixture
def project(prepared: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(prepared, root, symlinks=True)
    return root


def _experiments(root: Path) -> dict[str, dict]:
    """Every experiment in ``dvc exp show --json``: name -> its data (params and metrics)."""
    shown = json.loads(dvc("exp", "show", "--json", cwd=root).stdout)
    found: dict[str, dict] = {}
    for commit in shown:
        for exp in commit.get("experiments") or []:
            assert exp["name"] not in found, f"{exp['name']} listed twice"
            found[exp["name"]] = exp["revs"][0]["data"]
    return found


def _params(data: dict) -> dict:
    return data["params"]["params.yaml"]["data"]


def _metrics(data: dict) -> dict:
    return data["metrics"]["reports/metrics.json"]["data"]


def _state(root: Path, prefix: str) -> dict:
    return json.loads((root / ".dvc/tmp/conveyor-sweeps" / f"{prefix}.json").read_text())


def test_grid_sweep_tracks_every_trial_and_applies_the_best(project: Path) -> None:
    done = conveyor(
        "sweep", "model.params.max_depth=2,3", "-j", "2", "--name", "g", "--json", cwd=project
    )
    board = json.loads(done.stdout)
    assert [r["status"] for r in board["rows"]] == ["success", "success"]
    assert board["primary"] == "roc_auc"
    assert board["higher_is_better"] is True
    assert all(r["blessed"] is not None for r in board["rows"])
    shown = _experiments(project)
    assert {n: _params(shown[n])["model"]["params"]["max_depth"] for n in ("g-1", "g-2")} == {
        "g-1": 2,
        "g-2": 3,
    }
    for row in board["rows"]:
        assert row["metrics"]["roc_auc"] == _metrics(shown[row["name"]])["roc_auc"]
    best = board["rows"][0]
    assert best["rank"] == 1
    assert best["metrics"]["roc_auc"] >= board["rows"][1]["metrics"]["roc_auc"]

    conveyor("sweep", "--apply", "best", cwd=project)
    depth = best["params"]["model.params.max_depth"]
    xgb = (project / "conf/model/xgboost.yaml").read_text()
    assert f"  max_depth: {depth}\n" in xgb
    assert conveyor_in_process("compile", "--check", cwd=project).returncode == 0
    metrics = json.loads((project / "reports/metrics.json").read_text())
    assert metrics["roc_auc"] == best["metrics"]["roc_auc"]  # the winner's outputs


def test_group_sweep(project: Path) -> None:
    conveyor("sweep", "model=xgboost,logistic_regression", "-j", "2", "--name", "m", cwd=project)
    shown = _experiments(project)
    assert _params(shown["m-1"])["model"]["kind"] == "xgboost"
    assert _params(shown["m-2"])["model"]["kind"] == "logistic_regression"
    assert "roc_auc" in _metrics(shown["m-2"])


def test_optuna_runs_the_trials_it_asks_for(project: Path) -> None:
    done = conveyor(
        "sweep",
        "--optimizer",
        "optuna",
        "--trials",
        "3",
        "-j",
        "2",
        "--name",
        "o",
        "model.params.max_depth=range(2,6)",
        "model.params.learning_rate=tag(log,interval(0.05,0.3))",
        "--json",
        cwd=project,
    )
    rows = json.loads(done.stdout)["rows"]
    assert sorted(r["name"] for r in rows) == ["o-1", "o-2", "o-3"]
    assert all(r["status"] == "success" for r in rows)
    state = _state(project, "o")
    shown = _experiments(project)
    for trial in state["trials"]:
        params = _params(shown[trial["name"]])["model"]["params"]
        assert params["max_depth"] == trial["params"]["model.params.max_depth"]
        assert 0.05 <= params["learning_rate"] <= 0.3


def test_a_failed_trial_is_reported_and_does_not_stop_the_others(project: Path) -> None:
    # rows.min is a schema check: it compiles, and the validate stage fails at run time.
    done = conveyor(
        "sweep",
        "data.schema.rows.min=10,100000",
        "-j",
        "2",
        "--name",
        "f",
        cwd=project,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "trial f-2 failed (data.schema.rows.min=100000)" in done.stderr
    assert "rows" in done.stderr  # the tail of its log says why
    state = _state(project, "f")
    assert [t["status"] for t in state["trials"]] == ["success", "failed"]
    assert "f-1" in _experiments(project)


def test_a_typo_fails_before_anything_is_queued(project: Path) -> None:
    done = conveyor("sweep", "model.params.max_dept=2,3", "--name", "t", cwd=project, check=False)
    assert done.returncode == 1
    assert "trial 't-1' (model.params.max_dept=2) does not compile" in done.stderr
    assert "nothing was queued" in done.stderr
    assert "t-1" not in dvc("queue", "status", cwd=project).stdout


def test_uncommitted_conf_is_refused(project: Path) -> None:
    xgb = project / "conf/model/xgboost.yaml"
    xgb.write_text(xgb.read_text() + "# edited\n")
    done = conveyor("sweep", "seed=1,2", "--name", "u", cwd=project, check=False)
    assert done.returncode == 1
    assert "uncommitted changes in conf/model/xgboost.yaml" in done.stderr
    assert "fix: commit them" in done.stderr
    assert "u-1" not in dvc("queue", "status", cwd=project).stdout


def test_a_structural_trial_runs_with_its_own_dvc_yaml(project: Path) -> None:
    committed = (project / "dvc.yaml").read_text()
    conveyor("sweep", "deploy=[],[rest]", "--name", "s", "-j", "2", cwd=project)
    state = _state(project, "s")
    assert [t["structural"] for t in state["trials"]] == [False, True]
    assert (project / "dvc.yaml").read_text() == committed  # put back after queueing
    refs = sh("git", "for-each-ref", "--format=%(refname)", "refs/exps", cwd=project).stdout
    ref = next(line for line in refs.splitlines() if line.endswith("/s-2"))
    assert "deploy-rest:" in sh("git", "show", f"{ref}:dvc.yaml", cwd=project).stdout
    assert sh("git", "status", "--porcelain", "--untracked-files=no", cwd=project).stdout == ""


def test_interrupted_sweep_resumes_without_running_anything_twice(project: Path) -> None:
    args = ["sweep", "model.params.max_depth=2,3,4", "-j", "1", "--name", "i"]
    process = subprocess.Popen(
        [sys.executable, "-c", DEFAULT_SIGINT, VENV_BIN / "conveyor", *args],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    state_file = project / ".dvc/tmp/conveyor-sweeps/i.json"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if state_file.exists() and any(
            t["status"] == "success" for t in _state(project, "i")["trials"]
        ):
            break
        assert process.poll() is None, process.communicate()
        time.sleep(1)
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 130, err
    assert "conveyor sweep --resume --name i" in err
    statuses = [t["status"] for t in _state(project, "i")["trials"]]
    assert "success" in statuses
    assert set(statuses) <= {"success", "pending"}

    conveyor("sweep", "--resume", "--name", "i", "-j", "2", cwd=project)
    assert [t["status"] for t in _state(project, "i")["trials"]] == ["success"] * 3
    names = [n for n in _experiments(project) if n.startswith("i-")]
    assert sorted(names) == ["i-1", "i-2", "i-3"]  # _experiments asserts each appears once


def test_conf_is_composed_once_for_the_project_and_once_per_choice_of_groups(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hydra

    from conveyor.errors import SweepError
    from conveyor.experiments._progress import Progress
    from conveyor.experiments.sweep import SweepRequest, start_sweep

    composed: list[list[str]] = []
    real = hydra.compose

    def counting(*args: object, **kwargs: object) -> object:
        composed.append(list(kwargs.get("overrides") or []))  # type: ignore[call-overload]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(hydra, "compose", counting)
    monkeypatch.chdir(project)
    request = SweepRequest(overrides=("model.params.max_depth=2,3",), target="nope", name="c")
    with pytest.raises(SweepError, match=r"trial 'c-1' \(model.params.max_depth=2\) has no stage"):
        start_sweep(project, request, Progress(live=False))
    # the compile check (whose params.yaml then gives the facts), then the trials' one shared
    # compose (they choose no group; conveyor.config.recompose), whose first trial fails before
    # anything is queued: no composition for the primary metric or the seed
    assert composed == [[], []]


def _worker_pids(root: Path) -> list[int]:
    """The pids of DVC's queue workers, from the files ``dvc queue start`` writes."""
    files = sorted(root.glob(".dvc/tmp/exps/celery/dvc-exp-worker-*.json"))
    return [json.loads(f.read_text())["pid"] for f in files]


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
POLL = 1.0
"""The sweep's CONVEYOR_SWEEP_POLL in these tests: a dead worker is noticed in seconds."""


def _sweep_until_its_trial_runs(
    project: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[subprocess.Popen[str], float, Path]:
    """Start a one-trial sweep ``name`` (-j 1) of a model whose fit waits for a gate file; return
    once its trial runs on a worker, with the gate to create to let the fit finish."""
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
    process = subprocess.Popen(
        [VENV_BIN / "conveyor", "sweep", "model.params.C=0.5", "-j", "1", "--name", name],
        cwd=project,
        env={**os.environ, "CONVEYOR_SWEEP_POLL": str(POLL)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 600
    while not (
        (project / f".dvc/tmp/conveyor-sweeps/{name}.json").exists()
        and _state(project, name)["trials"][0]["status"] == "running"
        and _worker_pids(project)
    ):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the trial never started"
        time.sleep(0.5)
    return process, deadline, gate


def test_a_worker_too_busy_to_answer_is_not_declared_dead(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loaded machine, made certain: the worker is stopped (SIGSTOP) for longer than the
    sweep's patience while its trial runs and finishes. DVC's "Worker status" then reads "0
    active" (celery's one-second inspect gets no reply); the trial's result still lands once the
    worker resumes, and the sweep must report its success and exit 0, not kill it as a ghost."""
    from conveyor.experiments.queue import STARVED_POLLS

    process, deadline, gate = _sweep_until_its_trial_runs(project, "w", monkeypatch)
    # -j 1: the trial may use every core (its model's n_jobs, if set, would still win). Read
    # from the trial's process: celery's retitling hides the worker's own environment.
    trials: list[psutil.Process] = []
    while not trials and time.monotonic() < deadline:
        trials = [child for child in _descendants(project) if "exec-run" in _cmdline(child)]
        time.sleep(0.2)
    assert trials, "no trial process appeared under the workers"
    expected = os.environ.get("OMP_NUM_THREADS", str(len(os.sched_getaffinity(0))))
    assert trials[0].environ().get("OMP_NUM_THREADS") == expected
    stopped = _worker_pids(project)
    for pid in stopped:
        os.kill(pid, signal.SIGSTOP)
    try:
        gate.touch()  # the trial (not stopped) finishes while its worker cannot answer
        # Each poll is POLL s of ref checks plus a `dvc queue status` (1-2 s): this is about
        # twice the patience (STARVED_POLLS polls) after which a dead worker's trial is failed.
        time.sleep(STARVED_POLLS * (POLL + 2) * 2)
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, out + err
    assert [t["status"] for t in _state(project, "w")["trials"]] == ["success"]
    assert "w" in _experiments(project) or "w-1" in _experiments(project)


def test_a_trial_whose_worker_is_killed_fails_and_resume_completes_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other side of the busy worker: a worker that is gone (SIGKILL to it and the trial it
    runs) is noticed from its process, the trial is reported failed, and --resume reruns it."""
    process, _, gate = _sweep_until_its_trial_runs(project, "k", monkeypatch)
    for pid in _worker_pids(project):
        group = os.getpgid(pid)
        assert group != os.getpgrp(), "the worker shares the test's process group"
        os.killpg(group, signal.SIGKILL)  # the worker and the trial it runs
    out, err = process.communicate(timeout=600)
    assert process.returncode == 1, out + err
    assert "its DVC queue worker died" in err
    assert [t["status"] for t in _state(project, "k")["trials"]] == ["failed"]

    gate.touch()  # the rerun's fit need not wait
    conveyor("sweep", "--resume", "--name", "k", "-j", "1", cwd=project)
    assert [t["status"] for t in _state(project, "k")["trials"]] == ["success"]


def _descendants(project: Path) -> list[psutil.Process]:
    """Every process under the project's queue workers (a worker may exit while we look)."""
    found = []
    for pid in _worker_pids(project):
        with contextlib.suppress(psutil.Error):
            found += psutil.Process(pid).children(recursive=True)
    return found


def _cmdline(process: psutil.Process) -> list[str]:
    """Its command line; empty for one that has exited or is a zombie (not yet reaped)."""
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def _stage_server_of(sweep: psutil.Process) -> psutil.Process | None:
    for child in _children(sweep):
        if "conveyor.cli._stage_server" in _cmdline(child):
            return child
    return None


def _children(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children()
    except psutil.Error:
        return []


def test_trial_stages_fork_from_the_sweep_s_server_and_a_leftover_worker_runs_cold(
    project: Path,
) -> None:
    """The sweep starts one stage server and its queue workers inherit the socket: a trial's
    stages are children of that server. The workers idle on after the sweep with a socket path
    that is gone; the next sweep's trial runs on such a worker, cold, and succeeds. The thread
    limits in the trial's environment change no recorded param."""
    from conveyor.cli.warm import SOCKET_ENV

    cold = {k: v for k, v in os.environ.items() if k != SOCKET_ENV}  # no inherited server
    argv = [VENV_BIN / "conveyor", "sweep", "-j", "2", "--name"]
    process = subprocess.Popen(
        [*argv, "a", "model.params.max_depth=3"],
        cwd=project,
        env=cold,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    sweep, server, forked, socket = psutil.Process(process.pid), None, set(), None
    while process.poll() is None:
        server = server or _stage_server_of(sweep)
        if server is not None:
            socket = socket or _cmdline(server)[-2]
            forked.update(child.pid for child in _children(server))
        time.sleep(0.05)
    out, err = process.communicate()
    assert process.returncode == 0, out + err
    assert socket is not None, "the sweep started no stage server"
    assert len(forked) >= 2, f"train, evaluate and gate fork from the server: {forked}"
    assert not os.path.exists(socket)  # the server went with the sweep

    # A queue worker idles on after the sweep with that path in its environment, and may run
    # the next sweep's trials: what it runs is 'dvc exp run' with a socket nobody answers.
    assert any(psutil.pid_exists(pid) for pid in _worker_pids(project))
    done = subprocess.run(
        [VENV_BIN / "dvc", "exp", "run", "-n", "b-1", "-S", "model.params.max_depth=5", "gate"],
        cwd=project,
        env={**cold, SOCKET_ENV: socket},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("> conveyor run ") >= 2, done.stdout  # the stages ran, cold

    committed = yaml.safe_load((project / "params.yaml").read_text())
    shown = _experiments(project)
    for name, depth in (("a-1", 3), ("b-1", 5)):
        expected = json.loads(json.dumps(committed))  # what -S changes, and nothing else
        expected["model"]["params"]["max_depth"] = depth
        assert _params(shown[name]) == expected
        assert _metrics(shown[name])["roc_auc"] > 0.5
