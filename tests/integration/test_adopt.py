"""``conveyor adopt EXP``: any DVC experiment becomes conf/ edits; real git, DVC and Hydra.

One small project per module (the default conf with ``deploy=[]``, a commented random forest
of 20 trees, its pipeline run once and committed), copied per test. Experiments are made the way
users make them: ``dvc exp run -S key=value -S group=option``.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest

from tests.conftest import commit_all, conveyor, conveyor_in_process, dvc, sh

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow

FOREST = """\
# A random forest: many deep trees, averaged.
kind: random_forest
params:
  n_estimators: 20  # more trees, smoother probabilities
  max_depth: 8  # deeper trees fit more; 6 is a common start
  n_jobs: 2
"""


@pytest.fixture(scope="module")
def prepared(project_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("adopt") / "project"
    shutil.copytree(project_template, root, symlinks=True)
    config = root / "conf" / "config.yaml"
    config.write_text(config.read_text().replace("deploy: [rest, batch]", "deploy: []"))
    (root / "conf/model/random_forest.yaml").write_text(FOREST)
    conveyor_in_process("compile", cwd=root)
    dvc("repro", cwd=root)
    commit_all(root, "small project")
    return root


@pytest.fixture
def project(prepared: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(prepared, root, symlinks=True)
    return root


def _conf(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in (root / "conf").rglob("*.yaml")}


def _clean_dvc_status(root: Path) -> bool:
    return dvc("status", cwd=root).stdout.strip() in (
        "Data and pipelines are up to date.",
        "",
    )


def test_a_group_and_value_experiment_becomes_conf_edits(project: Path) -> None:
    dvc(
        "exp",
        "run",
        "-n",
        "forest6",
        "-S",
        "model.params.max_depth=6",
        "-S",
        "model=random_forest",
        cwd=project,
    )
    # After `dvc exp run` the workspace holds the experiment: compile --check names it.
    checked = conveyor_in_process("compile", "--check", cwd=project, check=False)
    assert checked.returncode == 1
    assert "conveyor adopt forest6" in checked.stderr
    assert "run 'conveyor compile'" not in checked.stderr

    done = conveyor("adopt", "forest6", cwd=project)
    assert "model=random_forest" in done.stdout
    assert "model.params.max_depth=6" in done.stdout
    assert "conf/config.yaml" in done.stdout
    assert "conf/model/random_forest.yaml" in done.stdout
    config = (project / "conf/config.yaml").read_text()
    assert "  - model: random_forest\n" in config
    assert "  - _self_  # first, so params.yaml opens with project and seed\n" in config
    forest = (project / "conf/model/random_forest.yaml").read_text()
    assert forest == FOREST.replace("max_depth: 8", "max_depth: 6")  # comments kept
    assert "max_depth: 4" in (project / "conf/model/xgboost.yaml").read_text()  # untouched
    assert conveyor_in_process("compile", "--check", cwd=project).returncode == 0
    assert _clean_dvc_status(project)


def test_a_value_only_experiment(project: Path) -> None:
    dvc(
        "exp",
        "run",
        "-n",
        "seven",
        "-S",
        "seed=7",
        "-S",
        "model.params.learning_rate=0.1",
        cwd=project,
    )
    sh("git", "checkout", "-q", "--", "params.yaml", "dvc.lock", cwd=project)  # back to HEAD
    dvc("checkout", "-q", cwd=project)
    done = conveyor("adopt", "seven", cwd=project)
    assert "seed=7" in done.stdout
    assert "model.params.learning_rate=0.1" in done.stdout
    assert "model=" not in done.stdout
    assert "seed: 7\n" in (project / "conf/config.yaml").read_text()
    xgb = (project / "conf/model/xgboost.yaml").read_text()
    assert "  learning_rate: 0.1\n" in xgb
    assert (
        sh("git", "diff", "--stat", "--", "conf/model/random_forest.yaml", cwd=project).stdout == ""
    )
    assert conveyor_in_process("compile", "--check", cwd=project).returncode == 0
    assert _clean_dvc_status(project)


def test_an_unknown_experiment_is_refused_and_nothing_changes(project: Path) -> None:
    before = _conf(project)
    status = sh("git", "status", "--porcelain", cwd=project).stdout
    done = conveyor("adopt", "no-such-exp", cwd=project, check=False)
    assert done.returncode == 1
    assert "error: " in done.stderr
    assert "no experiment or commit named 'no-such-exp'" in done.stderr
    assert "dvc exp show" in done.stderr
    assert "Traceback" not in done.stderr
    assert _conf(project) == before
    assert sh("git", "status", "--porcelain", cwd=project).stdout == status


def test_uncommitted_conf_is_refused(project: Path) -> None:
    dvc("exp", "run", "-n", "deep", "-S", "model.params.max_depth=5", cwd=project)
    xgb = project / "conf/model/xgboost.yaml"
    xgb.write_text(xgb.read_text() + "# edited\n")
    before = _conf(project)
    done = conveyor("adopt", "deep", cwd=project, check=False)
    assert done.returncode == 1
    assert "uncommitted changes in conf/model/xgboost.yaml" in done.stderr
    assert "fix: commit or stash them first" in done.stderr
    assert _conf(project) == before


def test_check_advice_after_a_hand_edit_is_to_edit_conf(project: Path) -> None:
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("max_depth: 4", "max_depth: 3"))
    done = conveyor_in_process("compile", "--check", cwd=project, check=False)
    assert done.returncode == 1
    assert "params.yaml holds values conf/ does not" in done.stderr
    assert "model.params.max_depth: params.yaml has 3, conf/ composes 4" in done.stderr
    assert "conveyor adopt" in done.stderr
    assert "write them into conf/" in done.stderr
    assert "run 'conveyor compile'" not in done.stderr


def test_check_advice_after_editing_conf_is_to_compile(project: Path) -> None:
    xgb = project / "conf/model/xgboost.yaml"
    xgb.write_text(xgb.read_text().replace("max_depth: 4", "max_depth: 3"))
    done = conveyor_in_process("compile", "--check", cwd=project, check=False)
    assert done.returncode == 1
    assert "conf/ changed since params.yaml was generated" in done.stderr
    assert "run 'conveyor compile'" in done.stderr
    assert "conveyor adopt" not in done.stderr
