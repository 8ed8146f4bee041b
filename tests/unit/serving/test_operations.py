"""What operators read: /metrics counts and the OpenAPI docs built from the schema."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tests.unit.serving.conftest import cancer_frame, fruit_frame, records

if TYPE_CHECKING:
    from collections.abc import Callable

    from conveyor.bundle.predictor import Predictor
    from tests.unit.serving.conftest import Client


def _value(metrics: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", metrics, re.MULTILINE)
    assert match, f"{series} not in\n{metrics}"
    return float(match.group(1))


def test_metrics_count_requests_errors_rows_and_predictions(
    cancer: Predictor, serve: Callable[..., Client]
) -> None:
    client = serve(cancer)
    x, _ = cancer_frame(10)
    expected = cancer.bundle.pipeline.predict_proba(x)[:, 1]
    client.post("/invocations", json={"dataframe_records": records(x)})
    client.post("/invocations", json={"dataframe_records": records(x.head(2))})
    client.post("/invocations", json={"dataframe_records": []})
    client.post("/invocations", content=b"{", headers={"content-type": "application/json"})
    client.post("/invocations", content=b"{}", headers={"content-type": "text/plain"})
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = metrics.text
    requests = 'conveyor_requests_total{code="%s",endpoint="/invocations"}'
    assert _value(text, requests % 200) == 2
    assert _value(text, requests % 400) == 2
    assert _value(text, requests % 415) == 1
    errors = 'conveyor_request_errors_total{endpoint="/invocations",reason="%s"}'
    assert _value(text, errors % "empty") == 1
    assert _value(text, errors % "malformed") == 1
    assert _value(text, errors % "content_type") == 1
    assert _value(text, 'conveyor_rows_scored_total{endpoint="/invocations"}') == 12
    latency = 'conveyor_request_duration_seconds_count{endpoint="/invocations"}'
    assert _value(text, latency) == 5
    labels = (
        cancer.bundle.pipeline.predict(x).tolist()
        + cancer.bundle.pipeline.predict(x.head(2)).tolist()
    )
    for label in (0, 1):
        series = f'conveyor_predicted_class_total{{class="{label}"}}'
        assert _value(text, series) == labels.count(label)
    assert _value(text, "conveyor_prediction_score_count") == 12
    scores = [*expected, *expected[:2]]
    assert _value(text, 'conveyor_prediction_score_bucket{le="0.5"}') == sum(
        s <= 0.5 for s in scores
    )
    assert _value(text, "conveyor_prediction_score_sum") == sum(scores)
    info = (
        f'conveyor_model_info{{fast_path="True",name="cancer",sha256="{cancer.sha256}",'
        'version="local"}'
    )
    assert _value(text, info) == 1


def test_two_apps_in_one_process_keep_their_own_metrics(
    cancer: Predictor, serve: Callable[..., Client]
) -> None:
    first, second = serve(cancer), serve(cancer)
    first.get("/ping")
    assert 'endpoint="/ping"' in first.get("/metrics").text
    assert 'endpoint="/ping"' not in second.get("/metrics").text


def test_openapi_lists_the_columns_with_types_and_an_example(
    fruit: Predictor, serve: Callable[..., Client]
) -> None:
    client = serve(fruit)
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/invocations"]["post"]["requestBody"]["content"]
    schema = body["application/json"]["schema"]
    assert "weight (float64), sugar (float64), color (str)" in schema["description"]
    records_form = next(s for s in schema["oneOf"] if "dataframe_records" in s["properties"])
    columns = records_form["properties"]["dataframe_records"]["items"]["properties"]
    assert columns["weight"]["type"] == "number"
    assert columns["sugar"]["type"] == ["number", "null"]
    assert columns["color"]["enum"] == ["green", "red", "yellow"]
    example = body["application/json"]["examples"]["dataframe_records"]["value"]
    (row,) = example["dataframe_records"]
    assert sorted(row) == ["color", "sugar", "weight"]
    assert row["color"] == "green"
    assert body["text/csv"]["example"].startswith("weight,sugar,color\n")
    # The example is a valid request: the docs' "try it out" works as shown.
    assert client.post("/invocations", json=example).status_code == 200
    infer = spec["paths"]["/v2/models/{name}/infer"]["post"]["requestBody"]["content"]
    oip_example = infer["application/json"]["example"]
    assert [t["name"] for t in oip_example["inputs"]] == ["weight", "sugar", "color"]
    assert client.post("/v2/models/fruit/infer", json=oip_example).status_code == 200
    # only the versioned path takes a version, in its path: no query parameter no request reads
    served = spec["paths"]["/v2/models/{name}/infer"]["post"]["parameters"]
    assert [(p["name"], p["in"]) for p in served] == [("name", "path")]
    versioned = spec["paths"]["/v2/models/{name}/versions/{version}/infer"]["post"]["parameters"]
    assert [(p["name"], p["in"]) for p in versioned] == [("name", "path"), ("version", "path")]
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


def test_a_record_example_from_a_real_row_also_scores(
    fruit: Predictor, serve: Callable[..., Client]
) -> None:
    x, _ = fruit_frame(1)
    response = serve(fruit).post("/invocations", json={"dataframe_records": records(x)})
    assert response.status_code == 200


def test_docs_work_offline(fruit: Predictor, serve: Callable[..., Client]) -> None:
    """Swagger UI's assets come from the server itself: /docs is whole in an air-gapped cluster."""
    import re

    client = serve(fruit)
    page = client.get("/docs").text
    assert not re.search(r"(?:https?:)?//", page), page  # no CDN, no other host
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sorted(assets) == [
        "/docs/assets/favicon-32x32.png",
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
    ]
    from swagger_ui_bundle import swagger_ui_path

    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert response.content == (swagger_ui_path / asset.rsplit("/", 1)[1]).read_bytes()
    assert "SwaggerUIBundle" in client.get("/docs/assets/swagger-ui-bundle.js").text
    assert "'/openapi.json'" in page or '"/openapi.json"' in page
    assert client.get("/docs/assets/../openapi.json").status_code in {404}
    assert client.get("/docs/assets/nothing.js").status_code == 404
    assert client.get("/redoc").status_code == 404  # ReDoc would load from a CDN: not served
