"""One trial as an executor's worker runs it (experiments/_cluster.run_trial), without a cluster.

The trial runs ``dvc exp run`` in its own clone and sends the experiment back with a plain
``git push`` of its ref: the ref must be the one DVC names (so ``dvc exp show`` in the user's
repository lists it), and a ref already there at another commit must fail the trial, not
leave the old experiment to pass for this one.
"""

from __future__ import annotations

import dataclasses
import subprocess
from typing import TYPE_CHECKING, Any

import pytest

from conveyor.errors import SweepError
from conveyor.experiments._cluster import TrialTask, cache_dir, experiment_ref, run_trial
from tests.conftest import VENV_BIN, dvc, git_dvc_repo, sh

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow  # a real 'dvc exp run'


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    stage = "stages:\n  gate:\n    cmd: 'true'\n    params: [x]\n"
    return git_dvc_repo(tmp_path / "repo", {"params.yaml": "x: 0\n", "dvc.yaml": stage})


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _task(repo: Path, name: str) -> TrialTask:
    return TrialTask(
        repo=str(repo),
        cache=str(repo / ".dvc" / "cache"),
        baseline=_git(repo, "rev-parse", "HEAD"),
        name=name,
        target="gate",
        params_yaml="x: 1\n",
        dvc_yaml=None,
        jobs=1,
    )


def test_the_experiment_arrives_under_the_ref_dvc_names_it(repo: Path) -> None:
    from dvc.repo.experiments.refs import ExpRefInfo

    task = _task(repo, "t-1")
    assert experiment_ref(task.baseline, task.name) == str(ExpRefInfo(task.baseline, "t-1"))
    result = run_trial(task)
    assert result.ok, result.error
    shown = dvc("exp", "show", "--json", cwd=repo).stdout
    assert '"name": "t-1"' in shown
    commit = _git(repo, "rev-parse", experiment_ref(task.baseline, "t-1"))
    assert _git(repo, "show", f"{commit}:params.yaml") == "x: 1"


def test_a_ref_already_at_another_commit_fails_the_trial(repo: Path) -> None:
    task = _task(repo, "t-1")
    ref = experiment_ref(task.baseline, task.name)
    # an older experiment of that name: a commit the trial's is no descendant of
    older = _git(repo, "commit-tree", "-m", "an older experiment", f"{task.baseline}^{{tree}}")
    _git(repo, "update-ref", ref, older)
    result = run_trial(task)
    assert not result.ok
    assert result.error is not None
    assert "sending the experiment back (git push of its ref) failed" in result.error
    assert _git(repo, "rev-parse", ref) == older  # left as it was


def test_the_trial_s_stages_get_the_sweep_s_stage_server_from_the_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker started before the sweep (a running cluster) lacks the driver's environment:
    the task carries the server's socket, so its stages fork from the sweep's stage server."""
    from conveyor.cli.warm import SOCKET_ENV
    from conveyor.experiments import _cluster

    assert _cluster.WARM_SOCKET_ENV == SOCKET_ENV  # the CLI's name, not imported from it
    seen = tmp_path / "seen"
    stage = f"stages:\n  gate:\n    cmd: printenv {SOCKET_ENV} > {seen} || true\n    params: [x]\n"
    repo = git_dvc_repo(tmp_path / "repo", {"params.yaml": "x: 0\n", "dvc.yaml": stage})
    monkeypatch.delenv(SOCKET_ENV, raising=False)  # as on a worker that started earlier
    result = run_trial(dataclasses.replace(_task(repo, "t-1"), warm_socket="/run/the.sock"))
    assert result.ok, result.error
    assert seen.read_text() == "/run/the.sock\n"
    result = run_trial(_task(repo, "t-2"))  # no server: none is made up
    assert result.ok, result.error
    assert seen.read_text() == ""


def test_the_driver_hands_its_stage_server_to_every_trial_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_on_cluster: the socket of the sweep's server, in the driver's environment, reaches a
    stage of a trial whose worker's environment lacks it."""
    from conveyor.cli.warm import SOCKET_ENV
    from conveyor.experiments._cluster import Cluster, run_on_cluster
    from conveyor.experiments.plan import SweepState, Trial, TrialFiles
    from conveyor.plugins.executor import InlineSession

    seen = tmp_path / "seen"
    stage = f"stages:\n  gate:\n    cmd: printenv {SOCKET_ENV} > {seen} || true\n    params: [x]\n"
    repo = git_dvc_repo(tmp_path / "repo", {"params.yaml": "x: 0\n", "dvc.yaml": stage})
    trial = Trial("s-1", ["x=1"])
    state = SweepState(
        "s", "grid", "gate", 1, ["x=1"], [trial], baseline=_git(repo, "rev-parse", "HEAD")
    )

    class StartedEarlier(InlineSession):
        """Runs each task here, in an environment without the variable, as a worker that
        started before the sweep has it."""

        def submit(self, fn: Any, *args: Any, resources: Any = None) -> Any:
            with pytest.MonkeyPatch.context() as patch:
                patch.delenv(SOCKET_ENV)
                return super().submit(fn, *args, resources=resources)

    cluster = Cluster(StartedEarlier(), "inline", str(repo), str(repo / ".dvc" / "cache"))
    monkeypatch.setenv(SOCKET_ENV, "/run/the-sweeps.sock")
    run_on_cluster(repo, state, [trial], {"s-1": TrialFiles("x: 1\n")}, cluster, lambda: None)
    assert trial.status == "success", trial.error
    assert seen.read_text() == "/run/the-sweeps.sock\n"


