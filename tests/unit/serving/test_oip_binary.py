"""The binary tensor data extension of the Open Inference Protocol, and its hostile bodies.

Bodies are built by hand here (the wire format, byte by byte); tests/integration/
test_triton_client.py drives the same server with NVIDIA's own client.
"""

from __future__ import annotations

import json
import struct
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pytest

from tests.unit.serving.conftest import cancer_frame, fruit_frame

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx

    from conveyor.bundle.predictor import Predictor
    from tests.unit.serving.conftest import Client

HEADER = "Inference-Header-Content-Length"


def strings(values: list[bytes]) -> bytes:
    """A BYTES tensor's raw data: each element as a 4-byte little-endian length, then bytes."""
    return b"".join(struct.pack("<I", len(v)) + v for v in values)


def request(doc: dict[str, Any], *raw: bytes, length: int | str | None = None) -> dict[str, Any]:
    """``post`` arguments: the JSON header, then ``raw`` in order, and the length header."""
    head = json.dumps(doc).encode()
    size = str(len(head) if length is None else length)
    return {"content": head + b"".join(raw), "headers": {HEADER: size}}


def binary(name: str, datatype: str, shape: list[int], raw: bytes) -> dict[str, Any]:
    return {
        "name": name,
        "shape": shape,
        "datatype": datatype,
        "parameters": {"binary_data_size": len(raw)},
    }


def fruit_inputs(rows: int) -> tuple[Any, list[dict[str, Any]], list[bytes]]:
    """The fruit frame as three binary tensors: FP32, FP64 (with NaN) and BYTES."""
    x, _ = fruit_frame(rows)
    x["weight"] = x["weight"].astype(np.float32).astype(np.float64)  # exact in FP32
    weight = x["weight"].to_numpy(np.float32).tobytes()
    sugar = x["sugar"].to_numpy(np.float64).tobytes()
    color = strings([c.encode() for c in x["color"]])
    tensors = [
        binary("weight", "FP32", [rows], weight),
        binary("sugar", "FP64", [rows], sugar),
        binary("color", "BYTES", [rows], color),
    ]
    return x, tensors, [weight, sugar, color]


def fruit_labels(fruit: Predictor, x: Any) -> list[str]:
    """What the fruit model predicts, as its class names."""
    return np.asarray(fruit.classes)[fruit.bundle.pipeline.predict(x)].tolist()


def json_inputs(x: Any) -> list[dict[str, Any]]:
    def values(name: str) -> list[Any]:
        return x[name].astype(object).where(x[name].notna(), None).tolist()

    return [
        {"name": "weight", "shape": [len(x)], "datatype": "FP32", "data": values("weight")},
        {"name": "sugar", "shape": [len(x)], "datatype": "FP64", "data": values("sugar")},
        {"name": "color", "shape": [len(x)], "datatype": "BYTES", "data": values("color")},
    ]


def outputs_of(response: httpx.Response) -> dict[str, np.ndarray]:
    """Each output as a numpy array, read from JSON or from the binary section."""
    assert response.status_code == 200, response.text
    length = response.headers.get(HEADER)
    content = response.content
    head = orjson.loads(content[: int(length)] if length is not None else content)
    rest = content[int(length) :] if length is not None else b""
    arrays, offset = {}, 0
    for output in head["outputs"]:
        size = output.get("parameters", {}).get("binary_data_size")
        if size is None:
            arrays[output["name"]] = np.asarray(output["data"])
            continue
        raw = rest[offset : offset + size]
        offset += size
        arrays[output["name"]] = decode(output["datatype"], raw)
    assert offset == len(rest)
    return arrays


def decode(datatype: str, raw: bytes) -> np.ndarray:
    if datatype == "BYTES":
        items, position = [], 0
        while position < len(raw):
            (size,) = struct.unpack_from("<I", raw, position)
            items.append(raw[position + 4 : position + 4 + size].decode())
            position += 4 + size
        return np.asarray(items)
    dtypes = {"FP64": "<f8", "INT64": "<i8", "BOOL": "?"}
    return np.frombuffer(raw, dtype=dtypes[datatype])


# --- what works -------------------------------------------------------------------------------


def test_binary_inputs_score_as_their_json_equivalent(
    fruit: Predictor, serve: Callable[..., Client]
) -> None:
    x, tensors, raw = fruit_inputs(12)
    assert np.isnan(x["sugar"]).any()
    client = serve(fruit)
    binary_answer = client.post("/v2/models/fruit/infer", **request({"inputs": tensors}, *raw))
    json_answer = client.post("/v2/models/fruit/infer", json={"inputs": json_inputs(x)})
    assert "content-type" in binary_answer.headers
    got, expected = outputs_of(binary_answer), outputs_of(json_answer)
    assert got["predict"].tolist() == fruit_labels(fruit, x)
    assert got["predict"].tolist() == expected["predict"].tolist()
    assert got["predict_proba"].tolist() == expected["predict_proba"].tolist()


