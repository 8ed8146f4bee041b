"""Slice metrics, DVC plot files and the HTML report, on hand-made frames and real estimators."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import ValidationError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier

from conveyor.compiler.build import _stage
from conveyor.components.metrics import Accuracy, Brier, LogLoss, PrAuc, Rmse, RocAuc
from conveyor.errors import StageError
from conveyor.plugins import Plugins
from conveyor.runtime.estimator import build_pipeline
from conveyor.runtime.evaluation import (
    PLOT_DEFS,
    Predictions,
    ReportHeader,
    finite_or_none,
    plot_records,
    render_report,
    slice_labels,
    slice_metrics,
    write_plot,
)
from conveyor.runtime.evaluation.importance import PERMUTATION_ROWS, feature_importance
from conveyor.runtime.stages import evaluate
from conveyor.spec import FeaturesSpec, ProjectSpec
from tests.conftest import REPO

if TYPE_CHECKING:
    from pathlib import Path

PLUGINS = Plugins.discover()
CLASSIFICATION_PLOTS = ["roc", "precision_recall", "confusion_matrix", "calibration"]


# --- slices -----------------------------------------------------------------------------------


def _sliced_frame() -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Region 'north' holds both classes; region 'south' holds class 1 only."""
    frame = pd.DataFrame(
        {
            "region": ["north"] * 6 + ["south"] * 4,
            "size": np.arange(10, dtype=float),
            "visits": [1, 2, 10, 1, 2, 10, 1, 2, 10, None],
        }
    )
    y_true = np.array([0, 1, 0, 1, 0, 1, 1, 1, 1, 1])
    y_pred = np.array([0, 1, 1, 1, 0, 0, 1, 1, 0, 1])
    p1 = np.array([0.1, 0.9, 0.6, 0.8, 0.2, 0.4, 0.9, 0.7, 0.3, 0.8])
    return frame, y_true, y_pred, np.column_stack([1 - p1, p1])


def test_slice_metrics_match_the_metrics_on_each_subset_and_null_where_undefined() -> None:
    frame, y_true, y_pred, y_score = _sliced_frame()
    metrics = {
        "accuracy": Accuracy.from_config({}),
        "roc_auc": RocAuc.from_config({}),
        "brier": Brier.from_config({}),
    }
    result = slice_metrics(
        frame, ["region"], metrics, y_true=y_true, y_pred=y_pred, y_score=y_score
    )
    north, south = result["region"]["north"], result["region"]["south"]
    assert list(result["region"]) == ["north", "south"]
    assert north["rows"] == 6
    assert north["accuracy"] == pytest.approx(4 / 6)
    # north: positives score 0.9, 0.8, 0.4; negatives 0.1, 0.6, 0.2 -> 8 of 9 pairs ordered
    assert north["roc_auc"] == pytest.approx(8 / 9)
    assert south == {
        "rows": 4,
        "accuracy": pytest.approx(3 / 4),
        "roc_auc": None,  # one class only: AUC is undefined, not a crash
        "brier": pytest.approx(np.mean((1 - np.array([0.9, 0.7, 0.3, 0.8])) ** 2)),
    }
    assert json.loads(json.dumps(result, allow_nan=False)) == result  # no NaN in JSON


def test_placeholders_for_undefined_metrics_become_null() -> None:
    """Average precision without positives: scikit-learn returns 0.0 and warns; we say null."""
    frame = pd.DataFrame({"ward": ["a", "a", "b", "b"]})
    p1 = np.array([0.2, 0.4, 0.7, 0.1])
    result = slice_metrics(
        frame,
        ["ward"],
        {"pr_auc": PrAuc.from_config({}), "log_loss": LogLoss.from_config({})},
        y_true=np.array([0, 0, 1, 0]),
        y_pred=np.array([0, 0, 1, 0]),
        y_score=np.column_stack([1 - p1, p1]),
    )
    assert result["ward"]["a"]["pr_auc"] is None
    assert result["ward"]["a"]["log_loss"] == pytest.approx(-np.mean(np.log([0.8, 0.6])))
    assert result["ward"]["b"]["pr_auc"] == 1.0


