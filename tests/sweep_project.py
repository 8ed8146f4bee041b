"""The small project the sweep tests run trials in, built once per test run.

tests/integration/test_sweep.py and tests/integration/test_sweep_workers.py both sweep the
default conf with ``deploy=[]`` and 40 trees, its first run in the run-cache, so that trials only
train, evaluate and gate. One ``dvc repro`` serves both: xdist workers share the build under a
lock, as tests/trained_pair.py does; each test copies it.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import TYPE_CHECKING

import psutil
from filelock import FileLock

from tests.conftest import commit_all, conveyor_in_process, dvc

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def sweep_project(project_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed git + DVC project whose ``dvc repro gate`` has run. Shared by the whole run:
    ``copytree`` it first."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # this run's directory, above every worker's own
    shared = base / "sweep_project"
    root, done = shared / "project", shared / "done"  # done is written last: the build is whole
    with FileLock(f"{shared}.lock"):
        if not done.exists():
            shutil.rmtree(shared, ignore_errors=True)  # a build that failed in another worker
            shutil.copytree(project_template, root, symlinks=True)
            config = root / "conf" / "config.yaml"
            config.write_text(config.read_text().replace("deploy: [rest, batch]", "deploy: []"))
            conveyor_in_process("compile", cwd=root)
            dvc("repro", "gate", cwd=root)
            commit_all(root, "small project")
            done.write_text("")
    return root


def experiments(root: Path) -> dict[str, dict]:
    """Every experiment in ``dvc exp show --json``: name -> its data (params and metrics)."""
    shown = json.loads(dvc("exp", "show", "--json", cwd=root).stdout)
    found: dict[str, dict] = {}
    for commit in shown:
        for exp in commit.get("experiments") or []:
            assert exp["name"] not in found, f"{exp['name']} listed twice"
            found[exp["name"]] = exp["revs"][0]["data"]
    return found


def sweep_state(root: Path, prefix: str) -> dict:
    """The sweep's own state file, as ``conveyor sweep`` last saved it."""
    return json.loads((root / ".dvc/tmp/conveyor-sweeps" / f"{prefix}.json").read_text())


def worker_pids(root: Path) -> list[int]:
    """The pids of DVC's queue workers, from the files ``dvc queue start`` writes."""
    files = sorted(root.glob(".dvc/tmp/exps/celery/dvc-exp-worker-*.json"))
    return [json.loads(f.read_text())["pid"] for f in files]


def cmdline(process: psutil.Process) -> list[str]:
    """Its command line; empty for one that has exited or is a zombie (not yet reaped)."""
    try:
        return process.cmdline()
    except psutil.Error:
        return []
