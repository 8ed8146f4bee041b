"""run_monitor end to end on real files, a real trained bundle and real statistics.

A three-class fruit model (a numeric, a nullable numeric and a category column) is trained once;
its training rows are the reference. Batches are drawn from the same generator, with drift
planted where a test says so.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conveyor.bundle import infer_schema, load_bundle, save_bundle
from conveyor.bundle.predictor import Predictor
from conveyor.bundle.trust import type_name
from conveyor.errors import DataError
from conveyor.monitoring import MonitorRequest, drift_options, profile_data, run_monitor
from conveyor.monitoring.drift import ColumnTest, DriftOptions
from conveyor.monitoring.monitor import model_predictor
from conveyor.plugins import Plugins
from conveyor.runtime.estimator import build_pipeline
from conveyor.spec import DriftSpec, FeaturesSpec, QualitySpec

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.monitoring.profile import Profile

CLASSES = ["apple", "melon", "pear"]
FEATURES = ["weight", "sugar", "color"]


def fruit(rows: int, seed: int, *, shift: float = 0.0, new_color: float = 0.0) -> pd.DataFrame:
    """Fruit with an id and the label; ``shift`` moves weight, ``new_color`` adds 'blue'."""
    rng = np.random.default_rng(seed)
    color = rng.choice(["red", "green", "yellow"], rows).astype(object)
    color[rng.random(rows) < new_color] = "blue"
    weight = rng.normal(150 + shift, 30, rows)
    sugar = rng.normal(10, 2, rows)
    sugar[::9] = np.nan
    label = np.where(color == "red", "apple", np.where(weight > 150, "melon", "pear"))
    return pd.DataFrame(
        {
            "id": [f"f{seed}-{i}" for i in range(rows)],
            "weight": weight,
            "sugar": sugar,
            "color": pd.array(color, dtype="str"),
            "fruit": label,
        }
    )


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the training rows (reference.parquet) and the bundle trained on them."""
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("monitor")
    train = fruit(600, seed=0)
    train.to_parquet(root / "reference.parquet", index=False)
    transforms = [
        {"kind": "impute", "columns": "numeric", "params": {"strategy": "median"}},
        {"kind": "standard_scaler", "columns": "numeric"},
        {"kind": "one_hot", "columns": ["color"]},
    ]
    x, y = train[FEATURES], train["fruit"].map(CLASSES.index).to_numpy()
    features = FeaturesSpec.model_validate({"transforms": transforms})
    pipeline = build_pipeline(features, LogisticRegression(max_iter=1000), Plugins.discover())
    schema = {
        "task": "multiclass_classification",
        "target": "fruit",
        "classes": CLASSES,
        "columns": infer_schema(x),
    }
    save_bundle(root / "fruit", pipeline.fit(x, y), schema, {"name": "fruit"})
    return root


@pytest.fixture(scope="module")
def predictor(root: Path) -> Predictor:
    return Predictor(load_bundle(root / "fruit"), unknown_categories="allow")


@pytest.fixture(scope="module")
def reference(root: Path, predictor: Predictor) -> Profile:
    return profile_data(root, ["reference.parquet"], predictor=predictor, exclude=["fruit"])


def test_the_reference_profiles_the_model_inputs_and_its_scores(reference: Profile) -> None:
    assert reference.names == ("weight", "sugar", "color")  # not the id, not the label
    assert reference.rows == 600
    assert reference.column("color")["kind"] == "categorical"
    assert reference.prediction is not None
    assert 1 / 3 <= reference.prediction["min"] <= reference.prediction["max"] <= 1  # top proba