def test_low_cardinality_numbers_keep_their_values_in_numeric_order_and_missing_last() -> None:
    frame, y_true, y_pred, y_score = _sliced_frame()
    result = slice_metrics(
        frame,
        ["visits"],
        {"accuracy": Accuracy.from_config({})},
        y_true=y_true,
        y_pred=y_pred,
        y_score=y_score,
    )
    assert list(result["visits"]) == ["1.0", "2.0", "10.0", "missing"]
    assert [v["rows"] for v in result["visits"].values()] == [3, 3, 3, 1]


def test_many_distinct_numbers_are_cut_into_five_quantile_bins() -> None:
    values = pd.Series(np.linspace(0.0, 99.0, 100))
    values[3] = np.nan
    labels, order = slice_labels(values)
    assert len(order) == 6
    assert order[-1] == "missing"
    assert order[0].startswith("[0, ")
    assert all(name.startswith("(") and name.endswith("]") for name in order[1:5])
    counts = [int((labels == name).sum()) for name in order]
    assert counts[5] == 1
    assert sum(counts[:5]) == 99
    assert max(counts[:5]) - min(counts[:5]) <= 1  # equal rows per bin
    assert labels[3] == "missing"


def test_bin_labels_stay_distinct_when_edges_are_close() -> None:
    values = pd.Series(1.0 + np.arange(50) * 1e-7)
    _, order = slice_labels(values)
    assert len(set(order)) == len(order) == 5


def test_non_finite_metrics_become_null() -> None:
    assert finite_or_none(float("nan")) is None
    assert finite_or_none(float("inf")) is None
    assert finite_or_none(0.25) == 0.25


# --- plots ------------------------------------------------------------------------------------


def _classification(classes: int = 2, rows: int = 300) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, classes, rows)
    frame = pd.DataFrame(
        {
            "signal": y + rng.normal(scale=0.8, size=rows),
            "noise": rng.normal(size=rows),
            "colour": rng.choice(["red", "green", "blue"], rows),
        }
    )
    return frame, y


def _fitted(estimator: object, frame: pd.DataFrame, y: np.ndarray) -> object:
    features = FeaturesSpec.model_validate(
        {
            "transforms": [
                {"kind": "one_hot", "columns": ["colour"]},
                {"kind": "standard_scaler", "columns": "numeric"},
            ]
        }
    )
    return build_pipeline(features, estimator, PLUGINS).fit(frame, y)


def _predictions(pipeline: object, frame: pd.DataFrame, y: np.ndarray) -> Predictions:
    scores = pipeline.predict_proba(frame)
    names = [f"class_{i}" for i in range(scores.shape[1])]
    return Predictions(y, pipeline.predict(frame), scores, names)


def _records(name: str, pipeline: object, frame: pd.DataFrame, y: np.ndarray) -> list[dict]:
    return plot_records(name, _predictions(pipeline, frame, y), pipeline=pipeline, x=frame, seed=0)


@pytest.mark.parametrize("classes", [2, 3])
def test_curves_run_from_the_origin_to_one_one(classes: int) -> None:
    frame, y = _classification(classes)
    pipeline = _fitted(LogisticRegression(), frame, y)
    roc = _records("roc", pipeline, frame, y)
    assert set(roc[0]) == {"fpr", "tpr"}
    assert (roc[0]["fpr"], roc[0]["tpr"]) == (0.0, 0.0)
    assert (roc[-1]["fpr"], roc[-1]["tpr"]) == (1.0, 1.0)
    assert [r["fpr"] for r in roc] == sorted(r["fpr"] for r in roc)
    pr = _records("precision_recall", pipeline, frame, y)
    assert set(pr[0]) == {"recall", "precision"}
    assert pr[0]["recall"] == 0.0
    assert pr[-1]["recall"] == 1.0
    assert all(0.0 <= r["precision"] <= 1.0 for r in pr)


@pytest.mark.parametrize("classes", [2, 3])
def test_confusion_has_one_record_per_row_with_class_names(classes: int) -> None:
    frame, y = _classification(classes)
    pipeline = _fitted(LogisticRegression(), frame, y)
    records = _records("confusion_matrix", pipeline, frame, y)
    assert len(records) == len(frame)  # the counts DVC draws sum to the test rows
    assert {r["actual"] for r in records} == {f"class_{i}" for i in range(classes)}
    assert (
        sum(r["actual"] == r["predicted"] for r in records) == (pipeline.predict(frame) == y).sum()
    )


