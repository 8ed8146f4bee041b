"""Monitoring as users run it: ``dvc repro`` writes the profile, ``conveyor monitor`` flags the
planted drift, the ``monitor`` stage writes DVC metrics; bad input exits cleanly, writing nothing.

The default project is reproduced once per module; each test works on its own batch files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path  # noqa: TC003 - fixtures' annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conveyor.monitoring.profile import Profile
from tests.conftest import conveyor_in_process, conveyor_warm, dvc

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reproduced(reproduced_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default project after ``dvc repro``: a model, its metrics and its profile."""
    root = tmp_path_factory.mktemp("monitor") / "project"
    shutil.copytree(reproduced_template, root, symlinks=True)
    return root


@pytest.fixture(scope="module")
def test_split(reproduced: Path) -> pd.DataFrame:
    return pd.read_parquet(reproduced / "data" / "split" / "test.parquet")


def _monitor(root: Path, *args: str, check: bool = True) -> tuple[int, str, str]:
    """``conveyor monitor ARGS``, forked from the warm stage server (``conveyor_warm``)."""
    done = conveyor_warm("monitor", *args, cwd=root, check=check)
    return done.returncode, done.stdout, done.stderr


def _drifted(document: dict[str, object]) -> set[str]:
    columns = document["columns"]
    assert isinstance(columns, list)
    return {c["column"] for c in columns if c["drifted"]}


def test_dvc_repro_writes_the_profile_kept_in_git(reproduced: Path) -> None:
    path = reproduced / "reports" / "profile.json"
    profile = Profile.from_json(path.read_text(), where=str(path))
    assert len(profile.names) == 30
    assert "diagnosis" not in profile.names  # the target is not a feature
    assert profile.prediction is not None  # P(benign) on every training row
    assert profile.prediction["count"] == profile.rows
    text = (reproduced / "dvc.yaml").read_text()
    assert "reports/profile.json:\n        cache: false" in text
    assert json.loads(dvc("status", "--json", cwd=reproduced).stdout) == {}


def test_a_drifted_batch_flags_exactly_the_planted_columns(
    reproduced: Path, test_split: pd.DataFrame, tmp_path: Path
) -> None:
    batch = test_split.drop(columns="diagnosis")
    batch["mean radius"] += 3.0
    batch["worst area"] *= 1.8
    batch.to_parquet(tmp_path / "batch.parquet")
    code, out, err = _monitor(reproduced, str(tmp_path / "batch.parquet"), "-o", str(tmp_path))
    assert (code, err) == (0, "")
    # the verdict states the worst finding first, not "no dataset drift" (issue 17)
    assert out.startswith(
        "PREDICTION DRIFT; also 1 data-quality issue; no dataset drift (2 of 30 columns drifted "
        "(7%)) in 143 rows\n"
    )
    assert "  drifted: mean radius: ks 0.4750, p 1.89e-22 (drift when p <= 0.05)\n" in out
    assert "  drifted: worst area: ks " in out
    document = json.loads((tmp_path / "drift.json").read_text())
    assert _drifted(document) == {"mean radius", "worst area"}
    assert document["inputs"]["model"] == "diagnostics local"
    assert document["inputs"]["reference"] == "reports/profile.json"
    assert "performance" not in document  # no labels in this batch
    html = (tmp_path / "drift.html").read_text()
    assert html.count("<svg") == 3  # the prediction and the two drifted columns
    verdict = '<p class="verdict alert">Prediction drift; also 1 data-quality issue; no dataset '
    assert verdict in html


def test_the_test_split_itself_flags_nothing_and_keeps_its_performance(
    reproduced: Path, tmp_path: Path
) -> None:
    code, out, _ = _monitor(reproduced, "data/split/test.parquet", "-o", str(tmp_path), "--json")
    assert code == 0
    document = json.loads(out)
    assert document == json.loads((tmp_path / "drift.json").read_text())
    assert document["dataset_drift"] == 0
    assert _drifted(document) == set()
    metrics = json.loads((reproduced / "reports" / "metrics.json").read_text())
    assert document["performance"]["metric"] == "roc_auc"  # evaluate.primary
    assert document["performance"]["value"] == pytest.approx(metrics["roc_auc"])
    assert document["performance"]["drop"] == pytest.approx(0.0)
    assert document["performance_drop"] == 0


def test_fail_on_drift_exits_10_on_dataset_drift(
    reproduced: Path, test_split: pd.DataFrame, tmp_path: Path
) -> None:
    (test_split.drop(columns="diagnosis") * 1.5).to_parquet(tmp_path / "batch.parquet")
    batch = str(tmp_path / "batch.parquet")
    code, out, _ = _monitor(reproduced, batch, "-o", str(tmp_path), "--fail-on-drift", check=False)
    assert code == 10
    assert out.startswith("DATASET DRIFT: ")
    assert _monitor(reproduced, batch, "-o", str(tmp_path))[0] == 0  # a report, not a failure


