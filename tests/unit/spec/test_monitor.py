"""``monitor:``: validated through the real compose + load path, compiled into the ``profile``
stage always and the ``monitor`` stage when a batch is named.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest

from conveyor.compiler import compile_project
from conveyor.config import load_project
from conveyor.errors import CompileError, SpecError
from conveyor.spec import MonitorSpec
from tests.conftest import REPO

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of the default project's conf/ (nothing else is needed to load it)."""
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    return tmp_path


def _problems(root: Path, *overrides: str) -> list[tuple[str, str, str | None]]:
    with pytest.raises(SpecError, match=r"monitor|problems in the configuration") as caught:
        load_project(root, list(overrides))
    return [(p.where, p.what, p.fix) for p in caught.value.problems]


def test_the_default_monitors_nothing_but_profiles(root: Path) -> None:
    project = load_project(root)
    assert project.spec.monitor == MonitorSpec()
    assert project.composed.data["monitor"]["drift"]["method"] == "auto"
    pipeline = compile_project(project)
    names = [stage.name for stage in pipeline.stages]
    assert "monitor" not in names
    assert names.index("gate") < names.index("profile") < names.index("deploy-rest")
    profile = pipeline.stage("profile")
    assert profile.deps == ("data/split/train.parquet", "models/diagnostics")
    assert profile.params == ("data.target",)
    assert profile.to_dict()["outs"] == [{"reports/profile.json": {"cache": False}}]


def test_a_batch_adds_the_monitor_stage(root: Path) -> None:
    (root / "data" / "batches").mkdir(parents=True)
    project = load_project(
        root,
        [
            "monitor.current=data/batches/*.parquet",
            "monitor.labels=data/batches/labels.csv",
            "monitor.id_column=id",
        ],
    )
    monitor = compile_project(project).stage("monitor")
    assert monitor.cmd == "conveyor run monitor"
    assert monitor.deps == (
        "reports/profile.json",
        "models/diagnostics",
        "reports/metrics.json",
        "data/batches",  # a glob depends on its folder: a new file reruns the stage
    )
    assert "monitor.retrain" not in monitor.params
    assert {"monitor.current", "monitor.drift", "data.target"} <= set(monitor.params)
    assert monitor.to_dict()["metrics"] == [{"reports/drift.json": {"cache": False}}]
    assert monitor.to_dict()["outs"] == [{"reports/drift.html": {"cache": False}}]


def test_a_missing_batch_fails_compile_like_a_missing_source(root: Path) -> None:
    project = load_project(root, ["monitor.current=data/new.parquet"])
    with pytest.raises(CompileError, match=r"stage 'monitor' depends on 'data/new.parquet'"):
        compile_project(project)


def test_overrides_and_thresholds_are_checked(root: Path) -> None:
    (root / "conf" / "monitor" / "default.yaml").write_text(
        (root / "conf" / "monitor" / "default.yaml")
        .read_text()
        .replace("columns: {}", "columns: {worst area: {method: ks, threshold: 2}}")
        .replace("ignore: []", "ignore: [worst area]")
    )
    problems = _problems(root, "monitor.drift.method=kst")
    assert problems == [
        (
            "monitor.drift (conf/monitor/default.yaml)",
            "'worst area' are both ignored and given a test under columns; drop them from one "
            "of the two",
            None,
        ),
        (  # drift tests are plugins: an unknown name is checked like any component's kind
            "monitor.drift.method (override 'monitor.drift.method=kst')",
            "unknown drift test 'kst'",
            "did you mean 'ks'? available: auto, chisquare, jensenshannon, ks, psi, wasserstein, "
            "ztest",
        ),
        (
            "monitor.drift.columns.worst area (conf/monitor/default.yaml)",
            "'ks' compares a p-value with the threshold, so it must be below 1 (got 2); "
            "0.05 is the usual choice",
            None,
        ),
    ]