def test_planted_drift_is_flagged_and_both_reports_are_written(
    tmp_path: Path, predictor: Predictor, reference: Profile
) -> None:
    fruit(400, seed=1, shift=45, new_color=0.3).to_parquet(tmp_path / "batch.parquet")
    result = run_monitor(
        tmp_path,
        MonitorRequest(
            current=("batch.parquet",), reference=reference, predictor=predictor, out_dir=tmp_path
        ),
    )
    assert result.report.drifted() == ["weight", "color"]
    assert [c.method for c in result.report.columns] == ["ks", "ks", "chisquare"]
    assert result.dataset_drift  # 2 of 3 >= 0.5
    assert result.report.prediction is not None
    assert result.report.prediction.drifted
    issues = {(issue.column, issue.check) for issue in result.report.quality}
    assert ("color", "new_categories") in issues
    assert result.performance is not None  # the batch holds the label column
    assert result.performance["metric"] == "accuracy"
    document = json.loads((tmp_path / "drift.json").read_text())
    assert document == result.document
    assert list(document)[:8] == [
        "dataset_drift",
        "drifted_share",
        "drifted_columns",
        "prediction_drift",
        "quality_issues",
        "rows",
        "reference_rows",
        "unscored_rows",
    ]
    assert document["dataset_drift"] == 1
    assert document["drifted_columns"] == 2
    assert [c["column"] for c in document["columns"] if c["drifted"]] == ["weight", "color"]
    assert document["inputs"]["current"] == ["batch.parquet"]
    assert document["inputs"]["model"] == "fruit local"
    html = (tmp_path / "drift.html").read_text()
    assert html.count("<svg") == 3  # the prediction and the two drifted columns
    assert "Dataset drift: 2 of 3 columns drifted (67%)" in html
    assert not re.search(r"<script|<link|src=|@import", html)  # self-contained, offline


def test_an_undrifted_batch_flags_nothing(
    tmp_path: Path, predictor: Predictor, reference: Profile
) -> None:
    fruit(400, seed=2).to_parquet(tmp_path / "batch.parquet")
    result = run_monitor(
        tmp_path,
        MonitorRequest(
            current=("batch.parquet",), reference=reference, predictor=predictor, out_dir=tmp_path
        ),
    )
    assert result.report.drifted() == []
    assert not result.dataset_drift
    assert result.report.quality == ()
    assert result.performance is not None
    assert not result.performance_drop
    html = (tmp_path / "drift.html").read_text()
    assert "No dataset drift: 0 of 3 columns drifted (0%)" in html
    assert html.count("<svg") == 1  # the prediction only


def test_csv_and_parquet_files_by_glob_and_folder(
    tmp_path: Path, predictor: Predictor, reference: Profile
) -> None:
    batch = fruit(300, seed=3)
    (tmp_path / "batches").mkdir()
    batch.iloc[:150].to_csv(tmp_path / "batches" / "a.csv", index=False)
    batch.iloc[150:].to_parquet(tmp_path / "batches" / "b.parquet", index=False)
    (tmp_path / "batches" / ".c.parquet.tmp").write_text("half a file")  # hidden: skipped
    by_glob = run_monitor(
        tmp_path,
        MonitorRequest(
            current=("batches/*",), reference=reference, predictor=predictor, out_dir=tmp_path / "g"
        ),
    )
    by_folder = run_monitor(
        tmp_path,
        MonitorRequest(
            current=("batches",), reference=reference, predictor=predictor, out_dir=tmp_path / "f"
        ),
    )
    assert by_glob.document["inputs"]["current"] == ["batches/a.csv", "batches/b.parquet"]
    assert by_glob.report.rows == by_folder.report.rows == 300
    assert by_glob.document["columns"] == by_folder.document["columns"]


def _write_log(folder: Path, batch: pd.DataFrame, score: np.ndarray) -> None:
    """A prediction log as ``conveyor serve --log-dir`` writes it (docs/serving.md)."""
    part = folder / "date=2026-11-26"
    part.mkdir(parents=True)
    table = pa.table(
        {
            "weight": batch["weight"],
            "sugar": batch["sugar"],
            "color": pa.array(batch["color"], pa.string()),
            "_request_id": [f"r{i}" for i in range(len(batch))],
            "_model": ["fruit"] * len(batch),
            "_prediction": ["apple"] * len(batch),
            "_score": score,
        }
    )
    pq.write_table(table.slice(0, 100), part / "part-140029-000000.parquet")
    pq.write_table(table.slice(100), part / "part-140129-000001.parquet")
    (part / ".part-140229-000002.tmp").write_bytes(b"PAR1")  # still being written: skipped


