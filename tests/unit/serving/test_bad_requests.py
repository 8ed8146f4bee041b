"""Every bad request is a 4xx whose body names the problem, in the protocol's own error shape."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from conveyor.bundle import infer_schema, load_bundle, save_bundle
from conveyor.bundle.predictor import Predictor
from tests.unit.serving.conftest import cancer_frame, fruit_frame, records

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from tests.unit.serving.conftest import Client

JSON = {"content-type": "application/json"}


def _row(predictor: Predictor) -> dict[str, Any]:
    x, _ = cancer_frame(1) if predictor.name == "cancer" else fruit_frame(1)
    return records(x)[0]


def _mlflow_error(response: Any, status: int = 400) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message"}
    assert body["error_code"] == "BAD_REQUEST"
    return str(body["message"])


def _oip_error(response: Any, status: int = 400) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    return str(body["error"])


@pytest.fixture
def client(cancer: Predictor, serve: Callable[..., Client]) -> Client:
    return serve(cancer, max_body_bytes=20_000)


# --- the input schema -------------------------------------------------------------------------


def test_missing_column(cancer: Predictor, client: Client) -> None:
    row = _row(cancer)
    del row["mean radius"]
    response = client.post("/invocations", json={"dataframe_records": [row]})
    assert _mlflow_error(response) == "column 'mean radius': is missing"


def test_many_missing_columns_are_one_clause(
    cancer: Predictor, serve: Callable[..., Client]
) -> None:
    client = serve(cancer, extra_columns="error")  # strict: 'x' is named, not ignored
    response = client.post("/invocations", json={"inputs": {"mean radius": [14.0], "x": [1]}})
    assert _mlflow_error(response) == (
        "29 of the model's 30 columns are missing: 'mean texture', 'mean perimeter', "
        "'mean area', 'mean smoothness', 'mean compactness', 'mean concavity', "
        "'mean concave points', 'mean symmetry', 'mean fractal dimension', 'radius error', ... "
        "(GET /v2/models/cancer lists them); column 'x': is not an input of this model"
    )


def test_extra_column_with_a_suggestion(cancer: Predictor, serve: Callable[..., Client]) -> None:
    client = serve(cancer, extra_columns="error")
    row = _row(cancer) | {"mean radiuss": 1.0}
    response = client.post("/invocations", json={"dataframe_records": [row]})
    message = _mlflow_error(response)
    assert message == (
        "column 'mean radiuss': is not an input of this model (did you mean 'mean radius'?)"
    )


def test_wrong_type_names_column_value_and_rows(cancer: Predictor, client: Client) -> None:
    rows = [_row(cancer) for _ in range(3)]
    rows[0]["mean texture"] = "abc"
    rows[2]["mean texture"] = "abc"
    response = client.post("/invocations", json={"dataframe_records": rows})
    assert _mlflow_error(response) == (
        "column 'mean texture': expected a number, got 'abc' (str) at rows 0, 2"
    )


@pytest.mark.parametrize(
    ("literal", "problem"),
    [
        ("NaN", "null/NaN is not allowed (the model saw none)"),
        ("null", "null/NaN is not allowed (the model saw none)"),
        ("Infinity", "infinite values are not allowed"),
        ("-Infinity", "infinite values are not allowed"),
    ],
)
def test_nan_inf_and_null_where_the_schema_forbids_them(
    cancer: Predictor, client: Client, literal: str, problem: str
) -> None:
    row = _row(cancer)
    row["mean radius"] = 999.0
    text = json.dumps({"dataframe_records": [row]}).replace("999.0", literal)
    response = client.post("/invocations", content=text, headers=JSON)
    assert _mlflow_error(response) == f"column 'mean radius': {problem} at row 0"


def test_an_integer_beyond_float64(cancer: Predictor, client: Client) -> None:
    row = _row(cancer)
    row["mean radius"] = 999.0
    text = json.dumps({"dataframe_records": [row]}).replace("999.0", "1" + "0" * 400)
    response = client.post("/invocations", content=text, headers=JSON)
    assert _mlflow_error(response).startswith(
        "column 'mean radius': number too large for a 64-bit float: 1000"
    )


def test_several_problems_are_all_reported(cancer: Predictor, client: Client) -> None:
    row = _row(cancer)
    row["mean texture"] = "x"
    row["worst area"] = None
    del row["mean radius"]
    message = _mlflow_error(client.post("/invocations", json={"dataframe_records": [row]}))
    assert message == (  # a missing column does not hide the problems of the others
        "column 'mean radius': is missing; "
        "column 'mean texture': expected a number, got 'x' (str) at row 0; "
        "column 'worst area': null/NaN is not allowed (the model saw none) at row 0"
    )
    row["mean radius"] = 1.0
    message = _mlflow_error(client.post("/invocations", json={"dataframe_records": [row]}))
    assert "column 'mean texture': expected a number, got 'x' (str) at row 0" in message
    assert "column 'worst area': null/NaN is not allowed" in message


def test_unknown_category_by_policy(fruit_dir: Path, serve: Callable[..., Client]) -> None:
    bundle = load_bundle(fruit_dir)
    row = {"weight": 150.0, "sugar": 9.0, "color": "purple"}
    strict = serve(Predictor(bundle))
    message = _mlflow_error(strict.post("/invocations", json={"dataframe_records": [row]}))
    assert message == (
        "column 'color': unknown category 'purple' (str) (known: green, red, yellow) at row 0"
    )
    lenient = serve(Predictor(bundle, unknown_categories="allow"), unknown_categories="allow")
    response = lenient.post("/invocations", json={"dataframe_records": [row]})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"][0] in {"apple", "melon", "pear"}


# --- the body ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"instances": [[1, 2,]]}', "malformed JSON at line 1, column 22: Expecting value"),
        (b'{"instances":\n [1, 2', "malformed JSON at line 2, column 7: Expecting ',' delimiter"),
        (b"", "the request body is empty; send a JSON object"),
        (b'{"a": "\xff"}', "malformed JSON: 'utf-8' codec can't decode byte 0xff"),
    ],
)
def test_malformed_json_says_where(client: Client, body: bytes, expected: str) -> None:
    message = _mlflow_error(client.post("/invocations", content=body, headers=JSON))
    assert message.startswith(expected)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(client: Client, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/invocations", content=b"{}", headers=headers)
    shown = f"'{content_type}'" if content_type else "no Content-Type"
    assert _mlflow_error(response, 415) == (
        f"unsupported content type {shown}; send application/json or text/csv"
    )


def test_oversized_body_is_413_by_content_length(client: Client) -> None:
    response = client.post("/invocations", content=b" " * 20_001, headers=JSON)
    assert _mlflow_error(response, 413).startswith(
        "the request body (20001 bytes) exceeds the limit of 20000 bytes"
    )


def test_oversized_chunked_body_is_413_while_streaming(client: Client) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(30):
            yield b" " * 1000

    response = client.post("/invocations", content=chunks(), headers=JSON)
    assert "content-length" not in response.request.headers
    message = _mlflow_error(response, 413)
    assert message.startswith("the request body (more than 20000 bytes) exceeds the limit")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"dataframe_records": []}, "the batch is empty: send at least one row"),
        ({"dataframe_split": {"columns": ["a"], "data": []}}, "the batch is empty"),
        ({"instances": []}, "the batch is empty"),
        ({"inputs": {}}, "the batch is empty"),
        (
            {"instances": [[1.0]], "inputs": [[1.0]]},
            "send exactly one of 'dataframe_split', 'dataframe_records', 'instances', 'inputs'; "
            "the body has both 'instances', 'inputs'",
        ),
        ({}, "the body has none of them"),
        (
            {"instanses": [[1.0]]},
            "unknown key 'instanses' in the body (did you mean 'instances'?)",
        ),
        ([1, 2], "the JSON body must be an object with one of 'dataframe_split'"),
        (
            {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0]]}},
            "'dataframe_split.data[0]' has 1 values; 'columns' names 2",
        ),
        (
            {"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}},
            "'dataframe_split.columns' names column 'a' twice",
        ),
        ({"dataframe_split": {"colums": []}}, "unknown key 'colums' in 'dataframe_split'"),
        ({"dataframe_split": [[1.0]]}, "'dataframe_split' must be an object {columns, data}"),
        ({"dataframe_records": [[1.0]]}, "'dataframe_records[0]' is a list; each row must be"),
        ({"instances": [[1.0, 2.0]]}, "'instances[0]' has 2 values; the model takes 30 columns"),
        (
            {"inputs": {"a": [1.0], "b": [1.0, 2.0]}},
            "the columns of 'inputs' have different lengths: 'a' has 1, 'b' has 2",
        ),
        ({"instances": [[1.0]], "params": {"proba": True}}, "unknown parameter 'proba'"),
        (
            {"instances": [[1.0]], "params": {"predict_proba": "yes"}},
            "'params.predict_proba' must be true or false, got 'yes'",
        ),
    ],
)
def test_payload_problems(client: Client, body: Any, expected: str) -> None:
    message = _mlflow_error(client.post("/invocations", json=body))
    assert expected in message


def test_predict_proba_of_a_regression(houses: Predictor, serve: Callable[..., Client]) -> None:
    row = {"rooms": 1.0, "age": 0.5, "area": -1.0, "floor": 2.0}
    body = {"dataframe_records": [row], "params": {"predict_proba": True}}
    message = _mlflow_error(serve(houses).post("/invocations", json=body))
    assert message == (
        "'params.predict_proba': model 'houses' is a regression model and has no class "
        "probabilities"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the CSV body is empty; send a header row, then one line per row"),
        ("mean radius,mean texture\n", "the batch is empty"),
        ("a,b\n1,2\n3,4,5\n", "CSV row 1 has 3 fields; the header has 2"),
        ("a,a\n1,2\n", "the CSV header names column 'a' twice"),
        ('a,b\n"1,2\n', "malformed CSV at line"),
    ],
)
def test_csv_problems(client: Client, text: str, expected: str) -> None:
    headers = {"content-type": "text/csv"}
    message = _mlflow_error(client.post("/invocations", content=text, headers=headers))
    assert message.startswith(expected)


def test_csv_not_utf8(client: Client) -> None:
    headers = {"content-type": "text/csv"}
    response = client.post("/invocations", content=b"a\n\xff\n", headers=headers)
    assert _mlflow_error(response).startswith("the CSV body is not UTF-8")


def test_csv_bad_cell(cancer: Predictor, client: Client) -> None:
    x, _ = cancer_frame(2)
    text = x.to_csv(index=False).replace(str(x.loc[1, "mean radius"]), "n/a", 1)
    response = client.post("/invocations", content=text, headers={"content-type": "text/csv"})
    assert _mlflow_error(response) == (
        "column 'mean radius': expected a number, got 'n/a' (str) at row 1"
    )


def test_unknown_route_and_method_in_the_protocol_shape(client: Client) -> None:
    message = _mlflow_error(client.get("/predict"), 404)
    assert message.startswith("GET /predict: Not Found; endpoints: POST /invocations")
    assert _mlflow_error(client.get("/invocations"), 405) == (
        "GET /invocations: Method Not Allowed"
    )
    assert _oip_error(client.get("/v2/modelz"), 404).startswith("GET /v2/modelz: Not Found")


# --- the Open Inference Protocol --------------------------------------------------------------


def _tensors(predictor: Predictor) -> list[dict[str, Any]]:
    row = _row(predictor)
    return [{"name": k, "shape": [1], "datatype": "FP64", "data": [v]} for k, v in row.items()]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda t: t[0].update(shape=[2]),
            "input 'mean radius': shape [2] holds 2 values, but 'data' has 1",
        ),
        (
            lambda t: t[0].update(datatype="BYTES"),
            "input 'mean radius': datatype BYTES does not fit a numeric column; "
            "use FP64, FP32 or INT64",
        ),
        (
            lambda t: t[0].update(datatype="FLOAT64"),
            "input 'mean radius': unknown datatype 'FLOAT64'",
        ),
        (
            lambda t: t[0].update(shape=[1, 2], data=[1.0, 2.0]),
            "input 'mean radius': shape [1, 2] is not one column",
        ),
        (lambda t: t[0].update(name="radius"), "column 'mean radius': is missing"),
        (lambda t: t[0].update(data=["x"]), "column 'mean radius': expected a number, got 'x'"),
        (lambda t: t[0].pop("datatype"), "'inputs[0]' has no 'datatype'"),
        (lambda t: t.append(dict(t[0])), "input 'mean radius' is sent twice"),
        (
            lambda t: t[1].update(shape=[2], data=[1.0, 2.0]),
            "the inputs have different numbers of rows: 'mean radius' has 1, 'mean texture' has 2",
        ),
        (lambda t: t.clear(), "'inputs' must be a non-empty list of tensors"),
        (
            lambda t: t[0].update(shape=[-1]),
            "input 'mean radius': 'shape' must be a list of non-negative integers",
        ),
    ],
)
def test_oip_tensor_problems(
    cancer: Predictor, client: Client, change: Callable[[list[dict[str, Any]]], Any], expected: str
) -> None:
    tensors = _tensors(cancer)
    change(tensors)
    response = client.post("/v2/models/cancer/infer", json={"inputs": tensors})
    assert expected in _oip_error(response)


def test_oip_one_tensor_with_the_wrong_width(client: Client) -> None:
    tensor = {"name": "x", "shape": [1, 29], "datatype": "FP32", "data": [1.0] * 29}
    message = _oip_error(client.post("/v2/models/cancer/infer", json={"inputs": [tensor]}))
    assert message.startswith(
        "input 'x': shape [1, 29] has 29 columns; the model takes 30 in this order: "
        "'mean radius', 'mean texture'"
    )


def test_oip_request_problems(cancer: Predictor, client: Client) -> None:
    tensors = _tensors(cancer)
    bad_output = {"inputs": tensors, "outputs": [{"name": "proba"}]}
    assert _oip_error(client.post("/v2/models/cancer/infer", json=bad_output)) == (
        "unknown output 'proba'; this model has predict, predict_proba"
    )
    extra = {"inputs": tensors, "input": []}
    assert _oip_error(client.post("/v2/models/cancer/infer", json=extra)).startswith(
        "unknown key 'input' in the request (did you mean 'inputs'?)"
    )
    malformed = client.post("/v2/models/cancer/infer", content=b"{", headers=JSON)
    assert _oip_error(malformed).startswith("malformed JSON at line 1, column 2")
    csv = {"content-type": "text/csv"}
    text = client.post("/v2/models/cancer/infer", content=b"{}", headers=csv)
    assert _oip_error(text, 415) == "unsupported content type 'text/csv'; send application/json"
    big = client.post("/v2/models/cancer/infer", content=b" " * 20_001, headers=JSON)
    assert "exceeds the limit of 20000 bytes" in _oip_error(big, 413)


def test_oip_unknown_model_is_404(cancer: Predictor, client: Client) -> None:
    body = {"inputs": _tensors(cancer)}
    assert _oip_error(client.post("/v2/models/cancr/infer", json=body), 404) == (
        "model 'cancr' is not served here; this server serves 'cancer'"
    )
    assert _oip_error(client.get("/v2/models/cancr"), 404).startswith("model 'cancr'")
    assert _oip_error(client.get("/v2/models/cancr/ready"), 404).startswith("model 'cancr'")
    versioned = client.post("/v2/models/cancer/versions/v9/infer", json=body)
    assert _oip_error(versioned, 404) == (
        "model 'cancer' has no version 'v9'; this server has local"
    )


# --- a genuine bug ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Predictor:
    """A bundle whose schema.json disagrees with its pipeline: predict raises inside sklearn."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    fitted_on = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "c": [1.0, 0.0, 1.0, 0.0]})
    pipeline = Pipeline([("model", LogisticRegression())]).fit(fitted_on, [0, 1, 0, 1])
    declared = fitted_on.rename(columns={"c": "b"})
    path = tmp_path_factory.mktemp("broken") / "broken"
    schema = {"task": "binary_classification", "classes": [0, 1], "columns": infer_schema(declared)}
    save_bundle(path, pipeline, schema, {"name": "broken"})
    return Predictor(load_bundle(path))


