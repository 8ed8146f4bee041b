"""evaluate end to end: DVC renders every declared plot, and metrics carry the slices."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pandas as pd
import pytest
import yaml

from tests.conftest import conveyor_in_process, conveyor_warm, dvc

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.slow  # a dvc repro
def test_dvc_shows_every_plot_and_slice_metrics(reproduced_project: Path, tmp_path: Path) -> None:
    project = reproduced_project  # the slices change evaluate's params: it reruns, not the rest
    # The breast-cancer data has only float features: slicing one exercises the quantile bins.
    conveyor_in_process("compile", "+evaluate.slices=[mean radius,diagnosis]", cwd=project)
    dvc("repro", cwd=project)
    assert json.loads(dvc("status", "--json", cwd=project).stdout) == {}

    entry = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]["evaluate"]
    declared = [next(iter(item)) for item in entry["plots"]]
    assert declared == [
        "reports/plots/roc.json",
        "reports/plots/precision_recall.json",
        "reports/plots/confusion_matrix.json",
        "reports/plots/calibration.json",
        "reports/plots/feature_importance.json",
    ]
    shown = json.loads(dvc("plots", "show", "--json", cwd=project).stdout)
    assert not shown.get("errors"), shown.get("errors")
    assert set(shown["data"]) == set(declared)
    for path in declared:
        (rendered,) = shown["data"][path]
        assert rendered["content"]["data"]["values"], path  # DVC read records from the file
    site = tmp_path / "plots"
    dvc("plots", "show", "--out", str(site), cwd=project)
    assert (site / "index.html").is_file()

    metrics = json.loads(dvc("metrics", "show", "--json", cwd=project).stdout)
    values = metrics[""]["data"]["reports/metrics.json"]["data"]
    assert values["roc_auc"] >= 0.95  # the overall metrics stay at the top level
    test_rows = len(pd.read_parquet(project / "data" / "split" / "test.parquet"))
    bins = values["slices"]["mean radius"]
    assert len(bins) == 5
    assert sum(b["rows"] for b in bins.values()) == test_rows
    assert set(values["slices"]["diagnosis"]) == {"0", "1"}
    # One class per slice: AUC is undefined, null in the file (dvc metrics show omits nulls).
    written = json.loads((project / "reports" / "metrics.json").read_text())
    assert written["slices"]["diagnosis"]["0"]["roc_auc"] is None
    assert written["slices"]["diagnosis"]["1"]["recall"] > 0.9
    assert "roc_auc" not in values["slices"]["diagnosis"]["0"]

    confusion = json.loads((project / "reports" / "plots" / "confusion_matrix.json").read_text())
    assert len(confusion) == test_rows
    html = (project / "reports" / "evaluation.html").read_text()
    for path in declared:
        name = path.rsplit("/", 1)[1].removesuffix(".json")
        assert f'<figure id="{name}"><svg' in html
    assert "mean radius" in html


def test_a_plot_that_does_not_fit_the_task_fails_compile_with_its_location(project: Path) -> None:
    done = conveyor_in_process(
        "compile",
        "project.task=regression",
        "data.split.strategy=random",
        "evaluate.metrics=[rmse]",
        "evaluate.primary=null",
        "~evaluate.gates",
        "+evaluate.plots=[residuals,roc]",
        cwd=project,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "evaluate.plots.1" in done.stderr
    assert "plot 'roc' does not fit project.task 'regression'" in done.stderr
    assert "choose from: predicted_vs_actual, residuals, feature_importance" in done.stderr


@pytest.mark.slow  # conveyor init, then a whole dvc repro
def test_a_regression_project_plots_predicted_against_actual(tmp_path: Path) -> None:
    root = tmp_path / "diabetes"
    conveyor_warm("init", str(root), "--task", "regression", cwd=tmp_path)
    entry = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["evaluate"]
    path = "reports/plots/predicted_vs_actual.json"
    (props,) = [item[path] for item in entry["plots"] if path in item]
    assert (props["template"], props["x"], props["y"]) == ("scatter", "actual", "predicted")
    dvc("repro", cwd=root)

    records = json.loads((root / path).read_text())
    test = pd.read_parquet(root / "data" / "split" / "test.parquet")
    assert len(records) == len(test)
    assert all(list(r) == ["actual", "predicted"] for r in records)
    assert [r["actual"] for r in records] == sorted(round(float(v), 6) for v in test["progression"])
    pairs = [(r["actual"], r["predicted"]) for r in records]
    assert pairs == sorted(pairs)
    assert len({r["predicted"] for r in records}) > 1  # the model's scores, not a constant
    shown = json.loads(dvc("plots", "show", "--json", path, cwd=root).stdout)
    assert not shown.get("errors"), shown.get("errors")
    (rendered,) = shown["data"][path]
    assert len(rendered["content"]["data"]["values"]) == len(records)
    assert '<figure id="predicted_vs_actual"><svg' in (root / "reports/evaluation.html").read_text()
