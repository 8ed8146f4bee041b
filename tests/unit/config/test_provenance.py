"""Provenance: which conf file (and line), or which override, set each key of the composed config.

The expectations are checked against what Hydra really composed, so provenance cannot drift
from the composition order it replays (defaults list, ``_self_``, package headers, overrides).
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest

from conveyor.config import Origin, load_project
from conveyor.config.provenance import trace
from conveyor.errors import SpecError
from tests.conftest import REPO

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of the default project's conf/ (nothing else is needed to load it)."""
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ("key", "origin"),
    [
        ("project.task", "conf/config.yaml:15"),
        ("seed", "conf/config.yaml:19"),
        ("data.target", "conf/data/breast_cancer.yaml:8"),
        ("data.sources.breast_cancer.params.name", "conf/data/breast_cancer.yaml:6"),
        ("features.transforms.1.kind", "conf/features/standard.yaml:7"),
        ("model.params.max_depth", "conf/model/xgboost.yaml:4"),
        ("evaluate.primary", "conf/evaluate/classification.yaml:2"),
    ],
)
def test_each_key_is_traced_to_the_file_and_line_that_set_it(
    root: Path, key: str, origin: str
) -> None:
    provenance = load_project(root).provenance
    assert str(provenance.origin(key)) == origin
    assert provenance.file(key) == origin.split(":")[0]


def test_an_override_wins_over_the_file(root: Path) -> None:
    project = load_project(root, ["model.params.max_depth=6"])
    assert project.spec.model.params["max_depth"] == 6
    origin = project.provenance.origin("model.params.max_depth")
    assert origin == Origin("command line", override="model.params.max_depth=6")
    assert (
        project.provenance.file("model.params.max_depth") == "override 'model.params.max_depth=6'"
    )
    # its siblings still come from the file
    assert (
        str(project.provenance.origin("model.params.learning_rate")) == "conf/model/xgboost.yaml:5"
    )


def test_a_group_override_switches_the_file(root: Path) -> None:
    project = load_project(root, ["model=random_forest"])
    assert project.composed.choices["model"] == "random_forest"
    provenance = project.provenance
    assert str(provenance.origin("model.kind")) == "conf/model/random_forest.yaml:1"
    assert str(provenance.origin("model.params.max_depth")) == "conf/model/random_forest.yaml:4"
    # nothing is left over from the default option
    assert not any(
        origin.file == "conf/model/xgboost.yaml" for origin in provenance.origins.values()
    )
    assert "model.params.subsample" not in provenance.origins


def test_a_key_no_file_set_is_attributed_to_its_nearest_ancestor(root: Path) -> None:
    provenance = load_project(root).provenance
    assert provenance.file("data.split.valid_size") == "conf/data/breast_cancer.yaml"
    assert provenance.file("model.params.no_such_param") == "conf/model/xgboost.yaml"
    assert provenance.file("no_such_section.key") == "conf/config.yaml"


@pytest.mark.parametrize(
    ("self_position", "max_depth", "origin"),
    [("first", 4, "conf/model/xgboost.yaml:4"), ("last", 9, "conf/config.yaml:39")],
)
def test_the_position_of_self_decides_which_file_wins(
    root: Path, self_position: str, max_depth: int, origin: str
) -> None:
    config = root / "conf" / "config.yaml"
    if self_position == "last":
        _edit(config, "  - _self_  # first, so params.yaml opens with project and seed\n", "")
        _edit(
            config, "  - evaluate: classification\n", "  - evaluate: classification\n  - _self_\n"
        )
    config.write_text(config.read_text() + "model:\n  params:\n    max_depth: 9\n")
    project = load_project(root)
    assert project.spec.model.params["max_depth"] == max_depth  # what Hydra composed
    assert str(project.provenance.origin("model.params.max_depth")) == origin


def test_a_global_package_header_puts_keys_at_the_root(root: Path) -> None:
    (root / "conf" / "features" / "none.yaml").write_text("# @package _global_\nseed: 7\n")
    project = load_project(root, ["features=none"])
    assert project.spec.seed == 7
    assert str(project.provenance.origin("seed")) == "conf/features/none.yaml:2"


def test_trace_replays_a_hand_written_conf(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    (conf / "db").mkdir(parents=True)
    (conf / "config.yaml").write_text("defaults:\n  - db: mysql\n  - _self_\ndb:\n  port: 3307\n")
    (conf / "db" / "mysql.yaml").write_text("host: localhost\nport: 3306\n")
    provenance = trace(tmp_path, conf, {"db": "mysql"}, ("db.host=example.org",))
    assert str(provenance.origin("db.port")) == "conf/config.yaml:5"
    assert str(provenance.origin("db.host")) == "override 'db.host=example.org'"
    assert provenance.file("db.user") == "conf/db/mysql.yaml"


def test_errors_name_the_file_of_the_chosen_option(root: Path) -> None:
    _edit(root / "conf" / "model" / "random_forest.yaml", "max_depth: 8", "max_dept: 8")
    with pytest.raises(
        SpecError, match=r"^model\.params\.max_dept \(conf/model/random_forest\.yaml\): "
    ) as caught:
        load_project(root, ["model=random_forest"])
    (problem,) = caught.value.problems
    assert problem.file == "conf/model/random_forest.yaml"
    assert problem.fix is not None
    assert problem.fix.startswith("did you mean 'max_depth'")
