"""A trial queued in process is the trial ``dvc exp run --queue -S`` would have queued.

The sweep queues each trial through DVC's API with the params.yaml it composed (and its own
dvc.yaml if structural) in the workspace, instead of ``dvc exp run --queue -S ...``, which
composes conf/ again per trial (``conveyor.experiments._enqueue``). Here both queue the same
trials of the default project, with hydra on: the stash commits DVC's workers run must hold the
same files, and the same repro arguments but the name.
"""

from __future__ import annotations

import pickle
import subprocess
from typing import TYPE_CHECKING

import pytest

from conveyor.experiments import queue
from conveyor.experiments._trials import validate
from conveyor.experiments.plan import SweepState, Trial
from tests.conftest import dvc, sh

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow

STASH = "refs/exps/celery/stash"
ARGS_FILE = ".dvc/tmp/repro.dat"


def _stashed(root: Path) -> dict[str, str]:
    """Every queued trial's stash commit, by experiment name (the message's last field)."""
    log = sh("git", "log", "-g", "--format=%H %gs", STASH, cwd=root).stdout
    return {line.rsplit(":", 1)[1]: line.split()[0] for line in log.splitlines()}


def _repro_args(root: Path, commit: str) -> dict:
    blob = subprocess.run(
        ["git", "show", f"{commit}:{ARGS_FILE}"], cwd=root, capture_output=True, check=True
    ).stdout
    return pickle.loads(blob)  # noqa: S301 - DVC's own file, written by this test's queueing


def test_a_trial_queued_in_process_is_the_one_dvc_exp_run_queues(project: Path) -> None:
    values = Trial("v-1", ["model.params.max_depth=2", "model.params.learning_rate=0.3"])
    structural = Trial("v-2", ["deploy=[rest]", "model.params.max_depth=2"])
    trials = [values, structural]
    state = SweepState("v", "grid", "gate", 1, ["..."], trials)
    files = validate(project, state, trials)
    assert (values.structural, structural.structural) == (False, True)

    queue.enqueue(project, state, trials, files)
    assert [t.status for t in trials] == ["queued", "queued"]
    assert sh("git", "status", "--porcelain", cwd=project).stdout == ""  # files put back

    committed = (project / "dvc.yaml").read_text()
    for trial in trials:  # as the sweep queued trials before: DVC composes conf/ itself
        own = files[trial.name].dvc_yaml
        if own is not None:
            (project / "dvc.yaml").write_text(own)
        overrides = [arg for override in trial.overrides for arg in ("-S", override)]
        dvc("exp", "run", "--queue", "-n", f"cli-{trial.name}", *overrides, "gate", cwd=project)
        (project / "dvc.yaml").write_text(committed)

    stashed = _stashed(project)
    for trial in trials:
        ours, theirs = stashed[trial.name], stashed[f"cli-{trial.name}"]
        differ = sh("git", "diff", "--name-only", ours, theirs, cwd=project).stdout.split()
        assert differ == [ARGS_FILE], trial.name  # params.yaml and dvc.yaml are the same bytes
        mine, dvcs = _repro_args(project, ours), _repro_args(project, theirs)
        assert mine["kwargs"]["run_env"].pop("DVC_EXP_NAME") == trial.name
        assert dvcs["kwargs"]["run_env"].pop("DVC_EXP_NAME") == f"cli-{trial.name}"
        assert mine == dvcs
    shown = sh("git", "show", f"{stashed['v-1']}:params.yaml", cwd=project).stdout
    assert "max_depth: 2" in shown
    assert "learning_rate: 0.3" in shown