def test_the_prediction_log_directory_is_a_batch(
    reproduced: Path, test_split: pd.DataFrame, tmp_path: Path
) -> None:
    """A log as ``conveyor serve --log-dir`` writes it (docs/serving.md), scores included."""
    inputs = test_split.drop(columns="diagnosis")
    rows = len(inputs)
    table = pa.Table.from_pandas(inputs, preserve_index=False).append_column(
        "_request_id", pa.array([f"r{i}" for i in range(rows)])
    )
    table = table.append_column("_prediction", pa.array(["1"] * rows))
    table = table.append_column("_score", pa.array([0.999] * rows))  # a model gone confident
    day = tmp_path / "log" / "diagnostics" / "date=2026-11-26"
    day.mkdir(parents=True)
    pq.write_table(table.slice(0, 70), day / "part-140029-000000.parquet")
    pq.write_table(table.slice(70), day / "part-141500-000001.parquet")
    code, out, _ = _monitor(reproduced, str(tmp_path / "log"), "-o", str(tmp_path / "out"))
    assert code == 0
    document = json.loads((tmp_path / "out" / "drift.json").read_text())
    assert document["rows"] == rows
    assert len(document["inputs"]["current"]) == 2
    assert _drifted(document) == set()  # the inputs are the test split
    assert document["prediction"]["drifted"]  # the logged scores are not the model's
    assert "  prediction: drifted" in out


def test_labels_joined_on_an_id_give_performance(
    reproduced: Path, test_split: pd.DataFrame, tmp_path: Path
) -> None:
    batch = test_split.assign(case=[f"c{i}" for i in range(len(test_split))])
    batch.drop(columns="diagnosis").to_csv(tmp_path / "batch.csv", index=False)
    batch[["case", "diagnosis"]].iloc[:100].to_csv(tmp_path / "labels.csv", index=False)
    code, out, _ = _monitor(
        reproduced,
        str(tmp_path / "batch.csv"),
        "--labels",
        str(tmp_path / "labels.csv"),
        "--id-column",
        "case",
        "--metric",
        "accuracy",
        "--max-drop",
        "0.5",
        "-o",
        str(tmp_path),
    )
    assert code == 0
    document = json.loads((tmp_path / "drift.json").read_text())
    assert document["performance"]["metric"] == "accuracy"
    assert document["performance"]["rows"] == 100
    assert document["performance"]["value"] > 0.85
    assert document["performance_drop"] == 0
    assert document["inputs"]["labels"] == "labels joined on 'case' (labels.csv)"
    assert "  accuracy: 0." in out


def test_the_monitor_stage_writes_dvc_metrics(
    reproduced: Path, test_split: pd.DataFrame, tmp_path: Path
) -> None:
    root = tmp_path / "project"
    shutil.copytree(reproduced, root, symlinks=True)
    (root / "data" / "batches").mkdir()
    test_split.to_parquet(root / "data" / "batches" / "week-01.parquet")
    conveyor_in_process("compile", "monitor.current=data/batches/*.parquet", cwd=root)
    done = dvc("repro", cwd=root)
    assert "Running stage 'monitor'" in done.stdout
    assert "Running stage 'train'" not in done.stdout  # only the new stage runs
    assert "monitor: no dataset drift: 0 of 30 columns drifted" in done.stdout
    metrics = json.loads(dvc("metrics", "show", "--json", cwd=root).stdout)
    (found,) = [entry for entry in metrics.values() if "reports/drift.json" in entry["data"]]
    shown = found["data"]["reports/drift.json"]["data"]
    assert shown["dataset_drift"] == 0
    assert shown["performance"]["metric"] == "roc_auc"
    assert (root / "reports" / "drift.html").is_file()
    assert json.loads(dvc("status", "--json", cwd=root).stdout) == {}
    # A new batch file in the folder reruns the monitor stage, and only it.
    (test_split * 1.0).assign(**{"worst area": test_split["worst area"] * 2}).to_parquet(
        root / "data" / "batches" / "week-02.parquet"
    )
    done = dvc("repro", cwd=root)
    assert "Running stage 'monitor'" in done.stdout
    assert "  drifted: worst area" in done.stdout


def test_bad_input_exits_with_a_message_and_writes_nothing(
    reproduced: Path, test_split: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    test_split.drop(columns="worst area").to_parquet(tmp_path / "short.parquet")
    cases = [
        (["nope.parquet"], "error: CURRENT: 'nope.parquet' does not exist\n"),
        (
            [str(tmp_path / "short.parquet")],
            "error: CURRENT: '" + str(tmp_path / "short.parquet") + "' lacks column 'worst area'",
        ),
        (
            ["data/split/test.parquet", "--reference", "nope.json"],
            "error: --reference: cannot read the reference profile 'nope.json'",
        ),
    ]
    for args, message in cases:
        code, _, err = _monitor(reproduced, *args, "-o", str(out), check=False)
        assert code == 1, err
        assert err.startswith(message), err
        assert "Traceback" not in err
        assert "fix: " in err
        assert not out.exists()


def test_outside_a_project_the_reference_is_data(test_split: pd.DataFrame, tmp_path: Path) -> None:
    reference = test_split.iloc[:70].drop(columns="diagnosis")
    reference.to_parquet(tmp_path / "reference.parquet")
    current = test_split.iloc[70:].drop(columns="diagnosis")
    current.assign(**{"mean texture": current["mean texture"] + 10}).to_csv(
        tmp_path / "current.csv", index=False
    )
    code, _, _ = _monitor(
        tmp_path, "current.csv", "--reference-data", "reference.parquet", "-o", "out"
    )
    assert code == 0
    document = json.loads((tmp_path / "out" / "drift.json").read_text())
    assert _drifted(document) == {"mean texture"}
    assert document["prediction"] is None  # no model outside a project unless --model
    code, _, err = _monitor(tmp_path, "current.csv", check=False)
    assert code == 1
    assert "error: --reference: cannot read the reference profile 'reports/profile.json'" in err
    assert "fix: run 'dvc repro profile' in the project, or give --reference-data FILE" in err
