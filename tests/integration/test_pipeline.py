"""The default project end to end with real git and DVC."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
import yaml

from tests.conftest import conveyor_in_process, dvc

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow


def _metrics(root: Path) -> dict[str, float]:
    return json.loads((root / "reports" / "metrics.json").read_text())


def test_repro_then_status_is_clean_and_metrics_are_shown(project: Path) -> None:
    dvc("repro", cwd=project)
    assert json.loads(dvc("status", "--json", cwd=project).stdout) == {}
    assert _metrics(project)["roc_auc"] >= 0.95
    shown = dvc("metrics", "show", "--json", cwd=project).stdout
    assert "roc_auc" in shown
    assert conveyor_in_process("compile", "--check", cwd=project).returncode == 0


def test_seeded_reruns_give_identical_metrics_and_model(reproduced_project: Path) -> None:
    project = reproduced_project  # reproduced once, in another directory
    first = _metrics(project)
    first_lock = yaml.safe_load((project / "dvc.lock").read_text())
    dvc("repro", "--force", cwd=project)
    assert _metrics(project) == first
    second_lock = yaml.safe_load((project / "dvc.lock").read_text())
    # Byte-identical raw data and splits: DVC skips what follows them and shares its cache.
    for stage in ("ingest-breast_cancer", "split"):
        assert second_lock["stages"][stage]["outs"] == first_lock["stages"][stage]["outs"]


def test_bundle_records_lineage(reproduced_project: Path) -> None:
    project = reproduced_project
    bundle = project / "models" / "diagnostics"
    metadata = json.loads((bundle / "metadata.json").read_text())
    lineage = metadata["lineage"]
    assert "git_commit" not in metadata  # written before its commit exists (issue 16)
    assert lineage["params"]["model"]["kind"] == "xgboost"
    assert set(lineage["deps"]) == {"data/split/train.parquet"}
    assert "conveyor-mlops" in lineage["versions"]
    schema = json.loads((bundle / "schema.json").read_text())
    assert schema["classes"] == [0, 1]
    assert len(schema["columns"]) == 30
    assert {p.name for p in bundle.iterdir()} == {
        "pipeline.skops",
        "schema.json",
        "metadata.json",
        "manifest.json",
    }