def test_binary_and_json_inputs_mix_in_one_request(
    fruit: Predictor, serve: Callable[..., Client]
) -> None:
    x, tensors, raw = fruit_inputs(5)
    tensors[1] = json_inputs(x)[1]  # sugar as JSON data, between two binary tensors
    response = serve(fruit).post(
        "/v2/models/fruit/infer", **request({"inputs": tensors}, raw[0], raw[2])
    )
    assert outputs_of(response)["predict"].tolist() == fruit_labels(fruit, x)


def test_one_binary_2d_tensor_and_binary_outputs(
    cancer: Predictor, serve: Callable[..., Client]
) -> None:
    x, _ = cancer_frame(7)
    x = x.fillna(500.0)
    raw = x.to_numpy(np.float64).tobytes()
    doc = {
        "id": "b-1",
        "inputs": [binary("input-0", "FP64", [7, 30], raw)],
        "parameters": {"binary_data_output": True},
    }
    response = serve(cancer).post("/v2/models/cancer/infer", **request(doc, raw))
    assert response.headers["content-type"] == "application/octet-stream"
    length = int(response.headers[HEADER])
    head = orjson.loads(response.content[:length])
    assert head["id"] == "b-1"
    assert [o["parameters"] for o in head["outputs"]] == [
        {"binary_data_size": 7 * 8},
        {"binary_data_size": 7 * 2 * 8},
    ]
    assert all("data" not in o for o in head["outputs"])
    assert len(response.content) == length + 7 * 8 + 7 * 2 * 8
    got = outputs_of(response)
    pipeline = cancer.bundle.pipeline
    assert got["predict"].dtype == np.int64
    assert got["predict"].tolist() == pipeline.predict(x).tolist()
    np.testing.assert_array_equal(got["predict_proba"].reshape(7, 2), pipeline.predict_proba(x))


def test_binary_output_per_output_overrides_the_request_default(
    fruit: Predictor, serve: Callable[..., Client]
) -> None:
    x, _ = fruit_frame(4)
    client = serve(fruit)
    per_output = {
        "inputs": json_inputs(x),
        "outputs": [
            {"name": "predict", "parameters": {"binary_data": True}},
            {"name": "predict_proba", "parameters": {"binary_data": False}},
        ],
        "parameters": {"binary_data_output": True},
    }
    response = client.post("/v2/models/fruit/infer", json=per_output)
    head = orjson.loads(response.content[: int(response.headers[HEADER])])
    predict, proba = head["outputs"]
    assert (predict["datatype"], "data" in predict) == ("BYTES", False)
    assert (
        proba["data"]
        == outputs_of(client.post("/v2/models/fruit/infer", json={"inputs": json_inputs(x)}))[
            "predict_proba"
        ].tolist()
    )
    assert outputs_of(response)["predict"].tolist() == fruit_labels(fruit, x)
    # binary_data_output: false, and no per-output choice: plain JSON, no length header
    plain = client.post(
        "/v2/models/fruit/infer",
        json={"inputs": json_inputs(x), "parameters": {"binary_data_output": False}},
    )
    assert HEADER.lower() not in plain.headers
    assert plain.headers["content-type"] == "application/json"


def test_regression_output_is_fp64_bytes(houses: Predictor, serve: Callable[..., Client]) -> None:
    rows = np.arange(12, dtype=np.float64).reshape(3, 4) / 7
    raw = rows.tobytes()
    doc = {"inputs": [binary("x", "FP64", [3, 4], raw)], "parameters": {"binary_data_output": True}}
    got = outputs_of(serve(houses).post("/v2/models/houses/infer", **request(doc, raw)))
    import pandas as pd

    frame = pd.DataFrame(rows, columns=["rooms", "age", "area", "floor"])
    np.testing.assert_array_equal(got["predict"], houses.bundle.pipeline.predict(frame))


def test_v2_advertises_the_extension(cancer: Predictor, serve: Callable[..., Client]) -> None:
    assert "binary_tensor_data" in serve(cancer).get("/v2").json()["extensions"]


def test_a_header_exactly_the_body_is_plain_json(
    cancer: Predictor, serve: Callable[..., Client]
) -> None:
    x, _ = cancer_frame(2)
    tensor = {"name": "t", "shape": [2, 30], "datatype": "FP64", "data": x.fillna(1.0).to_numpy()}
    doc = {"inputs": [tensor | {"data": tensor["data"].ravel().tolist()}]}
    response = serve(cancer).post("/v2/models/cancer/infer", **request(doc))
    assert response.status_code == 200, response.text


