"""The tracking record: flattened params, finite metrics, the outbox round trip, where it waits."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

from conveyor import _outbox
from conveyor.tracking._record import Record, Registration, run_metrics, run_params
from conveyor.tracking.stage import BOX, outbox_root

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def test_params_are_the_model_shaping_sections_flattened() -> None:
    params = {
        "project": {"name": "p", "task": "binary_classification"},
        "seed": 7,
        "data": {"target": "y", "sources": {"s": {"kind": "csv"}}},
        "features": {"transforms": [{"kind": "impute", "params": {"strategy": "median"}}]},
        "model": {"kind": "xgboost", "params": {"max_depth": 4, "eta": 0.1, "tags": ["a", "b"]}},
        "tracking": {"kind": "mlflow", "uri": "http://x"},
        "executor": {"kind": "local"},
    }
    assert run_params(params) == {
        "project.name": "p",
        "project.task": "binary_classification",
        "seed": "7",
        "data.target": "y",
        "features.transforms.0.kind": "impute",
        "features.transforms.0.params.strategy": "median",
        "model.kind": "xgboost",
        "model.params.eta": "0.1",
        "model.params.max_depth": "4",
        "model.params.tags": '["a", "b"]',
    }


def test_metrics_keep_finite_numbers_only() -> None:
    metrics = {"auc": 0.9, "n": 3, "flag": True, "bad": math.nan, "inf": math.inf, "name": "x"}
    metrics["slices"] = {"sex": {"f": {"auc": 0.8}}}
    assert run_metrics(metrics) == {"auc": 0.9, "n": 3.0, "slices.sex.f.auc": 0.8}


def test_a_record_waits_in_the_outbox_with_copies_of_its_files(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "metrics.json").write_text('{"auc": 1}')
    (tmp_path / "models" / "m").mkdir(parents=True)
    (tmp_path / "models" / "m" / "manifest.json").write_text("{}")
    record = Record(
        stage="train",
        experiment="e",
        run_name="train",
        params={"seed": "1"},
        files=["reports/metrics.json"],
        model="models/m",
        registrations=[Registration("m", "v1.0.0", ["prod"])],
    )
    files = {name: tmp_path / name for name in ("reports/metrics.json", "models/m")}
    path = _outbox.write(tmp_path, "train", record.to_json(), box=BOX, files=files)
    (tmp_path / "reports" / "metrics.json").write_text('{"auc": 0}')  # a later run
    ((file, document),), problems = _outbox.documents(tmp_path, BOX)
    assert (file, problems) == (path, [])
    assert Record.from_json(document) == record
    attached = _outbox.attachments(path)
    assert json.loads((attached / "reports" / "metrics.json").read_text()) == {"auc": 1}
    assert (attached / "models" / "m" / "manifest.json").is_file()
    assert (tmp_path / ".conveyor" / "outbox" / ".gitignore").read_text().endswith("*\n")
    _outbox.remove(path)
    assert not path.exists()
    assert not attached.exists()


def test_a_queued_trial_waits_in_the_repo_dvc_runs_it_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trial, repo = tmp_path / "trial", tmp_path / "repo"
    (repo / ".dvc").mkdir(parents=True)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    assert outbox_root(trial) == trial
    monkeypatch.setenv("DVC_ROOT", str(repo))
    assert outbox_root(trial) == repo
    monkeypatch.setenv("DVC_ROOT", str(tmp_path / "nowhere"))
    assert outbox_root(trial) == trial
