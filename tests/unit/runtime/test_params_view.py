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