# --- hostile bodies: each a located 400 -------------------------------------------------------


@pytest.fixture
def client(cancer: Predictor, serve: Callable[..., Client]) -> Client:
    return serve(cancer, max_body_bytes=20_000, max_rows=50)


def _error(response: httpx.Response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    return str(body["error"])


def _one(raw: bytes, shape: list[int] | None = None, datatype: str = "FP64", **params: Any) -> Any:
    tensor = binary("t", datatype, shape or [1, 30], raw)
    tensor["parameters"] |= params
    return {"inputs": [tensor]}


ROW = np.ones(30).tobytes()


@pytest.mark.parametrize(
    ("length", "expected"),
    [
        ("abc", "the Inference-Header-Content-Length header 'abc' is not a byte count"),
        ("-1", "the Inference-Header-Content-Length header '-1' is not a byte count"),
        ("1_0", "the Inference-Header-Content-Length header '1_0' is not a byte count"),
        (
            "99999",
            "the Inference-Header-Content-Length header says the JSON header has 99999 bytes, "
            "but the body has",
        ),
        ("0", "the JSON header (the body's first 0 bytes) is empty"),
        ("3", "the JSON header (the body's first 3 bytes): malformed JSON at line 1, column"),
    ],
)
def test_bad_header_lengths(client: Client, length: str, expected: str) -> None:
    response = client.post("/v2/models/cancer/infer", **request(_one(ROW), ROW, length=length))
    assert expected in _error(response)


def test_a_length_past_the_end_by_one_byte(client: Client) -> None:
    doc = _one(ROW)
    size = len(json.dumps(doc).encode()) + len(ROW)
    response = client.post("/v2/models/cancer/infer", **request(doc, ROW, length=size + 1))
    assert f"says the JSON header has {size + 1} bytes, but the body has {size}" in _error(response)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (-8, "input 't': 'parameters.binary_data_size' must be a non-negative integer, got -8"),
        (True, "must be a non-negative integer, got True"),
        (1.5, "must be a non-negative integer, got 1.5"),
        ("240", "must be a non-negative integer, got '240'"),
        (
            2**63,
            f"input 't': binary_data_size {2**63} runs past the end of the body: 240 bytes "
            "follow the JSON header, 0 of them used by earlier inputs",
        ),
        (2**64, "must be a non-negative integer, got 1.8446744073709552e+19"),
        (241, "input 't': binary_data_size 241 runs past the end of the body"),
        (232, "input 't': shape [1, 30] of FP64 is 240 bytes, but binary_data_size is 232"),
    ],
)
def test_bad_binary_data_sizes(client: Client, size: Any, expected: str) -> None:
    response = client.post(
        "/v2/models/cancer/infer", **request(_one(ROW, binary_data_size=size), ROW)
    )
    assert expected in _error(response)


def test_sizes_that_leave_bytes_unclaimed(client: Client) -> None:
    response = client.post("/v2/models/cancer/infer", **request(_one(ROW), ROW, b"\0" * 3))
    assert _error(response) == (
        "the body has 243 bytes after the JSON header, but the inputs' binary_data_size add up "
        "to 240; send exactly the bytes they declare"
    )


def test_binary_size_without_the_length_header(client: Client) -> None:
    response = client.post("/v2/models/cancer/infer", json=_one(ROW))
    assert _error(response).startswith(
        "input 't': 'parameters.binary_data_size' needs the Inference-Header-Content-Length header"
    )


def test_data_and_binary_data_size_together(client: Client) -> None:
    doc = _one(ROW)
    doc["inputs"][0]["data"] = [1.0] * 30
    response = client.post("/v2/models/cancer/infer", **request(doc, ROW))
    assert _error(response) == (
        "input 't' has both 'data' and 'parameters.binary_data_size'; send one of them"
    )


def test_a_huge_shape_is_refused_before_any_work(client: Client) -> None:
    for datatype in ("FP64", "BYTES"):
        doc = _one(b"\0" * 8, shape=[1, 10**15], datatype=datatype)
        message = _error(client.post("/v2/models/cancer/infer", **request(doc, b"\0" * 8)))
        assert message.startswith("input 't': shape [1, 1000000000000000]"), message
    rows = _one(ROW, shape=[51, 30])
    assert "more than 50 rows" in _error(
        client.post("/v2/models/cancer/infer", **request(rows, ROW)), 413
    )


