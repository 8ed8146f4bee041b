"""Overrides written where they belong in conf/, keeping comments (what sweep --apply does)."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest

from conveyor.config import compose
from conveyor.config.edit import set_group_option, set_value
from tests.conftest import REPO

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    return tmp_path


def test_a_value_is_written_on_the_line_that_sets_it(root: Path) -> None:
    assert set_value(root, "model.params.learning_rate=0.2") == ["conf/model/xgboost.yaml"]
    assert "  learning_rate: 0.2\n" in (root / "conf/model/xgboost.yaml").read_text()
    assert compose(root / "conf").data["model"]["params"]["learning_rate"] == 0.2


def test_the_lines_comment_is_kept(root: Path) -> None:
    set_value(root, "evaluate.primary=pr_auc")
    set_value(root, "data.schema.extra_columns=ignore")
    data = (root / "conf/data/breast_cancer.yaml").read_text()
    assert "  extra_columns: ignore  # a new or renamed column stops" in data
    assert "primary: pr_auc\n" in (root / "conf/evaluate/classification.yaml").read_text()


def test_an_unchanged_value_touches_nothing(root: Path) -> None:
    assert set_value(root, "seed=42") == []


def test_a_key_no_file_sets_is_added_to_its_parents_file(root: Path) -> None:
    set_value(root, "model.params.gamma=0.5")
    text = (root / "conf/model/xgboost.yaml").read_text()
    assert "  gamma: 0.5\n" in text
    assert compose(root / "conf").data["model"]["params"]["gamma"] == 0.5


def test_a_group_option_is_set_in_the_defaults_list(root: Path) -> None:
    assert set_group_option(root, "model=random_forest") == ["conf/config.yaml"]
    assert set_group_option(root, "deploy=[rest]") == ["conf/config.yaml"]
    text = (root / "conf/config.yaml").read_text()
    assert "  - model: random_forest\n" in text
    assert "  - deploy: [rest]  # a list: each option adds one target" in text
    choices = compose(root / "conf").choices
    assert (choices["model"], choices["deploy"]) == ("random_forest", ("rest",))
    set_value(root, "model.params.max_depth=3")  # now lands in the random forest's file
    assert "  max_depth: 3\n" in (root / "conf/model/random_forest.yaml").read_text()


def test_a_block_list_is_replaced_as_a_whole_not_on_its_key_line(root: Path) -> None:
    set_value(root, "features.transforms=[{kind: impute, columns: numeric}]")
    text = (root / "conf/features/standard.yaml").read_text()
    assert text.startswith("# Fitted on the training split only;")  # the comment is kept
    assert "standard_scaler" not in text
    transforms = compose(root / "conf").data["features"]["transforms"]
    assert transforms == [{"kind": "impute", "columns": "numeric"}]
