"""Evidently's side of ``bench_drift.py``: run inside the Evidently venv, never in conveyor's.

    python _evidently_drift.py REFERENCE.parquet CURRENT.parquet OUT_DIR [--no-html]

Reads both files with ``pandas.read_parquet``, runs ``Report([DataDriftPreset()],
include_tests=True)`` (the tests carry Evidently's own per-column drift decision), takes the
result dict, and saves the HTML report unless ``--no-html``. Writes ``OUT_DIR/evidently.json``:
``{"drifted": [...], "scores": {column: [method, score, threshold]}, "dataset_drift": bool,
"phases_s": {"import", "read", "run", "dict", "html"}}``. Imports nothing from conveyor.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

_START = time.perf_counter()

import pandas as pd  # noqa: E402  (timed: the import is part of what a user waits for)
from evidently import Report  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402

_VALUE_DRIFT = "evidently:metric_v2:ValueDrift"
_COLUMN_TEST = "Value Drift for column "


def main() -> int:
    """Run the preset on the two files and write the drift decisions and phase timings."""
    reference_path, current_path, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    html = "--no-html" not in sys.argv[4:]
    phases = {"import": time.perf_counter() - _START}

    start = time.perf_counter()
    reference = pd.read_parquet(reference_path)
    current = pd.read_parquet(current_path)
    phases["read"] = time.perf_counter() - start

    start = time.perf_counter()
    snapshot = Report([DataDriftPreset()], include_tests=True).run(current, reference)
    phases["run"] = time.perf_counter() - start

    start = time.perf_counter()
    result = snapshot.dict()
    phases["dict"] = time.perf_counter() - start

    scores = {
        metric["config"]["column"]: [
            metric["config"]["method"],
            metric["value"],
            metric["config"]["threshold"],
        ]
        for metric in result["metrics"]
        if metric["config"]["type"] == _VALUE_DRIFT
    }
    failed = {test["name"] for test in result["tests"] if test["status"] == "FAIL"}
    drifted = sorted(c for c in scores if f"{_COLUMN_TEST}{c}" in failed)
    share = next(m["value"]["share"] for m in result["metrics"] if "drift_share" in m["config"])

    out.mkdir(parents=True, exist_ok=True)
    if html:
        start = time.perf_counter()
        snapshot.save_html(str(out / "evidently.html"))
        phases["html"] = time.perf_counter() - start
    document = {
        "drifted": drifted,
        "scores": scores,
        "drifted_share": share,
        "dataset_drift": share >= 0.5,
        "phases_s": {k: round(v, 3) for k, v in phases.items()},
    }
    (out / "evidently.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