def test_an_exception_in_predict_is_a_json_500_and_the_server_lives_on(
    broken: Predictor, serve: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    client = serve(broken)
    row = {"a": 1.0, "b": 0.0}
    response = client.post("/invocations", json={"dataframe_records": [row]})
    assert response.status_code == 500
    body = response.json()
    assert body["error_code"] == "INTERNAL_ERROR"
    assert body["message"].startswith("internal error while scoring (ValueError: ")
    tensors = [{"name": k, "shape": [1], "datatype": "FP64", "data": [v]} for k, v in row.items()]
    oip = client.post("/v2/models/broken/infer", json={"inputs": tensors})
    assert oip.status_code == 500
    assert oip.json()["error"].startswith("internal error while scoring")
    assert "Traceback" in caplog.text
    assert client.get("/ping").status_code == 200
    metrics = client.get("/metrics").text
    assert 'conveyor_requests_total{code="500",endpoint="/invocations"} 1.0' in metrics
    assert 'conveyor_request_errors_total{endpoint="/invocations",reason="internal"} 1.0' in metrics


# --- deeply nested JSON -----------------------------------------------------------------------

NESTED = "the JSON body nests arrays and objects too deeply"


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 2000,  # the 4 KB of brackets, unclosed and closed
        b"[" * 2000 + b"]" * 2000,
        b"[" * 1025 + b"]" * 1025,  # one past orjson's limit
        b'{"instances": ' + b"[" * 1100 + b"]" * 1100 + b"}",
        b"[" * 1000 + b"NaN" + b"]" * 1000,  # orjson refuses NaN; the stdlib fallback recurses
    ],
)
@pytest.mark.parametrize("path", ["/invocations", "/v2/models/cancer/infer"])
def test_deeply_nested_json_is_a_400(client: Client, path: str, body: bytes) -> None:
    response = client.post(path, content=body, headers=JSON)
    message = _oip_error(response) if path.startswith("/v2") else _mlflow_error(response)
    assert message.startswith(NESTED), message
    assert "send rows as lists of values" in message


def test_json_nested_exactly_at_the_limit_is_parsed(client: Client) -> None:
    body = b"[" * 1024 + b"]" * 1024
    message = _mlflow_error(client.post("/invocations", content=body, headers=JSON))
    assert message.startswith("the JSON body must be an object"), message
