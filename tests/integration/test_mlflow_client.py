"""MLflow's own scoring client against a real ``conveyor serve``, and labels joined on the id."""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from tests.conftest import conveyor, dvc
from tests.integration.test_serve import Server

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="module")
def reproduced(reproduced_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default project with a model, its metrics and its reference profile."""
    root = tmp_path_factory.mktemp("mlflow") / "project"
    shutil.copytree(reproduced_template, root, symlinks=True)
    dvc("repro", "-q", "evaluate", "profile", cwd=root)
    return root


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*Any type hint is inferred:UserWarning")  # mlflow's import
def test_scoring_server_client_with_extra_and_id_columns(reproduced: Path, tmp_path: Path) -> None:
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    test = pd.read_parquet(reproduced / "data" / "split" / "test.parquet")
    batch = test.assign(case=[f"c{i}" for i in range(len(test))])  # the target stays: extra
    model = reproduced / "models" / "diagnostics"
    args = [str(model), "--log-dir", str(tmp_path / "log"), "--id-column", "case"]
    server = Server(args, reproduced)
    try:
        host, port = server.url.removeprefix("http://").rsplit(":", 1)
        assert host == "127.0.0.1"
        client = ScoringServerClient(host, port)
        client.wait_server_ready(timeout=30)
        answer = client.invoke(batch)  # dataframe_split with an index, as MLflow sends it
        labels = server.http.post(
            "/invocations",
            json={
                "dataframe_split": json.loads(
                    test.drop(columns="diagnosis").to_json(orient="split")
                )
            },
        ).json()["predictions"]
        assert answer.get_predictions(predictions_format="dataframe").iloc[:, 0].tolist() == labels
        proba = client.invoke(batch, params={"predict_proba": True}).get_predictions()
        assert proba.shape == (len(test), 2)
        metrics = server.http.get("/metrics").text
        assert 'conveyor_ignored_columns_total{endpoint="/invocations"} 2.0' in metrics
        strict = server.http.post(
            "/invocations", json={"dataframe_records": [{"diagnosis": 1}]}
        ).json()["message"]
        assert strict.endswith("column 'diagnosis': is not an input of this model"), strict
    finally:
        code, err = server.stop()
    assert code == 0, err

    batch[["case", "diagnosis"]].iloc[:100].to_csv(tmp_path / "labels.csv", index=False)
    out = conveyor(
        "monitor",
        str(tmp_path / "log"),
        "--labels",
        str(tmp_path / "labels.csv"),
        "--id-column",
        "case",
        "--metric",
        "accuracy",
        "--max-drop",
        "0.5",
        "-o",
        str(tmp_path / "report"),
        cwd=reproduced,
    )
    assert "  accuracy: " in out.stdout
    document = json.loads((tmp_path / "report" / "drift.json").read_text())
    assert document["rows"] == 3 * len(test)  # every request was logged
    assert document["performance"]["rows"] == 2 * 100  # labelled ids, in the two requests with ids
    assert document["performance"]["value"] > 0.85
    assert document["inputs"]["labels"] == "labels joined on 'case' (labels.csv)"
