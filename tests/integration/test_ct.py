"""`conveyor ct` on the supply-chain example's production variant, in real git + DVC repos.

One project per session is set up by the example's simulate.py (two years of history, v1.0.0
in prod); each test copies it. Covers: dry run writes nothing, a quiet week is recorded once
(idempotent), the lock, a challenger that is not blessed leaves the champion, and a failed
retrain restores the work tree and records nothing.

A ``conveyor ct`` that retrains runs as the console script, so that the stages its ``dvc exp
run`` starts fork from the session's stage server; the others fork from that server themselves
(``conveyor_warm``).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import shutil
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import REPO, conveyor, conveyor_in_process, conveyor_warm, sh

if TYPE_CHECKING:
    from pathlib import Path
    from types import ModuleType

    import pandas as pd

pytestmark = pytest.mark.slow


def load_simulation() -> ModuleType:
    """examples/supply-chain-demand/simulate.py as a module."""
    path = REPO / "examples" / "supply-chain-demand" / "simulate.py"
    spec = importlib.util.spec_from_file_location("supply_chain_simulate", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SIM = load_simulation()


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    """Two histories that agree before week 1: quiet, and drifted from week 1 on."""
    return {"quiet": SIM.generate(2, drift_week=3), "drifted": SIM.generate(2, drift_week=1)}


@pytest.fixture(scope="module")
def bootstrapped(tmp_path_factory: pytest.TempPathFactory, frames: dict[str, Any]) -> Path:
    root = tmp_path_factory.mktemp("ct") / "project"
    SIM.setup_project(root, frames["quiet"])
    return root


@pytest.fixture
def project(bootstrapped: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(bootstrapped, root, symlinks=True)
    return root


def _head(root: Path) -> str:
    return sh("git", "rev-parse", "HEAD", cwd=root).stdout.strip()


def _status(root: Path) -> str:
    return sh("git", "status", "--porcelain", cwd=root).stdout


def _week(root: Path, frame: pd.DataFrame, week: int = 1) -> str:
    first = SIM.week_start(week)
    path = SIM.write_batch(root, frame, first, first + dt.timedelta(days=6))
    return path.relative_to(root).as_posix()


def _tags(root: Path) -> list[str]:
    return sh("git", "tag", "--list", cwd=root).stdout.split()


def _model_files(root: Path) -> dict[str, bytes]:
    folder = root / "models" / "demand"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_quiet_week_is_decided_once_and_a_dry_run_writes_nothing(
    project: Path, frames: dict[str, Any]
) -> None:
    batch = _week(project, frames["quiet"])
    head = _head(project)

    dry = conveyor_warm("ct", "--dry-run", "--json", cwd=project)
    assert json.loads(dry.stdout)["action"] == "no retrain"
    assert _head(project) == head
    assert _status(project) == ""
    assert not (project / "ct").exists()

    done = conveyor_warm("ct", "--json", cwd=project)
    record = json.loads(done.stdout)
    assert record["action"] == "no retrain"
    assert record["retrain"] is False
    assert record["batch"]["path"] == batch
    assert len(record["batch"]["sha256"]) == 64
    assert record["champion"] == record["production"] == "v1.0.0"
    assert record["drift"]["dataset_drift"] is False
    assert record["performance"]["metric"] == "mae"
    assert record["performance"]["dropped"] is False
    assert [r.split(":")[0] for r in record["reasons"]] == ["dataset_drift", "performance"]
    assert record["reports"] == "ct/reports/2023-12-30/drift.html"
    # One commit holding the decision log and the drift reports; nothing left over.
    assert sh("git", "rev-parse", "HEAD~1", cwd=project).stdout.strip() == head
    assert sh("git", "log", "-1", "--format=%s", cwd=project).stdout.startswith("ct: no retrain")
    committed = sh("git", "show", "--name-only", "--format=", "HEAD", cwd=project).stdout
    assert set(committed.split()) == {
        "ct/decisions.jsonl",
        "ct/reports/2023-12-30/drift.html",
        "ct/reports/2023-12-30/drift.json",
    }
    assert _status(project) == ""
    lines = (project / "ct" / "decisions.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [record]

    # The same batch again: nothing happens.
    head = _head(project)
    again = conveyor_warm("ct", cwd=project)
    assert "already decided" in again.stderr
    assert _head(project) == head
    assert (project / "ct" / "decisions.jsonl").read_text().splitlines() == lines


def test_a_second_run_while_one_holds_the_lock_is_refused(
    project: Path, frames: dict[str, Any]
) -> None:
    from filelock import FileLock

    _week(project, frames["quiet"])
    with FileLock(project / ".git" / "conveyor-ct.lock"):
        refused = conveyor_warm("ct", cwd=project, check=False)
    assert refused.returncode == 1
    assert "another 'conveyor ct' holds" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (project / "ct").exists()


def test_a_challenger_that_does_not_beat_the_champion_is_not_promoted(
    project: Path, frames: dict[str, Any]
) -> None:
    # A bar no retrained model clears: 50% better MAE than the champion.
    regression = project / "conf" / "evaluate" / "regression_weekly.yaml"
    regression.write_text(regression.read_text().replace("min_delta: 0.01", "min_delta: 0.5"))
    conveyor_in_process("compile", cwd=project)
    sh("git", "commit", "-qam", "a demanding gate", cwd=project)
    head, tags, model = _head(project), _tags(project), _model_files(project)
    batch = _week(project, frames["drifted"])

    record = json.loads(conveyor("ct", "--json", cwd=project).stdout)
    assert record["batch"]["path"] == batch
    assert record["retrain"] is True
    assert record["drift"]["dataset_drift"] is True
    assert "store" in record["drift"]["drifted_columns"]  # the new store
    assert record["experiment"].startswith("ct-")
    assert record["blessing"]["blessed"] is False
    assert record["blessing"]["champion_metrics_source"] == "rescored on data/split/test.parquet"
    (check,) = record["blessing"]["checks"]
    assert (check["metric"], check["kind"], check["passed"]) == ("mae", "min_delta", False)
    assert record["action"].startswith("kept v1.0.0 (challenger not blessed: mae min_delta 0.5")
    assert record["production"] == "v1.0.0"
    # The champion stays: no tags, the work tree back to its model, only the decision committed.
    assert _tags(project) == tags
    assert _model_files(project) == model
    assert sh("git", "rev-parse", "HEAD~1", cwd=project).stdout.strip() == head
    changed = sh("git", "diff", "--name-only", "HEAD~1", "HEAD", cwd=project).stdout.split()
    assert all(path.startswith("ct/") for path in changed)
    assert _status(project) == ""


def test_a_failed_retrain_restores_the_work_tree_and_records_nothing(
    project: Path, frames: dict[str, Any]
) -> None:
    import pandas as pd

    head, model = _head(project), _model_files(project)
    lock = (project / "dvc.lock").read_text()
    broken = frames["drifted"].copy()
    first_day = broken["date"] == pd.Timestamp(SIM.week_start(1))
    broken.loc[first_day, "units_sold"] = -5  # the validate stage refuses it
    _week(project, broken)

    failed = conveyor("ct", cwd=project, check=False)
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    assert "the retrain failed ('dvc exp run" in failed.stderr
    assert "units_sold" in failed.stderr
    assert "the workspace was restored" in failed.stderr
    assert _head(project) == head
    assert _status(project) == ""
    assert (project / "dvc.lock").read_text() == lock
    assert _model_files(project) == model
    assert not (project / "ct" / "decisions.jsonl").exists()


def test_the_ct_workflow_template_is_valid_and_calls_real_commands(tmp_path: Path) -> None:
    import yaml

    workflow = yaml.safe_load((REPO / "docs" / "examples" / "ct-workflow.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key 'on' as the boolean true
    assert triggers["schedule"][0]["cron"]
    assert "workflow_dispatch" in triggers
    steps = workflow["jobs"]["ct"]["steps"]
    checkout = next(step for step in steps if step.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0
    lines = [
        line.strip()
        for step in steps
        if "run" in step
        for line in step["run"].splitlines()
        if line.strip()
    ]
    assert {line.split()[0] for line in lines} == {"pip", "git", "dvc", "conveyor"}
    for line in lines:
        words = line.split()
        assert shutil.which(words[0]) is not None, line
        if words[0] in {"conveyor", "dvc"}:
            sub = words[1]
            helped = sh(words[0], sub, "--help", cwd=tmp_path, check=False)
            assert helped.returncode == 0, f"'{words[0]} {sub}' does not exist"
    assert "conveyor ct ${{ inputs.force && '--force' || '' }}" in lines
