"""``conveyor sweep`` end to end: real Hydra, real DVC queue workers, real git experiments.

One small project per run (tests/sweep_project.py: the default conf with ``deploy=[]`` and 40
trees, its first run in the run-cache so trials only train, evaluate and gate), copied per test.
Workers that die, stall or lose a trial: tests/integration/test_sweep_workers.py.
"""

from __future__ import annotations

import json
import os
import re
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
from tests.sweep_project import cmdline, experiments, sweep_project, sweep_state, worker_pids

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow


@pytest.fixture
def project(
    project_template: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    root = tmp_path / "project"
    shutil.copytree(sweep_project(project_template, tmp_path_factory), root, symlinks=True)
    return root


def _params(data: dict) -> dict:
    return data["params"]["params.yaml"]["data"]


def _metrics(data: dict) -> dict:
    return data["metrics"]["reports/metrics.json"]["data"]


def test_grid_sweep_tracks_every_trial_and_applies_the_best(project: Path) -> None:
    done = conveyor(
        "sweep", "model.params.max_depth=2,3", "-j", "2", "--name", "g", "--json", cwd=project
    )
    board = json.loads(done.stdout)
    assert [r["status"] for r in board["rows"]] == ["success", "success"]
    assert board["primary"] == "roc_auc"
    assert board["higher_is_better"] is True
    assert all(r["blessed"] is not None for r in board["rows"])
    shown = experiments(project)
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
    shown = experiments(project)
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
    state = sweep_state(project, "o")
    shown = experiments(project)
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
    state = sweep_state(project, "f")
    assert [t["status"] for t in state["trials"]] == ["success", "failed"]
    assert "f-1" in experiments(project)


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
    state = sweep_state(project, "s")
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
            t["status"] == "success" for t in sweep_state(project, "i")["trials"]
        ):
            break
        assert process.poll() is None, process.communicate()
        time.sleep(1)
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 130, err
    assert "conveyor sweep --resume --name i" in err
    statuses = [t["status"] for t in sweep_state(project, "i")["trials"]]
    assert "success" in statuses
    assert set(statuses) <= {"success", "pending"}

    conveyor("sweep", "--resume", "--name", "i", "-j", "2", cwd=project)
    assert [t["status"] for t in sweep_state(project, "i")["trials"]] == ["success"] * 3
    names = [n for n in experiments(project) if n.startswith("i-")]
    assert sorted(names) == ["i-1", "i-2", "i-3"]  # _experiments asserts each appears once


def test_conf_is_composed_once_per_choice_of_groups_the_check_s_included(
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
    # one compose: the compile check's (whose params.yaml then gives the facts), which the
    # trials share (they choose no group; conveyor.config.recompose); the first trial fails
    # before anything is queued: no composition for the primary metric or the seed
    assert composed == [[]]


def _stage_server_of(sweep: psutil.Process) -> psutil.Process | None:
    for child in _children(sweep):
        if "conveyor.cli._stage_server" in cmdline(child):
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
            socket = socket or cmdline(server)[-2]
            forked.update(child.pid for child in _children(server))
        time.sleep(0.05)
    out, err = process.communicate()
    assert process.returncode == 0, out + err
    assert socket is not None, "the sweep started no stage server"
    assert len(forked) >= 2, f"train, evaluate and gate fork from the server: {forked}"
    assert not os.path.exists(socket)  # the server went with the sweep

    # A queue worker idles on after the sweep with that path in its environment, and may run
    # the next sweep's trials: what it runs is 'dvc exp run' with a socket nobody answers.
    assert any(psutil.pid_exists(pid) for pid in worker_pids(project))
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
    shown = experiments(project)
    for name, depth in (("a-1", 3), ("b-1", 5)):
        expected = json.loads(json.dumps(committed))  # what -S changes, and nothing else
        expected["model"]["params"]["max_depth"] = depth
        assert _params(shown[name]) == expected
        assert _metrics(shown[name])["roc_auc"] > 0.5


def test_queue_workers_start_while_a_new_sweep_queues_and_nothing_is_unqueued(
    project: Path,
) -> None:
    """A new sweep's queue workers start while it queues the trials (in its own process, no
    ``dvc exp run --queue``), not after; and a new sweep runs no ``dvc queue remove`` (its
    names are new). The spans come from ``-v``'s lines: each says when it ended and how long
    it took."""
    process = subprocess.Popen(
        [VENV_BIN / "conveyor", "-v", "sweep", "model.params.max_depth=3,4", "-j2", "--name=w"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sweep = psutil.Process(process.pid)
    seen: set[str] = set()
    while process.poll() is None:
        for child in _children(sweep):
            words = cmdline(child)
            for verb in (["exp", "run"], ["queue", "remove"]):
                if any(words[i : i + 2] == verb for i in range(len(words))):
                    seen.add(" ".join(verb))
        time.sleep(0.02)
    out, err = process.communicate()
    assert process.returncode == 0, out + err
    spans = {}
    for what, pattern in (
        ("start", r"started queue workers .* in ([\d.]+) s \[(\d+) ms\]"),
        ("queue", r"queued 2 trial\(s\) in ([\d.]+) s \[(\d+) ms\]"),
    ):
        found = re.search(pattern, err)
        assert found, err
        end = int(found[2]) / 1000
        spans[what] = (end - float(found[1]), end)
    (start_from, start_to), (queue_from, queue_to) = spans["start"], spans["queue"]
    assert start_from < queue_to, spans  # they overlap
    assert queue_from < start_to, spans
    assert seen == set(), f"the sweep ran {seen}"
    assert [t["status"] for t in sweep_state(project, "w")["trials"]] == ["success"] * 2


def _loose(root: Path, revision: str) -> Path:
    """Where git keeps ``revision``'s commit as a loose object (a repack deletes the file)."""
    sha = sh("git", "rev-parse", revision, cwd=root).stdout.strip()
    return root / ".git" / "objects" / sha[:2] / sha[2:]


def test_a_sweep_never_stops_to_repack_the_repository(project: Path) -> None:
    """Every commit DVC makes through dulwich here finds ``gc.auto`` loose objects, so dulwich
    would repack the whole repository inline: none may, anywhere in the sweep. The queueing's
    stash commits would (conveyor.experiments._enqueue.NO_INLINE_GC); the workers' DVC work in
    the project does not reach dulwich's gc. Git's own commands still run it, detached."""
    sh("git", "config", "gc.auto", "1", cwd=project)
    head = _loose(project, "HEAD")
    assert head.is_file()
    conveyor("sweep", "model.params.max_depth=2,3", "-j", "2", "--name", "p", cwd=project)
    assert head.is_file()  # still loose: nothing repacked
    assert sorted(experiments(project)) == ["p-1", "p-2"]
