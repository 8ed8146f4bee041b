"""`conveyor init --task`: each task's scaffold compiles, runs with real git + DVC, and scores
itself with the task's own metrics."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
import yaml

from tests.conftest import conveyor, conveyor_in_process, dvc, sh

if TYPE_CHECKING:
    from pathlib import Path

# task -> (dataset, the metrics evaluate writes, the model the defaults list picks)
TASKS = {
    "binary_classification": (
        "breast_cancer",
        {"roc_auc", "pr_auc", "accuracy", "f1", "precision", "recall", "log_loss"},
        "logistic_regression",
    ),
    "multiclass_classification": (
        "wine",
        {"accuracy", "balanced_accuracy", "f1", "precision", "recall", "roc_auc", "log_loss"},
        "logistic_regression",
    ),
    "regression": ("diabetes", {"rmse", "mae", "r2"}, "random_forest"),
}


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.slow
def test_each_task_scaffolds_a_project_that_runs_and_passes_its_gates(
    task: str, tmp_path: Path
) -> None:
    dataset, metrics, model = TASKS[task]
    root = tmp_path / "project"
    done = conveyor("init", str(root), "--task", task, cwd=tmp_path)
    assert "compiled 9 stages" in done.stdout
    params = yaml.safe_load((root / "params.yaml").read_text())
    assert params["project"]["task"] == task
    assert params["data"]["sources"][dataset]["params"]["name"] == dataset
    assert params["model"]["kind"] == model
    conveyor_in_process("compile", "--check", cwd=root)
    dvc("repro", cwd=root)
    assert json.loads(dvc("status", "--json", cwd=root).stdout) == {}
    scores = json.loads((root / "reports" / "metrics.json").read_text())
    assert set(scores) == metrics  # the task's metrics, and only those
    blessing = json.loads((root / "reports" / "blessing.json").read_text())
    assert blessing["blessed"] is True, blessing["checks"]
    assert (root / "deploy" / "rest" / "serve.json").is_file()
    # `dvc plots show` writes dvc_plots/, which the scaffold's .gitignore keeps out of git
    dvc("plots", "show", cwd=root)
    assert (root / "dvc_plots" / "index.html").is_file()
    status = sh("git", "status", "--porcelain", "--untracked-files=all", cwd=root).stdout
    assert "reports/metrics.json" in status  # git does see the pipeline's outputs
    assert "dvc_plots" not in status


def test_model_picks_the_default_and_an_unknown_one_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "diabetes"
    conveyor("init", str(root), "--task", "regression", "--model", "xgboost", cwd=tmp_path)
    params = yaml.safe_load((root / "params.yaml").read_text())
    assert params["model"]["kind"] == "xgboost"
    assert "model: xgboost" in (root / "conf" / "config.yaml").read_text()
    conveyor_in_process("compile", "--check", cwd=root)

    refused = conveyor(
        "init", "other", "--task", "regression", "--model", "logistic_regression",
        cwd=tmp_path, check=False,
    )  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        "error: --model: the regression scaffold has no model 'logistic_regression'\n"
    )
    assert "choose one of: random_forest, hist_gradient_boosting, xgboost" in refused.stderr
    assert not (tmp_path / "other").exists()  # refused before anything was written


def test_plugins_lists_the_tasks_of_each_model_and_metric(tmp_path: Path) -> None:
    header, *lines = conveyor("plugins", cwd=tmp_path).stdout.splitlines()
    assert header.split()[:3] == ["kind", "name", "tasks"]
    tasks = {tuple(line.split()[:2]): line.split()[2] for line in lines}
    both = "binary_classification,multiclass_classification"
    assert tasks["model", "logistic_regression"] == both
    assert tasks["model", "xgboost"] == "all"
    assert tasks["metric", "rmse"] == "regression"
    assert tasks["metric", "roc_auc"] == both
    assert tasks["metric", "brier"] == "binary_classification"