def test_calibration_bins_cover_every_row_with_rates_in_range() -> None:
    frame, y = _classification()
    pipeline = _fitted(LogisticRegression(), frame, y)
    records = _records("calibration", pipeline, frame, y)
    assert set(records[0]) == {"mean_predicted", "observed_frequency", "rows"}
    assert sum(r["rows"] for r in records) == len(frame)
    assert all(0 <= r["mean_predicted"] <= 1 and 0 <= r["observed_frequency"] <= 1 for r in records)
    assert [r["mean_predicted"] for r in records] == sorted(r["mean_predicted"] for r in records)


def test_residuals_are_actual_minus_predicted_and_capped() -> None:
    rng = np.random.default_rng(1)
    actual = rng.normal(size=6_000)
    predicted = actual + rng.normal(scale=0.1, size=6_000)
    predictions = Predictions(actual, predicted, None, None)
    records = plot_records("residuals", predictions, pipeline=None, x=pd.DataFrame(), seed=0)
    assert len(records) == 5_000
    pairs = {
        (round(float(p), 6), round(float(a - p), 6)) for a, p in zip(actual, predicted, strict=True)
    }
    assert {(r["predicted"], r["residual"]) for r in records} <= pairs


@pytest.mark.parametrize(("rows", "kept"), [(5_000, 5_000), (5_001, 5_000)])
def test_predicted_vs_actual_is_every_pair_sorted_up_to_the_cap(rows: int, kept: int) -> None:
    rng = np.random.default_rng(2)
    actual = rng.normal(size=rows)
    predicted = actual + rng.normal(scale=0.1, size=rows)
    predictions = Predictions(actual, predicted, None, None)
    records = plot_records(
        "predicted_vs_actual", predictions, pipeline=None, x=pd.DataFrame(), seed=0
    )
    assert len(records) == kept
    assert all(list(r) == ["actual", "predicted"] for r in records)
    pairs = [(r["actual"], r["predicted"]) for r in records]
    assert pairs == sorted(pairs)  # by actual, so the file does not depend on the row order
    every = {
        (round(float(a), 6), round(float(p), 6)) for a, p in zip(actual, predicted, strict=True)
    }
    assert set(pairs) <= every
    if rows == kept:
        assert set(pairs) == every
    shuffled = np.random.default_rng(3).permutation(rows)
    again = Predictions(actual[shuffled], predicted[shuffled], None, None)
    if rows == kept:  # the same rows in another order write the same file
        assert plot_records("predicted_vs_actual", again, pipeline=None, x=pd.DataFrame(),
                            seed=0) == records  # fmt: skip


def test_predicted_vs_actual_is_written_with_six_decimals(tmp_path: Path) -> None:
    predictions = Predictions(np.array([2.0, 1 / 3]), np.array([1.5, 2 / 3]), None, None)
    records = plot_records(
        "predicted_vs_actual", predictions, pipeline=None, x=pd.DataFrame(), seed=0
    )
    write_plot(tmp_path / "p.json", records)
    assert (tmp_path / "p.json").read_text() == (
        '[\n{"actual": 0.333333, "predicted": 0.666667},\n{"actual": 2.0, "predicted": 1.5}\n]\n'
    )


def test_feature_importance_names_are_the_pipeline_output_features() -> None:
    frame, y = _classification()
    pipeline = _fitted(LogisticRegression(), frame, y)
    records = _records("feature_importance", pipeline, frame, y)
    features = list(pipeline[:-1].get_feature_names_out())
    assert sorted(r["feature"] for r in records) == sorted(features)
    assert any(name.startswith("colour_") for name in features)  # one-hot outputs, not inputs
    assert records[0]["feature"] == "signal"
    importances = [r["importance"] for r in records]
    assert importances == sorted(importances, reverse=True)
    coef = np.abs(pipeline[-1].coef_).ravel()
    assert importances[0] == pytest.approx(coef.max(), abs=1e-6)


def test_models_without_importances_fall_back_to_permutation_on_input_columns() -> None:
    frame, y = _classification(rows=2_500)
    pipeline = _fitted(KNeighborsClassifier(), frame, y)
    values, names = feature_importance(pipeline, frame, y, seed=0)
    assert names == ["signal", "noise", "colour"]
    assert values[0] == max(values)  # permuting the signal hurts most
    again, _ = feature_importance(pipeline, frame, y, seed=0)
    np.testing.assert_array_equal(values, again)  # seeded
    assert len(frame) > PERMUTATION_ROWS