def test_an_ignored_column_cannot_also_be_configured(root: Path) -> None:
    problems = _problems(root, "monitor.drift.ignore=[a]", "+monitor.drift.columns.a={method: psi}")
    assert problems[0][0] == "monitor.drift (conf/monitor/default.yaml)"
    assert problems[0][1] == "'a' are both ignored and given a test under columns; drop them " \
        "from one of the two"  # fmt: skip


@pytest.mark.parametrize(
    ("override", "what"),
    [
        ("monitor.current=/data/x.csv", "'/data/x.csv' is absolute; write it relative to the "
         "project root (e.g. data/new.csv)"),
        ("monitor.current=../x.csv", "'../x.csv' leaves the project; name data inside the project"),
        ("monitor.current=*.csv", "'*.csv' starts with a wildcard; put the files in a folder and "
         "glob inside it (e.g. data/batches/*.parquet), so that DVC can track that folder"),
    ],
)  # fmt: skip
def test_the_batch_must_be_inside_the_project(root: Path, override: str, what: str) -> None:
    assert _problems(root, override) == [(f"monitor.current (override '{override}')", what, None)]


def test_labels_need_a_batch_and_an_id_column(root: Path) -> None:
    assert _problems(root, "monitor.labels=data/labels.csv")[0][:2] == (
        "monitor.labels (override 'monitor.labels=data/labels.csv')",
        "labels describe the batch named by current, which is not set; set current",
    )
    where, what, _ = _problems(root, "monitor.labels=l.csv", "monitor.current=b.csv")[0]
    assert where == "monitor.id_column (conf/monitor/default.yaml)"
    assert what == "labels are joined to the batch on id_column, which is not set; set it"


def test_a_schedule_needs_a_period_and_the_other_way_round(root: Path) -> None:
    assert _problems(root, "monitor.retrain.triggers=[schedule]") == [
        (
            "monitor.retrain.every_days (conf/monitor/default.yaml)",
            "triggers lists 'schedule' but every_days is not set; add every_days: 7",
            None,
        )
    ]
    where, _, _ = _problems(root, "monitor.retrain.every_days=7")[0]
    assert where == "monitor.retrain.triggers (conf/monitor/default.yaml)"
    spec = load_project(
        root, ["monitor.retrain.triggers=[schedule,dataset_drift]", "monitor.retrain.every_days=7"]
    ).spec
    assert spec.monitor.retrain.triggers == ["schedule", "dataset_drift"]


def test_the_performance_metric_must_be_evaluated(root: Path) -> None:
    assert _problems(root, "monitor.performance.metric=rmse") == [
        (
            "monitor.performance.metric (override 'monitor.performance.metric=rmse')",
            "metric 'rmse' is not computed by evaluate, so reports/metrics.json holds no "
            "reference value for it; choose one of: roc_auc, pr_auc, accuracy, f1, precision, "
            "recall, log_loss, brier",
            None,
        )
    ]


def test_yaml_on_would_be_read_as_true_so_the_key_is_triggers(root: Path) -> None:
    conf = root / "conf" / "monitor" / "default.yaml"
    conf.write_text(conf.read_text().replace("  triggers:", "  on:"))
    where, what, _ = _problems(root)[0]
    assert where == "monitor.retrain (conf/monitor/default.yaml)"
    assert "reads as True" in what


def test_max_drop_is_relative_by_default_and_units_past_one_must_say_so(root: Path) -> None:
    spec = load_project(root).spec.monitor.performance
    assert (spec.max_drop, spec.relative) == (0.05, True)
    below = load_project(root, ["monitor.performance.max_drop=0.99"]).spec.monitor.performance
    assert below.relative
    overrides = ["monitor.performance.max_drop=1.25", "+monitor.performance.relative=false"]
    units = load_project(root, overrides).spec.monitor.performance
    assert (units.max_drop, units.relative) == (1.25, False)
    [(where, what, _)] = _problems(root, "monitor.performance.max_drop=1")
    assert where == "monitor.performance.max_drop (override 'monitor.performance.max_drop=1')"
    assert what.startswith(
        "max_drop 1 is a fraction of the reference value unless relative: false says it is in "
        "the metric's units"
    )
