"""``executor:`` through the real ``conveyor compile`` and ``dvc status``.

Where work runs is not what it computes: switching executor (or any of its settings) changes
params.yaml but no stage's ``params:``, so DVC reruns nothing. dvc.yaml records the executor in
the ``meta:`` of the stages that run on it (DVC ignores ``meta``), and nothing else changes.
Mistakes in conf/executor/ are located errors like any other config mistake: exit 2, no
traceback, nothing written.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import yaml

from tests.conftest import conveyor_in_process, dvc

if TYPE_CHECKING:
    from pathlib import Path

GENERATED = ("dvc.yaml", "params.yaml")


def _stage_params(root: Path) -> list[str]:
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    keys: list[str] = []
    for stage in stages.values():
        for entry in stage.get("params", []):
            keys += [entry] if isinstance(entry, str) else [k for v in entry.values() for k in v]
    return keys


def _without_meta(root: Path) -> dict[str, Any]:
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    return {name: {k: v for k, v in s.items() if k != "meta"} for name, s in stages.items()}


def _metas(root: Path) -> dict[str, Any]:
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    return {name: stage["meta"] for name, stage in stages.items() if "meta" in stage}


def test_switching_executor_reruns_no_stage(reproduced_project: Path) -> None:
    root = reproduced_project
    assert json.loads(dvc("status", "--json", cwd=root).stdout) == {}
    default = yaml.safe_load((root / "params.yaml").read_text())["executor"]
    assert default == {"kind": "local", "params": {"workers": None}}
    dvc_yaml = (root / "dvc.yaml").read_text()
    stages = _without_meta(root)
    assert _metas(root) == {"validate": {"executor": "local"}, "profile": {"executor": "local"}}

    for overrides in (
        ["executor=dask"],
        ["executor=dask", "executor.params.workers=3", "executor.params.address=tcp://h:8786"],
        ["executor.params.workers=1"],
    ):
        conveyor_in_process("compile", *overrides, cwd=root)
        params = yaml.safe_load((root / "params.yaml").read_text())
        assert params["executor"]["kind"] == ("dask" if "executor=dask" in overrides else "local")
        kind = "dask" if "executor=dask" in overrides else "local"
        on_it = {"executor": kind}
        assert _metas(root) == {"validate": on_it, "profile": on_it}  # meta changes; nothing else
        assert _without_meta(root) == stages
        assert not [k for k in _stage_params(root) if k.split(".")[0] == "executor"]
        assert json.loads(dvc("status", "--json", cwd=root).stdout) == {}, overrides

    dask = yaml.safe_load((root / "params.yaml").read_text())
    assert dask["executor"]["params"]["workers"] == 1
    conveyor_in_process("compile", cwd=root)
    assert yaml.safe_load((root / "params.yaml").read_text())["executor"] == default
    assert (root / "dvc.yaml").read_text() == dvc_yaml
    assert json.loads(dvc("status", "--json", cwd=root).stdout) == {}


def test_a_typo_in_the_executor_file_is_located(project: Path) -> None:
    before = {name: (project / name).read_bytes() for name in GENERATED}
    conf = project / "conf" / "executor" / "dask.yaml"
    conf.write_text(conf.read_text().replace("  workers: null", "  wokers: 2"))
    done = conveyor_in_process("compile", "executor=dask", cwd=project, check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "executor.params.wokers (conf/executor/dask.yaml)" in done.stderr
    assert "did you mean 'workers'?" in done.stderr
    assert {name: (project / name).read_bytes() for name in GENERATED} == before


def test_an_unknown_executor_lists_the_installed_ones(project: Path) -> None:
    before = {name: (project / name).read_bytes() for name in GENERATED}
    conf = project / "conf" / "executor" / "local.yaml"
    conf.write_text(conf.read_text().replace("kind: local", "kind: daskk"))
    done = conveyor_in_process("compile", cwd=project, check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "executor.kind (conf/executor/local.yaml): unknown executor 'daskk'" in done.stderr
    assert "did you mean 'dask'? available: dask, local" in done.stderr
    assert {name: (project / name).read_bytes() for name in GENERATED} == before


def test_a_bad_memory_limit_is_located_with_the_forms_dask_reads(project: Path) -> None:
    done = conveyor_in_process(
        "compile", "executor=dask", "executor.params.memory_limit=lots", cwd=project, check=False
    )
    assert done.returncode == 2
    assert "executor.params.memory_limit (override 'executor.params.memory_limit=lots')" in (
        done.stderr
    )
    assert "'lots' is not a memory size" in done.stderr
    assert "Traceback" not in done.stderr
