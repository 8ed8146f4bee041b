"""Prediction logs: Parquet files in the documented layout, rotated, written whole."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from tests.unit.serving.conftest import cancer_frame, fruit_frame, records

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from conveyor.bundle.predictor import Predictor
    from tests.unit.serving.conftest import Client

META = ["_request_id", "_time", "_model", "_model_version", "_endpoint", "_prediction", "_score"]


def _files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.parquet"))


def _wait_for(root: Path, count: int) -> list[Path]:
    deadline = time.monotonic() + 20
    while len(found := _files(root)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return found


def test_layout_columns_and_values(
    cancer: Predictor, serve: Callable[..., Client], tmp_path: Path
) -> None:
    before = datetime.now(UTC)
    client = serve(cancer, log_dir=str(tmp_path))
    x, _ = cancer_frame(7)
    first, second = records(x.head(4)), records(x.tail(3))
    client.post("/invocations", json={"dataframe_records": first}, headers={"x-request-id": "mine"})
    tensors = [
        {"name": k, "shape": [3], "datatype": "FP64", "data": [r[k] for r in second]}
        for k in x.columns
    ]
    client.post("/v2/models/cancer/infer", json={"id": "oip-1", "inputs": tensors})
    client.post("/invocations", json={"dataframe_records": []})  # refused: not logged
    assert _files(tmp_path) == []  # nothing is written while under both rotation limits
    client.close()

    (file,) = _files(tmp_path)
    day = before.strftime("%Y-%m-%d")
    assert file.parent == tmp_path / "cancer" / f"date={day}"
    assert file.name.startswith("part-")
    assert file.name.endswith("-000000.parquet")
    assert [p.name for p in file.parent.iterdir()] == [file.name]  # no temporary file left
    table = pq.read_table(file)
    assert table.column_names == [*x.columns, *META]
    types = {name: str(t) for name, t in zip(table.column_names, table.schema.types, strict=True)}
    assert types["mean radius"] == "double"
    assert types["_time"] == "timestamp[us, tz=UTC]"
    assert types["_prediction"] == types["_request_id"] == "string"
    assert types["_score"] == "double"
    logged = table.to_pandas()
    np.testing.assert_allclose(logged["mean area"], x["mean area"])  # NaN stays missing
    assert logged["_request_id"].tolist()[:4] == ["mine"] * 4
    assert logged["_request_id"].tolist()[4:] == ["oip-1"] * 3
    assert logged["_endpoint"].tolist() == ["/invocations"] * 4 + ["/v2/models/{name}/infer"] * 3
    assert set(logged["_model"]) == {"cancer"}
    assert set(logged["_model_version"]) == {"local"}
    pipeline = cancer.bundle.pipeline
    assert logged["_prediction"].tolist() == [str(v) for v in pipeline.predict(x)]
    np.testing.assert_allclose(logged["_score"], pipeline.predict_proba(x)[:, 1], rtol=1e-9)
    assert all(before <= t <= datetime.now(UTC) for t in logged["_time"])
    # What monitoring does: read the whole log as one hive-partitioned dataset.
    dataset = ds.dataset(tmp_path / "cancer", format="parquet", partitioning="hive")
    assert dataset.to_table().num_rows == 7


def test_rotation_by_rows(cancer: Predictor, serve: Callable[..., Client], tmp_path: Path) -> None:
    client = serve(cancer, log_dir=str(tmp_path), log_rotate_rows=5)
    x, _ = cancer_frame(3)
    for _ in range(4):
        client.post("/invocations", json={"dataframe_records": records(x)})
    files = _wait_for(tmp_path, 2)
    assert [pq.read_metadata(f).num_rows for f in files] == [6, 6]
    assert [f.name[-14:] for f in files] == ["000000.parquet", "000001.parquet"]
    client.close()
    assert len(_files(tmp_path)) == 2  # nothing was waiting at shutdown


def test_rotation_by_age(cancer: Predictor, serve: Callable[..., Client], tmp_path: Path) -> None:
    client = serve(cancer, log_dir=str(tmp_path), log_rotate_seconds=0.2)
    x, _ = cancer_frame(2)
    client.post("/invocations", json={"dataframe_records": records(x)})
    (file,) = _wait_for(tmp_path, 1)  # written by age, before the server stops
    assert pq.read_metadata(file).num_rows == 2


def test_regression_and_text_columns(
    houses: Predictor, fruit: Predictor, serve: Callable[..., Client], tmp_path: Path
) -> None:
    rows = [{"rooms": 1.0, "age": 2.0, "area": 3.0, "floor": 4.0}]
    house = serve(houses, log_dir=str(tmp_path))
    value = house.post("/invocations", json={"dataframe_records": rows}).json()["predictions"][0]
    x, _ = fruit_frame(4)
    x.loc[0, "sugar"] = np.nan
    fruits = serve(fruit, log_dir=str(tmp_path))
    labels = fruits.post("/invocations", json={"dataframe_records": records(x)}).json()
    house.close()
    fruits.close()

    houses_log = pq.read_table(_files(tmp_path / "houses")[0]).to_pylist()
    assert houses_log[0]["_prediction"] == pytest.approx(value)
    assert houses_log[0]["_score"] is None
    fruit_log = pq.read_table(_files(tmp_path / "fruit")[0])
    assert str(fruit_log.schema.field("color").type) == "string"
    assert fruit_log.column("color").to_pylist() == x["color"].tolist()
    assert fruit_log.column("sugar").to_pylist()[0] is None
    assert fruit_log.column("_prediction").to_pylist() == labels["predictions"]
    proba = fruit.bundle.pipeline.predict_proba(x)
    np.testing.assert_allclose(fruit_log.column("_score").to_numpy(), proba.max(axis=1))


def test_a_failing_disk_drops_the_rows_not_the_server(
    cancer: Predictor, serve: Callable[..., Client], tmp_path: Path, caplog: Any
) -> None:
    blocked = tmp_path / "log"
    blocked.write_text("a file where the log directory should be")
    client = serve(cancer, log_dir=str(blocked), log_rotate_rows=1)
    x, _ = cancer_frame(2)
    response = client.post("/invocations", json={"dataframe_records": records(x)})
    assert response.status_code == 200
    client.close()
    log = client.app.state.server.log
    assert log.rows_dropped == 2
    assert "could not write 1 prediction log records" in caplog.text
