"""Integers past the column's declared int type are a 400 naming the column, on both protocols.

Before: the value became a float64, then a wrapped integer when cast back to the training dtype
(2**63 scored as -2**63, 256 in a uint8 column as 0), or a 500 from inside the pipeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from conveyor.bundle import load_bundle
from conveyor.bundle.predictor import Predictor
from tests.unit.serving.conftest import IMPUTE_SCALE, save

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

    from tests.unit.serving.conftest import Client

TOP = 2**63 - 1024  # the largest int64 a 64-bit float holds


def _frame(rows: int = 60) -> tuple[pd.DataFrame, np.ndarray]:
    import pandas as pd

    rng = np.random.default_rng(4)
    x = pd.DataFrame(
        {
            "weight": rng.normal(150, 30, rows),
            "count": rng.integers(0, 20, rows).astype(np.int64),
            "level": rng.integers(0, 5, rows).astype(np.uint8),
        }
    )
    return x, (x["weight"] > 150).to_numpy().astype(int)


@pytest.fixture(scope="module")
def ints(tmp_path_factory: pytest.TempPathFactory) -> Predictor:
    from sklearn.linear_model import LogisticRegression

    x, y = _frame()
    path = tmp_path_factory.mktemp("bundles") / "ints"
    save(path, x, y, IMPUTE_SCALE, LogisticRegression(), "binary_classification", [0, 1])
    return Predictor(load_bundle(path))


def _mlflow(client: Client, column: str, value: int) -> Any:
    row = {"weight": 150.0, "count": 3, "level": 1, column: value}
    return client.post("/invocations", json={"dataframe_records": [row]})


def _oip(client: Client, column: str, value: int) -> Any:
    values = {"weight": 150.0, "count": 3, "level": 1, column: value}
    tensors = [
        {
            "name": name,
            "shape": [1],
            "datatype": "FP64" if name == "weight" else "INT64",
            "data": [v],
        }
        for name, v in values.items()
    ]
    return client.post("/v2/models/ints/infer", json={"inputs": tensors})


PROTOCOLS = [_mlflow, _oip]


def _message(response: Any) -> str:
    body = response.json()
    return str(body.get("message", body.get("error")))


@pytest.mark.parametrize("send", PROTOCOLS)
@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("count", 2**63 - 1, "9223372036854775807 is out of range for int64"),
        ("count", 2**63, "9223372036854775808 is out of range for int64"),
        # orjson reads an integer past 64 bits as a float: the value shown is what arrived
        ("count", -(2**63) - 1, "-9.223372036854776e+18 (float) is out of range for int64"),
        ("level", 256, "256 is out of range for uint8, the column's type (0 to 255)"),
        ("level", -1, "-1 is out of range for uint8, the column's type (0 to 255)"),
    ],
)
def test_an_integer_past_the_columns_type_is_a_400_naming_it(
    ints: Predictor,
    serve: Callable[..., Client],
    send: Callable[..., Any],
    column: str,
    value: int,
    expected: str,
) -> None:
    response = send(serve(ints), column, value)
    assert response.status_code == 400, response.text
    message = _message(response)
    if send is _oip and not -(2**63) <= value < 2**63:
        # the tensor's own INT64 datatype refuses it first, naming the input
        assert message.startswith(f"input '{column}': ")
        assert "does not fit INT64" in message
        return
    assert f"column '{column}': {expected}" in message
    if column == "count":
        assert "(-9223372036854775808 to 9223372036854774784, as a 64-bit float holds it)" in (
            message
        )


@pytest.mark.parametrize("send", PROTOCOLS)
@pytest.mark.parametrize(
    ("column", "value"),
    [("count", TOP), ("count", -(2**63)), ("level", 255), ("level", 0)],
)
def test_an_integer_at_the_edge_of_the_columns_type_scores(
    ints: Predictor,
    serve: Callable[..., Client],
    send: Callable[..., Any],
    column: str,
    value: int,
) -> None:
    response = send(serve(ints), column, value)
    assert response.status_code == 200, response.text
