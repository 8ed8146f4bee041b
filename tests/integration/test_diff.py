"""``conveyor diff`` against real git + DVC: its rerun list is what ``dvc status`` reports.

One project is reproduced once (BASE, with dvc.lock committed); each test copies it, commits
a change (HEAD), and checks that the stages ``conveyor diff`` says changed their own inputs
are exactly the stages ``dvc status`` lists after checking out HEAD.
"""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING, Any

import pytest

from conveyor.errors import RevisionError
from conveyor.review.diff import diff_revisions
from tests.conftest import REPO, conveyor_in_process, dvc, sh

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


COMBINE_SQL = "combine:\n  sql: SELECT * FROM breast_cancer\n"  # keeps the rows as they are


@pytest.fixture(scope="module")
def reproduced(reproduced_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template project after ``dvc repro``, with dvc.lock and reports/ committed."""
    root = tmp_path_factory.mktemp("diff") / "project"
    shutil.copytree(reproduced_template, root, symlinks=True)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "reproduce BASE", cwd=root)
    return root


@pytest.fixture
def base(reproduced: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(reproduced, root, symlinks=True)
    return root


def _edit(root: Path, path: str, old: str, new: str) -> None:
    file = root / path
    text = file.read_text()
    assert old in text, f"{old!r} not in {path}"
    file.write_text(text.replace(old, new))


def _commit_change(root: Path, change: Callable[[Path], None]) -> None:
    change(root)
    conveyor_in_process("compile", cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "change", cwd=root)


def _diff(root: Path, *revs: str) -> dict[str, Any]:
    return json.loads(conveyor_in_process("diff", *revs, "--format", "json", cwd=root).stdout)


def _dvc_stale(root: Path) -> set[str]:
    """The stages ``dvc status --json`` lists: DVC's own ``Repo.status()`` (what that command
    prints), from a fresh Repo in this process instead of a new ``dvc`` process each time."""
    import contextlib

    from dvc.repo import Repo

    with contextlib.chdir(root), Repo(str(root)) as repo:  # stage names relative to it, as run
        return set(repo.status())


def _assert_agrees(root: Path, report: dict[str, Any]) -> set[str]:
    stale = {r["stage"] for r in report["rerun"] if r["direct"]}
    assert stale == _dvc_stale(root)
    return {r["stage"] for r in report["rerun"]}


def test_hyperparameter_change_reruns_train_and_downstream(base: Path) -> None:
    _commit_change(
        base, lambda r: _edit(r, "conf/model/xgboost.yaml", "max_depth: 4", "max_depth: 6")
    )
    report = _diff(base, "HEAD~1", "HEAD")
    assert report["config"] == [
        {
            "path": "model.params.max_depth",
            "kind": "changed",
            "base": 4,
            "head": 6,
            "base_origin": "conf/model/xgboost.yaml:4",
            "head_origin": "conf/model/xgboost.yaml:4",
            "policy": None,
        }
    ]
    assert report["policy"] == []
    rerun = _assert_agrees(base, report)
    assert rerun == {"train", "evaluate", "gate", "card", "profile", "deploy-rest", "deploy-batch"}
    assert report["metrics"]  # both commits hold reports/metrics.json (the same one)
    assert report["gate"]["base"]["blessed"] is True


def test_model_kind_change_shows_the_group_choice_and_its_leaves(base: Path) -> None:
    _commit_change(
        base, lambda r: _edit(r, "conf/config.yaml", "model: xgboost", "model: random_forest")
    )
    report = _diff(base, "HEAD~1", "HEAD")
    assert report["choices"] == [{"group": "model", "base": "xgboost", "head": "random_forest"}]
    kind = next(c for c in report["config"] if c["path"] == "model.kind")
    assert (kind["base"], kind["head"]) == ("xgboost", "random_forest")
    assert kind["head_origin"] == "conf/model/random_forest.yaml:1"
    assert {r["stage"] for r in report["rerun"] if r["direct"]} == {"train"}
    _assert_agrees(base, report)


def test_added_source_adds_its_stages_and_reruns_validate(base: Path) -> None:
    def add_source(root: Path) -> None:
        (root / "extra.csv").write_text("id,value\n1,2\n")
        _edit(
            root,
            "conf/data/breast_cancer.yaml",
            "target: diagnosis\nsplit:",
            "  extra:\n    kind: csv\n    params: {path: extra.csv}\n"
            f"{COMBINE_SQL}target: diagnosis\nsplit:",
        )

    _commit_change(base, add_source)
    report = _diff(base, "HEAD~1", "HEAD")
    assert set(report["stages"]["added"]) == {"ingest-extra", "combine"}
    changed = {s["name"] for s in report["stages"]["changed"]}
    assert {"validate", "split"} <= changed
    rerun = _assert_agrees(base, report)
    assert "ingest-breast_cancer" not in rerun


def test_removed_deploy_target_is_a_policy_change_and_reruns_nothing(base: Path) -> None:
    _commit_change(
        base, lambda r: _edit(r, "conf/config.yaml", "deploy: [rest, batch]", "deploy: [rest]")
    )
    report = _diff(base, "HEAD~1", "HEAD")
    assert report["stages"]["removed"] == ["deploy-batch"]
    assert report["policy"] == ["deploy.batch"]
    assert report["config"][0]["kind"] == "removed"
    assert report["config"][0]["base_origin"] == "conf/deploy/batch.yaml:4"
    assert _assert_agrees(base, report) == set()


def test_gate_threshold_is_policy_and_reruns_the_gate(base: Path) -> None:
    _commit_change(
        base,
        lambda r: _edit(
            r, "conf/evaluate/classification.yaml", "roc_auc: {min: 0.95", "roc_auc: {min: 0.97"
        ),
    )
    report = _diff(base, "HEAD~1", "HEAD")
    assert report["policy"] == ["evaluate.gates.roc_auc.min"]
    assert report["config"][0]["policy"] == "gate threshold"
    rerun = _assert_agrees(base, report)
    assert rerun == {"gate", "card", "deploy-rest", "deploy-batch"}
    markdown = conveyor_in_process(
        "diff", "HEAD~1", "HEAD", "--format", "markdown", cwd=base
    ).stdout
    assert "#### ⚠️ Policy changes" in markdown
    assert "| gate threshold | `evaluate.gates.roc_auc.min` | `0.95` | `0.97` |" in markdown


def test_reformatting_comments_and_key_order_change_nothing(base: Path) -> None:
    def reformat(root: Path) -> None:
        (root / "conf/model/xgboost.yaml").write_text(
            "# reordered, re-spaced and commented: the same values\n"
            "params:\n"
            "    colsample_bytree:   0.8   # a comment\n"
            "    n_jobs: 1\n"
            "    subsample: 0.90\n"
            "    learning_rate: 5.0e-2\n"
            "    max_depth: 4\n"
            "    n_estimators: 40\n"
            "kind: 'xgboost'\n"
        )

    _commit_change(base, reformat)
    report = _diff(base, "HEAD~1", "HEAD")
    assert report["config"] == report["choices"] == report["rerun"] == []
    assert report["stages"] == {"added": [], "removed": [], "changed": []}
    assert _dvc_stale(base) == set()
    text = conveyor_in_process("diff", "HEAD~1", "HEAD", "--format", "markdown", cwd=base).stdout
    assert "**No pipeline changes**" in text


def test_working_tree_against_the_default_base(base: Path) -> None:
    # On main, the default BASE is HEAD and HEAD is the working tree: uncommitted edits.
    _edit(base, "conf/model/xgboost.yaml", "learning_rate: 0.05", "learning_rate: 0.1")
    _edit(base, "conf/data/breast_cancer.yaml", "test_size: 0.25", "test_size: 0.3")
    conveyor_in_process("compile", cwd=base)
    report = _diff(base)
    assert report["base"]["rev"] == "HEAD"
    assert report["head"]["working_tree"] is True
    assert [c["path"] for c in report["config"]] == [
        "data.split.test_size",
        "model.params.learning_rate",
    ]
    assert {r["stage"] for r in report["rerun"] if r["direct"]} == {"split", "train", "card"}
    _assert_agrees(base, report)


def test_dag_marks_the_changes_against_base(base: Path) -> None:
    _edit(base, "conf/config.yaml", "deploy: [rest, batch]", "deploy: [rest, batch, container]")
    conveyor_in_process("compile", cwd=base)
    ascii_graph = conveyor_in_process("dag", "--diff", "HEAD", "--format", "ascii", cwd=base).stdout
    assert "+ deploy-container ↻" in ascii_graph
    assert "legend:" in ascii_graph
    mermaid = conveyor_in_process("dag", "--diff", "HEAD", cwd=base).stdout
    assert mermaid.startswith("flowchart TD")
    assert "classDef added" in mermaid
    dot = conveyor_in_process("dag", "--format", "dot", cwd=base).stdout
    assert '"train" -> "evaluate";' in dot


def test_diff_leaves_the_users_files_index_and_worktrees_alone(project: Path) -> None:
    _edit(project, "conf/model/xgboost.yaml", "max_depth: 4", "max_depth: 5")
    before = [sh("git", *args, cwd=project).stdout for args in _GIT_STATE]
    diff = diff_revisions(project, "HEAD", None)
    assert [c.path for c in diff.config] == ["model.params.max_depth"]
    assert [sh("git", *args, cwd=project).stdout for args in _GIT_STATE] == before


_GIT_STATE = (("status", "--porcelain"), ("worktree", "list"), ("stash", "list"))


def test_not_a_git_repository(tmp_path: Path) -> None:
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    with pytest.raises(RevisionError, match="is not inside a git repository"):
        diff_revisions(tmp_path)


def test_unknown_revision_names_the_fix(project: Path) -> None:
    with pytest.raises(RevisionError, match="unknown revision 'no-such-branch'") as caught:
        diff_revisions(project, "no-such-branch")
    assert "git log --oneline" in (caught.value.fix or "")
    done = conveyor_in_process("diff", "no-such-branch", cwd=project, check=False)
    assert done.returncode == RevisionError.exit_code
    assert done.stderr.startswith("error: conveyor diff: unknown revision 'no-such-branch'")
    assert "Traceback" not in done.stderr


def test_a_side_that_does_not_compile_is_named_with_its_error(project: Path) -> None:
    _edit(project, "conf/model/xgboost.yaml", "kind: xgboost", "kind: xgbost")
    sh("git", "commit", "-qam", "typo", cwd=project)
    with pytest.raises(RevisionError, match=r"^HEAD \(HEAD @ \w{7}\): its conf/config.yaml does"):
        diff_revisions(project, "HEAD~1", "HEAD")
    done = conveyor_in_process("diff", "HEAD~1", "HEAD", cwd=project, check=False)
    assert "unknown model 'xgbost'" in done.stderr
    assert "did you mean 'xgboost'?" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_revision_without_conf(project: Path) -> None:
    sh("git", "checkout", "-q", "--orphan", "empty", cwd=project)
    sh("git", "rm", "-rqf", "--cached", ".", cwd=project)
    sh("git", "commit", "-q", "--allow-empty", "-m", "nothing", cwd=project)
    with pytest.raises(RevisionError, match=r"there is no conf/config\.yaml at this revision"):
        diff_revisions(project, "empty", "main")


def test_edited_input_files_rerun_their_readers(project: Path) -> None:
    (project / "in_git.csv").write_text("id,value\n1,2\n")
    (project / "in_dvc.csv").write_text("id,value\n1,2\n")
    dvc("add", "-q", "in_dvc.csv", cwd=project)
    sources = "".join(
        f"  {name}:\n    kind: csv\n    params: {{path: {name}.csv}}\n"
        for name in ("in_git", "in_dvc")
    )
    _edit(
        project,
        "conf/data/breast_cancer.yaml",
        "target: diagnosis\nsplit:",
        f"{sources}{COMBINE_SQL}target: diagnosis\nsplit:",
    )
    conveyor_in_process("compile", cwd=project)
    sh("git", "add", "-A", cwd=project)
    sh("git", "commit", "-qm", "two file sources", cwd=project)
    assert diff_revisions(project, "HEAD").reruns == ()
    for name in ("in_git", "in_dvc"):  # in_dvc.csv edited but not `dvc add`-ed: DVC sees it too
        (project / f"{name}.csv").write_text("id,value\n1,3\n")
    reruns = {r.stage: r for r in diff_revisions(project, "HEAD").reruns}
    assert [str(r) for r in reruns["ingest-in_git"].reasons] == ["input changed in_git.csv"]
    assert [str(r) for r in reruns["ingest-in_dvc"].reasons] == ["input changed in_dvc.csv"]
    assert "ingest-breast_cancer" not in reruns
