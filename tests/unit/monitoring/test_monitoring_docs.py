"""docs/monitoring.md's first console example is what ``conveyor monitor`` prints today.

The example's numbers come from the default project (its test split, 143 rows, with 'mean
radius' + 3 and 'worst area' x 1.8, as tests/integration/test_monitor.py plants them); this
rebuilds the report they describe and renders it with the real ``summary``, so a change to the
verdict's wording fails here until the docs are updated.
"""

from __future__ import annotations

import re
from pathlib import Path

from conveyor.monitoring.drift import ColumnDrift, DriftReport, QualityIssue
from conveyor.monitoring.monitor import MonitorResult, summary
from tests.conftest import REPO

COLUMNS, ROWS, REFERENCE_ROWS = 30, 143, 426  # the default project's features and test split
TEST = re.compile(r"(?P<name>[^:]+): (?:drifted: )?ks (?P<ks>[\d.]+), p (?P<p>[\d.e+-]+) ")


def _example() -> list[str]:
    text = (REPO / "docs" / "monitoring.md").read_text(encoding="utf-8")
    block = text.split("```console\n", 1)[1].split("```", 1)[0].splitlines()
    start = next(i for i, line in enumerate(block) if line.startswith("$ conveyor monitor"))
    return block[start + 1 :]


def _column(name: str, ks: float, p: float | None, drifted: bool) -> ColumnDrift:
    return ColumnDrift(
        name, "numeric", "ks", ks, 0.05, drifted, p, 0.0, REFERENCE_ROWS, ROWS, plot={}
    )


def test_the_first_example_is_what_conveyor_monitor_prints() -> None:
    lines = _example()
    drifted, prediction, quality = [], None, []
    for line in lines[1:]:
        if line.startswith("  drifted: "):
            found = TEST.match(line.removeprefix("  drifted: "))
            assert found, line
            drifted.append(_column(found["name"], float(found["ks"]), float(found["p"]), True))
        elif line.startswith("  prediction: "):
            found = TEST.match(line.removeprefix("  "))
            assert found, line
            prediction = _column("prediction", float(found["ks"]), float(found["p"]), True)
        elif line.startswith("  quality: "):
            column, detail = line.removeprefix("  quality: ").split(": ", 1)
            quality.append(QualityIssue(column, "out_of_range", 8 / ROWS, 0.05, detail))
    stable = [_column(f"c{i}", 0.05, 0.9, False) for i in range(COLUMNS - len(drifted))]
    report = DriftReport(
        columns=(*drifted, *stable),
        drifted_share=len(drifted) / COLUMNS,
        dataset_drift=len(drifted) / COLUMNS >= 0.5,
        prediction=prediction,
        quality=tuple(quality),
        rows=ROWS,
        reference_rows=REFERENCE_ROWS,
    )
    root = Path.cwd()
    reports = root / "reports"
    result = MonitorResult(report, None, {}, reports / "drift.json", reports / "drift.html")
    assert summary(result, root).splitlines() == lines
