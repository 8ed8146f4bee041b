"""A sweep compiles each choice of config groups once, and each trial gets the bytes it got alone.

``validate`` (conveyor.experiments._trials) checks every trial before anything runs; trials that
differ only in values share one Hydra compose (conveyor.config.recompose). These tests hold it to
the files a compile of each trial on its own writes, and count Hydra's composes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from conveyor.compiler import DVC_YAML, PARAMS_YAML, compile_files
from conveyor.config import CONFIG_DIR
from conveyor.config.recompose import Composer
from conveyor.config.sweep import grid, parse_space
from conveyor.experiments._trials import validate
from conveyor.experiments.plan import SweepState, Trial

if TYPE_CHECKING:
    from pathlib import Path

GRID = [
    "model=xgboost,random_forest",
    "model.params.max_depth=2,4",
    "project.name=diagnostics,renamed",  # a value that changes dvc.yaml (models/<name>/)
    "deploy=[rest,batch],[rest]",  # a group that changes dvc.yaml
]


def _trials(root: Path, overrides: list[str]) -> list[Trial]:
    combos = grid(parse_space(root / CONFIG_DIR, overrides))
    return [Trial(f"t-{i}", list(c)) for i, c in enumerate(combos, start=1)]


def _state(trials: list[Trial]) -> SweepState:
    return SweepState("t", "grid", "gate", 1, [], trials=trials)


@pytest.fixture
def composes(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The overrides of every Hydra compose from now on."""
    import hydra

    seen: list[list[str]] = []
    real = hydra.compose

    def counting(*args: object, **kwargs: object) -> object:
        seen.append(list(kwargs.get("overrides") or []))  # type: ignore[call-overload]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(hydra, "compose", counting)
    return seen


def test_a_grid_s_trials_get_the_bytes_of_a_compile_each(project: Path) -> None:
    trials = _trials(project, GRID)
    assert len(trials) == 16
    alone = {t.name: compile_files(project, t.overrides).files for t in trials}
    composer = Composer(project / CONFIG_DIR)
    for trial in trials:
        shared = compile_files(project, trial.overrides, composer=composer).files
        assert shared[PARAMS_YAML] == alone[trial.name][PARAMS_YAML], trial.overrides
        assert shared[DVC_YAML] == alone[trial.name][DVC_YAML], trial.overrides
    assert composer.composes == 4  # two models x two deploy lists

    own = validate(project, _state(trials), trials)
    committed = (project / DVC_YAML).read_text()
    for trial in trials:
        structural = alone[trial.name][DVC_YAML] != committed
        assert trial.structural is structural, trial.overrides
        assert own[trial.name].dvc_yaml == (alone[trial.name][DVC_YAML] if structural else None)
        assert own[trial.name].params_yaml == alone[trial.name][PARAMS_YAML]
    assert sum(t.structural for t in trials) == 12  # renamed, or deploy=[rest], or both


def test_trials_that_differ_in_values_are_composed_once(
    project: Path, composes: list[list[str]]
) -> None:
    trials = _trials(
        project, ["model.params.max_depth=2,4,6,8", "model.params.learning_rate=0.1,0.3"]
    )
    validate(project, _state(trials), trials)
    assert len(trials) == 8
    assert composes == [[]]  # the shared base: conf/ as committed


def test_another_model_is_its_own_compose(project: Path, composes: list[list[str]]) -> None:
    trials = _trials(project, ["model=xgboost,random_forest", "model.params.max_depth=2,4,6"])
    validate(project, _state(trials), trials)
    assert composes == [["model=xgboost"], ["model=random_forest"]]
