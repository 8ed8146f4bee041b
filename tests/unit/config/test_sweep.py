"""Search spaces in Hydra's sweep grammar, expanded the way BasicSweeper does."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest

from conveyor.config import compose
from conveyor.config.sweep import grid, load_space_file, parse_space
from conveyor.errors import SweepError
from tests.conftest import REPO

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    return tmp_path


def test_discrete_forms_expand_in_basic_sweepers_order(root: Path) -> None:
    dimensions = parse_space(
        root / "conf",
        ["model.params.max_depth=2,4", "model=choice(xgboost,random_forest)", "seed=1"],
    )
    assert grid(dimensions) == [
        ("model.params.max_depth=2", "model=xgboost", "seed=1"),
        ("model.params.max_depth=2", "model=random_forest", "seed=1"),
        ("model.params.max_depth=4", "model=xgboost", "seed=1"),
        ("model.params.max_depth=4", "model=random_forest", "seed=1"),
    ]
    assert [d.is_group for d in dimensions] == [False, True, False]


def test_ranges_and_globs(root: Path) -> None:
    depth, rate, model = parse_space(
        root / "conf",
        [
            "model.params.max_depth=range(2,8,2)",
            "model.params.learning_rate=range(0.1,0.4,0.1)",
            "model=glob(*_*)",
        ],
    )
    assert depth.values == ("2", "4", "6")
    assert rate.values == ("0.1", "0.2", "0.3")  # no 0.30000000000000004
    assert model.values == ("hist_gradient_boosting", "logistic_regression", "random_forest")


def test_intervals_are_for_optuna_only(root: Path) -> None:
    (rate,) = parse_space(root / "conf", ["model.params.learning_rate=tag(log,interval(0.01,0.3))"])
    assert (rate.low, rate.high, rate.log) == (0.01, 0.3, True)
    with pytest.raises(SweepError, match=r"grid search cannot enumerate the interval"):
        grid([rate])


def test_every_malformed_dimension_is_named(root: Path) -> None:
    with pytest.raises(SweepError, match=r"cannot parse the search space") as caught:
        parse_space(root / "conf", ["a=(", "b=range(3,1)", "seed=glob(*)", "b=1,2"])
    message = caught.value.what
    assert "'b=range(3,1)': the range is empty" in message
    assert "'seed=glob(*)': glob() selects options of a config group" in message
    assert "'a=('" in message


def test_space_file_becomes_overrides(root: Path) -> None:
    space = load_space_file(root, "xgboost")
    assert space.optimizer == "optuna"
    assert space.trials == 20
    assert "model.params.max_depth=range(2,9)" in space.params
    assert parse_space(root / "conf", space.params)  # every entry parses


def test_unknown_space_lists_the_available_ones(root: Path) -> None:
    with pytest.raises(SweepError, match=r"no search space 'xgb'") as caught:
        load_space_file(root, "xgb")
    assert caught.value.fix == "available spaces in conf/sweep/: xgboost"


def test_space_file_keys_are_checked(root: Path) -> None:
    (root / "conf" / "sweep" / "bad.yaml").write_text("optimiser: optuna\nparams: {seed: 1,2}\n")
    with pytest.raises(SweepError, match=r"unknown keys \['optimiser'\]"):
        load_space_file(root, "bad")


def test_the_sweep_group_never_reaches_params_yaml(root: Path) -> None:
    assert "sweep" not in compose(root / "conf").data


def test_a_bad_trial_count_names_the_file_and_the_fix(root: Path) -> None:
    (root / "conf" / "sweep" / "bad.yaml").write_text("trials: 0\nparams: {seed: 1,2}\n")
    with pytest.raises(SweepError, match=r"trials must be a positive integer, not 0") as caught:
        load_space_file(root, "bad")
    assert caught.value.where == "trials (conf/sweep/bad.yaml)"
    assert "--trials N" in (caught.value.fix or "")
