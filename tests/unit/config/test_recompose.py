"""One Hydra compose per choice of config groups, with the bytes of a compose per override list."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest

from conveyor.config import compose
from conveyor.config.recompose import Composer
from conveyor.errors import SpecError
from tests.conftest import REPO

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="module")
def conf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repo's conf/ (read, never written, by every test here)."""
    root = tmp_path_factory.mktemp("recompose")
    shutil.copytree(REPO / "conf", root / "conf")
    # an interpolation of a swept value: the copy must resolve it after the override, as Hydra
    card = root / "conf" / "config.yaml"
    card.write_text(card.read_text() + "depth_note: depth ${model.params.max_depth}\n")
    return root / "conf"


OVERRIDE_LISTS = [
    [],
    ["model.params.max_depth=2", "model.params.learning_rate=0.1"],
    ["model.params.max_depth=8", "model.params.learning_rate=0.3"],
    ["model.params.learning_rate=1e-3", "model.params.max_depth=3", "seed=7"],
    ["model.params.max_depth=null"],
    ["project.name=other", "card.owners=[a,b]"],
    ["card.license='MIT, or so'", "project.description=${project.name}"],
    ["model=random_forest", "model.params.max_depth=3"],
    ["model.params.max_depth=5", "model=random_forest"],  # group after value: same meaning
    ["deploy=[rest]", "model.params.max_depth=6"],
    ["+extra=1", "model.params.max_depth=2"],  # an addition: composed in full
    ["~card", "model.params.max_depth=2"],  # a deletion: composed in full
]


@pytest.fixture(scope="module")
def warmed(conf: Path) -> Composer:
    """A composer that has composed every list once: its bases are built, and shared, before
    any list comes again (each test below then adds its own to the same composer)."""
    composer = Composer(conf)
    for warm_up in OVERRIDE_LISTS:
        composer.compose(warm_up)
    return composer


@pytest.mark.parametrize("overrides", OVERRIDE_LISTS, ids=" ".join)
def test_same_bytes_and_data_as_a_compose_of_each(
    conf: Path, warmed: Composer, overrides: list[str]
) -> None:
    shared = warmed.compose(overrides)
    alone = compose(conf, overrides)
    assert shared.params_yaml == alone.params_yaml
    assert shared.data == alone.data
    assert shared.choices == alone.choices
    assert shared.overrides == alone.overrides


def test_trials_that_differ_in_values_share_one_compose(conf: Path) -> None:
    composer = Composer(conf)
    for depth in (2, 4, 6, 8):
        for rate in (0.05, 0.2):
            composer.compose(
                [f"model.params.max_depth={depth}", f"model.params.learning_rate={rate}"]
            )
    assert composer.composes == 1
    composer.compose(["project.name=renamed"])  # a value, even one that changes dvc.yaml
    assert composer.composes == 1


def test_another_group_option_is_its_own_compose(conf: Path) -> None:
    composer = Composer(conf)
    for depth in (2, 4):
        composer.compose([f"model.params.max_depth={depth}"])
        composer.compose(["model=random_forest", f"model.params.max_depth={depth}"])
        composer.compose(
            ["model=random_forest", "deploy=[rest]", f"model.params.max_depth={depth}"]
        )
    assert composer.composes == 3


def test_an_addition_or_deletion_is_composed_in_full_each_time(conf: Path) -> None:
    composer = Composer(conf)
    composer.compose(["+extra=1"])
    composer.compose(["+extra=2"])
    assert composer.composes == 2


def test_a_shared_values_mistake_is_reported_as_compose_reports_it(conf: Path) -> None:
    composer = Composer(conf)
    composer.compose(["model.params.max_depth=2"])
    bad = ["model.params.max_dept=3"]
    with pytest.raises(SpecError, match=r"no key 'model\.params\.max_dept'") as shared:
        composer.compose(bad)
    with pytest.raises(SpecError, match=r"no key 'model\.params\.max_dept'") as alone:
        compose(conf, bad)
    assert shared.value.render() == alone.value.render()


def test_values_do_not_leak_into_the_shared_base(conf: Path) -> None:
    composer = Composer(conf)
    first = composer.compose(["model.params.max_depth=9"])
    first.data["model"]["params"]["max_depth"] = 1000  # a caller that edits what it got
    again = composer.compose([])
    assert again.params_yaml == compose(conf, []).params_yaml
    assert again.data == compose(conf, []).data
