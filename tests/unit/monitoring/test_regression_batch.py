"""A regression model monitored on labelled batches: the tolerated drop is relative to the
reference by default, and the verdict states the worst finding (a drop), not "no drift".

The model is a real random forest on scikit-learn's diabetes data (rmse ~55 on held-out rows,
the scale at which an absolute ``max_drop: 0.05`` fired on every batch).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import numpy as np
import pytest

from conveyor.bundle import infer_schema, load_bundle, save_bundle
from conveyor.bundle.predictor import Predictor
from conveyor.monitoring import MonitorRequest, profile_data, run_monitor
from conveyor.monitoring.monitor import summary
from conveyor.plugins import Plugins
from conveyor.runtime.estimator import build_pipeline
from conveyor.spec import FeaturesSpec, MonitorSpec

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from conveyor.monitoring.profile import Profile


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """train.parquet, batch.parquet (held-out rows with their labels) and the bundle."""
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import RandomForestRegressor

    root = tmp_path_factory.mktemp("regression")
    data: pd.DataFrame = load_diabetes(as_frame=True).frame.rename(columns={"target": "y"})
    train, batch = data.iloc[:300], data.iloc[300:].reset_index(drop=True)
    train.to_parquet(root / "train.parquet", index=False)
    batch.to_parquet(root / "batch.parquet", index=False)
    x = train.drop(columns="y")
    features = FeaturesSpec.model_validate({"transforms": []})
    model = RandomForestRegressor(n_estimators=20, min_samples_leaf=5, random_state=0, n_jobs=1)
    pipeline = build_pipeline(features, model, Plugins.discover())
    schema = {"task": "regression", "target": "y", "columns": infer_schema(x)}
    save_bundle(root / "model", pipeline.fit(x, train["y"]), schema, {"name": "diabetes"})
    return root


@pytest.fixture(scope="module")
def predictor(root: Path) -> Predictor:
    return Predictor(load_bundle(root / "model"))


@pytest.fixture(scope="module")
def reference(root: Path, predictor: Predictor) -> Profile:
    return profile_data(root, ["train.parquet"], predictor=predictor, exclude=["y"])


@pytest.fixture(scope="module")
def batch_rmse(root: Path, predictor: Predictor, reference: Profile) -> float:
    """The model's rmse on the batch, as monitoring measures it."""
    result = run_monitor(
        root,
        MonitorRequest(
            current=("batch.parquet",),
            reference=reference,
            predictor=predictor,
            out_dir=root / "probe",
            metric="rmse",
            reference_metrics={"rmse": 1.0},
        ),
    )
    assert result.performance is not None
    value = result.performance["value"]
    assert 40 < value < 80  # diabetes progression: rmse in the tens
    return float(value)


def _monitor(
    tmp_path: Path,
    predictor: Predictor,
    reference: Profile,
    reference_rmse: float,
    *,
    current: str = "batch.parquet",
    root: Path,
) -> dict:
    request = MonitorRequest.from_spec(
        MonitorSpec(),  # the defaults: max_drop 0.05, relative
        current=[current],
        reference=reference,
        predictor=predictor,
        out_dir=tmp_path,
        target="y",
        metric="rmse",
        reference_metrics={"rmse": reference_rmse},
    )
    result = run_monitor(root, request)
    assert result.performance is not None
    return {"result": result, **result.performance}


@pytest.mark.parametrize(("worse_by", "dropped"), [(0.049, False), (0.051, True)])
def test_the_default_max_drop_is_five_percent_of_the_reference(
    tmp_path: Path,
    root: Path,
    predictor: Predictor,
    reference: Profile,
    batch_rmse: float,
    worse_by: float,
    dropped: bool,
) -> None:
    # the batch's rmse is `worse_by` above the reference: ~2.5 units, far above 0.05
    reference_rmse = batch_rmse / (1 + worse_by)
    perf = _monitor(tmp_path, predictor, reference, reference_rmse, root=root)
    assert perf["drop"] == pytest.approx(batch_rmse - reference_rmse)
    assert perf["drop"] > 2
    assert perf["relative"] is True
    assert perf["tolerated_drop"] == pytest.approx(0.05 * reference_rmse)
    assert perf["dropped"] is dropped
    document = json.loads((tmp_path / "drift.json").read_text())
    assert document["performance_drop"] == int(dropped)
    assert document["performance"]["relative"] is True
    assert document["performance"]["tolerated_drop"] == pytest.approx(0.05 * reference_rmse)
    html = (tmp_path / "drift.html").read_text()
    assert "0.05 of the reference (5%) = " in html  # the report says which tolerance applied


def test_units_when_relative_is_false(
    tmp_path: Path, root: Path, predictor: Predictor, reference: Profile, batch_rmse: float
) -> None:
    request = MonitorRequest.from_spec(
        MonitorSpec.model_validate({"performance": {"max_drop": 3, "relative": False}}),
        current=["batch.parquet"],
        reference=reference,
        predictor=predictor,
        out_dir=tmp_path,
        target="y",
        metric="rmse",
        reference_metrics={"rmse": batch_rmse - 2.9},
    )
    perf = run_monitor(root, request).performance
    assert perf is not None
    assert (perf["relative"], perf["tolerated_drop"], perf["dropped"]) == (False, 3, False)
    assert "3 in the metric&#x27;s units" in (tmp_path / "drift.html").read_text()


def test_the_headline_states_a_performance_drop_even_without_dataset_drift(
    tmp_path: Path, root: Path, predictor: Predictor, reference: Profile, batch_rmse: float
) -> None:
    import pandas as pd

    # bmi, the strongest feature, moves up by one standard deviation: 1 of 10 columns drifts
    # (no dataset drift at dataset_share 0.5), the predictions drift, the error grows.
    shifted = pd.read_parquet(root / "batch.parquet")
    shifted["bmi"] += shifted["bmi"].std()
    shifted.to_parquet(root / "shifted.parquet", index=False)
    perf = _monitor(
        tmp_path, predictor, reference, batch_rmse, current="shifted.parquet", root=root
    )
    result = perf["result"]
    assert result.report.drifted() == ["bmi"]
    assert not result.dataset_drift
    assert result.report.prediction is not None
    assert result.report.prediction.drifted
    assert perf["dropped"]
    html = (tmp_path / "drift.html").read_text()
    [verdict] = re.findall(r'<p class="verdict (\w+)">([^<]*)</p>', html)
    assert verdict[0] == "alert"
    assert verdict[1].startswith("Performance drop: rmse reference ")
    assert verdict[1].endswith(
        "; also prediction drift; no dataset drift (1 of 10 columns drifted (10%))"
    )
    first = summary(result, root).splitlines()[0]
    assert first.startswith("PERFORMANCE DROP: rmse reference ")
    assert np.isfinite(perf["value"])
