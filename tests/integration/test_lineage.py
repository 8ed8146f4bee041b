"""Lineage names inputs, never a guessed commit; the registry tag supplies the commit (issue 16).

The normal loop, with real git, DVC and the CLI: edit conf/ -> ``dvc repro`` -> commit ->
register. The bundle and the evaluation report are written before that commit exists.
"""

from __future__ import annotations

import json
from pathlib import Path  # noqa: TC003 - fixtures' annotations

import pytest
import yaml

from tests.conftest import commit_all, conveyor, conveyor_in_process, dvc, sh

pytestmark = pytest.mark.slow
NAME = "diagnostics"
BUNDLE = f"models/{NAME}"


def _lineage(root: Path) -> dict:
    return json.loads(conveyor("lineage", "--json", cwd=root).stdout)


def _no_commit_in(paths: list[Path], commits: list[str]) -> None:
    for path in paths:
        data = path.read_bytes()
        for commit in commits:
            for form in (commit, commit[:12], commit[:7]):
                assert form.encode() not in data, f"{path} names commit {form}"
        assert b"git_commit" not in data, path


def test_the_bundle_records_what_dvc_records(reproduced_project: Path) -> None:
    project = reproduced_project
    dvc("repro", "-q", "evaluate", cwd=project)
    metadata = json.loads((project / BUNDLE / "metadata.json").read_text())
    lineage = metadata["lineage"]
    lock = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    # The md5 of each dependency is the value dvc.lock holds, so the two can be matched.
    assert lineage["deps"] == {d["path"]: d["md5"] for d in lock["train"]["deps"]}
    assert lineage["params"]["model"]["kind"] == "xgboost"
    assert lineage["params"]["seed"] == lock["train"]["params"]["params.yaml"]["seed"]
    assert "conveyor-mlops" in lineage["versions"]
    assert lineage["inputs"].startswith("sha256:")
    found = _lineage(project)
    model_md5 = next(o["md5"] for o in lock["train"]["outs"] if o["path"] == BUNDLE)
    assert found["md5"] == model_md5  # conveyor's md5 of the folder is DVC's
    html = (project / "reports" / "evaluation.html").read_text()
    assert f"<code>{BUNDLE}</code> <code>{model_md5[:12]}</code>" in html
    head = sh("git", "rev-parse", "HEAD", cwd=project).stdout.strip()
    _no_commit_in([*(project / BUNDLE).iterdir(), project / "reports/evaluation.html"], [head])
    # The run record (wall time, work-tree state) stays out of git and DVC.
    record = json.loads((project / ".conveyor/runs/train.json").read_text())
    assert record["outputs"] == {BUNDLE: model_md5}
    assert record["seconds"] > 0
    assert ".conveyor" not in sh("git", "status", "--porcelain", cwd=project).stdout


def test_edit_repro_commit_register(reproduced_project: Path) -> None:
    project = reproduced_project
    dvc("repro", "-q", cwd=project)
    commit_all(project, "model A")
    first = sh("git", "rev-parse", "HEAD", cwd=project).stdout.strip()
    assert "records this bundle" in conveyor("lineage", cwd=project).stdout

    # edit -> repro: trained from a work tree that differs from HEAD, and it says so
    xgb = project / "conf" / "model" / "xgboost.yaml"
    xgb.write_text(xgb.read_text().replace("max_depth: 4", "max_depth: 2"))
    conveyor_in_process("compile", cwd=project)
    dvc("repro", "-q", cwd=project)
    found = _lineage(project)
    assert not found["matches_head"]
    assert found["run"]["differs_from_head"] == ["conf/model/xgboost.yaml", "params.yaml"]
    assert "param model.params.max_depth (HEAD 4, bundle 2)" in found["differences"]
    shown = conveyor("lineage", cwd=project).stdout
    assert "work tree at training: differed from HEAD" in shown
    assert "conf/model/xgboost.yaml, params.yaml" in shown

    # commit -> register: the registry names the commit the tag points at
    commit_all(project, "model B: max_depth 2")
    second = sh("git", "rev-parse", "HEAD", cwd=project).stdout.strip()
    found = _lineage(project)
    assert found["matches_head"]
    assert found["differences"] == []
    conveyor("registry", "register", NAME, "--ref", "HEAD", cwd=project)
    shown = json.loads(conveyor("registry", "show", NAME, "--json", cwd=project).stdout)
    tagged = sh("git", "rev-parse", f"{NAME}@v1.0.0^{{commit}}", cwd=project).stdout.strip()
    (version,) = shown["versions"]
    assert version["commit"] == tagged == second
    assert version["model_md5"] == found["md5"]
    # Neither the bundle nor the report names a commit: not the one before, not the one after.
    reports = [project / "reports/evaluation.html", project / "reports/metrics.json"]
    _no_commit_in([*(project / BUNDLE).iterdir(), *reports], [first, second])


def test_lineage_of_a_bundle_without_lineage_is_a_clear_error(project: Path) -> None:
    (project / "models" / "old").mkdir(parents=True)
    (project / "models" / "old" / "metadata.json").write_text('{"git_commit": "abc"}')
    done = conveyor("lineage", "models/old", cwd=project, check=False)
    assert done.returncode == 1
    assert "models/old/metadata.json: no lineage to read" in done.stderr
    assert "Traceback" not in done.stderr
