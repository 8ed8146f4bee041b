"""``conveyor status`` against real ``dvc repro``/``dvc status`` runs in a tmp project.

One small project (a git-tracked CSV source, a 20-tree model, no deploy targets) is run once
per module and copied for each test, which then changes one thing and asks why.
"""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from conveyor.compiler import compile_files
from tests.conftest import REPO, conveyor, conveyor_in_process, dvc, sh

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow

CSV = "data/cancer.csv"


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default project on a CSV source, compiled, reproduced and committed."""
    from sklearn.datasets import load_breast_cancer

    root = tmp_path_factory.mktemp("status") / "project"
    shutil.copytree(REPO / "conf", root / "conf")
    _edit(root / "conf/config.yaml", "  - deploy: [rest, batch]", "  - deploy: []  #")
    _edit(root / "conf/model/xgboost.yaml", "n_estimators: 300", "n_estimators: 20")
    _edit(
        root / "conf/data/breast_cancer.yaml",
        "    kind: sklearn_dataset\n    params:\n      name: breast_cancer\n"
        "      target: diagnosis",
        f"    kind: csv\n    params:\n      path: {CSV}",
    )
    frame = load_breast_cancer(as_frame=True).frame
    (root / "data").mkdir()
    frame.rename(columns={"target": "diagnosis"}).to_csv(root / CSV, index=False)
    sh("git", "init", "-q", "-b", "main", cwd=root)
    dvc("init", "-q", cwd=root)
    dvc("config", "core.analytics", "false", cwd=root)
    sh("git", "add", "-A", cwd=root)
    conveyor_in_process("compile", cwd=root)
    dvc("repro", cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "run", cwd=root)
    return root


@pytest.fixture
def project(ran: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(ran, root, symlinks=True)
    return root


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def _status(root: Path, *args: str) -> dict[str, Any]:
    done = conveyor("status", "--json", *args, cwd=root)
    return json.loads(done.stdout)


def _reasons(report: dict[str, Any]) -> dict[str, list[str]]:
    return {s["stage"]: [r["text"] for r in s["reasons"]] for s in report["stale"]}


def _agrees_with_dvc(root: Path, report: dict[str, Any]) -> None:
    """Stale = exactly what `dvc status` lists, plus every stage downstream of those."""
    listed = set(json.loads(dvc("status", "--json", cwd=root).stdout))
    assert set(report["dvc_status"]) == listed
    expected = compile_files(root).pipeline.downstream(listed)
    assert set(_reasons(report)) == expected
    for stage in report["stale"]:
        if stage["stage"] not in listed:
            assert [r["kind"] for r in stage["reasons"]] == ["upstream"]


def test_a_clean_pipeline_is_up_to_date(project: Path) -> None:
    done = conveyor("status", "--fail-if-stale", cwd=project)
    assert done.stdout == "Pipeline is up to date.\n"
    assert done.stderr == ""
    assert _status(project) == {
        "up_to_date": True,
        "stale": [],
        "dvc_status": [],
        "warnings": [],
    }


def test_a_param_change_names_the_leaf_with_old_and_new_values(project: Path) -> None:
    _edit(project / "conf/model/xgboost.yaml", "max_depth: 4", "max_depth: 6")
    conveyor_in_process("compile", cwd=project)
    report = _status(project)
    reasons = _reasons(report)
    assert reasons["train"] == ["param model.params.max_depth: 4 -> 6"]
    (train,) = [s for s in report["stale"] if s["stage"] == "train"]
    assert train["reasons"][0] | {"text": ""} == {
        "kind": "param",
        "text": "",
        "key": "model.params.max_depth",
        "file": "params.yaml",
        "old": 4,
        "new": 6,
        "change": "modified",
    }
    assert reasons["evaluate"] == ["upstream stage 'train' is stale"]
    assert reasons["profile"] == ["upstream stage 'train' is stale"]
    assert reasons["gate"] == ["upstream stage 'evaluate' is stale"]
    assert reasons["card"] == ["upstream stages 'evaluate', 'gate', 'train' are stale"]
    assert "ingest-breast_cancer" not in reasons
    _agrees_with_dvc(project, report)
    text = conveyor("status", cwd=project).stdout
    assert text.startswith("5 stages will run on 'dvc repro':\ntrain\n")
    assert conveyor("status", "--fail-if-stale", cwd=project, check=False).returncode == 1


def test_a_changed_data_file_is_named_and_everything_after_it_reruns(project: Path) -> None:
    csv = project / CSV
    lines = csv.read_text().splitlines(keepends=True)
    csv.write_text("".join(lines[:-1]))  # drop one row
    report = _status(project)
    assert _reasons(report)["ingest-breast_cancer"] == [f"dependency {CSV} modified"]
    assert set(_reasons(report)) == {
        "ingest-breast_cancer",
        "validate",
        "split",
        "train",
        "evaluate",
        "gate",
        "card",
        "profile",
    }
    _agrees_with_dvc(project, report)


def test_a_deleted_output_reruns_only_its_stage(project: Path) -> None:
    (project / "reports/profile.json").unlink()
    report = _status(project)
    assert _reasons(report) == {"profile": ["output reports/profile.json missing"]}
    _agrees_with_dvc(project, report)


def test_stale_conf_warns_and_a_stage_missing_from_the_lock_was_never_run(project: Path) -> None:
    _edit(project / "conf/evaluate/classification.yaml", "slices: []", "slices: [mean radius]")
    lock = project / "dvc.lock"
    locked = yaml.safe_load(lock.read_text())
    del locked["stages"]["gate"]
    lock.write_text(yaml.safe_dump(locked, sort_keys=False))
    done = conveyor("status", cwd=project)
    assert "warning: dvc.yaml/params.yaml are not what conf/ generates: run 'conveyor compile'" in (
        done.stderr
    )
    assert "gate\n  - never run (gate is not in dvc.lock)\n" in done.stdout
    report = _status(project)
    assert report["warnings"]
    _agrees_with_dvc(project, report)


def test_a_changed_stage_definition_is_reported(project: Path) -> None:
    _edit(project / "dvc.yaml", "    - data.schema\n", "    - data.schema\n    - seed\n")
    reasons = _reasons(_status(project))
    assert reasons["validate"] == ["dvc.yaml definition changed: params added seed"]


def test_outside_a_dvc_project_is_a_located_error(tmp_path: Path) -> None:
    done = conveyor("status", cwd=tmp_path, check=False)
    assert done.returncode == 1
    assert done.stderr == (
        f"error: {tmp_path}: not a DVC project (no .dvc/ directory)\n"
        "  fix: run conveyor from the project root, or 'dvc init' there first\n"
    )
