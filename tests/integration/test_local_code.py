"""Code in the user's project that a stage runs is a DVC dependency of that stage."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
import yaml

from tests.conftest import conveyor, dvc

if TYPE_CHECKING:
    from pathlib import Path

ESTIMATOR = """\
from sklearn.linear_model import LogisticRegression


class ClinicLogistic(LogisticRegression):
    \"\"\"A project-local estimator: LogisticRegression under our own name.\"\"\"
"""


def _use_local_model(root: Path, target: str) -> None:
    (root / "conf" / "model" / "local.yaml").write_text(
        f"_target_: {target}\nparams:\n  max_iter: 500\n"
    )
    config = root / "conf" / "config.yaml"
    config.write_text(config.read_text().replace("model: xgboost", "model: local"))


@pytest.mark.slow
def test_a_local_package_is_a_dependency_and_editing_it_reruns_train(
    reproduced_project: Path,
) -> None:
    project = reproduced_project  # only train and what follows it run again
    package = project / "clinic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "estimators.py").write_text(ESTIMATOR)
    _use_local_model(project, "clinic.estimators.ClinicLogistic")
    conveyor("compile", cwd=project)
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    assert stages["train"]["deps"] == ["data/split/train.parquet", "clinic"]
    assert "clinic" not in stages["evaluate"]["deps"]  # it depends on the model instead

    dvc("repro", cwd=project)
    metrics = json.loads((project / "reports" / "metrics.json").read_text())
    assert metrics["roc_auc"] > 0.95
    metadata = json.loads((project / "models" / "diagnostics" / "metadata.json").read_text())
    assert metadata["estimator"] == "clinic.estimators.ClinicLogistic"
    assert "trusted_modules" not in metadata  # trust comes from params.yaml, not the bundle

    with (package / "estimators.py").open("a") as handle:
        handle.write("\n# tuned later\n")
    status = json.loads(dvc("status", "--json", cwd=project).stdout)
    assert set(status) == {"train"}


def test_a_local_module_file_is_a_dependency(project: Path) -> None:
    (project / "clinic_model.py").write_text(ESTIMATOR)
    _use_local_model(project, "clinic_model.ClinicLogistic")
    conveyor("compile", cwd=project)
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    assert stages["train"]["deps"] == ["data/split/train.parquet", "clinic_model.py"]


def test_an_installed_library_is_not_a_dependency(project: Path) -> None:
    _use_local_model(project, "sklearn.linear_model.LogisticRegression")
    conveyor("compile", cwd=project)
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    assert stages["train"]["deps"] == ["data/split/train.parquet"]