def test_the_prediction_log_uses_the_logged_scores(
    tmp_path: Path, predictor: Predictor, reference: Profile
) -> None:
    batch = fruit(300, seed=4)
    _write_log(tmp_path / "log" / "fruit", batch, np.full(len(batch), 0.999))
    _write_log(tmp_path / "log" / "other", batch, np.full(len(batch), 0.5))
    result = run_monitor(
        tmp_path,
        MonitorRequest(
            current=("log",), reference=reference, predictor=predictor, out_dir=tmp_path / "out"
        ),
    )
    assert len(result.document["inputs"]["current"]) == 2
    assert all(
        f.startswith("log/fruit/date=2026-11-26/") for f in result.document["inputs"]["current"]
    )
    assert result.report.drifted() == []  # the features are as in training...
    assert result.report.prediction is not None
    assert result.report.prediction.drifted  # ...but every logged score is 0.999
    assert result.performance is None  # no labels in a log
    with pytest.raises(
        DataError, match=r"holds the prediction logs of several models: fruit, other"
    ):
        run_monitor(
            tmp_path,
            MonitorRequest(current=("log",), reference=reference, predictor=None, out_dir=tmp_path),
        )


def test_labels_joined_on_the_id_measure_performance(
    tmp_path: Path, predictor: Predictor, reference: Profile
) -> None:
    from sklearn.metrics import accuracy_score

    batch = fruit(300, seed=5)
    batch.drop(columns="fruit").to_parquet(tmp_path / "batch.parquet")
    labels = batch[["id", "fruit"]].sample(frac=1.0, random_state=0).iloc[:200]
    labels.to_csv(tmp_path / "labels.csv", index=False)
    result = run_monitor(
        tmp_path,
        MonitorRequest(
            current=("batch.parquet",),
            reference=reference,
            predictor=predictor,
            out_dir=tmp_path,
            labels=("labels.csv",),
            id_column="id",
            reference_metrics={"accuracy": 0.99},
            max_drop=0.001,
        ),
    )
    performance = result.performance
    assert performance is not None
    joined = batch.set_index("id").loc[labels["id"]]
    expected = accuracy_score(
        joined["fruit"], predictor.predict_rows({c: joined[c].to_numpy() for c in FEATURES}).labels
    )
    assert performance["rows"] == 200
    assert performance["value"] == pytest.approx(expected)
    assert performance["drop"] == pytest.approx(0.99 - expected)
    assert performance["dropped"] is (0.99 - expected > 0.001)
    assert performance["source"] == "labels joined on 'id' (labels.csv)"
    assert result.document["performance"]["reference"] == 0.99
    assert result.document["performance_drop"] == int(performance["dropped"])

    labels.iloc[[0, 0]].to_csv(tmp_path / "twice.csv", index=False)
    with pytest.raises(DataError, match=r"the labels repeat ids 'f5-\d+' of 'id'"):
        run_monitor(
            tmp_path,
            MonitorRequest(
                current=("batch.parquet",),
                reference=reference,
                predictor=predictor,
                out_dir=tmp_path / "x",
                labels=("twice.csv",),
                id_column="id",
            ),
        )


def test_rows_the_model_refuses_are_counted_not_fatal(
    tmp_path: Path, root: Path, reference: Profile
) -> None:
    strict = Predictor(load_bundle(root / "fruit"))  # unknown categories are bad rows
    fruit(200, seed=6, new_color=0.25).to_parquet(tmp_path / "batch.parquet")
    result = run_monitor(
        tmp_path,
        MonitorRequest(
            current=("batch.parquet",), reference=reference, predictor=strict, out_dir=tmp_path
        ),
    )
    unscored = result.document["unscored_rows"]
    assert 20 < unscored < 100
    assert result.document["inputs"]["unscored_reasons"][0].startswith(
        "column 'color': unknown category 'blue'"
    )
    assert result.report.prediction is not None
    assert result.report.prediction.current_rows == 200 - unscored
    assert result.performance is not None
    assert result.performance["rows"] == 200 - unscored


