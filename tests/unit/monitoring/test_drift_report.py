"""``reports/drift.json``: the document a hand-built report serializes to, key by key."""

from __future__ import annotations

import json

from conveyor.monitoring.drift import ColumnDrift, DriftReport, QualityIssue


def _column(name: str, *, drifted: bool, statistic: float) -> ColumnDrift:
    plot = {"edges": [0.0, 1.0], "reference": [1.0], "current": [1.0]}
    return ColumnDrift(name, "numeric", "ks", statistic, 0.05, drifted, 0.001, 0.5, 400, 300, plot)


def _body(statistic: float, drifted: bool, *, plot: bool = False) -> dict:
    body = {
        "kind": "numeric",
        "method": "ks",
        "statistic": statistic,
        "threshold": 0.05,
        "drifted": drifted,
        "p_value": 0.001,
        "psi": 0.5,
        "reference_rows": 400,
        "current_rows": 300,
    }
    if plot:
        body["plot"] = {"edges": [0.0, 1.0], "reference": [1.0], "current": [1.0]}
    return body


def _report(*, prediction: bool) -> DriftReport:
    return DriftReport(
        columns=(
            _column("a", drifted=True, statistic=0.25),
            _column("b", drifted=False, statistic=0.125),
            _column("c", drifted=True, statistic=0.5),
        ),
        drifted_share=2 / 3,
        dataset_drift=True,
        prediction=_column("prediction", drifted=True, statistic=0.75) if prediction else None,
        quality=(QualityIssue("b", "out_of_range", 0.25, 0.05, "75 of 300 above 9.5"),),
        rows=300,
        reference_rows=400,
    )


def test_the_drift_document_holds_every_key_and_value() -> None:
    assert _report(prediction=True).to_dict() == {
        "dataset_drift": 1,
        "drifted_share": 2 / 3,
        "drifted_columns": 2,
        "prediction_drift": 0.75,
        "quality_issues": 1,
        "rows": 300,
        "reference_rows": 400,
        "columns": {"a": _body(0.25, True), "b": _body(0.125, False), "c": _body(0.5, True)},
        "prediction": _body(0.75, True),
        "quality": [
            {
                "column": "b",
                "check": "out_of_range",
                "observed": 0.25,
                "threshold": 0.05,
                "detail": "75 of 300 above 9.5",
            }
        ],
    }


def test_plots_only_when_asked_and_no_prediction_is_null() -> None:
    document = _report(prediction=False).to_dict(plots=True)
    assert document["columns"]["b"] == _body(0.125, False, plot=True)
    assert (document["prediction"], document["prediction_drift"]) == (None, None)
    assert json.dumps(document["dataset_drift"]) == "1"  # a number DVC can plot, not true
    quiet = DriftReport((), 0.0, False, None, (), 10, 20).to_dict()
    assert json.dumps(quiet, sort_keys=True) == json.dumps(
        {
            "dataset_drift": 0,
            "drifted_share": 0.0,
            "drifted_columns": 0,
            "prediction_drift": None,
            "quality_issues": 0,
            "rows": 10,
            "reference_rows": 20,
            "columns": {},
            "prediction": None,
            "quality": [],
        },
        sort_keys=True,
    )
