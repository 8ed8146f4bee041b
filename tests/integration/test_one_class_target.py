"""A classification target with one class is refused where it shows, not by a later crash.

Before: train, evaluate and gate passed on a one-class target and ``profile`` crashed with a
shape error (exit 70, a traceback). Now train refuses a one-class training split and evaluate a
one-class test split, each with the column, the class and a fix; nothing is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.conftest import conveyor, conveyor_in_process

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow  # each case starts 'conveyor run <stage>' (the slow rule)

DATA = """\
sources:
  visits:
    kind: csv
    params: {path: visits.csv}
target: label
split: %s
"""


def _visits(root: Path, labels: list[str], split: str) -> None:
    rows = "".join(f"{i},{i % 3},{i},{label}\n" for i, label in enumerate(labels))
    (root / "visits.csv").write_text("age,ward,day,label\n" + rows)
    (root / "conf" / "data" / "visits.yaml").write_text(DATA % split)
    conveyor_in_process(
        "compile", "data=visits", "features=none", "model=logistic_regression", cwd=root
    )
    conveyor("run", "ingest-visits", cwd=root)
    conveyor("run", "split", cwd=root)


TIME = "{strategy: time, time_column: day, test_size: 0.4}"


def test_a_one_class_dataset_is_refused_at_train_naming_the_class(project: Path) -> None:
    _visits(project, ["yes"] * 20, "{strategy: stratified, test_size: 0.4}")
    done = conveyor("run", "train", cwd=project, check=False)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert (
        "error: data.target: every row of data/split/train.parquet has 'label' = 'yes', "
        "and a binary_classification model needs at least two classes"
    ) in done.stderr
    assert "fix: check the source data of 'label' (all 12 training rows are 'yes')" in done.stderr
    assert "project.task: regression" in done.stderr
    assert not (project / "models").exists()  # no bundle, not even a half-written one


def test_a_split_that_leaves_train_one_class_is_refused_at_train(project: Path) -> None:
    # Time order puts every 'no' after the cut: the training split holds 'yes' alone.
    _visits(project, ["yes"] * 12 + ["no", "yes"] * 4, TIME)
    done = conveyor("run", "train", cwd=project, check=False)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "every row of data/split/train.parquet has 'label' = 'yes'" in done.stderr
    assert "if the dataset holds other classes, the split left them out" in done.stderr
    assert not (project / "models").exists()


def test_a_one_class_test_split_is_refused_at_evaluate(project: Path) -> None:
    # Two classes before the cut (train passes: the boundary), one after it.
    _visits(project, ["yes", "no"] * 6 + ["yes"] * 8, TIME)
    conveyor("run", "train", cwd=project)
    done = conveyor("run", "evaluate", cwd=project, check=False)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert (
        "error: data.split: every row of data/split/test.parquet has 'label' = 'yes', so "
        "the binary_classification metrics cannot tell the model's classes apart"
    ) in done.stderr
    assert "fix: use strategy: stratified" in done.stderr
    assert not (project / "reports" / "metrics.json").exists()
    assert not (project / "reports" / "evaluation.html").exists()
