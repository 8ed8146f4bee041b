"""The sweep, the gate and ``conveyor monitor`` pick the same primary metric (issue 15).

With ``evaluate.primary: log_loss`` (not the first metric, and lower is better) and with
``evaluate.primary: null`` (the first metric, roc_auc, higher is better), each on the
params.yaml that ``conveyor compile`` writes, through the code each command runs: what
``conveyor sweep`` ranks by (and in which direction), what the evaluate stage marks as primary
in the report whose metrics the gate checks, what ``conveyor monitor`` and the monitor stage
measure performance with, and what ``conveyor ct`` hands to monitoring.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path  # noqa: TC003 - fixtures' annotations

import pytest

from conveyor.ct._inputs import Settings
from conveyor.experiments.sweep import preflight, ranking
from tests.conftest import conveyor, conveyor_in_process, sh

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reproduced(reproduced_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default project with a model, its metrics and its profile, all committed."""
    root = tmp_path_factory.mktemp("primary") / "project"
    shutil.copytree(reproduced_template, root, symlinks=True)  # after ``dvc repro``
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "model", cwd=root)
    return root


@pytest.mark.parametrize(
    ("primary", "expected", "higher"),
    [("log_loss", "log_loss", False), ("null", "roc_auc", True)],
    ids=["with-evaluate.primary", "without-evaluate.primary"],
)
def test_the_sweep_the_gate_and_monitor_pick_the_same_primary_metric(
    reproduced: Path, tmp_path: Path, primary: str, expected: str, higher: bool
) -> None:
    root = tmp_path / "project"
    shutil.copytree(reproduced, root, symlinks=True)
    evaluate = root / "conf/evaluate/classification.yaml"
    text = evaluate.read_text()
    assert "\nprimary: roc_auc\n" in text
    evaluate.write_text(text.replace("\nprimary: roc_auc\n", f"\nprimary: {primary}\n"))
    conveyor_in_process("compile", cwd=root)
    sh("git", "commit", "-qam", f"primary: {primary}", cwd=root)

    # conveyor sweep: what start_sweep ranks (and Optuna optimises) by
    assert ranking(preflight(root)) == (expected, higher)

    # the gate: the evaluate stage marks the primary metric of the metrics the gate checks
    conveyor("run", "evaluate", cwd=root)
    report = (root / "reports/evaluation.html").read_text()
    assert report.count(" (primary)") == 1
    assert f"<td>{expected} (primary)</td>" in report

    # conveyor monitor: the test split has its labels, so performance is measured
    out = conveyor("monitor", "data/split/test.parquet", "-o", str(tmp_path), "--json", cwd=root)
    assert json.loads(out.stdout)["performance"]["metric"] == expected

    # conveyor ct hands the same metric to monitoring
    assert Settings.read(root).metric == expected

    # the monitor stage (present once monitor.current names a batch)
    conveyor_in_process("compile", "monitor.current=data/split/test.parquet", cwd=root)
    conveyor("run", "monitor", cwd=root)
    drift = json.loads((root / "reports/drift.json").read_text())
    assert drift["performance"]["metric"] == expected
