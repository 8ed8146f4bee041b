"""Declared OIP datatypes are enforced: a value must fit its tensor's datatype, JSON or binary."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from conveyor.bundle import load_bundle
from conveyor.bundle.predictor import Predictor
from tests.unit.serving.conftest import IMPUTE_SCALE, save
from tests.unit.serving.test_oip_binary import binary, outputs_of, request, strings

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

    from tests.unit.serving.conftest import Client


def produce_frame(rows: int = 150) -> tuple[pd.DataFrame, np.ndarray]:
    """A float, an int64, a bool and a category column; three string classes."""
    import pandas as pd

    rng = np.random.default_rng(3)
    color = rng.choice(["red", "green", "yellow"], rows)
    x = pd.DataFrame(
        {
            "weight": rng.normal(150, 30, rows),
            "count": rng.integers(0, 20, rows),
            "organic": rng.random(rows) > 0.5,
            "color": pd.array(color, dtype="str"),
        }
    )
    y = np.where(color == "red", "apple", np.where(x["weight"] > 150, "melon", "pear"))
    return x, y


@pytest.fixture(scope="module")
def produce(tmp_path_factory: pytest.TempPathFactory) -> Predictor:
    from sklearn.linear_model import LogisticRegression

    x, y = produce_frame()
    path = tmp_path_factory.mktemp("bundles") / "produce"
    transforms = [*IMPUTE_SCALE, {"kind": "one_hot", "columns": ["color"]}]
    classes = ["apple", "melon", "pear"]
    model = LogisticRegression(max_iter=1000)
    save(path, x, y, transforms, model, "multiclass_classification", classes)
    return Predictor(load_bundle(path))


def _tensors(x: pd.DataFrame, weight: str = "FP64", count: str = "INT64") -> list[dict[str, Any]]:
    n = len(x)
    return [
        {"name": "weight", "shape": [n], "datatype": weight, "data": x["weight"].tolist()},
        {"name": "count", "shape": [n], "datatype": count, "data": x["count"].tolist()},
        {"name": "organic", "shape": [n], "datatype": "BOOL", "data": x["organic"].tolist()},
        {"name": "color", "shape": [n], "datatype": "BYTES", "data": x["color"].tolist()},
    ]


def _error(response: Any) -> str:
    assert response.status_code == 400, response.text
    return str(response.json()["error"])


def test_every_datatype_the_schema_allows_scores(
    produce: Predictor, serve: Callable[..., Client]
) -> None:
    x, _ = produce_frame(9)
    x["weight"] = x["weight"].astype(np.float32).astype(np.float64)
    expected = produce.bundle.pipeline.predict(x).tolist()
    client = serve(produce)
    for weight, count in (("FP64", "INT64"), ("FP32", "INT8"), ("FP32", "UINT8"), ("FP64", "FP16")):
        body = {"inputs": _tensors(x, weight, count)}
        got = outputs_of(client.post("/v2/models/produce/infer", json=body))
        assert got["predict"].tolist() == expected, (weight, count)
    # the same, in binary: FP32, INT64, BOOL (one byte each) and BYTES
    raw = [
        x["weight"].to_numpy(np.float32).tobytes(),
        x["count"].to_numpy(np.int64).tobytes(),
        x["organic"].to_numpy(bool).tobytes(),
        strings([c.encode() for c in x["color"]]),
    ]
    datatypes = ("FP32", "INT64", "BOOL", "BYTES")
    tensors = [
        binary(name, dt, [9], data)
        for name, dt, data in zip(x.columns, datatypes, raw, strict=True)
    ]
    doc = {"inputs": tensors, "parameters": {"binary_data_output": True}}
    got = outputs_of(client.post("/v2/models/produce/infer", **request(doc, *raw)))
    assert got["predict"].tolist() == expected


@pytest.mark.parametrize(
    ("count", "data", "expected"),
    [
        ("INT8", [300], "input 'count': 300 at data[0] does not fit INT8 (-128 to 127)"),
        ("INT8", [-129], "input 'count': -129 at data[0] does not fit INT8 (-128 to 127)"),
        ("UINT8", [256], "input 'count': 256 at data[0] does not fit UINT8 (0 to 255)"),
        ("UINT8", [-1], "input 'count': -1 at data[0] does not fit UINT8 (0 to 255)"),
        ("INT16", [2**15], "does not fit INT16 (-32768 to 32767)"),
        ("UINT16", [2**16], "does not fit UINT16 (0 to 65535)"),
        ("INT32", [2**31], "does not fit INT32 (-2147483648 to 2147483647)"),
        ("UINT32", [2**32], "does not fit UINT32 (0 to 4294967295)"),
        ("INT64", [2**63], f"{2**63} at data[0] does not fit INT64"),
        ("UINT64", [2**64], "input 'count': 1.8446744073709552e+19 at data[0] does not fit UINT64"),
        ("INT64", [-(2**63) - 1], "input 'count': -9.223372036854776e+18 at data[0] does not fit"),
        ("INT32", [1.5], "input 'count': 1.5 at data[0] is not an integer, as INT32 requires"),
        ("INT64", [1.0], "input 'count': 1.0 at data[0] is not an integer, as INT64 requires"),
        ("INT64", [True], "input 'count': True at data[0] is not an integer, as INT64 requires"),
        ("FP32", [1e39], "input 'count': 1e+39 at data[0] does not fit FP32"),
        ("FP16", [65520.0], "input 'count': 65520.0 at data[0] does not fit FP16"),
        ("FP16", [-70000], "input 'count': -70000 at data[0] does not fit FP16"),
    ],
)
def test_a_value_outside_its_datatype(
    produce: Predictor, serve: Callable[..., Client], count: str, data: list[Any], expected: str
) -> None:
    x, _ = produce_frame(1)
    tensors = _tensors(x, count=count)
    tensors[1]["data"] = data
    message = _error(serve(produce).post("/v2/models/produce/infer", json={"inputs": tensors}))
    assert expected in message


@pytest.mark.parametrize(
    ("datatype", "value"),
    [
        ("INT8", 127),
        ("INT8", -128),
        ("UINT8", 255),
        ("UINT8", 0),
        ("INT64", 2**63 - 1),
        ("INT64", -(2**63)),
        ("UINT64", 2**64 - 1),
        ("FP16", 65504.0),
        ("FP16", -65504),
        ("FP32", 3.4028234663852886e38),
        ("FP32", float("nan")),  # NaN is a missing value, in any float datatype
    ],
)
def test_a_value_at_the_edge_of_its_datatype(
    cancer: Predictor, serve: Callable[..., Client], datatype: str, value: Any
) -> None:
    """Past the datatype check, and scored ('mean area' takes nulls, so NaN goes there)."""
    data = [1] * 30
    data[3] = value
    tensor = {"name": "input-0", "shape": [1, 30], "datatype": datatype, "data": data}
    body = json.dumps({"inputs": [tensor]})  # NaN as JSON allows it (httpx's json= does not)
    response = serve(cancer).post("/v2/models/cancer/infer", content=body)
    assert response.status_code == 200, response.text


def test_bool_and_bytes_hold_their_own_types(
    produce: Predictor, serve: Callable[..., Client]
) -> None:
    x, _ = produce_frame(2)
    client = serve(produce)
    tensors = _tensors(x)
    tensors[2]["data"] = [True, 1]
    assert _error(client.post("/v2/models/produce/infer", json={"inputs": tensors})) == (
        "input 'organic': 1 at data[1] is not true or false, as BOOL requires"
    )
    tensors = _tensors(x)
    tensors[3]["data"] = ["red", 7]
    assert _error(client.post("/v2/models/produce/infer", json={"inputs": tensors})) == (
        "input 'color': 7 at data[1] is not a string, as BYTES requires"
    )


def test_a_2d_tensor_names_row_and_column(cancer: Predictor, serve: Callable[..., Client]) -> None:
    data = [1] * 60
    data[37] = 1000
    tensor = {"name": "input-0", "shape": [2, 30], "datatype": "INT8", "data": data}
    response = serve(cancer).post("/v2/models/cancer/infer", json={"inputs": [tensor]})
    assert _error(response) == "input 'input-0': 1000 at data[1][7] does not fit INT8 (-128 to 127)"


def test_a_datatype_the_column_does_not_take(
    produce: Predictor, serve: Callable[..., Client]
) -> None:
    x, _ = produce_frame(1)
    tensors = _tensors(x)
    tensors[2]["datatype"] = "INT8"
    tensors[2]["data"] = [1]
    assert _error(serve(produce).post("/v2/models/produce/infer", json={"inputs": tensors})) == (
        "input 'organic': datatype INT8 does not fit a bool column; use BOOL"
    )


def test_binary_bool_bytes_are_zero_or_one(
    produce: Predictor, serve: Callable[..., Client]
) -> None:
    x, _ = produce_frame(3)
    raw = bytes([1, 0, 2])
    tensors = _tensors(x)
    tensors[2] = binary("organic", "BOOL", [3], raw)
    response = serve(produce).post("/v2/models/produce/infer", **request({"inputs": tensors}, raw))
    assert _error(response) == "input 'organic': byte 2 at element 2 of BOOL; send 0 or 1"
