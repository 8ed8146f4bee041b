"""Hydra's errors become SpecErrors that name the override or the file:line."""

from __future__ import annotations

import re
import shutil
from typing import TYPE_CHECKING

import pytest

from conveyor.config import compose
from conveyor.errors import OverrideError, SpecError
from tests.conftest import REPO

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    return tmp_path / "conf"


def test_every_malformed_override_is_reported_at_once(conf: Path) -> None:
    overrides = ["model.params.max_depth", "data=null", "model=[xgboost,random_forest]", "seed=1"]
    with pytest.raises(OverrideError, match=r"^3 problems in the configuration$") as caught:
        compose(conf, overrides)
    assert [(p.where, p.what) for p in caught.value.problems] == [
        ("override 'model.params.max_depth'", "cannot parse the override: missing '=' at the end"),
        ("override 'data=null'", "config group 'data' takes one option name, not 'null'"),
        (
            "override 'model=[xgboost,random_forest]'",
            "config group 'model' takes one option name, not '[xgboost,random_forest]'",
        ),
    ]


@pytest.mark.parametrize(
    ("override", "what", "fix"),
    [
        (
            "model.params={a:1}",
            "the composed config has no key 'model.params.a'",
            "to add a new key write '+model.params.a=<value>'",
        ),
        (
            "+seed=1",
            "'seed' already exists, so '+' cannot add it",
            "to change it write 'seed=1'",
        ),
        (
            "~model.params.max_dept",
            "cannot delete 'model.params.max_dept': the composed config has no such key",
            "did you mean 'model.params.max_depth'? check the key's dotted path (see params.yaml)",
        ),
        (
            "modle=random_forest",
            "the composed config has no key 'modle'",
            "did you mean 'model'? to add a new key write '+modle=random_forest'",
        ),
    ],
)
def test_an_override_the_config_cannot_take_is_named(
    conf: Path, override: str, what: str, fix: str
) -> None:
    with pytest.raises(OverrideError, match=f"^override '.*': {re.escape(what)}$") as caught:
        compose(conf, [override])
    assert caught.value.where == f"override '{override}'"
    assert caught.value.fix == fix


def test_a_yaml_error_names_file_and_line_and_where_the_construct_began(conf: Path) -> None:
    config = conf / "data" / "breast_cancer.yaml"
    config.write_text(config.read_text().replace("test_size: 0.25", "test_size: {0.25"))
    with pytest.raises(
        SpecError, match=r"^conf/data/breast_cancer\.yaml:\d+: invalid YAML: "
    ) as caught:
        compose(conf)
    assert "that starts at line 11" in caught.value.what
