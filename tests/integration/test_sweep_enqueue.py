"""A trial queued in process is the trial ``dvc exp run --queue -S`` would have queued.

The sweep queues each trial through DVC's API with the params.yaml it composed (and its own
dvc.yaml if structural) in the workspace, instead of ``dvc exp run --queue -S ...``, which
composes conf/ again per trial (``conveyor.experiments._enqueue``). Here both queue the same
trials of the default project, with hydra on: the stash commits DVC's workers run must hold the
same files, and the same repro arguments but the name.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
from typing import TYPE_CHECKING

import pytest

from conveyor.experiments import queue
from conveyor.experiments._trials import validate
from conveyor.experiments.plan import SweepState, Trial
from tests.conftest import commit_all, dvc, sh

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


def _commits_counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every target DVC's ``Repo.commit`` is called with from now on (it still runs)."""
    from dvc.repo import Repo

    calls: list[str] = []
    commit = Repo.commit

    def counted(repo: Repo, target: str | None = None, *args: object, **kwargs: object) -> object:
        calls.append(str(target))
        return commit(repo, target, *args, **kwargs)

    monkeypatch.setattr(Repo, "commit", counted)
    return calls


def _queued(project: Path, prefix: str, overrides: list[list[str]]) -> dict[str, str]:
    trials = [Trial(f"{prefix}-{n}", o) for n, o in enumerate(overrides, 1)]
    state = SweepState(prefix, "grid", "gate", 1, ["..."], trials)
    queue.enqueue(project, state, trials, validate(project, state, trials))
    assert [t.status for t in trials] == ["queued"] * len(trials)
    stashed = _stashed(project)
    return {t.name: stashed[t.name] for t in trials}


def test_without_data_sources_trials_are_queued_without_dvc_looking_for_them(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _commits_counted(monkeypatch)
    stashed = _queued(project, "n", [[f"model.params.max_depth={d}"] for d in (2, 3, 5)])
    assert calls == []  # DVC would have collected the pipeline three times to commit nothing
    for commit in stashed.values():  # and the stash holds what the workspace held
        differ = sh("git", "diff", "--name-only", "HEAD", commit, cwd=project).stdout.split()
        assert sorted(differ) == [ARGS_FILE, "params.yaml"]


def test_each_trial_is_queued_with_the_data_sources_dvc_committed_for_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trials whose pipeline reads a file DVC tracks, edited since: each one's stash holds it
    as DVC committed it then, as ``dvc exp run --queue`` would; the others commit nothing."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.rename(columns={"target": "diagnosis"})
    frame.to_csv(project / "cancer.csv", index=False)
    dvc("add", "-q", "cancer.csv", cwd=project)
    text = (project / "conf" / "data" / "breast_cancer.yaml").read_text()
    start, end = text.index("  breast_cancer:\n"), text.index("target: diagnosis\nsplit:")
    source = "  cancer:\n    kind: csv\n    params: {path: cancer.csv}\n"
    (project / "conf" / "data" / "tracked.yaml").write_text(text[:start] + source + text[end:])
    commit_all(project, "the data as a file DVC tracks, for data=tracked")
    frame.iloc[:-1].to_csv(project / "cancer.csv", index=False)  # edited, not `dvc add`-ed
    edited = hashlib.md5((project / "cancer.csv").read_bytes()).hexdigest()  # noqa: S324 - DVC's

    calls = _commits_counted(monkeypatch)
    overrides = [["model.params.max_depth=5"]]  # first: the committed pipeline reads no file
    overrides += [["data=tracked", f"model.params.max_depth={d}"] for d in (2, 3)]
    stashed = _queued(project, "d", overrides)
    assert calls == ["gate", "gate"]  # DVC's own commit, before each trial reading the file
    for name in ("d-2", "d-3"):  # each on the edited data, not only the first
        tracked = sh("git", "show", f"{stashed[name]}:cancer.csv.dvc", cwd=project).stdout
        assert f"md5: {edited}" in tracked, name
    assert f"md5: {edited}" not in (project / "cancer.csv.dvc").read_text()  # as DVC leaves it


def _objects(root: Path) -> dict[str, int]:
    """``git count-objects -v``: loose objects (count) and packs, among others."""
    lines = sh("git", "count-objects", "-v", cwd=root).stdout.splitlines()
    return {key: int(value) for key, _, value in (line.partition(": ") for line in lines)}


def test_queueing_never_stops_to_repack_the_repository(project: Path) -> None:
    """DVC's dulwich runs git's automatic gc inline when a commit finds ``gc.auto`` loose
    objects: a repack of the whole repository in the middle of the sweep. Here every commit
    would: none may start one (git's own commands still do, detached)."""
    sh("git", "config", "gc.auto", "1", cwd=project)
    before = _objects(project)
    assert before["count"] >= 1  # so dulwich's check would say yes
    _queued(project, "g", [[f"model.params.max_depth={d}"] for d in (2, 3)])
    after = _objects(project)
    assert after["packs"] == before["packs"]
    assert after["count"] > before["count"]  # the stash commits' objects, still loose
    assert "GIT_AUTO_GC" not in os.environ  # only while DVC queued them
