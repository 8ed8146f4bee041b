"""``data.schema_file``: which paths the spec takes, and how the file is read (issue 18)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from pydantic import ValidationError

from conveyor.errors import SpecError
from conveyor.runtime.schema_file import load_schema_file
from conveyor.spec.data import DataSpec

if TYPE_CHECKING:
    from pathlib import Path

BASE = {"sources": {"a": {"kind": "csv", "params": {"path": "a.csv"}}}, "target": "y"}


@pytest.mark.parametrize(
    "path",
    ["conf/schemas/orders.yaml", "conf/orders.yml", "conf/a/..b.yaml", "conf/.orders.yaml"],
)
def test_a_yaml_file_under_conf_is_a_schema_file(path: str) -> None:
    assert DataSpec.model_validate({**BASE, "schema_file": path}).schema_file == path


@pytest.mark.parametrize(
    "path",
    [
        "schemas/orders.yaml",  # outside conf/
        "/conf/orders.yaml",  # absolute
        "conf/../orders.yaml",
        "conf/a/../../orders.yaml",
        "conf/./orders.yaml",
        "conf/orders.json",
        "conf/orders.yaml.bak",
        "conf/.yaml",
        "conf\\orders.yaml",
    ],
)
def test_other_paths_are_refused(path: str) -> None:
    with pytest.raises(ValidationError, match="is not a schema file"):
        DataSpec.model_validate({**BASE, "schema_file": path})


def test_schema_and_schema_file_are_one_or_the_other() -> None:
    with pytest.raises(ValidationError, match="not both"):
        DataSpec.model_validate({**BASE, "schema": {}, "schema_file": "conf/s.yaml"})
    assert DataSpec.model_validate({**BASE, "schema": {}}).schema_file is None


def _write(root: Path, text: str, name: str = "conf/s.yaml") -> str:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text)
    return name


def test_the_file_holds_what_data_schema_would(tmp_path: Path) -> None:
    name = _write(tmp_path, "columns: {age: {dtype: int, min: 0}}\nrows: {min: 10}\n")
    schema = load_schema_file(tmp_path, name)
    assert schema.columns["age"].min == 0
    assert schema.rows is not None
    assert schema.rows.min == 10


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("columns: {age: {dtyp: int}}\n", "columns.age.dtyp (conf/s.yaml)", "unknown key 'dtyp'"),
        ("rows: {min: -1}\n", "rows.min (conf/s.yaml)", "greater than or equal to 0"),
        ("columns: [age]\n", "columns (conf/s.yaml)", "valid dictionary"),
        ("- age\n", "data.schema_file (conf/s.yaml)", "not list"),
        ("columns: {age\n", "data.schema_file (conf/s.yaml)", "not valid YAML"),
        ("schema: {rows: {min: -1}}\n", "schema.rows.min (conf/s.yaml)", "greater than or"),
        ("schema: {}\nrows: {}\n", "schema (conf/s.yaml)", "unknown key 'schema'"),
    ],
)
def test_a_bad_file_is_a_located_spec_error(
    tmp_path: Path, text: str, where: str, what: str
) -> None:
    name = _write(tmp_path, text)
    with pytest.raises(SpecError) as caught:
        load_schema_file(tmp_path, name)
    assert caught.value.where == where
    assert what in caught.value.what


def test_a_missing_file_or_a_folder_says_how_to_draft_one(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"no schema file 'conf/s\.yaml'") as caught:
        load_schema_file(tmp_path, "conf/s.yaml")
    assert caught.value.fix is not None
    assert "conveyor schema infer -o conf/s.yaml" in caught.value.fix
    (tmp_path / "conf/d.yaml").mkdir(parents=True)
    with pytest.raises(SpecError, match=r"no schema file 'conf/d\.yaml'"):
        load_schema_file(tmp_path, "conf/d.yaml")


def test_a_symlink_out_of_the_project_is_refused_unread(tmp_path: Path) -> None:
    root = tmp_path / "project"
    outside = tmp_path / "secret.yaml"
    outside.write_text("columns: {}\n")
    (root / "conf").mkdir(parents=True)
    (root / "conf/s.yaml").symlink_to(outside)
    with pytest.raises(SpecError, match="outside the project"):
        load_schema_file(root, "conf/s.yaml")
    (root / "conf/inside.yaml").write_text("columns: {}\n")
    (root / "conf/link.yaml").symlink_to(root / "conf/inside.yaml")
    assert load_schema_file(root, "conf/link.yaml").columns == {}


def test_a_draft_of_schema_infer_is_a_schema_file_as_it_is(tmp_path: Path) -> None:
    from conveyor.runtime.validation.infer import infer_schema, render_schema

    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"age": [30, 40, 50], "ward": ["a", "b", "a"]})
    name = _write(tmp_path, render_schema(infer_schema(frame), origin="visits.csv"))
    schema = load_schema_file(tmp_path, name)
    assert set(schema.columns) == {"age", "ward"}
