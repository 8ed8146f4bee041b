"""The editor schemas: they accept the repo's own conf/ and reject typos and wrong types."""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from conveyor.config.schema import write_schemas
from conveyor.plugins import Plugins
from tests.conftest import REPO

if TYPE_CHECKING:
    from pathlib import Path

GROUPS = (
    "config",
    "data",
    "deploy",
    "evaluate",
    "executor",
    "features",
    "model",
    "monitor",
    "tracking",
)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[str]]]:
    root = tmp_path_factory.mktemp("schema")
    shutil.copytree(REPO / "conf", root / "conf")
    return root, write_schemas(root, plugins=Plugins.discover())


def _validator(root: Path, name: str) -> Draft202012Validator:
    schema = json.loads((root / ".conveyor" / "schemas" / f"{name}.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _errors(root: Path, name: str, document: Any) -> list[str]:
    return [e.message for e in _validator(root, name).iter_errors(document)]


def test_the_mapping_is_vs_codes_yaml_schemas_setting(
    written: tuple[Path, dict[str, list[str]]],
) -> None:
    _, mapping = written
    assert mapping == {
        ".conveyor/schemas/config.json": ["conf/config.yaml"],
        **{f".conveyor/schemas/{g}.json": [f"conf/{g}/*.yaml"] for g in GROUPS if g != "config"},
    }


def test_every_conf_file_of_the_repo_is_valid(
    written: tuple[Path, dict[str, list[str]]],
) -> None:
    root, mapping = written
    checked = 0
    for schema, globs in mapping.items():
        validator = _validator(root, schema.rsplit("/", 1)[1].removesuffix(".json"))
        for path in sorted(p for glob in globs for p in REPO.glob(glob)):
            errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
            assert errors == [], path
            checked += 1
    groups = [g for g in GROUPS if g != "config"]
    assert checked == 1 + sum(len(list((REPO / "conf" / g).glob("*.yaml"))) for g in groups)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"kind": "xgboost", "params": {"max_dept": 3}}, "'max_dept' was unexpected"),
        ({"kind": "xgboost", "params": {"max_depth": "deep"}}, "'deep' is not valid"),
        ({"kind": "random_forest", "params": {"subsample": 0.5}}, "'subsample' was unexpected"),
        ({"kind": "xgbost"}, "'xgbost' is not valid"),
        ({"kind": "xgboost", "paramz": {}}, "'paramz' was unexpected"),
    ],
)
def test_the_model_schema_rejects_typos_and_wrong_types(
    written: tuple[Path, dict[str, list[str]]], document: dict[str, Any], message: str
) -> None:
    errors = _errors(written[0], "model", document)
    assert any(message in e for e in errors), errors


def test_params_are_typed_per_kind_and_interpolations_pass(
    written: tuple[Path, dict[str, list[str]]],
) -> None:
    root = written[0]
    assert _errors(root, "model", {"kind": "random_forest", "params": {"max_depth": 8}}) == []
    assert _errors(root, "model", {"kind": "xgboost", "params": {"max_depth": "${seed}"}}) == []
    assert _errors(root, "model", {"_target_": "sklearn.svm.SVC", "params": {"C": 2}}) == []
    rest = {"rest": {"kind": "rest", "params": {"port": "http"}}}
    assert _errors(root, "deploy", rest) != []
    transform = {"transforms": [{"kind": "impute", "params": {"strategy": "median", "x": 1}}]}
    assert any("'x' was unexpected" in e for e in _errors(root, "features", transform))
    dask = {"kind": "dask", "params": {"address": None, "workers": 2, "memory_limit": "2GiB"}}
    assert _errors(root, "executor", dask) == []
    typo = {"kind": "dask", "params": {"wokers": 2}}
    assert any("'wokers' was unexpected" in e for e in _errors(root, "executor", typo))
    assert any("'daskk' is not one of" in e for e in _errors(root, "executor", {"kind": "daskk"}))
    assert _errors(root, "evaluate", {"metrics": ["roc_auc", "rocauc"]}) != []


def test_kinds_and_group_options_are_enumerated(
    written: tuple[Path, dict[str, list[str]]],
) -> None:
    root = written[0]
    model = json.loads((root / ".conveyor/schemas/model.json").read_text())
    kinds = model["properties"]["kind"]["anyOf"][0]["enum"]
    assert kinds == Plugins.discover()["model"].names()
    config = json.loads((root / ".conveyor/schemas/config.json").read_text())
    options = config["properties"]["defaults"]["items"]["anyOf"][1]["properties"]["model"]
    assert options["anyOf"][0]["enum"] == sorted(p.stem for p in (REPO / "conf/model").glob("*"))
    assert _errors(root, "config", {"defaults": ["_self_", {"model": "xgboost"}], "seed": 1}) == []
    assert _errors(root, "config", {"sede": 1}) != []


def test_output_is_deterministic_json_with_a_trailing_newline(tmp_path: Path) -> None:
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    first = write_schemas(tmp_path, tmp_path / "a")
    second = write_schemas(tmp_path, tmp_path / "b")
    assert list(first) == [f"a/{g}.json" for g in GROUPS]
    assert list(second) == [f"b/{g}.json" for g in GROUPS]
    for group in GROUPS:
        text = (tmp_path / "a" / f"{group}.json").read_text()
        assert text == (tmp_path / "b" / f"{group}.json").read_text()
        assert text.endswith("}\n")
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [f"{g}.json" for g in GROUPS]
