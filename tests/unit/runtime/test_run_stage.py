"""A stage whose code reads an undeclared key fails at run time, through the real runtime."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest

from conveyor.errors import StageError, UndeclaredParamError
from conveyor.runtime import STAGES, run_stage
from conveyor.runtime.stages import split
from tests.conftest import REPO

if TYPE_CHECKING:
    from pathlib import Path


def test_unknown_stage_suggests_the_close_one(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    with pytest.raises(StageError, match="unknown stage 'trian'") as info:
        run_stage(tmp_path, "trian")
    assert "did you mean 'train'?" in str(info.value.fix)


def test_missing_params_yaml_says_compile(tmp_path: Path) -> None:
    with pytest.raises(StageError, match=r"no params\.yaml"):
        run_stage(tmp_path, "ingest-breast_cancer")


def test_stage_reading_an_undeclared_key_fails(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())

    def leaky_plan(spec, plugins):  # the real plan without 'seed', which split reads
        (plan,) = split.plan(spec, plugins)
        return (dataclasses.replace(plan, reads=tuple(k for k in plan.reads if k != "seed")),)

    monkeypatch.setitem(STAGES, "split", dataclasses.replace(STAGES["split"], plan=leaky_plan))
    with pytest.raises(
        UndeclaredParamError, match=r"stage 'split' read 'seed', which its params: list"
    ):
        run_stage(tmp_path, "split")