def test_the_cache_directory_is_the_one_dvc_names(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read from DVC's config files in-process, it matches ``dvc cache dir`` for the default,
    a relative path in config.local, an absolute one in the repository's config, a global
    config, and a cache that names a remote (left to DVC)."""
    monkeypatch.setenv("DVC_GLOBAL_CONFIG_DIR", str(tmp_path / "global"))
    (tmp_path / "global").mkdir()
    configs = [
        ("config.local", ""),
        ("config.local", "[cache]\n    dir = ../shared\n"),
        ("config", f"[cache]\n    dir = {tmp_path / 'absolute'}\n"),
        ("../../global/config", f"[cache]\n    dir = {tmp_path / 'global-cache'}\n"),
        ("config.local", "[cache]\n    local = mine\n['remote \"mine\"']\n    url = ../remote\n"),
    ]
    committed = (repo / ".dvc" / "config").read_text(encoding="utf-8")
    seen = []
    for name, text in configs:
        for other in ("config.local", "../../global/config"):
            (repo / ".dvc" / other).unlink(missing_ok=True)
        (repo / ".dvc" / "config").write_text(committed, encoding="utf-8")
        (repo / ".dvc" / name).write_text(text, encoding="utf-8")
        printed = sh(VENV_BIN / "dvc", "cache", "dir", cwd=repo).stdout.strip()
        expected = str((repo / printed).resolve())
        assert cache_dir(repo) == expected, text
        seen.append(expected)
        with monkeypatch.context() as without_dvc:  # read here, not asked of a dvc process
            without_dvc.setenv("PATH", str(tmp_path / "nothing"))
            if "local = mine" in text:
                with pytest.raises(SweepError, match="'dvc' command is not installed"):
                    cache_dir(repo)
            else:
                assert cache_dir(repo) == expected, text
    assert len(set(seen[:4])) == 4  # each of those a different directory


def test_a_config_dvc_s_validation_refuses_gets_dvc_s_own_answer(repo: Path) -> None:
    """DVC's Config refuses an unknown key where ``dvc cache dir`` reads on: its answer is
    taken; a file DVC cannot read at all is its own error, as a SweepError."""
    (repo / ".dvc" / "config.local").write_text("[cache]\n    no_such_option = 1\n", "utf-8")
    printed = sh(VENV_BIN / "dvc", "cache", "dir", cwd=repo).stdout.strip()
    assert cache_dir(repo) == str((repo / printed).resolve())
    (repo / ".dvc" / "config.local").write_text("[cache\n", "utf-8")
    with pytest.raises(SweepError) as caught:
        cache_dir(repo)
    assert "finding the DVC cache" in caught.value.render()
    assert "Invalid line" in caught.value.render()  # DVC's own words, not a traceback
