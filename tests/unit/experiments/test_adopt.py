"""Inferring the overrides that turn conf/ into an experiment's params.yaml (real Hydra)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import yaml

from conveyor.config import compose
from conveyor.errors import ExperimentError
from conveyor.experiments.infer import format_value, infer_overrides, value_overrides

if TYPE_CHECKING:
    from pathlib import Path

FILES = {
    "config.yaml": """\
defaults:
  - _self_
  - model: xgb
  - features: standard
  - deploy: [rest]
seed: 42
""",
    "model/xgb.yaml": "kind: xgb\nparams:\n  max_depth: 4\n  n_estimators: 300\n",
    "model/forest.yaml": "kind: forest\nparams:\n  max_depth: 8\n  n_estimators: 300\n",
    "model/linear.yaml": "kind: linear\nparams:\n  C: 1.0\n",
    "features/standard.yaml": "transforms:\n  - kind: impute\n  - kind: scale\n",
    "features/none.yaml": "transforms: []\n",
    "deploy/rest.yaml": "rest:\n  port: 8080\n",
    "deploy/batch.yaml": "batch:\n  chunk: 10\n",
}


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    for name, text in FILES.items():
        path = tmp_path / "conf" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "conf"


def _experiment(conf: Path, *overrides: str) -> str:
    """The params.yaml ``dvc exp run -S ...`` writes: conf/ composed with the overrides."""
    return compose(conf, list(overrides)).params_yaml


def _infer(conf: Path, params_yaml: str) -> tuple[str, ...]:
    inferred = infer_overrides(conf, params_yaml, where="test")
    assert compose(conf, list(inferred.overrides)).params_yaml == params_yaml
    return inferred.overrides


def test_conf_itself_needs_no_overrides(conf: Path) -> None:
    assert _infer(conf, _experiment(conf)) == ()


def test_a_value(conf: Path) -> None:
    assert _infer(conf, _experiment(conf, "model.params.max_depth=6")) == (
        "model.params.max_depth=6",
    )


def test_a_group_option_and_a_value_in_it(conf: Path) -> None:
    made = _experiment(conf, "model.params.max_depth=6", "model=forest")
    assert _infer(conf, made) == ("model=forest", "model.params.max_depth=6")


def test_the_closest_option_wins_when_none_matches_exactly(conf: Path) -> None:
    # forest with max_depth 4 is one leaf from xgb (kind) and one from forest (max_depth):
    # a tie, so the current option stays and 'kind' becomes a value override.
    made = _experiment(conf, "model=forest", "model.params.max_depth=4")
    assert _infer(conf, made) == ("model.kind=forest",)
    # Two leaves changed in forest, three from xgb: forest is closer.
    made = _experiment(conf, "model=forest", "model.params.max_depth=5")
    assert _infer(conf, made) == ("model=forest", "model.params.max_depth=5")


def test_an_option_with_other_keys(conf: Path) -> None:
    assert _infer(conf, _experiment(conf, "model=linear", "model.params.C=0.5")) == (
        "model=linear",
        "model.params.C=0.5",
    )


def test_a_new_key_is_added_with_plus(conf: Path) -> None:
    made = _experiment(conf, "+model.params.gamma=0.5", "seed=7")
    assert _infer(conf, made) == ("seed=7", "+model.params.gamma=0.5")  # params.yaml order


def test_a_list_that_differs_is_overridden_whole(conf: Path) -> None:
    made = _experiment(conf, "features.transforms=[{kind: scale}]")
    assert _infer(conf, made) == ("features.transforms=[{kind: scale}]",)
    assert _infer(conf, _experiment(conf, "features=none")) == ("features=none",)


def test_a_group_chosen_as_a_list(conf: Path) -> None:
    assert _infer(conf, _experiment(conf, "deploy=[rest,batch]")) == ("deploy=[rest,batch]",)
    assert _infer(conf, _experiment(conf, "deploy=[batch,rest]")) == ("deploy=[batch,rest]",)
    assert _infer(conf, _experiment(conf, "deploy=[]")) == ("deploy=[]",)


def test_a_removed_key_is_refused_with_its_name(conf: Path) -> None:
    made = _experiment(conf, "~model.params.n_estimators")
    with pytest.raises(ExperimentError, match=r"has no key 'model\.params\.n_estimators'"):
        infer_overrides(conf, made, where="test")


def test_a_params_yaml_no_override_reproduces_is_refused_with_the_keys(conf: Path) -> None:
    made = yaml.safe_load(_experiment(conf))
    made["odd key"] = 1  # Hydra's override grammar cannot name a key with a space
    with pytest.raises(ExperimentError, match=r"do not compose \(\+odd key=1\)"):
        infer_overrides(conf, yaml.safe_dump(made, sort_keys=False), where="test")


def test_a_params_yaml_that_is_not_a_mapping_is_refused(conf: Path) -> None:
    with pytest.raises(ExperimentError, match="not a mapping"):
        infer_overrides(conf, "- 1\n", where="test")


@pytest.mark.parametrize(
    "value",
    [0.1, 1e-05, 3, -2, True, None, "plain", "true", "1.0", "a b", "it's", "", [1, "x"], {}],
)
def test_values_read_back_the_same_in_hydra_and_yaml(conf: Path, value: object) -> None:
    text = format_value(value)
    assert yaml.safe_load(f"v: {text}")["v"] == value
    composed = compose(conf, [f"+extra={text}"]).data["extra"]
    assert composed == value
    assert type(composed) is type(value)


def test_value_overrides_compare_types_not_just_equality() -> None:
    assert value_overrides({"a": 1}, {"a": 1.0}) == (["a=1.0"], [])
    assert value_overrides({"a": 1}, {"a": True}) == (["a=true"], [])
    assert value_overrides({"a": 1, "b": 2}, {"a": 1}) == ([], ["b"])