def test_options_come_from_the_spec(
    tmp_path: Path, predictor: Predictor, reference: Profile
) -> None:
    drift = DriftSpec.model_validate(
        {
            "method": "psi",
            "columns": {"sugar": {"method": "ks", "threshold": 0.01}},
            "ignore": ["color"],
        }
    )
    options = drift_options(drift, QualitySpec(null_rate_increase=0.2))
    assert options == DriftOptions(
        default=ColumnTest("psi", None),
        columns={"sugar": ColumnTest("ks", 0.01)},
        ignore=("color",),
        null_rate_increase=0.2,
    )
    batch = fruit(300, seed=7).drop(columns="color")  # an ignored column need not be there
    batch.to_parquet(tmp_path / "batch.parquet")
    result = run_monitor(
        tmp_path,
        MonitorRequest(
            current=("batch.parquet",),
            reference=reference,
            predictor=None,
            out_dir=tmp_path,
            options=options,
        ),
    )
    assert [(c.name, c.method) for c in result.report.columns] == [
        ("weight", "psi"),
        ("sugar", "ks"),
    ]
    assert result.report.prediction is None
    assert result.document["inputs"]["model"] is None


def test_a_classifier_without_probabilities_compares_the_features_only(tmp_path: Path) -> None:
    from sklearn.svm import LinearSVC

    train = fruit(300, seed=11)
    x, y = train[["weight", "sugar"]].fillna(0.0), train["fruit"].map(CLASSES.index)
    pipeline = build_pipeline(FeaturesSpec(), LinearSVC(), Plugins.discover()).fit(x, y)
    schema = {"task": "multiclass_classification", "target": "fruit", "classes": CLASSES,
              "columns": infer_schema(x)}  # fmt: skip
    save_bundle(tmp_path / "svc", pipeline, schema, {"name": "svc"})
    model = model_predictor(load_bundle(tmp_path / "svc", trusted=[type_name(LinearSVC)]))
    assert model is None  # no score to monitor: the features only, as the profile stage does
    x.assign(fruit=train["fruit"]).to_parquet(tmp_path / "train.parquet")
    profile = profile_data(tmp_path, ["train.parquet"], predictor=model, exclude=["fruit"])
    assert profile.names == ("weight", "sugar")
    assert profile.prediction is None
    result = run_monitor(
        tmp_path,
        MonitorRequest(
            current=("train.parquet",), reference=profile, predictor=model, out_dir=tmp_path
        ),
    )
    assert result.report.drifted() == []
    assert result.performance is None


def test_regression_performance_worsens_upwards(tmp_path: Path) -> None:
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(8)
    x = pd.DataFrame(rng.normal(size=(300, 2)), columns=["a", "b"])
    y = x["a"] * 3 + 10
    features = FeaturesSpec.model_validate({"transforms": []})
    pipeline = build_pipeline(features, Ridge(), Plugins.discover()).fit(x, y)
    schema = {"task": "regression", "target": "y", "classes": None, "columns": infer_schema(x)}
    save_bundle(tmp_path / "m", pipeline, schema, {"name": "m"})
    model = Predictor(load_bundle(tmp_path / "m", trusted=[type_name(Ridge)]))
    x.assign(y=y).to_parquet(tmp_path / "train.parquet")
    profile = profile_data(tmp_path, ["train.parquet"], predictor=model, exclude=["y"])
    x.assign(y=y + 2.0).to_parquet(tmp_path / "batch.parquet")  # the world moved by 2
    result = run_monitor(
        tmp_path,
        MonitorRequest(
            current=("batch.parquet",),
            reference=profile,
            predictor=model,
            out_dir=tmp_path,
            reference_metrics={"rmse": 0.0},
        ),
    )
    assert result.performance is not None
    assert result.performance["metric"] == "rmse"
    assert result.performance["value"] == pytest.approx(2.0, abs=1e-3)
    assert result.performance["drop"] == pytest.approx(2.0, abs=1e-3)  # higher rmse is worse
    assert result.performance_drop
    assert result.report.drifted() == []
    assert result.report.prediction is not None
    assert not result.report.prediction.drifted


