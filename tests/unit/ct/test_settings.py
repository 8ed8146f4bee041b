"""`conveyor ct` without gates says which gate to add, in the keys gates read today."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import yaml

from conveyor.ct._inputs import Settings
from conveyor.errors import ContinuousTrainingError
from tests.conftest import REPO

if TYPE_CHECKING:
    from pathlib import Path


def _params(root: Path, **evaluate: object) -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["evaluate"].update(evaluate)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def test_no_gates_suggests_max_decrease_for_a_higher_is_better_metric(tmp_path: Path) -> None:
    _params(tmp_path, gates={})
    with pytest.raises(ContinuousTrainingError, match=r"evaluate\.gates is empty") as info:
        Settings.read(tmp_path)
    assert info.value.fix == (
        "add a gate that compares the challenger with the champion (docs/registry.md), e.g. "
        "gates: {roc_auc: {max_decrease: 0.0}} (how much worse than the champion it may be), "
        "then 'conveyor compile'"
    )


def test_no_gates_suggests_max_increase_for_a_lower_is_better_metric(tmp_path: Path) -> None:
    _params(tmp_path, gates={}, metrics=["rmse", "mae"], primary=None, plots=[])
    with pytest.raises(ContinuousTrainingError, match=r"evaluate\.gates is empty") as info:
        Settings.read(tmp_path)
    assert "gates: {rmse: {max_increase: 0.0}}" in str(info.value.fix)
    assert "min_delta" not in str(info.value.fix)