def test_regression_importance_uses_coefficients() -> None:
    frame, _ = _classification()
    target = frame["signal"].to_numpy() * 3.0
    pipeline = _fitted(Ridge(), frame, target)
    values, names = feature_importance(pipeline, frame, target, seed=0)
    assert names[int(np.argmax(values))] == "signal"
    assert len(names) == 5  # signal, noise and three one-hot colours


def test_score_plots_without_probabilities_name_the_fix() -> None:
    frame, y = _classification()
    predictions = Predictions(y, y, None, ["a", "b"])
    with pytest.raises(StageError, match=r"plot 'roc' needs class probabilities") as info:
        plot_records("roc", predictions, pipeline=None, x=frame, seed=0)
    assert info.value.where == "evaluate.plots"


def test_plot_files_are_json_arrays_of_records(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "plots" / "roc.json"
    write_plot(path, [{"fpr": 0.0, "tpr": 0.0}, {"fpr": 1.0, "tpr": 1.0}])
    assert json.loads(path.read_text()) == [{"fpr": 0.0, "tpr": 0.0}, {"fpr": 1.0, "tpr": 1.0}]
    write_plot(path, [])
    assert json.loads(path.read_text()) == []


# --- report -----------------------------------------------------------------------------------


def test_report_is_self_contained_and_shows_every_plot_and_slice() -> None:
    frame, y = _classification()
    pipeline = _fitted(LogisticRegression(), frame, y)
    names = [*CLASSIFICATION_PLOTS, "feature_importance"]
    plots = {name: _records(name, pipeline, frame, y) for name in names}
    metrics = {
        "accuracy": 0.9,
        "log_loss": None,
        "slices": {"colour": {"red": {"rows": 100, "accuracy": 0.8, "log_loss": None}}},
    }
    header = ReportHeader("diagnostics", "logistic_regression", "binary_classification",
                          "data/split/test.parquet", 300,
                          {"models/diagnostics": "0123456789abcdef.dir"})  # fmt: skip
    html = render_report(
        header, metrics, plots, task="binary_classification", classes=["class_0", "class_1"]
    )
    for name in names:
        assert f'<figure id="{name}"><svg' in html
    assert html.count("<svg") == len(names)
    assert "<?xml" not in html
    assert "<script" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html)
    assert "<code>models/diagnostics</code> <code>0123456789ab</code>" in html
    assert "commit" not in html  # written before its commit exists: inputs, never a commit
    assert "logistic_regression" in html
    assert "<td>red</td><td>100</td><td>0.8000</td>" in html
    assert '<td class="null">' in html  # None shows as a dash
    again = render_report(
        header, metrics, plots, task="binary_classification", classes=["class_0", "class_1"]
    )
    assert again == html  # reproducible: no dates, salted SVG ids


def test_report_for_regression_draws_residuals() -> None:
    predictions = Predictions(np.arange(5.0), np.arange(5.0) + 0.5, None, None)
    records = plot_records("residuals", predictions, pipeline=None, x=pd.DataFrame(), seed=0)
    header = ReportHeader("demand", "ridge", "regression", "data/split/test.parquet", 5, {})
    html = render_report(header, {"rmse": 0.5}, {"residuals": records}, task="regression",
                         classes=None)  # fmt: skip
    assert '<figure id="residuals"><svg' in html
    assert "inputs (md5, as in dvc.lock)" in html


def test_report_for_regression_draws_predicted_vs_actual() -> None:
    predictions = Predictions(np.arange(5.0), np.arange(5.0) + 0.5, None, None)
    records = plot_records(
        "predicted_vs_actual", predictions, pipeline=None, x=pd.DataFrame(), seed=0
    )
    header = ReportHeader("demand", "ridge", "regression", "data/split/test.parquet", 5, {})
    html = render_report(header, {"rmse": 0.5}, {"predicted_vs_actual": records},
                         task="regression", classes=None)  # fmt: skip
    assert '<figure id="predicted_vs_actual"><svg' in html
    assert "Predicted vs actual" in html


# --- spec and compiled stage ------------------------------------------------------------------


def _spec(**evaluate: object) -> dict:
    """The repo's params, without gates (they name classification metrics), and ``evaluate``.

    Without gates nothing is blessed, so the deploy targets (which need a blessing) go too.
    """
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["evaluate"].pop("gates", None)
    data.pop("deploy", None)
    data["evaluate"].update(evaluate)
    return data