@pytest.mark.parametrize(
    ("current", "message"),
    [
        (["batchh.parquet"], r"CURRENT: 'batchh.parquet' does not exist"),
        (["none/*.parquet"], r"CURRENT: 'none/\*.parquet' matches no .csv or .parquet file"),
        (["empty"], r"CURRENT: folder 'empty' holds no .csv or .parquet files"),
        (["no_sugar.parquet"], r"CURRENT: 'no_sugar.parquet' lacks column 'sugar', which the"),
        (["text.csv"], r"CURRENT: column 'weight' of 'text.csv' is not numeric \(string\)"),
        (["broken.parquet"], r"CURRENT: cannot read 'broken.parquet'"),
    ],
)
def test_bad_input_is_located_and_writes_nothing(
    tmp_path: Path, predictor: Predictor, reference: Profile, current: list[str], message: str
) -> None:
    batch = fruit(50, seed=9)
    batch.to_parquet(tmp_path / "batch.parquet")
    batch.drop(columns="sugar").to_parquet(tmp_path / "no_sugar.parquet")
    batch.assign(weight="heavy").to_csv(tmp_path / "text.csv", index=False)
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    (tmp_path / "empty").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "drift.json").write_text("previous\n")
    with pytest.raises(DataError, match=message) as caught:
        run_monitor(
            tmp_path,
            MonitorRequest(
                current=tuple(current),
                reference=reference,
                predictor=predictor,
                out_dir=tmp_path / "out",
                where="CURRENT",
            ),
        )
    assert caught.value.fix
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["drift.json"]
    assert (tmp_path / "out" / "drift.json").read_text() == "previous\n"


def test_a_misspelt_file_gets_a_suggestion(
    tmp_path: Path, predictor: Predictor, reference: Profile
) -> None:
    fruit(50, seed=10).to_parquet(tmp_path / "batch.parquet")
    with pytest.raises(DataError, match="does not exist") as caught:
        run_monitor(
            tmp_path,
            MonitorRequest(
                current=("btach.parquet",),
                reference=reference,
                predictor=predictor,
                out_dir=tmp_path,
            ),
        )
    assert caught.value.fix is not None
    assert caught.value.fix.startswith("did you mean 'batch.parquet' (in the same folder)?")


def test_a_shadow_servers_log_monitors_as_the_answered_predictions(
    tmp_path: Path, predictor: Predictor, reference: Profile
) -> None:
    """A log with a shadow's columns (docs/serving.md, Canary and shadow) drifts as without."""
    batch = fruit(300, seed=4)
    _write_log(tmp_path / "plain" / "fruit", batch, np.full(len(batch), 0.999))
    _write_log(tmp_path / "shadow" / "fruit", batch, np.full(len(batch), 0.999))
    for file in sorted((tmp_path / "shadow").rglob("*.parquet")):
        table = pq.read_table(file)
        rows = table.num_rows
        table = table.append_column("_shadow_model_version", pa.array(["v2"] * rows))
        table = table.append_column("_shadow_prediction", pa.array(["pear"] * rows))
        table = table.append_column("_shadow_score", pa.array([0.5] * rows, pa.float64()))
        pq.write_table(table, file)
    documents = []
    for folder in ("plain", "shadow"):
        result = run_monitor(
            tmp_path,
            MonitorRequest(
                current=(folder,),
                reference=reference,
                predictor=predictor,
                out_dir=tmp_path / f"out-{folder}",
            ),
        )
        assert result.report.prediction is not None
        assert result.report.prediction.drifted  # the answered scores (0.999), not the shadow's
        documents.append({k: v for k, v in result.document.items() if k != "inputs"})
    assert documents[0] == documents[1]
