"""The Open Inference Protocol v2: health, metadata, and infer equal to the Pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tests.unit.serving.conftest import cancer_frame, fruit_frame

if TYPE_CHECKING:
    from collections.abc import Callable

    from conveyor.bundle.predictor import Predictor
    from tests.unit.serving.conftest import Client


def _per_column(frame: Any, shape_2d: bool = False) -> list[dict[str, Any]]:
    tensors = []
    for name in frame.columns:
        values = frame[name].astype(object).where(frame[name].notna(), None).tolist()
        numeric = frame[name].dtype.kind == "f"
        shape = [len(values), 1] if shape_2d else [len(values)]
        datatype = "FP64" if numeric else "BYTES"
        tensors.append({"name": name, "shape": shape, "datatype": datatype, "data": values})
    return tensors


def test_one_tensor_per_column(cancer: Predictor, serve: Callable[..., Client]) -> None:
    x, _ = cancer_frame(20)
    body = {"id": "req-1", "inputs": _per_column(x)}
    response = serve(cancer).post("/v2/models/cancer/infer", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["model_name"], answer["model_version"], answer["id"]) == (
        "cancer",
        "local",
        "req-1",
    )
    predict, proba = answer["outputs"]
    assert predict == {
        "name": "predict",
        "shape": [20],
        "datatype": "INT64",
        "data": cancer.bundle.pipeline.predict(x).tolist(),
    }
    assert (proba["name"], proba["shape"], proba["datatype"]) == ("predict_proba", [20, 2], "FP64")
    expected = cancer.bundle.pipeline.predict_proba(x)
    np.testing.assert_allclose(np.reshape(proba["data"], (20, 2)), expected, rtol=1e-9, atol=1e-12)


def test_rows_by_one_shape(cancer: Predictor, serve: Callable[..., Client]) -> None:
    x, _ = cancer_frame(5)
    response = serve(cancer).post("/v2/models/cancer/infer", json={"inputs": _per_column(x, True)})
    assert response.json()["outputs"][0]["data"] == cancer.bundle.pipeline.predict(x).tolist()


def test_one_2d_tensor_in_schema_order(cancer: Predictor, serve: Callable[..., Client]) -> None:
    x, _ = cancer_frame(6)
    x = x.fillna(500.0)
    matrix = x.to_numpy()
    data = matrix.ravel().tolist()
    flat = {"name": "input-0", "shape": [6, 30], "datatype": "FP32", "data": data}
    nested = flat | {"data": matrix.tolist()}
    client = serve(cancer)
    expected = cancer.bundle.pipeline.predict_proba(x)
    for tensor in (flat, nested):
        body = {"inputs": [tensor], "outputs": [{"name": "predict_proba"}]}
        (proba,) = client.post("/v2/models/cancer/infer", json=body).json()["outputs"]
        assert proba["name"] == "predict_proba"
        np.testing.assert_allclose(np.reshape(proba["data"], (6, 2)), expected, rtol=1e-9)


def test_a_generated_id_and_string_labels(fruit: Predictor, serve: Callable[..., Client]) -> None:
    x, _ = fruit_frame(8)
    response = serve(fruit).post("/v2/models/fruit/infer", json={"inputs": _per_column(x)})
    answer = response.json()
    assert len(answer["id"]) == 32
    predict = answer["outputs"][0]
    assert predict["datatype"] == "BYTES"
    names = np.asarray(["apple", "melon", "pear"])
    assert predict["data"] == names[fruit.bundle.pipeline.predict(x)].tolist()


def test_regression_has_only_predict(houses: Predictor, serve: Callable[..., Client]) -> None:
    tensors = [
        {"name": n, "shape": [1], "datatype": "FP64", "data": [0.5]}
        for n in ("rooms", "age", "area", "floor")
    ]
    answer = serve(houses).post("/v2/models/houses/infer", json={"inputs": tensors}).json()
    assert [o["name"] for o in answer["outputs"]] == ["predict"]
    assert answer["outputs"][0]["datatype"] == "FP64"


def test_health_and_metadata(fruit: Predictor, serve: Callable[..., Client]) -> None:
    client = serve(fruit)
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2/models/fruit/ready").json() == {"name": "fruit", "ready": True}
    assert client.get("/v2/models/fruit/versions/local/ready").status_code == 200
    assert client.get("/v2").json()["name"] == "conveyor"
    meta = client.get("/v2/models/fruit").json()
    assert (meta["name"], meta["versions"], meta["platform"]) == (
        "fruit",
        ["local"],
        "conveyor-sklearn",
    )
    assert meta["inputs"] == [
        {"name": "weight", "datatype": "FP64", "shape": [-1]},
        {"name": "sugar", "datatype": "FP64", "shape": [-1]},
        {"name": "color", "datatype": "BYTES", "shape": [-1]},
    ]
    assert meta["outputs"] == [
        {"name": "predict", "datatype": "BYTES", "shape": [-1]},
        {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 3]},
    ]
    assert meta["parameters"]["one_tensor"] is False
    assert meta["parameters"]["columns"][2]["categories"] == ["green", "red", "yellow"]
