"""The scaffold's templates and the checks init makes before it writes anything."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
import yaml

from conveyor.errors import InitError
from conveyor.scaffold.init import check_target, init_project, scaffold_files

if TYPE_CHECKING:
    from pathlib import Path


def test_templates_fill_in_the_name_and_version_and_restore_dotted_names() -> None:
    files = scaffold_files("churn")
    assert {".gitignore", ".pre-commit-config.yaml", ".github/workflows/conveyor.yml"} <= set(files)
    assert not any("dot-" in path for path in files)
    assert not any("__NAME__" in text or "__VERSION__" in text for text in files.values())
    assert yaml.safe_load(files["conf/config.yaml"])["project"]["name"] == "churn"
    assert "conveyor-mlops>=0.1.0" in files["requirements.txt"]
    for path, text in files.items():
        if path.endswith((".yaml", ".yml")):
            yaml.safe_load(text)  # every YAML template parses


def test_the_hook_is_local_and_runs_the_check() -> None:
    config = yaml.safe_load(scaffold_files("churn")[".pre-commit-config.yaml"])
    [repo] = config["repos"]
    [hook] = repo["hooks"]
    assert repo["repo"] == "local"
    assert hook["language"] == "system"
    assert hook["entry"] == "conveyor compile --check"
    assert hook["pass_filenames"] is False
    assert hook["files"] == r"^(conf/|dvc\.yaml$|params\.yaml$)"


def test_a_new_or_empty_directory_is_accepted(tmp_path: Path) -> None:
    check_target(tmp_path / "new", force=False)
    check_target(tmp_path, force=False)
    (tmp_path / ".git").mkdir()  # a fresh clone of an empty repository
    check_target(tmp_path, force=False)


def test_a_non_empty_directory_needs_force(tmp_path: Path) -> None:
    for name in ("a", "b", "c", "d", "e", "f", "g"):
        (tmp_path / name).write_text("")
    with pytest.raises(InitError, match=r"not empty \(a, b, c, d, e and 2 more\)") as caught:
        check_target(tmp_path, force=False)
    assert caught.value.fix is not None
    assert "--force" in caught.value.fix
    check_target(tmp_path, force=True)


def test_a_project_is_refused_even_with_force(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "config.yaml").write_text("defaults: []\n")
    with pytest.raises(InitError, match="already a conveyor project"):
        check_target(tmp_path, force=True)


def test_a_file_is_not_a_directory(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("")
    with pytest.raises(InitError, match="exists and is not a directory"):
        check_target(tmp_path / "x", force=True)


def test_an_invalid_name_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(InitError, match="project name 'Churn-Model' is not a valid name"):
        init_project(tmp_path / "p", name="Churn-Model")
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize(
    ("task", "dataset", "evaluate", "model"),
    [
        ("binary_classification", "breast_cancer", "classification", "logistic_regression"),
        ("multiclass_classification", "wine", "classification", "logistic_regression"),
        ("regression", "diabetes", "regression", "random_forest"),
    ],
)
def test_each_task_gets_its_data_evaluation_and_models(
    task: str, dataset: str, evaluate: str, model: str
) -> None:
    files = scaffold_files("demo", task=task)
    assert not [path for path, text in files.items() if re.search(r"__[A-Z_]+__", text)]
    config = yaml.safe_load(files["conf/config.yaml"])
    assert config["project"]["task"] == task
    entries = [entry for entry in config["defaults"] if isinstance(entry, dict)]
    chosen = {key: value for entry in entries for key, value in entry.items()}
    assert {"data": dataset, "model": model, "evaluate": evaluate}.items() <= chosen.items()
    assert f"conf/data/{dataset}.yaml" in files
    assert f"conf/evaluate/{evaluate}.yaml" in files
    assert sorted(p for p in files if p.startswith("conf/data/")) == [f"conf/data/{dataset}.yaml"]
    monitor = yaml.safe_load(files["conf/monitor/default.yaml"])
    assert monitor["performance"]["relative"] is True
    assert "dvc_plots/" in files[".gitignore"].splitlines()


def test_an_unknown_task_or_model_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    target = tmp_path / "new"
    with pytest.raises(InitError, match=r"^--task: unknown task 'ranking'$") as caught:
        init_project(target, task="ranking")
    assert caught.value.fix == (
        "choose one of: binary_classification, multiclass_classification, regression"
    )
    with pytest.raises(InitError, match=r"the binary_classification scaffold has no model 'svm'"):
        init_project(target, model="svm")
    assert not target.exists()
