"""`conveyor explain`, `config show` and `config schema` as users run them (no data needed)."""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING

import pytest
import yaml

from conveyor.spec import ProjectSpec
from tests.conftest import REPO, conveyor_in_process

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inspect")
    shutil.copytree(REPO / "conf", root / "conf")
    conveyor_in_process("compile", cwd=root)
    return root


def test_explain_shows_the_override_and_the_file_it_shadowed(root: Path) -> None:
    done = conveyor_in_process(
        "explain", "model.params.max_depth", "model.params.max_depth=6", cwd=root
    )
    assert done.stdout == (
        "key: model.params.max_depth\n"
        "value: 6\n"
        "set by: override 'model.params.max_depth=6'\n"
        "shadowed (earlier writers, in composition order):\n"
        "  - conf/model/xgboost.yaml:4 (via conf/config.yaml:6 defaults: model: xgboost)\n"
        "read by: train\n"
    )
    data = json.loads(conveyor_in_process("explain", "seed", "--json", cwd=root).stdout)
    assert data["value"] == 42
    seed_line = (root / "conf/config.yaml").read_text().splitlines().index("seed: 42") + 1
    assert data["set_by"]["origin"] == f"conf/config.yaml:{seed_line}"
    assert data["read_by"] == ["evaluate", "split", "train"]


def test_explain_of_an_unknown_key_is_a_spec_error_without_traceback(root: Path) -> None:
    done = conveyor_in_process("explain", "model.params.max_dept", cwd=root, check=False)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith(
        "error: model.params (conf/model/xgboost.yaml): the composed config has no key "
        "'model.params.max_dept'\n  fix: did you mean 'model.params.max_depth'"
    )
    bad = conveyor_in_process("explain", "seed", "model.params.max_depth=[", cwd=root, check=False)
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: override 'model.params.max_depth=[': cannot parse")
    assert "Traceback" not in done.stderr + bad.stderr


def test_config_show_prints_the_validated_config_with_defaults(root: Path) -> None:
    shown = yaml.safe_load(conveyor_in_process("config", "show", cwd=root).stdout)
    assert ProjectSpec.model_validate(shown).data.split.valid_size == 0.0
    assert shown["data"]["split"]["valid_size"] == 0.0
    raw = conveyor_in_process("config", "show", "--raw", cwd=root).stdout
    assert yaml.safe_load(raw) == yaml.safe_load((root / "params.yaml").read_text())
    sub = conveyor_in_process(
        "config", "show", "model=random_forest", "--key", "model", "--json", cwd=root
    )
    assert json.loads(sub.stdout) == {
        "kind": "random_forest",
        "params": {"n_estimators": 300, "max_depth": 8, "n_jobs": 2},
        "trusted_types": [],
        "fit": {"memory": "in_memory", "mode": "local", "sample_rows": 100_000},  # defaults
    }
    missing = conveyor_in_process("config", "show", "--key", "modle", cwd=root, check=False)
    assert missing.returncode == 2
    assert "did you mean 'model'" in missing.stderr


def test_config_schema_writes_the_schemas_and_prints_the_mapping(root: Path) -> None:
    done = conveyor_in_process("config", "schema", cwd=root)
    mapping = json.loads(done.stdout)["yaml.schemas"]
    assert mapping[".conveyor/schemas/model.json"] == ["conf/model/*.yaml"]
    assert mapping[".conveyor/schemas/executor.json"] == ["conf/executor/*.yaml"]
    assert mapping[".conveyor/schemas/tracking.json"] == ["conf/tracking/*.yaml"]
    assert "wrote 9 schemas" in done.stderr
    for schema in mapping:
        assert json.loads((root / schema).read_text())["$schema"].startswith("https://json-schema")
    elsewhere = conveyor_in_process("config", "schema", "-o", "out", cwd=root)
    assert "out/config.json" in json.loads(elsewhere.stdout)["yaml.schemas"]
