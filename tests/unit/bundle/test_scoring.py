"""Batch scoring: real files, a real trained bundle, pyarrow streaming, the bad-row policies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conveyor.bundle import infer_schema, load_bundle, save_bundle
from conveyor.bundle.predictor import Predictor
from conveyor.bundle.scoring import score_files
from conveyor.errors import DataError, InputError

LINEAR = ["sklearn.linear_model._base.LinearRegression"]  # a _target_ model, vouched for


def features() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(as_frame=True).frame.drop(columns="target")


def make_bundle(path: Path) -> Path:
    """Scale + XGBoost on breast cancer, built as conveyor's train stage builds it."""
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_breast_cancer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from xgboost import XGBClassifier

    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    scale = ColumnTransformer(
        [("0_standard_scaler", StandardScaler(), list(x.columns))],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    model = XGBClassifier(n_estimators=15, max_depth=3, n_jobs=1, random_state=0)
    pipeline = Pipeline([("0_standard_scaler", scale), ("model", model)]).fit(x, y)
    schema = {
        "task": "binary_classification",
        "target": "diagnosis",
        "classes": [0, 1],
        "columns": infer_schema(x),
    }
    save_bundle(path, pipeline, schema, {"name": "tiny"})
    return path


@pytest.fixture(scope="module")
def predictor(tmp_path_factory: pytest.TempPathFactory) -> Predictor:
    return Predictor(load_bundle(make_bundle(tmp_path_factory.mktemp("bundle") / "tiny")))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """data/a.csv (the first 300 rows, with an id column) and data/b.parquet (the rest)."""
    frame = features()
    frame.insert(0, "id", [f"p{i}" for i in range(len(frame))])
    (tmp_path / "data").mkdir()
    frame.iloc[:300].to_csv(tmp_path / "data" / "a.csv", index=False)
    frame.iloc[300:].to_parquet(tmp_path / "data" / "b.parquet", index=False)
    return tmp_path


def _score(predictor: Predictor, root: Path, inputs: list[str], **options: Any) -> Any:
    return score_files(predictor, inputs, Path("out.parquet"), root=root, **options)


def test_csv_and_parquet_by_glob_score_like_the_pipeline(predictor: Predictor, data: Path) -> None:
    summary = _score(predictor, data, ["data/*"], keep_columns=["id"])
    frame = features()
    assert summary.rows_in == summary.rows_scored == len(frame)
    assert summary.files == (data / "data" / "a.csv", data / "data" / "b.parquet")
    assert summary.output == data / "out.parquet"
    assert summary.report is None
    out = pd.read_parquet(data / "out.parquet")
    assert list(out.columns) == ["id", "prediction", "proba_0", "proba_1", "_source_file", "_row"]
    expected = predictor.bundle.pipeline.predict_proba(frame)
    np.testing.assert_allclose(out[["proba_0", "proba_1"]].to_numpy(), expected, rtol=1e-6)
    assert out["prediction"].tolist() == expected.argmax(axis=1).tolist()
    assert out["id"].tolist() == [f"p{i}" for i in range(len(frame))]
    assert out["_source_file"].tolist() == ["data/a.csv"] * 300 + ["data/b.parquet"] * 269
    assert out["_row"].tolist() == list(range(300)) + list(range(269))


def test_chunk_size_does_not_change_the_output(predictor: Predictor, data: Path) -> None:
    one = score_files(predictor, ["data/a.csv", "data/b.parquet"], Path("one.parquet"), root=data)
    many = score_files(
        predictor,
        ["data"],
        Path("many.parquet"),
        root=data,
        chunk_rows=7,  # a directory
    )
    assert one.rows_scored == many.rows_scored == 569
    assert pq.read_table(one.output).equals(pq.read_table(many.output))
    assert pq.ParquetFile(many.output).metadata.num_row_groups > 60  # really written in chunks


def test_default_keeps_every_column_with_model_inputs_parsed(
    predictor: Predictor, data: Path
) -> None:
    _score(predictor, data, ["data/a.csv"])
    schema = pq.read_schema(data / "out.parquet")
    assert schema.field("id").type == pa.string()
    assert schema.field("mean radius").type == pa.float64()  # parsed from CSV text
    out = pd.read_parquet(data / "out.parquet")
    np.testing.assert_array_equal(out["mean radius"], features()["mean radius"][:300])


def test_progress_reaches_the_exact_total(predictor: Predictor, data: Path) -> None:
    calls: list[tuple[int, int]] = []
    _score(
        predictor,
        data,
        ["data/a.csv", "data/b.parquet"],
        chunk_rows=50,
        on_progress=lambda done, total: calls.append((done, total)),
    )
    assert calls[-1] == (569, 569)
    assert all(done <= total for done, total in calls)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def _bad_csv(root: Path) -> None:
    frame = features().astype(object)
    frame.iloc[3, 0] = "abc"  # mean radius
    frame.iloc[7, 2] = None  # mean perimeter: an empty cell
    frame.iloc[250, 0] = "n/a"
    frame.to_csv(root / "bad.csv", index=False)


def test_skip_drops_bad_rows_and_reports_them(predictor: Predictor, tmp_path: Path) -> None:
    _bad_csv(tmp_path)
    summary = _score(predictor, tmp_path, ["bad.csv"], bad_rows="skip", chunk_rows=200)
    assert (summary.rows_in, summary.rows_scored, summary.rows_skipped) == (569, 566, 3)
    assert summary.report == tmp_path / "out.parquet.bad_rows.json"
    out = pd.read_parquet(summary.output)
    assert not {3, 7, 250} & set(out["_row"])
    assert len(out) == 566
    report = json.loads(summary.report.read_text())
    assert report["rows_skipped"] == 3
    assert report["skipped_by_file"] == {"bad.csv": 3}
    assert report["model"]["name"] == "tiny"
    assert report["problems"] == [
        {
            "column": "mean radius",
            "rows": 2,
            "messages": [
                "expected a number, got 'abc' (str)",
                "expected a number, got 'n/a' (str)",
            ],
        },
        {
            "column": "mean perimeter",
            "rows": 1,
            "messages": ["null/NaN is not allowed (the model saw none)"],
        },
    ]
    assert [(s["file"], s["row"], s["column"]) for s in report["samples"]] == [
        ("bad.csv", 3, "mean radius"),
        ("bad.csv", 7, "mean perimeter"),
        ("bad.csv", 250, "mean radius"),
    ]
    assert report["samples"][2]["message"] == "expected a number, got 'n/a' (str)"


def test_skip_counts_every_bad_row_and_samples_twenty(predictor: Predictor, tmp_path: Path) -> None:
    frame = features()
    frame.loc[::10, "worst area"] = -np.inf  # 57 rows in one chunk: more than a Problem lists
    frame.loc[5, "mean texture"] = np.nan
    frame.to_parquet(tmp_path / "in.parquet", index=False)
    summary = _score(predictor, tmp_path, ["in.parquet"], bad_rows="skip", report=Path("r.json"))
    assert summary.rows_skipped == 58
    report = json.loads((tmp_path / "r.json").read_text())
    assert [(p["column"], p["rows"]) for p in report["problems"]] == [
        ("worst area", 57),
        ("mean texture", 1),
    ]
    assert len(report["samples"]) == 20


def test_a_problem_counts_all_its_rows_and_lists_twenty(predictor: Predictor) -> None:
    frame = features()
    frame.loc[::10, "worst area"] = -np.inf
    columns = {name: frame[name].to_numpy() for name in predictor.schema.names}
    (problem,) = predictor.schema.check(columns).problems
    assert (problem.column, problem.count) == ("worst area", 57)
    assert problem.rows == tuple(range(0, 200, 10))


def test_fail_names_file_rows_and_problems_and_writes_nothing(
    predictor: Predictor, tmp_path: Path
) -> None:
    _bad_csv(tmp_path)
    (tmp_path / "out.parquet").write_bytes(b"the previous output")
    with pytest.raises(
        InputError,
        match=r"bad\.csv: column 'mean radius': expected a number, got 'abc' \(str\) "
        r"at rows 3, 250; column 'mean perimeter': null/NaN is not allowed \(the model saw none\) "
        r"at row 7$",
    ) as info:
        _score(predictor, tmp_path, ["bad.csv"])
    assert info.value.exit_code == 2
    assert "--bad-rows skip" in str(info.value.fix)
    assert (tmp_path / "out.parquet").read_bytes() == b"the previous output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "out.parquet"]


def test_row_numbers_count_within_each_file(predictor: Predictor, data: Path) -> None:
    frame = pq.read_table(data / "data" / "b.parquet").to_pandas()
    frame.loc[100, "worst area"] = np.inf
    frame.to_parquet(data / "data" / "b.parquet", index=False)
    with pytest.raises(
        InputError,
        match=r"^data/b\.parquet: column 'worst area': infinite values"
        r" are not allowed at row 100$",
    ):
        _score(predictor, data, ["data/*"], chunk_rows=64)


@pytest.mark.parametrize("policy", ["fail", "skip"])
def test_a_missing_column_stops_both_policies(
    predictor: Predictor, data: Path, policy: str
) -> None:
    features().drop(columns=["mean radius", "worst area"]).to_csv(data / "c.csv", index=False)
    with pytest.raises(
        InputError,
        match=r"^c\.csv: model 'tiny' needs columns the file lacks: 'mean radius', "
        r"'worst area'$",
    ) as info:
        _score(predictor, data, ["data/a.csv", "c.csv"], bad_rows=policy)
    assert "give it the model's input columns" in str(info.value.fix)
    assert not (data / "out.parquet").exists()


def test_kept_columns_must_be_in_every_file(predictor: Predictor, data: Path) -> None:
    features().to_parquet(data / "c.parquet", index=False)
    with pytest.raises(InputError, match=r"^c\.parquet: kept columns 'id' are not in the file$"):
        _score(predictor, data, ["data/a.csv", "c.parquet"])


def test_an_input_column_named_like_an_output_is_refused(predictor: Predictor, data: Path) -> None:
    frame = features().assign(prediction=1)
    frame.to_parquet(data / "scored.parquet", index=False)
    with pytest.raises(DataError, match=r"input columns 'prediction' have the names of output"):
        _score(predictor, data, ["scored.parquet"])
    summary = _score(predictor, data, ["scored.parquet"], keep_columns=[])
    assert summary.rows_scored == 569


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (["data/*.json"], r"no file matches 'data/\*\.json'"),
        (["nope.csv"], r"input file 'nope\.csv' does not exist"),
        (["broken.parquet"], r"^cannot read 'broken\.parquet': "),
        (["notes.txt"], r"cannot score 'notes\.txt': only \.csv and \.parquet files are read"),
    ],
)
def test_inputs_that_cannot_be_read(
    predictor: Predictor, data: Path, inputs: list[str], message: str
) -> None:
    (data / "broken.parquet").write_bytes(b"PAR1 not really")
    (data / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match=message):
        _score(predictor, data, inputs)
    assert not (data / "out.parquet").exists()


