"""Precise invalidation: a params.yaml key reruns exactly the stages that read it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from conveyor.compiler import compile_files
from conveyor.config import flatten
from tests.conftest import dvc

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow


def _mutate(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value / 2
    if isinstance(value, str):
        return f"{value}_changed"
    return 1


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    node: Any = data
    *parents, leaf = dotted.split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(leaf)] = value
    else:
        node[leaf] = value


def _changed_stages(root: Path) -> set[str]:
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return {name.rsplit(":", 1)[-1] for name in repo.status()}


def test_every_leaf_key_reruns_exactly_its_readers(project: Path) -> None:
    dvc("repro", cwd=project)
    pipeline = compile_files(project).pipeline
    params_file = project / "params.yaml"
    original = params_file.read_text()
    data = yaml.safe_load(original)
    leaves = flatten(data)
    assert len(leaves) > 20
    for key, value in leaves.items():
        mutated = yaml.safe_load(original)
        _set(mutated, key, _mutate(value))
        params_file.write_text(yaml.safe_dump(mutated, sort_keys=False))
        expected = pipeline.readers(key)
        if key.startswith("monitor.") and not expected:
            # Read outside DVC: `conveyor ct` reads monitor.retrain, `conveyor monitor` the rest
            # when the pipeline has no monitor stage (monitor.current unset).
            continue
        if key.startswith(("executor.", "tracking.")):  # where work runs or is logged: no stage
            assert not expected, key
            assert _changed_stages(project) == set(), key
            continue
        assert expected, f"no stage reads '{key}': it should not be in params.yaml"
        assert _changed_stages(project) == expected, key
    params_file.write_text(original)
    assert _changed_stages(project) == set()


def test_a_model_param_reruns_train_and_downstream_only(project: Path) -> None:
    dvc("repro", cwd=project)
    pipeline = compile_files(project, ["model.params.max_depth=2"]).pipeline
    compile_files(project, ["model.params.max_depth=2"]).write(project)
    ran = set(re.findall(r"Running stage '([\w-]+)'", dvc("repro", cwd=project).stdout))
    assert ran == {"train", "evaluate", "gate", "card", "profile", "deploy-rest", "deploy-batch"}
    assert ran == pipeline.downstream(pipeline.readers("model.params.max_depth"))
