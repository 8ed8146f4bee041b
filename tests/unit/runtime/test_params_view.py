from __future__ import annotations

import pytest

from conveyor.errors import StageError, UndeclaredParamError
from conveyor.runtime.params import ParamsView

DATA = {
    "model": {"kind": "xgboost", "params": {"max_depth": 4}},
    "project": {"name": "p", "task": "regression"},
    "seed": 1,
}


def test_declared_keys_and_their_children_are_readable() -> None:
    view = ParamsView(DATA, ("model", "project.name"), "train")
    assert view.get("model.params.max_depth") == 4
    assert view.get("project.name") == "p"
    assert view.section("project.name", "model.kind") == {
        "project": {"name": "p"},
        "model": {"kind": "xgboost"},
    }


def test_returned_values_are_copies() -> None:
    view = ParamsView(DATA, ("model",), "train")
    view.get("model")["params"]["max_depth"] = 99
    assert DATA["model"]["params"]["max_depth"] == 4


@pytest.mark.parametrize("key", ["seed", "project", "project.task", "modelx"])
def test_undeclared_key_is_refused_naming_key_and_stage(key: str) -> None:
    view = ParamsView(DATA, ("model", "project.name"), "train")
    with pytest.raises(
        UndeclaredParamError, match=rf"stage 'train' read '{key}', which its params: list"
    ):
        view.get(key)


def test_declared_but_missing_key_says_recompile() -> None:
    view = ParamsView(DATA, ("evaluate",), "evaluate")
    with pytest.raises(StageError, match=r"'evaluate' is missing from params.yaml") as info:
        view.get("evaluate")
    assert info.value.fix is not None
    assert "conveyor compile" in info.value.fix


def test_a_declared_key_left_to_its_default_reads_the_default() -> None:
    view = ParamsView(DATA, ("evaluate.slices", "seed"), "evaluate")
    assert view.parse("evaluate.slices", list[str], []) == []
    with pytest.raises(StageError, match=r"'evaluate\.slices' is missing from params\.yaml"):
        view.get("evaluate.slices")
    with pytest.raises(UndeclaredParamError, match="read 'model'"):
        view.get("model", None)  # a default never opens an undeclared key


def test_dvc_yaml_lists_only_the_read_keys_params_yaml_holds(tmp_path) -> None:
    import shutil

    import yaml

    from conveyor.compiler import compile_files
    from tests.conftest import REPO

    shutil.copytree(REPO / "conf", tmp_path / "conf")
    conf = tmp_path / "conf" / "evaluate" / "classification.yaml"
    conf.write_text(conf.read_text().replace("slices: []", "").replace("champion_stage: prod", ""))
    compiled = compile_files(tmp_path)
    stages = yaml.safe_load(compiled.files["dvc.yaml"])["stages"]
    assert "evaluate.slices" not in stages["evaluate"]["params"]
    assert "evaluate.plots" in stages["evaluate"]["params"]
    # evaluate.champion_stage was removed above, so it stays out (its default applies).
    assert stages["gate"]["params"] == [
        "data.target",
        "evaluate.gates",
        "project.name",
        "project.task",
    ]


def test_a_none_default_reads_missing_and_null_as_none_and_checks_the_rest() -> None:
    data = {"evaluate": {"primary": None, "plots": ["roc"], "champion_stage": None}}
    view = ParamsView(data, ("evaluate",), "evaluate")
    assert view.parse("evaluate.primary", str, None) is None
    assert view.parse("evaluate.missing", str, None) is None
    assert view.parse("evaluate.plots", list[str], None) == ["roc"]
    with pytest.raises(StageError, match=r"'evaluate\.plots\.0' in params\.yaml is invalid"):
        view.parse("evaluate.plots", list[int], None)
    # a default that is not None does not let an explicit null through
    with pytest.raises(StageError, match=r"'evaluate\.champion_stage' in params\.yaml is invalid"):
        view.parse("evaluate.champion_stage", str, "prod")
    with pytest.raises(StageError, match=r"'evaluate\.primary' in params\.yaml is invalid"):
        view.parse("evaluate.primary", str)


def test_a_model_instance_default_equals_validating_an_empty_mapping() -> None:
    from conveyor.spec.monitor import DriftSpec

    view = ParamsView({"monitor": {}}, ("monitor",), "monitor")
    assert view.parse("monitor.drift", DriftSpec, DriftSpec()) == view.parse(
        "monitor.drift", DriftSpec, {}
    )