@pytest.fixture(scope="module")
def regression_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One-hot city + size into a linear regression: a model that takes the Pipeline path."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    x = pd.DataFrame({"city": ["oslo", "rome", "lima"] * 20, "size": np.arange(60.0)})
    y = x["size"] * 2 + x["city"].map({"oslo": 1.0, "rome": 2.0, "lima": 3.0})
    encode = ColumnTransformer(
        [("0_one_hot", OneHotEncoder(handle_unknown="ignore"), ["city"])],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    pipeline = Pipeline([("0_one_hot", encode), ("model", LinearRegression())]).fit(x, y)
    schema = {"task": "regression", "target": "y", "classes": None, "columns": infer_schema(x)}
    path = tmp_path_factory.mktemp("bundle") / "prices"
    save_bundle(path, pipeline, schema, {"name": "prices"})
    return path


def test_regression_with_categories_and_the_unknown_category_policy(
    regression_bundle: Path, tmp_path: Path
) -> None:
    (tmp_path / "new.csv").write_text("city,size\nrome,10\nparis,3\nlima,4.5\n")
    strict = Predictor(load_bundle(regression_bundle, trusted=LINEAR))
    assert not strict.fast_path
    with pytest.raises(
        InputError, match=r"column 'city': unknown category 'paris' \(str\) \(known"
    ):
        _score(strict, tmp_path, ["new.csv"])
    lenient = Predictor(load_bundle(regression_bundle, trusted=LINEAR), unknown_categories="allow")
    summary = _score(lenient, tmp_path, ["new.csv"])
    assert summary.rows_scored == 3
    out = pq.read_table(summary.output)
    assert out.schema.field("prediction").type == pa.float64()
    assert out.schema.field("size").type == pa.float64()
    assert out.column_names == ["city", "size", "prediction", "_source_file", "_row"]
    assert out.column("city").to_pylist() == ["rome", "paris", "lima"]
    assert out.column("prediction").to_pylist()[0] == pytest.approx(22.0)
    assert out.column("size").to_pylist() == [10.0, 3.0, 4.5]