def test_default_plots_depend_on_the_task_and_render_into_dvc_yaml() -> None:
    data = _spec()
    spec = ProjectSpec.model_validate(data)
    (plan,) = evaluate.plan(spec, PLUGINS)
    stage = _stage(plan, [], data, "local")
    entry = stage.to_dict()
    declared = [next(iter(item)) for item in entry["plots"]]
    assert declared == [PLOT_DEFS[n].path for n in [*CLASSIFICATION_PLOTS, "feature_importance"]]
    roc = entry["plots"][0]["reports/plots/roc.json"]
    assert roc == {
        "cache": False,
        "template": "simple",
        "x": "fpr",
        "y": "tpr",
        "title": "ROC curve",
        "x_label": "False positive rate",
        "y_label": "True positive rate",
    }
    assert entry["metrics"] == [{"reports/metrics.json": {"cache": False}}]
    assert {"reports/evaluation.html": {"cache": False}} in entry["outs"]
    assert set(declared) <= set(stage.produces)
    assert "seed" in entry["params"]


def test_multiclass_titles_say_micro_average() -> None:
    data = _spec(metrics=["accuracy"], primary=None)
    data["project"]["task"] = "multiclass_classification"
    (plan,) = evaluate.plan(ProjectSpec.model_validate(data), PLUGINS)
    props = dict(plan.plots)
    assert props["reports/plots/roc.json"]["title"] == "ROC curve (micro-average, one-vs-rest)"
    assert props["reports/plots/confusion_matrix.json"]["title"] == "Confusion matrix"


def test_regression_defaults_and_an_explicit_empty_list() -> None:
    data = _spec(metrics=["rmse"], primary=None)
    data["project"]["task"] = "regression"
    data["data"]["split"]["strategy"] = "random"
    spec = ProjectSpec.model_validate(data)
    assert spec.evaluate.plots_for("regression") == (
        "predicted_vs_actual",
        "residuals",
        "feature_importance",
    )
    (plan,) = evaluate.plan(spec, PLUGINS)
    entry = _stage(plan, [], data, "local").to_dict()
    declared = [next(iter(item)) for item in entry["plots"]]
    assert declared[0] == "reports/plots/predicted_vs_actual.json"
    assert entry["plots"][0]["reports/plots/predicted_vs_actual.json"] == {
        "cache": False,
        "template": "scatter",
        "x": "actual",
        "y": "predicted",
        "title": "Predicted vs actual",
        "x_label": "Actual",
        "y_label": "Predicted",
    }
    data["evaluate"]["plots"] = []
    (plan,) = evaluate.plan(ProjectSpec.model_validate(data), PLUGINS)
    assert plan.plots == ()
    assert "plots" not in _stage(plan, [], {}, "local").to_dict()


def test_a_plot_that_does_not_fit_the_task_is_located() -> None:
    data = _spec(metrics=["rmse"], primary=None, plots=["residuals", "roc"])
    data["project"]["task"] = "regression"
    data["data"]["split"]["strategy"] = "random"
    with pytest.raises(ValidationError, match=r"plot 'roc' does not fit project.task") as info:
        ProjectSpec.model_validate(data)
    (error,) = info.value.errors()
    assert error["loc"] == ("evaluate", "plots", 1)
    assert "choose from: predicted_vs_actual, residuals, feature_importance" in error["msg"]


def test_unknown_plot_and_repeated_slices_are_spec_errors() -> None:
    with pytest.raises(ValidationError, match=r"roc_curve") as info:
        ProjectSpec.model_validate(_spec(plots=["roc_curve"]))
    assert info.value.errors()[0]["loc"] == ("evaluate", "plots", 0)
    with pytest.raises(ValidationError, match=r"slices lists 'region' more than once"):
        ProjectSpec.model_validate(_spec(slices=["region", "region"]))


def test_regression_metrics_on_slices() -> None:
    frame = pd.DataFrame({"store": ["a", "a", "b"]})
    result = slice_metrics(
        frame,
        ["store"],
        {"rmse": Rmse.from_config({}), "log_loss": LogLoss.from_config({})},
        y_true=np.array([1.0, 2.0, 3.0]),
        y_pred=np.array([1.0, 4.0, 3.0]),
        y_score=None,
    )
    assert result["store"]["a"] == {
        "rows": 2,
        "rmse": pytest.approx(np.sqrt(2.0)),
        "log_loss": None,
    }
    assert result["store"]["b"]["rmse"] == 0.0
