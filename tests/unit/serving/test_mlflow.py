"""MLflow's /invocations: every payload form answers what the Pipeline predicts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from tests.unit.serving.conftest import Client, cancer_frame, fruit_frame, records

if TYPE_CHECKING:
    from collections.abc import Callable

    from conveyor.bundle.predictor import Predictor

ROWS = 25


def _payloads(frame: Any) -> dict[str, dict[str, Any]]:
    rows = records(frame)
    names = list(frame.columns)
    return {
        "dataframe_split": {
            "dataframe_split": {"columns": names, "data": [[r[n] for n in names] for r in rows]}
        },
        "dataframe_split_with_index": {
            "dataframe_split": {
                "columns": names,
                "index": list(range(len(rows))),
                "data": [[r[n] for n in names] for r in rows],
            }
        },
        "dataframe_records": {"dataframe_records": rows},
        "instances_records": {"instances": rows},
        "instances_rows": {"instances": [[r[n] for n in names] for r in rows]},
        "inputs_columns": {"inputs": {n: [r[n] for r in rows] for n in names}},
        "inputs_records": {"inputs": rows},
    }


@pytest.mark.parametrize("form", list(_payloads(cancer_frame(2)[0])))
def test_every_json_form_predicts_like_the_pipeline(
    cancer: Predictor, serve: Callable[..., Client], form: str
) -> None:
    x, _ = cancer_frame(ROWS)
    client = serve(cancer)
    response = client.post("/invocations", json=_payloads(x)[form])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["predictions"] == cancer.bundle.pipeline.predict(x).tolist()


def test_predict_proba_answers_a_probability_per_class(
    cancer: Predictor, serve: Callable[..., Client]
) -> None:
    x, _ = cancer_frame(ROWS)
    body = {"dataframe_records": records(x), "params": {"predict_proba": True}}
    predictions = serve(cancer).post("/invocations", json=body).json()["predictions"]
    expected = cancer.bundle.pipeline.predict_proba(x)
    assert [sorted(p) for p in predictions] == [["0", "1"]] * ROWS
    got = np.array([[p["0"], p["1"]] for p in predictions])
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_csv_with_a_header_row(cancer: Predictor, serve: Callable[..., Client]) -> None:
    x, _ = cancer_frame(ROWS)
    text = x.to_csv(index=False, na_rep="")
    response = serve(cancer).post(
        "/invocations", content=text, headers={"content-type": "text/csv; charset=utf-8"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == cancer.bundle.pipeline.predict(x).tolist()


def test_string_classes_and_a_category_column(
    fruit: Predictor, serve: Callable[..., Client]
) -> None:
    x, _ = fruit_frame(30)
    client = serve(fruit)
    labels = client.post("/invocations", json={"dataframe_records": records(x)}).json()
    names = np.asarray(["apple", "melon", "pear"])
    assert labels["predictions"] == names[fruit.bundle.pipeline.predict(x)].tolist()
    body = {"dataframe_records": records(x), "params": {"predict_proba": True}}
    first = client.post("/invocations", json=body).json()["predictions"][0]
    assert sorted(first) == ["apple", "melon", "pear"]
    expected = fruit.bundle.pipeline.predict_proba(x.head(1))[0]
    np.testing.assert_allclose([first[c] for c in names], expected, rtol=1e-9)


def test_regression_answers_values(houses: Predictor, serve: Callable[..., Client]) -> None:
    rows = [{"rooms": 1.0, "age": 0.5, "area": -1.0, "floor": 2.0}]
    response = serve(houses).post("/invocations", json={"dataframe_records": rows})
    expected = houses.bundle.pipeline.predict(_frame(rows)).tolist()
    assert response.json()["predictions"] == pytest.approx(expected, rel=1e-12)


def test_null_in_a_nullable_column_is_scored(
    cancer: Predictor, serve: Callable[..., Client]
) -> None:
    x, _ = cancer_frame(3)
    rows = records(x)
    rows[1]["mean area"] = None
    response = serve(cancer).post("/invocations", json={"dataframe_records": rows})
    assert response.status_code == 200, response.text
    x.loc[1, "mean area"] = np.nan
    assert response.json()["predictions"] == cancer.bundle.pipeline.predict(x).tolist()


def test_the_request_id_is_echoed(cancer: Predictor, serve: Callable[..., Client]) -> None:
    x, _ = cancer_frame(1)
    response = serve(cancer).post(
        "/invocations", json={"dataframe_records": records(x)}, headers={"x-request-id": "r-42"}
    )
    assert response.headers["x-request-id"] == "r-42"


def test_ping_health_version(cancer: Predictor, serve: Callable[..., Client]) -> None:
    from conveyor import __version__

    client = serve(cancer)
    assert client.get("/ping").status_code == 200
    assert client.get("/health").json() == {"status": "ok"}
    version = client.get("/version").json()
    assert version["conveyor"] == __version__
    assert (version["model"], version["model_version"]) == ("cancer", "local")
    assert version["sha256"] == cancer.sha256
    assert len(version["sha256"]) == 64
    assert version["fast_path"] is True


def _frame(rows: list[dict[str, Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame(rows)
