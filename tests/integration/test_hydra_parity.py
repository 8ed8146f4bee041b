"""params.yaml is byte-for-byte what DVC's own Hydra composition writes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from dvc.utils.hydra import compose_and_dump

from conveyor.compiler import compile_files
from tests.conftest import conveyor, dvc, sh

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["model.params.max_depth=6"],
        ["model=random_forest", "seed=7"],
        ["model=logistic_regression", "features=none"],
    ],
)
def test_params_yaml_matches_dvc_compose_and_dump(project: Path, overrides: list[str]) -> None:
    out = project / "dvc_params.yaml"
    compose_and_dump(out, str(project / "conf"), None, "config", str(project), overrides)
    assert compile_files(project, overrides).files["params.yaml"] == out.read_text()


@pytest.mark.slow
def test_dvc_exp_run_set_param_matches_compile(reproduced_project: Path) -> None:
    project = reproduced_project  # the upstream stages are unchanged: only train onwards run
    dvc("exp", "run", "-S", "model.params.max_depth=6", cwd=project)
    after_exp = (project / "params.yaml").read_text()
    conveyor("compile", "model.params.max_depth=6", cwd=project)
    assert (project / "params.yaml").read_text() == after_exp
    assert "max_depth: 6" in after_exp


@pytest.mark.slow
def test_dvc_exp_run_recomposes_to_the_committed_params(reproduced_project: Path) -> None:
    project = reproduced_project
    dvc("exp", "run", cwd=project)  # hydra enabled: DVC rewrites params.yaml from conf/
    assert sh("git", "status", "--porcelain", "params.yaml", "dvc.yaml", cwd=project).stdout == ""


@pytest.mark.slow
def test_dvc_exp_run_can_switch_config_group(reproduced_project: Path) -> None:
    project = reproduced_project
    dvc("exp", "run", "-S", "model=random_forest", cwd=project)
    assert "kind: random_forest" in (project / "params.yaml").read_text()
    shown = dvc("exp", "show", "--json", cwd=project).stdout
    assert "random_forest" in shown
