"""NVIDIA's own ``tritonclient.http`` against a real ``conveyor serve`` on a loopback port.

Its default mode (``set_data_from_numpy`` with binary data, outputs returned as binary) and its
JSON mode must both score exactly as MLflow's ``/invocations`` does for the same rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import tritonclient.http as http

from tests.integration.test_serve import Server
from tests.unit.serving.conftest import IMPUTE_SCALE, cancer_frame, records, save
from tests.unit.serving.test_oip_datatypes import produce_frame

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import pandas as pd

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def produce_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """FP64, INT64, BOOL and text columns; three string classes (a BYTES output)."""
    from sklearn.linear_model import LogisticRegression

    x, y = produce_frame()
    path = tmp_path_factory.mktemp("triton") / "produce"
    transforms = [*IMPUTE_SCALE, {"kind": "one_hot", "columns": ["color"]}]
    model = LogisticRegression(max_iter=1000)
    classes = ["apple", "melon", "pear"]
    return save(path, x, y, transforms, model, "multiclass_classification", classes)


@pytest.fixture(scope="module")
def cancer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A binary XGBoost classifier on 30 numeric columns: one 2-D tensor, INT64 labels."""
    from xgboost import XGBClassifier

    x, y = cancer_frame()
    path = tmp_path_factory.mktemp("triton") / "cancer"
    model = XGBClassifier(n_estimators=10, max_depth=3, n_jobs=1)
    return save(path, x, y, IMPUTE_SCALE, model, "binary_classification", [0, 1])


def _serve(bundle: Path, cwd: Path) -> Iterator[Server]:
    running = Server([str(bundle)], cwd)
    yield running
    code, err = running.stop()
    assert code == 0, err
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def produce_server(produce_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _serve(produce_dir, tmp_path_factory.mktemp("cwd"))


@pytest.fixture(scope="module")
def cancer_server(cancer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _serve(cancer_dir, tmp_path_factory.mktemp("cwd"))


def _client(server: Server) -> Any:
    return http.InferenceServerClient(url=server.url.removeprefix("http://"), network_timeout=30)


def _produce_inputs(x: pd.DataFrame, *, binary: bool, weight: str = "FP64") -> list[Any]:
    n = len(x)
    arrays = {
        "weight": x["weight"].to_numpy(np.float32 if weight == "FP32" else np.float64),
        "count": x["count"].to_numpy(np.int64),
        "organic": x["organic"].to_numpy(bool),
        "color": np.array([c.encode() for c in x["color"]], dtype=np.object_),
    }
    datatypes = {"weight": weight, "count": "INT64", "organic": "BOOL", "color": "BYTES"}
    inputs = []
    for name, array in arrays.items():
        tensor = http.InferInput(name, [n], datatypes[name])
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    return inputs


def test_default_and_json_modes_agree_with_invocations(produce_server: Server) -> None:
    x, _ = produce_frame(25)
    x["weight"] = x["weight"].astype(np.float32).astype(np.float64)  # exact in FP32 as well
    invocations = produce_server.http.post("/invocations", json={"dataframe_records": records(x)})
    expected = invocations.json()["predictions"]
    client = _client(produce_server)
    try:
        assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
        assert client.is_model_ready("produce")
        # tritonclient's defaults: binary inputs, no outputs named -> all outputs binary
        default = client.infer("produce", _produce_inputs(x, binary=True, weight="FP32"))
        assert default.get_output("predict")["parameters"]["binary_data_size"] > 0
        labels = default.as_numpy("predict")
        assert [label.decode() for label in labels] == expected
        proba = default.as_numpy("predict_proba")
        assert proba.shape == (25, 3)
        assert proba.dtype == np.float64
        # JSON both ways: data in the request, data in the answer
        outputs = [
            http.InferRequestedOutput("predict", binary_data=False),
            http.InferRequestedOutput("predict_proba", binary_data=False),
        ]
        as_json = client.infer(
            "produce", _produce_inputs(x, binary=False), outputs=outputs, request_id="j-1"
        )
        assert as_json.get_response()["id"] == "j-1"
        assert "parameters" not in as_json.get_output("predict")
        assert as_json.as_numpy("predict").tolist() == expected
        np.testing.assert_array_equal(as_json.as_numpy("predict_proba"), proba)
        # MLflow's probabilities for the same rows are the same numbers
        mlflow = produce_server.http.post(
            "/invocations",
            json={"dataframe_records": records(x), "params": {"predict_proba": True}},
        ).json()["predictions"]
        classes = ["apple", "melon", "pear"]
        np.testing.assert_array_equal(proba, [[row[c] for c in classes] for row in mlflow])
    finally:
        client.close()


def test_one_2d_tensor_in_both_modes(cancer_server: Server, cancer_dir: Path) -> None:
    from conveyor.bundle import load_bundle

    x, _ = cancer_frame(40)
    matrix = x.to_numpy(np.float64)  # NaN in 'mean area', which the schema allows
    pipeline = load_bundle(cancer_dir).pipeline
    client = _client(cancer_server)
    try:
        answers = []
        for binary in (True, False):
            tensor = http.InferInput("input-0", list(matrix.shape), "FP64")
            tensor.set_data_from_numpy(matrix, binary_data=binary)
            outputs = [
                http.InferRequestedOutput("predict", binary_data=binary),
                http.InferRequestedOutput("predict_proba", binary_data=binary),
            ]
            answers.append(client.infer("cancer", [tensor], outputs=outputs))
        for answer in answers:
            assert answer.as_numpy("predict").dtype == np.int64
            assert answer.as_numpy("predict").tolist() == pipeline.predict(x).tolist()
        np.testing.assert_array_equal(
            answers[0].as_numpy("predict_proba"), answers[1].as_numpy("predict_proba")
        )
        np.testing.assert_allclose(
            answers[0].as_numpy("predict_proba"), pipeline.predict_proba(x), rtol=1e-12
        )
        invocations = cancer_server.http.post(
            "/invocations", json={"dataframe_records": records(x)}
        ).json()["predictions"]
        assert answers[0].as_numpy("predict").tolist() == invocations
    finally:
        client.close()


def test_refusals_reach_the_client_as_400s(produce_server: Server) -> None:
    from tritonclient.utils import InferenceServerException

    x, _ = produce_frame(2)
    client = _client(produce_server)
    try:
        inputs = _produce_inputs(x, binary=True)
        inputs[2] = http.InferInput("organic", [2], "INT64")  # a datatype the column refuses
        inputs[2].set_data_from_numpy(np.array([1, 0], dtype=np.int64))
        with pytest.raises(InferenceServerException) as refused:
            client.infer("produce", inputs)
        assert refused.value.status() == "400"
        assert refused.value.message() == (
            "input 'organic': datatype INT64 does not fit a bool column; use BOOL"
        )
        inputs = _produce_inputs(x, binary=True)
        inputs[2] = http.InferInput("organic", [2], "BOOL")  # numpy bools whose byte is 7
        inputs[2].set_data_from_numpy(np.array([1, 7], dtype=np.uint8).view(bool))
        with pytest.raises(InferenceServerException) as refused:
            client.infer("produce", inputs)
        assert refused.value.message() == (
            "input 'organic': byte 7 at element 1 of BOOL; send 0 or 1"
        )
        assert client.is_server_live()  # and it serves on
    finally:
        client.close()
