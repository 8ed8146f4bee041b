"""``explain``: every writer of a key in composition order, its defaults chain, spec defaults."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest
import yaml

from conveyor.compiler import compile_project
from conveyor.config import load_project
from conveyor.config.explain import Writer, explain, resolved_config, subtree
from conveyor.errors import SpecError
from tests.conftest import REPO

if TYPE_CHECKING:
    from pathlib import Path

XGBOOST_ENTRY = "conf/config.yaml:6 defaults: model: xgboost"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    return tmp_path


def _explain(root: Path, key: str, *overrides: str):
    project = load_project(root, list(overrides))
    return explain(project, key, compile_project(project).readers)


def test_a_file_value_names_its_line_and_defaults_entry(root: Path) -> None:
    found = _explain(root, "model.params.max_depth")
    assert found.value == 4
    assert found.writers == (Writer("conf/model/xgboost.yaml:4", XGBOOST_ENTRY),)
    assert found.readers == ("train",)
    assert found.default is None
    assert found.render() == (
        "key: model.params.max_depth\nvalue: 4\nset by: conf/model/xgboost.yaml:4\n"
        f"  via {XGBOOST_ENTRY}\nread by: train\n"
    )


def test_an_override_wins_and_the_file_is_shown_shadowed(root: Path) -> None:
    found = _explain(root, "model.params.max_depth", "model.params.max_depth=6")
    assert found.value == 6
    assert found.writers == (
        Writer("conf/model/xgboost.yaml:4", XGBOOST_ENTRY),
        Writer("override 'model.params.max_depth=6'", None),
    )
    data = found.to_dict()
    assert data["set_by"] == {"origin": "override 'model.params.max_depth=6'", "via": None}
    assert data["shadowed"] == [{"origin": "conf/model/xgboost.yaml:4", "via": XGBOOST_ENTRY}]
    assert "shadowed (earlier writers, in composition order):\n  - conf/model/xgboost.yaml:4" in (
        found.render()
    )


def test_a_group_override_names_the_defaults_entry_it_replaced(root: Path) -> None:
    found = _explain(root, "model.params.max_depth", "model=random_forest")
    assert found.value == 8
    assert found.writers == (
        Writer(
            "conf/model/random_forest.yaml:4",
            f"override 'model=random_forest' (replacing {XGBOOST_ENTRY})",
        ),
    )


def test_the_primary_config_written_last_shadows_the_group_file(root: Path) -> None:
    config = root / "conf" / "config.yaml"
    text = config.read_text().replace(
        "  - _self_  # first, so params.yaml opens with project and seed\n", ""
    )
    text = text.replace("  - monitor: default\n", "  - monitor: default\n  - _self_\n")
    config.write_text(text + "model:\n  params:\n    max_depth: 9\n")
    found = _explain(root, "model.params.max_depth")
    assert found.value == 9
    assert [w.origin for w in found.writers] == [
        "conf/model/xgboost.yaml:4",
        "conf/config.yaml:39",
    ]
    assert found.writers[-1].via is not None
    assert "itself" in found.writers[-1].via


def test_a_list_group_names_every_option(root: Path) -> None:
    found = _explain(root, "deploy.rest.params.port")
    assert found.writers == (
        Writer("conf/deploy/rest.yaml:7", "conf/config.yaml:8 defaults: deploy: [rest, batch]"),
    )
    assert found.readers == ("deploy-rest",)


def test_a_key_no_file_sets_comes_from_the_spec_default(root: Path) -> None:
    found = _explain(root, "data.split.valid_size")
    assert (found.value, found.default, found.writers) == (0.0, "SplitSpec.valid_size", ())
    assert found.readers == ("card", "split")
    assert "set by: nothing in conf/; default from the spec (SplitSpec.valid_size)" in (
        found.render()
    )


def test_an_unset_component_parameter_comes_from_its_params_model(root: Path) -> None:
    found = _explain(root, "model.params.max_leaves")
    assert (found.value, found.default) == (None, "XGBoostParams.max_leaves")


def test_a_mapping_is_shown_as_yaml(root: Path) -> None:
    found = _explain(root, "evaluate.gates.recall")
    assert found.value == {"min": 0.9}
    rendered = _explain(root, "evaluate.gates").render()
    assert "value:\n  roc_auc:\n    min: 0.95\n" in rendered


def test_an_unknown_key_suggests_the_closest(root: Path) -> None:
    with pytest.raises(
        SpecError,
        match=r"^model\.params \(conf/model/xgboost\.yaml\): the composed config has no key "
        r"'model\.params\.max_dept'",
    ) as caught:
        _explain(root, "model.params.max_dept")
    assert caught.value.fix is not None
    assert caught.value.fix.startswith("did you mean 'model.params.max_depth'")


def test_an_unknown_section_is_an_error_too(root: Path) -> None:
    with pytest.raises(SpecError, match=r"no key 'modle'") as caught:
        _explain(root, "modle")
    assert caught.value.fix is not None
    assert caught.value.fix.startswith("did you mean 'model'")


def test_resolved_config_fills_defaults_in_the_composed_order(root: Path) -> None:
    project = load_project(root)
    shown = resolved_config(project)
    assert list(shown) == list(project.composed.data)
    split = shown["data"]["split"]
    assert list(split)[:2] == ["strategy", "test_size"]  # what conf/ wrote, first
    assert split["valid_size"] == 0.0
    assert "_target_" not in shown["model"]
    # what it prints validates back into the same spec
    assert type(project.spec).model_validate(yaml.safe_load(yaml.safe_dump(shown))) == project.spec
    assert resolved_config(project, fill_defaults=False) == project.composed.data
    assert subtree(project, shown, "data.split.valid_size") == 0.0
    with pytest.raises(SpecError, match=r"no key 'data\.split\.valid_sise'"):
        subtree(project, shown, "data.split.valid_sise")
