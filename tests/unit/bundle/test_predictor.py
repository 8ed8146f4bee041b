"""The predictor: its numpy fast path must equal the Pipeline, or it must not be used."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from conveyor.bundle import infer_schema, load_bundle, save_bundle
from conveyor.bundle.predictor import Predictor
from conveyor.bundle.trust import type_name
from conveyor.errors import InputError
from conveyor.plugins import Plugins
from conveyor.runtime.estimator import build_pipeline
from conveyor.spec import FeaturesSpec

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd


def _cancer(rows: int = 300) -> tuple[pd.DataFrame, np.ndarray]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True).frame.sample(rows, random_state=0)
    x = data.drop(columns=["target"]).reset_index(drop=True)
    x.iloc[::17, 3] = np.nan  # a nullable column, imputed by the pipeline
    return x, data["target"].to_numpy()


def _bundle(
    path: Path, x: pd.DataFrame, y: Any, transforms: list[dict[str, Any]], model: Any, task: str
) -> Path:
    features = FeaturesSpec.model_validate({"transforms": transforms})
    pipeline = build_pipeline(features, model, Plugins.discover()).fit(x, y)
    classes = sorted({int(v) for v in y}) if task != "regression" else None
    schema = {"task": task, "target": "target", "classes": classes, "columns": infer_schema(x)}
    save_bundle(path, pipeline, schema, {"name": path.name})
    return path


SCALE = [
    {"kind": "impute", "columns": "numeric", "params": {"strategy": "median"}},
    {"kind": "standard_scaler", "columns": ["mean radius", "worst area"]},
    {"kind": "minmax_scaler", "columns": ["mean texture"]},
    {"kind": "robust_scaler", "columns": "numeric"},
]


@pytest.mark.parametrize("model_name", ["xgboost", "logistic_regression", "hist_gradient_boosting"])
def test_fast_path_equals_the_pipeline(tmp_path: Path, model_name: str) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from xgboost import XGBClassifier

    models = {
        "xgboost": XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1),
        "logistic_regression": LogisticRegression(max_iter=2000),
        "hist_gradient_boosting": HistGradientBoostingClassifier(max_iter=20),
    }
    x, y = _cancer()
    bundle = load_bundle(
        _bundle(tmp_path / "m", x, y, SCALE, models[model_name], "binary_classification")
    )
    predictor = Predictor(bundle)
    assert predictor.fast_path, predictor.fast_path_reason
    got = predictor.predict_rows({c: x[c].tolist() for c in x.columns})
    assert got.proba is not None
    np.testing.assert_allclose(got.proba, bundle.pipeline.predict_proba(x), rtol=1e-9, atol=1e-12)
    assert list(got.labels) == list(bundle.pipeline.predict(x))


def test_text_columns_take_the_pipeline_and_predict_the_same(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    x, y = _cancer()
    x["site"] = np.where(np.arange(len(x)) % 3 == 0, "north", "south")
    transforms = [
        {"kind": "impute", "columns": "numeric"},
        {"kind": "standard_scaler", "columns": "numeric"},
        {"kind": "one_hot", "columns": ["site"]},
    ]
    bundle = load_bundle(
        _bundle(
            tmp_path / "m",
            x,
            y,
            transforms,
            LogisticRegression(max_iter=3000),
            "binary_classification",
        )
    )
    predictor = Predictor(bundle)
    assert not predictor.fast_path
    assert "non-numeric" in predictor.fast_path_reason
    got = predictor.predict_rows({c: x[c].tolist() for c in x.columns})
    np.testing.assert_allclose(got.proba, bundle.pipeline.predict_proba(x))
    with pytest.raises(InputError, match=r"column 'site': unknown category 'east'"):
        predictor.predict_rows({**{c: x[c].tolist()[:1] for c in x.columns}, "site": ["east"]})
    allowing = Predictor(bundle, unknown_categories="allow")
    allowing.predict_rows({**{c: x[c].tolist()[:1] for c in x.columns}, "site": ["east"]})


def test_regression_predicts_values(tmp_path: Path) -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor

    x, _ = _cancer()
    y = x["mean area"].fillna(0).to_numpy() / 100
    x = x.drop(columns=["mean area"])
    path = _bundle(
        tmp_path / "r", x, y, SCALE[:1], HistGradientBoostingRegressor(max_iter=20), "regression"
    )
    bundle = load_bundle(path)
    got = Predictor(bundle).predict_rows({c: x[c].tolist() for c in x.columns})
    assert got.proba is None
    np.testing.assert_allclose(got.labels, bundle.pipeline.predict(x))


def test_every_problem_is_reported_with_its_column_and_rows(tmp_path: Path) -> None:
    from xgboost import XGBClassifier

    x, y = _cancer()
    bundle = load_bundle(
        _bundle(
            tmp_path / "m", x, y, SCALE[:1], XGBClassifier(n_estimators=5), "binary_classification"
        )
    )
    schema = Predictor(bundle).schema
    rows = {c: x[c].tolist()[:3] for c in x.columns}
    rows["mean radius"] = [1.0, "abc", True]
    rows["mean texture"] = [None, 2.0, float("inf")]
    rows["mean area"] = [None, None, None]  # nullable: the training data had gaps
    checked = schema.check(rows)
    assert [p.render() for p in checked.problems] == [
        "column 'mean radius': expected a number, got 'abc' (str) at rows 1, 2",
        "column 'mean texture': infinite values are not allowed at row 2",
        "column 'mean texture': null/NaN is not allowed (the model saw none) at row 0",
    ]
    assert checked.bad_rows.tolist() == [True, True, True]
    missing = schema.check(
        {c: v for c, v in rows.items() if c != "worst area"} | {"worst aera": [1] * 3}
    )
    assert [p.render() for p in missing.problems][:2] == [
        "column 'worst area': is missing",
        "column 'worst aera': is not an input of this model (did you mean 'worst area'?)",
    ]
    assert "column 'mean radius': expected a number" in missing.problems[2].render()
    assert missing.bad_rows.all()
    assert (
        schema.check({c: [] for c in x.columns})
        .problems[0]
        .message.startswith("the batch is empty")
    )
    text = schema.check(
        {c: [str(v) if v == v else ""] for c, v in x.iloc[0].items()}, from_text=True
    )
    assert text.ok(), text.problems


def test_a_classifier_without_probabilities_predicts_labels(tmp_path: Path) -> None:
    from sklearn.svm import LinearSVC

    x, y = _cancer()
    transforms = [*SCALE[:1], {"kind": "standard_scaler", "columns": "numeric"}]
    bundle = load_bundle(
        _bundle(tmp_path / "m", x, y, transforms, LinearSVC(), "binary_classification"),
        trusted=[type_name(LinearSVC)],  # a _target_ estimator: the project vouches for it
    )
    predictor = Predictor(bundle)
    assert not predictor.fast_path
    assert predictor.fast_path_reason == "LinearSVC has no predict_proba"
    got = predictor.predict_rows({c: x[c].tolist() for c in x.columns})
    assert got.proba is None
    assert list(got.labels) == list(bundle.pipeline.predict(x))


def test_with_threads_rebuilds_only_for_another_count_and_predicts_the_same(
    tmp_path: Path,
) -> None:
    from xgboost import XGBClassifier

    x, y = _cancer()
    model = XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1)
    bundle = load_bundle(_bundle(tmp_path / "m", x, y, SCALE, model, "binary_classification"))
    both = Predictor(bundle, unknown_categories="allow", threads=2)
    one = both.with_threads(1)
    assert one is not both
    assert one.with_threads(1) is one  # already one thread: itself
    assert both.with_threads(2) is both
    assert one.fast_path
    assert one.schema.unknown_categories == "allow"  # the other settings are kept
    rows = {c: x[c].tolist() for c in x.columns}
    np.testing.assert_array_equal(one.predict_rows(rows).proba, both.predict_rows(rows).proba)
