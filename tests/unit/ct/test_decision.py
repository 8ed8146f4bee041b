"""The ct decision record: one frozen value whose JSON is the decision log's line, key for key."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from conveyor.ct.decision import (
    BatchRef,
    Blessing,
    CtDecision,
    Observation,
    Outcome,
    Retrained,
)
from conveyor.ct.policy import Decision, Performance, Signals
from conveyor.ct.run import CtResult

BATCH = BatchRef("data/batches/2024-01-06.parquet", "ab" * 32)
SIGNALS = Signals(
    dataset_drift=True,
    drifted_share=0.123456,
    dataset_share=0.5,
    drifted_columns=("store",),
    tested_columns=8,
    prediction_drift=None,
    performance=Performance("mae", 1.0, 1.5, 0.5, 0.2),
    trained_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
)
OBSERVED = Observation(SIGNALS, "ct/reports/2024-01-06/drift.html")
RETRAIN = Decision(True, ["dataset_drift: 1 of 8 columns drifted"])
QUIET = Decision(False, ["dataset_drift: 0 of 8 columns drifted"])
BLESSING = Blessing(False, ({"metric": "mae", "passed": False},), "rescored on test")


def _record(**changes: object) -> CtDecision:
    record = CtDecision(
        time="2024-01-06T00:00:00+00:00",
        batch=BATCH,
        champion="v1.0.0",
        observation=OBSERVED,
        decision=QUIET,
        outcome=Outcome("no retrain", production="v1.0.0"),
    )
    return dataclasses.replace(record, **changes)  # type: ignore[arg-type]


def test_a_quiet_batch_has_the_logged_keys_in_order() -> None:
    record = _record().to_dict()
    assert list(record) == [
        "time",
        "batch",
        "champion",
        "performance",
        "drift",
        "reports",
        "retrain",
        "reasons",
        "action",
        "production",
    ]
    assert record["batch"] == {"path": BATCH.path, "sha256": BATCH.sha256}
    assert record["drift"] == {
        "dataset_drift": True,
        "drifted_share": 0.1235,
        "drifted_columns": ["store"],
        "prediction_drift": None,
        "trained_at": "2024-01-01T00:00:00+00:00",
    }
    assert record["performance"] == {
        "metric": "mae",
        "reference": 1.0,
        "current": 1.5,
        "drop": 0.5,
        "max_drop": 0.2,
        "relative": False,
        "dropped": True,
    }
    assert record["reasons"] == ["dataset_drift: 0 of 8 columns drifted"]
    assert (record["retrain"], record["action"], record["production"]) == (
        False,
        "no retrain",
        "v1.0.0",
    )


def test_a_retrain_records_the_experiment_and_the_blessing_before_the_action() -> None:
    outcome = Outcome(
        "kept v1.0.0 (challenger not blessed: mae)",
        production="v1.0.0",
        retrained=Retrained("ct-20240106-000000", BLESSING),
    )
    record = _record(decision=RETRAIN, outcome=outcome).to_dict()
    assert list(record)[6:] == [
        "retrain",
        "reasons",
        "experiment",
        "blessing",
        "action",
        "production",
    ]
    assert record["experiment"] == "ct-20240106-000000"
    assert record["blessing"] == {
        "blessed": False,
        "checks": [{"metric": "mae", "passed": False}],
        "champion_metrics_source": "rescored on test",
    }


def test_without_a_reference_drift_and_performance_are_null_and_reports_absent() -> None:
    record = _record(champion=None, observation=None, decision=RETRAIN).to_dict()
    assert list(record)[:5] == ["time", "batch", "champion", "drift", "performance"]
    assert record["drift"] is None
    assert record["performance"] is None
    assert "reports" not in record


def test_a_dry_run_records_no_production() -> None:
    record = _record(
        observation=Observation(SIGNALS, None),
        decision=RETRAIN,
        outcome=Outcome("would retrain"),
        dry_run=True,
    )
    assert record.action == "would retrain"
    document = record.to_dict()
    assert "production" not in document
    assert document["reports"] is None
    assert list(document)[-1] == "action"


def test_the_record_is_frozen_and_serialises_as_json() -> None:
    record = _record()
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.champion = "v2.0.0"  # type: ignore[misc]
    assert json.loads(json.dumps(record.to_dict(), sort_keys=True)) == record.to_dict()


@pytest.mark.parametrize(
    ("blessed", "expected"), [(True, True), ("true", False), (1, False), (None, False)]
)
def test_only_a_literal_true_blesses(blessed: object, expected: bool) -> None:
    summary = Blessing.from_document({"blessed": blessed})
    assert summary.blessed is expected
    assert summary.checks == ()
    assert summary.champion_metrics_source is None


def test_the_blessing_summary_reads_the_champion_source_and_checks() -> None:
    document = {
        "blessed": True,
        "checks": [{"metric": "mae", "passed": True}],
        "champion": {"metrics_source": "recorded"},
    }
    assert Blessing.from_document(document).to_dict() == {
        "blessed": True,
        "checks": [{"metric": "mae", "passed": True}],
        "champion_metrics_source": "recorded",
    }


def test_an_already_decided_batch_returns_the_logged_record_as_it_was() -> None:
    logged = {"time": "2024-01-01T00:00:00+00:00", "action": "no retrain", "extra": [1]}
    result = CtResult(None, written=False, previous=logged)
    assert result.already_decided
    assert result.record == logged
    fresh = CtResult(_record(), written=True)
    assert not fresh.already_decided
    assert fresh.record == _record().to_dict()
