"""A finished trial's experiment reaches the repository even when its fetch finds a lock held.

DVC's queue worker collects a trial by fetching its experiment ref from the trial's temporary
copy (libgit2, which takes ``.git/shallow.lock`` in the repository for every fetch) and passes
over a failed fetch. Here the lock is held as a second worker's fetch holds it, on real
repositories with DVC's own ``collect_git``: alone it loses the experiment; through
``conveyor.experiments._collect`` it lands once the lock is free, or the worker says why.
"""

from __future__ import annotations

import itertools
import shutil
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from conveyor.errors import SweepError
from conveyor.experiments import _collect
from tests.conftest import commit_all, conveyor, git_dvc_repo, sh
from tests.sweep_project import experiments, sweep_project, sweep_state

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


class Trial:
    """A repository, and a trial's copy of it whose experiment ref waits to be collected."""

    def __init__(self, root: Path) -> None:
        from dvc.repo import Repo
        from dvc.repo.experiments.executor.base import ExecutorInfo, ExecutorResult
        from dvc.repo.experiments.executor.local import TempDirExecutor
        from dvc.repo.experiments.refs import ExpRefInfo

        self.project = git_dvc_repo(root / "project", {"params.yaml": "depth: 4\n"})
        self.copy = root / "copy"
        sh("git", "clone", "-q", self.project, self.copy)
        (self.copy / "params.yaml").write_text("depth: 2\n")
        commit_all(self.copy, "the trial's results")
        baseline = _rev(self.project, "HEAD")
        self.ref = f"refs/exps/{baseline[:2]}/{baseline[2:]}/t-1"
        sh("git", "update-ref", self.ref, "HEAD", cwd=self.copy)
        self.commit = _rev(self.copy, self.ref)
        self.repo = Repo(str(self.project))
        self.executor = TempDirExecutor.from_info(
            ExecutorInfo(
                git_url=f"file://{self.copy}",
                baseline_rev=baseline,
                location="dvc-task",
                root_dir=str(self.copy),
                dvc_dir=".dvc",
            )
        )
        self.result = ExecutorResult("0" * 64, ExpRefInfo.from_ref(self.ref), False)

    def landed(self) -> str | None:
        """The commit the repository's experiment ref points at, if it has one."""
        done = sh("git", "rev-parse", "-q", "--verify", self.ref, cwd=self.project, check=False)
        return done.stdout.strip() or None


def _rev(root: Path, name: str) -> str:
    return sh("git", "rev-parse", name, cwd=root).stdout.strip()


def _dvc_collect() -> Any:
    from dvc.repo.experiments.queue.base import BaseStashQueue

    return BaseStashQueue.collect_git


@pytest.fixture
def trial(tmp_path: Path) -> Iterator[Trial]:
    made = Trial(tmp_path)
    yield made
    made.repo.close()


@pytest.fixture
def lock(trial: Trial) -> Iterator[Path]:
    """``.git/shallow.lock`` held, as a fetch into the repository holds it; gone at the end."""
    path = trial.project / ".git" / "shallow.lock"
    path.write_text("")
    yield path
    path.unlink(missing_ok=True)


def test_dvc_alone_loses_the_experiment_when_the_lock_is_held(trial: Trial, lock: Path) -> None:
    """Why the wrapper exists: DVC's collect returns without error and without the ref."""
    results = _dvc_collect()(trial.repo.experiments, trial.executor, trial.result)
    assert (results, trial.landed()) == ({}, None)
    assert _collect.uncollected(trial.repo.experiments.scm, trial.executor) == [trial.ref]


def test_the_experiment_lands_once_the_lock_is_free(trial: Trial, lock: Path) -> None:
    calls = []

    def counted(*args: Any) -> dict[str, str]:
        calls.append(time.monotonic())
        return _dvc_collect()(*args)

    release = threading.Timer(0.5, lambda: lock.unlink(missing_ok=True))
    release.start()
    try:
        results = _collect.until_collected(counted, patience=30)(
            trial.repo.experiments, trial.executor, trial.result
        )
    finally:
        release.join()
    assert trial.landed() == trial.commit
    assert results == {trial.commit: "0" * 64}
    assert len(calls) >= 2  # the first fetch found the lock held
    assert all(b - a < 0.5 for a, b in itertools.pairwise(calls))  # retried soon


def test_a_lock_never_freed_is_an_error_naming_the_ref(trial: Trial) -> None:
    """The ref's own lock file, left by a killed writer: every fetch fails to write the ref."""
    ref_lock = trial.project / ".git" / f"{trial.ref}.lock"
    ref_lock.parent.mkdir(parents=True)
    ref_lock.write_text("")
    collect = _collect.until_collected(_dvc_collect(), patience=0.3, every=0.05)
    with pytest.raises(SweepError) as raised:
        collect(trial.repo.experiments, trial.executor, trial.result)
    message = str(raised.value)
    assert trial.ref in message
    assert str(trial.copy) in message
    assert ".lock" in raised.value.fix
    assert trial.landed() is None


def test_a_collected_experiment_is_fetched_once(trial: Trial) -> None:
    calls = []

    def counted(*args: Any) -> dict[str, str]:
        calls.append(args)
        return _dvc_collect()(*args)

    _collect.until_collected(counted)(trial.repo.experiments, trial.executor, trial.result)
    assert (len(calls), trial.landed()) == (1, trial.commit)


def test_a_ref_at_another_commit_is_not_collected(trial: Trial) -> None:
    """The repository has the experiment's name, but not the trial's commit: still missing."""
    sh("git", "update-ref", trial.ref, "HEAD", cwd=trial.project)
    scm = trial.repo.experiments.scm
    assert _collect.uncollected(scm, trial.executor) == [trial.ref]
    sh("git", "fetch", "-q", str(trial.copy), f"{trial.ref}:{trial.ref}", "-f", cwd=trial.project)
    assert _collect.uncollected(scm, trial.executor) == []


def test_workers_collect_through_the_wrapper(
    trial: Trial, lock: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``collect_surely`` replaces DVC's ``collect_git`` as DVC's ``collect_executor`` calls it."""
    from dvc.repo.experiments.queue.base import BaseStashQueue

    monkeypatch.setattr(BaseStashQueue, "collect_git", BaseStashQueue.collect_git)
    _collect.collect_surely()
    release = threading.Timer(0.3, lambda: lock.unlink(missing_ok=True))
    release.start()
    try:
        BaseStashQueue.collect_executor(trial.repo.experiments, trial.executor, trial.result)
    finally:
        release.join()
    assert trial.landed() == trial.commit


@pytest.mark.slow
def test_a_sweep_lands_every_trial_while_another_fetch_holds_the_lock(
    project_template: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``.git/shallow.lock`` held for the whole sweep, as a fetch into the project holds it:
    every trial's first collect fails (DVC alone loses them all), and each lands on its next."""
    root = tmp_path / "project"
    shutil.copytree(sweep_project(project_template, tmp_path_factory), root, symlinks=True)
    lock = root / ".git" / "shallow.lock"
    lock.write_text("")
    try:
        done = conveyor(
            "sweep",
            "model.params.max_depth=2,3",
            "-j",
            "2",
            "--name",
            "held",
            cwd=root,
            check=False,
        )
    finally:
        lock.unlink(missing_ok=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert {t["status"] for t in sweep_state(root, "held")["trials"]} == {"success"}
    assert {"held-1", "held-2"} <= set(experiments(root))
    logs = (root / ".dvc" / "tmp" / "exps" / "celery").glob("dvc-exp-worker-*.out")
    assert sum(log.read_text().count("collecting again") for log in logs) == 2  # one a trial
