"""MLflow's behaviour for columns the model does not take (extra_columns), and the id column."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq
import pytest

from conveyor.errors import SpecError
from conveyor.serving.body import IGNORED_COLUMNS
from conveyor.serving.config import from_mapping
from tests.unit.serving.conftest import cancer_frame, records

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from conveyor.bundle.predictor import Predictor
    from tests.unit.serving.conftest import Client

IGNORED = 'conveyor_ignored_columns_total{endpoint="/invocations"}'


def _split(rows: list[dict[str, Any]]) -> dict[str, Any]:
    columns = list(rows[0])
    return {"dataframe_split": {"columns": columns, "data": [list(r.values()) for r in rows]}}


def _metric(client: Client, name: str) -> float | None:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def test_ignore_is_the_default_and_is_counted(cancer: Predictor, serve: Callable[..., Client]):
    client = serve(cancer)
    x, _ = cancer_frame(5)
    plain = client.post("/invocations", json=_split(records(x)))
    assert plain.status_code == 200, plain.text
    assert _metric(client, IGNORED) is None  # nothing ignored yet: no sample
    wide = [{**row, "mean radiuss": 1.0, "comment": "hi"} for row in records(x)]
    for body in (_split(wide), {"dataframe_records": wide}, {"instances": wide}):
        response = client.post("/invocations", json=body)
        assert response.status_code == 200, response.text
        assert response.json() == plain.json()
    csv = x.assign(extra=1).to_csv(index=False)
    response = client.post("/invocations", content=csv, headers={"content-type": "text/csv"})
    assert response.json() == plain.json()
    assert _metric(client, IGNORED) == 7.0  # 2 + 2 + 2 + 1 columns


def test_error_keeps_the_strict_400(cancer: Predictor, serve: Callable[..., Client]) -> None:
    client = serve(cancer, extra_columns="error")
    x, _ = cancer_frame(1)
    wide = [{**records(x)[0], "mean radiuss": 1.0}]
    response = client.post("/invocations", json={"dataframe_records": wide})
    assert response.status_code == 400
    assert "'mean radiuss'" in response.json()["message"]
    assert _metric(client, IGNORED) is None


def test_a_missing_column_names_the_ignored_ones(cancer: Predictor, serve: Callable[..., Client]):
    client = serve(cancer)
    x, _ = cancer_frame(1)
    row = records(x)[0]
    row["mean radiuss"] = row.pop("mean radius")  # a typo: ignored, and the real one is missing
    response = client.post("/invocations", json={"dataframe_records": [row]})
    assert response.status_code == 400
    message = response.json()["message"]
    assert "'mean radius'" in message
    assert "ignored 1 column the model does not take: 'mean radiuss'" in message


def test_how_many_columns_may_be_ignored(cancer: Predictor, serve: Callable[..., Client]) -> None:
    client = serve(cancer)
    x, _ = cancer_frame(1)
    row = records(x)[0]
    at_limit = {**row, **{f"extra_{i}": i for i in range(IGNORED_COLUMNS)}}
    assert client.post("/invocations", json={"dataframe_records": [at_limit]}).status_code == 200
    one_past = {**at_limit, "one_more": 0}
    response = client.post("/invocations", json={"dataframe_records": [one_past]})
    assert response.status_code == 400
    assert "has 1031 columns; model 'cancer' takes 30" in response.json()["message"]


def test_the_id_column_is_logged_and_never_scored(
    cancer: Predictor, serve: Callable[..., Client], tmp_path: Path
) -> None:
    client = serve(cancer, log_dir=str(tmp_path), id_column="case", extra_columns="error")
    x, _ = cancer_frame(3)
    rows = [{"case": case, **row} for case, row in zip([17, "b-2", None], records(x), strict=True)]
    response = client.post("/invocations", json={"dataframe_records": rows})
    assert response.status_code == 200, response.text  # not an extra column, even under error
    assert response.json() == client.post("/invocations", json=_split(records(x))).json()
    client.close()
    table = pq.read_table(next(tmp_path.rglob("*.parquet")))
    assert str(table.schema.field("case").type) == "string"
    assert table.column("case").to_pylist() == ["17", "b-2", None, None, None, None]
    assert table.column_names.index("case") == len(x.columns)  # after the inputs, before _meta


def test_the_id_column_may_not_be_a_model_input(cancer: Predictor, serve: Callable[..., Client]):
    with pytest.raises(SpecError, match="'id_column' 'mean radius' is an input of model 'cancer'"):
        serve(cancer, id_column="mean radius")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"extra_columns": "drop"}, "'extra_columns' must be 'ignore' or 'error', got 'drop'"),
        ({"id_column": 3}, "'id_column' must be str or null, got 3"),
        ({"id_column": ""}, "'id_column' must be a column name, got ''"),
    ],
)
def test_bad_settings(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(SpecError, match=r"serve\.json") as info:
        from_mapping(data, where="serve.json")
    assert expected in info.value.what


def test_oip_stays_strict(cancer: Predictor, serve: Callable[..., Client]) -> None:
    """Triton refuses an input the model does not declare; so does /v2, whatever extra_columns."""
    client = serve(cancer)
    x, _ = cancer_frame(1)
    tensors = [
        {"name": name, "shape": [1], "datatype": "FP64", "data": [1.0]}
        for name in [*x.columns, "mean radiuss"]
    ]
    response = client.post("/v2/models/cancer/infer", json={"inputs": tensors})
    assert response.status_code == 400
    assert "'mean radiuss'" in response.json()["error"]


def test_a_request_of_only_ignored_columns(cancer: Predictor, serve: Callable[..., Client]) -> None:
    client = serve(cancer)
    response = client.post("/invocations", json={"dataframe_records": [{"diagnosis": 1}]})
    assert response.status_code == 400
    message = response.json()["message"]
    assert message.startswith("30 of the model's 30 columns are missing: "), message
    assert message.endswith("column 'diagnosis': is not an input of this model"), message
    assert _metric(client, IGNORED) is None
