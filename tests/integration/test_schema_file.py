"""``data.schema_file``: the schema in a tracked file, out of params.yaml (issue 18).

DVC parses params.yaml once per stage that has params, so a wide schema there slows every
``dvc status`` (benchmarks/bench_dvc_scale.py). As a file it is a dependency of ``validate``.
The oracle is real DVC: what ``dvc status`` reports after an edit, what DVC's own Hydra
composition writes, what ``dvc repro`` does with the file's checks.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
import yaml
from dvc.utils.hydra import compose_and_dump

from tests.conftest import commit_all, conveyor_in_process, dvc

if TYPE_CHECKING:
    from pathlib import Path

SCHEMA = "conf/schemas/breast_cancer.yaml"
RAW = "data/raw/breast_cancer.parquet"


def _move_schema(root: Path, path: str = SCHEMA) -> dict[str, object]:
    """Move the default project's inline data.schema into ``path``; return the schema."""
    data_file = root / "conf/data/breast_cancer.yaml"
    data = yaml.safe_load(data_file.read_text())
    schema = data.pop("schema")
    data["schema_file"] = path
    data_file.write_text(yaml.safe_dump(data, sort_keys=False))
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(yaml.safe_dump(schema, sort_keys=False))
    return schema  # type: ignore[no-any-return]


def _changed(root: Path) -> dict[str, object]:
    return json.loads(dvc("status", "--json", cwd=root).stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("overrides", [[], ["data.schema_file=conf/schemas/other.yaml"]])
def test_params_yaml_holds_the_path_and_is_what_dvc_composes(
    project: Path, overrides: list[str]
) -> None:
    inline = (project / "params.yaml").read_text()
    schema = _move_schema(project)
    (project / "conf/schemas/other.yaml").write_text(yaml.safe_dump(schema))
    conveyor_in_process("compile", *overrides, cwd=project)
    params = (project / "params.yaml").read_text()
    composed = project / "dvc_params.yaml"
    compose_and_dump(composed, str(project / "conf"), None, "config", str(project), overrides)
    assert params == composed.read_text()  # what `dvc exp run` writes, byte for byte
    assert "mean radius" not in params
    assert "worst fractal dimension" in inline  # the inline form keeps the schema in it
    assert len(params) < len(inline) - len(yaml.safe_dump(schema))
    file = overrides[0].split("=")[1] if overrides else SCHEMA
    assert yaml.safe_load(params)["data"]["schema_file"] == file
    validate = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]["validate"]
    assert validate["deps"] == [RAW, file]
    assert validate["params"] == ["data.schema_file"]
    assert validate["desc"].startswith(f"Check the dataset against {file};")


def test_editing_the_schema_file_makes_validate_stale_and_nothing_upstream(project: Path) -> None:
    _move_schema(project)
    conveyor_in_process("compile", cwd=project)
    (project / RAW).parent.mkdir(parents=True, exist_ok=True)
    (project / RAW).write_bytes(b"stand-in")  # dvc status compares hashes; no stage runs here
    (project / "reports").mkdir(exist_ok=True)
    (project / "reports/validation.json").write_text("{}\n")
    dvc("commit", "--force", "--quiet", "ingest-breast_cancer", "validate", cwd=project)
    assert "validate" not in _changed(project)
    file = project / SCHEMA
    file.write_text(file.read_text().replace("min: 400", "min: 401"))
    changed = _changed(project)
    assert changed["validate"] == [{"changed deps": {SCHEMA: "modified"}}]
    assert "ingest-breast_cancer" not in changed


@pytest.mark.slow
def test_validate_checks_what_the_file_says(project: Path) -> None:
    _move_schema(project)
    conveyor_in_process("compile", cwd=project)
    commit_all(project, "schema in a file")
    dvc("repro", "validate", cwd=project)
    report = json.loads((project / "reports/validation.json").read_text())
    assert report["passed"] is True
    file = project / SCHEMA
    file.write_text(file.read_text().replace("min: 400", "min: 570"))  # 569 rows
    failed = dvc("repro", "validate", cwd=project, check=False)
    assert failed.returncode != 0
    assert f"error: data.schema ({SCHEMA}): 1 check failed" in failed.stderr
    assert "- min_rows" in failed.stderr
    assert f"update {SCHEMA} and rerun 'dvc repro'" in failed.stderr
    file.write_text(file.read_text().replace("min: 570", "min: 569"))  # exactly the row count
    dvc("repro", "validate", cwd=project)


def test_a_bad_schema_file_fails_compile_where_it_is(project: Path) -> None:
    _move_schema(project)
    file = project / SCHEMA
    file.write_text(file.read_text().replace("dtype: float", "dtyp: float", 1))
    done = conveyor_in_process("compile", cwd=project, check=False)
    assert done.returncode == 2
    assert f"columns.mean radius.dtyp ({SCHEMA}): unknown key 'dtyp'" in done.stderr
    assert "Traceback" not in done.stderr
    file.unlink()
    done = conveyor_in_process("compile", cwd=project, check=False)
    assert done.returncode == 2
    assert f"data.schema_file: no schema file '{SCHEMA}'" in done.stderr


def test_schema_and_schema_file_together_fail_compile(project: Path) -> None:
    schema = _move_schema(project)
    data_file = project / "conf/data/breast_cancer.yaml"
    data = yaml.safe_load(data_file.read_text())
    data_file.write_text(yaml.safe_dump({**data, "schema": schema}, sort_keys=False))
    done = conveyor_in_process("compile", cwd=project, check=False)
    assert done.returncode == 2
    assert "give the schema inline ('schema') or in a file ('schema_file'), not both" in (
        done.stderr
    )