def test_body_limit_still_holds(client: Client) -> None:
    raw = b"\0" * 20_001
    response = client.post("/v2/models/cancer/infer", **request(_one(raw), raw))
    assert "exceeds the limit of 20000 bytes" in _error(response, 413)


def test_shared_memory_and_unsupported_outputs(client: Client) -> None:
    doc = _one(ROW, shared_memory_region="r0")
    assert _error(client.post("/v2/models/cancer/infer", **request(doc, ROW))) == (
        "input 't': 'parameters.shared_memory_region': shared memory is not supported by this "
        "server; send 'data' or binary data"
    )
    for parameters, expected in (
        ({"classification": 2}, "output 'predict': 'parameters.classification' is not supported"),
        (
            {"binary_data": "yes"},
            "output 'predict': 'parameters.binary_data' must be true or false",
        ),
    ):
        doc = _one(ROW) | {"outputs": [{"name": "predict", "parameters": parameters}]}
        assert expected in _error(client.post("/v2/models/cancer/infer", **request(doc, ROW)))
    doc = _one(ROW) | {"parameters": {"binary_data_output": 1}}
    assert _error(client.post("/v2/models/cancer/infer", **request(doc, ROW))) == (
        "'parameters.binary_data_output' must be true or false, got 1"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            strings([b"red"]) + struct.pack("<I", 1000) + b"abc",
            "input 'color': element 1 of BYTES declares 1000 bytes, but only 3 of its "
            "binary_data_size remain",
        ),
        (
            strings([b"red"]) + b"\x05\x00",
            "input 'color': element 1 of BYTES has 2 bytes left for its 4-byte length",
        ),
        (
            strings([b"red", b"green", b"red"]),
            "input 'color': shape [2] holds 2 elements of BYTES, but its binary_data_size has 7 "
            "bytes more",
        ),
        (strings([b"red", b"\xff\xfe"]), "input 'color': element 1 of BYTES is not UTF-8"),
        (
            b"\xff\xff\xff\xff" + b"x" * 8,
            f"input 'color': element 0 of BYTES declares {2**32 - 1} bytes",
        ),
    ],
)
def test_bytes_tensor_problems(
    fruit: Predictor, serve: Callable[..., Client], raw: bytes, expected: str
) -> None:
    _, tensors, data = fruit_inputs(2)
    tensors[2] = binary("color", "BYTES", [2], raw)
    response = serve(fruit).post(
        "/v2/models/fruit/infer", **request({"inputs": tensors}, data[0], data[1], raw)
    )
    assert expected in _error(response)


def test_shapes_too_big_for_bytes(fruit: Predictor, serve: Callable[..., Client]) -> None:
    _, tensors, data = fruit_inputs(2)
    raw = strings([b"red"])
    tensors[2] = binary("color", "BYTES", [2], raw)
    response = serve(fruit).post(
        "/v2/models/fruit/infer", **request({"inputs": tensors}, data[0], data[1], raw)
    )
    assert _error(response) == (
        "input 'color': shape [2] holds 2 elements of BYTES, but binary_data_size 7 has room "
        "for at most 1"
    )


def test_nothing_left_half_parsed_after_a_refusal(
    cancer: Predictor, serve: Callable[..., Client]
) -> None:
    """A refused binary request leaves the server answering the next one normally."""
    client = serve(cancer)
    bad = client.post("/v2/models/cancer/infer", **request(_one(ROW), ROW[:-1]))
    assert bad.status_code == 400
    good = client.post("/v2/models/cancer/infer", **request(_one(ROW), ROW))
    assert good.status_code == 200, good.text
    metrics = client.get("/metrics").text
    assert 'endpoint="/v2/models/{name}/infer",reason="malformed"} 1.0' in metrics


def test_binary_rows_are_logged_as_json_rows_are(
    fruit: Predictor, serve: Callable[..., Client], tmp_path: Any
) -> None:
    import pyarrow.parquet as pq

    x, tensors, raw = fruit_inputs(3)
    client = serve(fruit, log_dir=str(tmp_path / "b"))
    assert client.post("/v2/models/fruit/infer", **request({"inputs": tensors}, *raw)).is_success
    client.close()
    twin = serve(fruit, log_dir=str(tmp_path / "j"))
    assert twin.post("/v2/models/fruit/infer", json={"inputs": json_inputs(x)}).is_success
    twin.close()
    drop = ["_request_id", "_time"]
    logged = [
        pq.read_table(next((tmp_path / side).rglob("*.parquet"))).drop(drop).to_pylist()
        for side in ("b", "j")
    ]
    assert logged[0] == logged[1]
    assert [row["color"] for row in logged[0]] == x["color"].tolist()
