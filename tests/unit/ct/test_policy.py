"""The retrain policy: each trigger alone, their union, and the explanations either way."""

from __future__ import annotations

import datetime as dt

import pytest

from conveyor.ct.policy import Decision, Performance, Signals, decide
from conveyor.spec.monitor import RetrainSpec

NOW = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)


def _signals(**changes: object) -> Signals:
    values: dict[str, object] = {
        "dataset_drift": False,
        "drifted_share": 0.1,
        "dataset_share": 0.5,
        "drifted_columns": ("price",),
        "tested_columns": 10,
        "prediction_drift": False,
        "performance": None,
        "trained_at": NOW - dt.timedelta(days=3),
    }
    values.update(changes)
    return Signals(**values)  # type: ignore[arg-type]


def test_quiet_batch_does_not_retrain_and_says_why() -> None:
    decision = decide(RetrainSpec(), _signals(), now=NOW)
    assert decision == Decision(
        False,
        [
            "dataset_drift: 1 of 10 columns drifted (10% < 50%): price",
            "performance: no labelled performance on this batch",
        ],
    )


def test_dataset_drift_fires_and_lists_the_columns() -> None:
    columns = tuple(f"c{i}" for i in range(7))
    signals = _signals(dataset_drift=True, drifted_share=0.7, drifted_columns=columns)
    decision = decide(RetrainSpec(), signals, now=NOW)
    assert decision.retrain
    assert decision.reasons == [
        "dataset_drift: 7 of 10 columns drifted (70% >= 50%): c0, c1, c2, c3, c4 and 2 more"
    ]


def test_an_untriggered_signal_does_not_fire() -> None:
    signals = _signals(dataset_drift=True, drifted_share=0.9)
    decision = decide(RetrainSpec(triggers=["performance"]), signals, now=NOW)
    assert not decision.retrain


@pytest.mark.parametrize(
    ("drop", "fires"),
    [(0.2, True), (0.05, False), (-1.0, False)],
)
def test_performance_fires_only_past_max_drop(drop: float, fires: bool) -> None:
    perf = Performance("mae", reference=3.0, current=3.0 + drop, drop=drop, max_drop=0.05)
    decision = decide(RetrainSpec(triggers=["performance"]), _signals(performance=perf), now=NOW)
    assert decision.retrain is fires
    (reason,) = decision.reasons
    assert reason.startswith(f"performance: mae worsened by {drop:.4g} ")
    assert ("> max_drop" in reason) is fires


def test_prediction_drift_needs_both_sides() -> None:
    spec = RetrainSpec(triggers=["prediction_drift"])
    assert decide(spec, _signals(prediction_drift=True), now=NOW).retrain
    missing = decide(spec, _signals(prediction_drift=None), now=NOW)
    assert missing == Decision(
        False, ["prediction_drift: no prediction to compare (the reference or the batch has none)"]
    )


@pytest.mark.parametrize(("age_days", "fires"), [(6.9, False), (7.0, True), (30, True)])
def test_schedule_fires_once_the_champion_is_old_enough(age_days: float, fires: bool) -> None:
    spec = RetrainSpec(triggers=["schedule"], every_days=7)
    trained = NOW - dt.timedelta(days=age_days)
    decision = decide(spec, _signals(trained_at=trained), now=NOW)
    assert decision.retrain is fires
    assert decision.reasons[0].startswith(f"schedule: the model is {age_days:.1f} days old")


def test_schedule_without_a_champion_fires() -> None:
    spec = RetrainSpec(triggers=["schedule"], every_days=7)
    decision = decide(spec, _signals(trained_at=None), now=NOW)
    assert decision == Decision(True, ["schedule: no model in production yet"])


def test_every_fired_trigger_is_a_reason() -> None:
    spec = RetrainSpec(triggers=["dataset_drift", "prediction_drift", "schedule"], every_days=1)
    signals = _signals(dataset_drift=True, drifted_share=0.6, prediction_drift=True)
    decision = decide(spec, signals, now=NOW)
    assert [reason.split(":")[0] for reason in decision.reasons] == [
        "dataset_drift",
        "prediction_drift",
        "schedule",
    ]


def test_no_triggers_never_retrains() -> None:
    decision = decide(RetrainSpec(triggers=[]), _signals(dataset_drift=True), now=NOW)
    assert decision == Decision(False, ["no retrain triggers are configured (monitor.retrain)"])


@pytest.mark.parametrize(("drop", "fires"), [(5.5, False), (5.51, True)])
def test_a_relative_max_drop_is_a_share_of_the_reference(drop: float, fires: bool) -> None:
    # rmse 55 on the test split: 0.1 tolerates 5.5 more, whatever the metric's scale
    perf = Performance("rmse", 55.0, 55.0 + drop, drop, max_drop=0.1, relative=True)
    assert perf.tolerated == pytest.approx(5.5)
    decision = decide(RetrainSpec(triggers=["performance"]), _signals(performance=perf), now=NOW)
    assert decision.retrain is fires
    sign = ">" if fires else "<="
    assert f"({sign} max_drop 10% of the reference = 5.5)" in decision.reasons[0]


def test_signals_serialise_for_the_decision_record() -> None:
    perf = Performance("mae", reference=3.0, current=3.5, drop=0.5, max_drop=0.05)
    record = _signals(performance=perf).to_dict()
    assert record["performance"] == {
        "metric": "mae",
        "reference": 3.0,
        "current": 3.5,
        "drop": 0.5,
        "max_drop": 0.05,
        "relative": False,
        "dropped": True,
    }
    assert record["trained_at"] == "2025-02-26T12:00:00+00:00"
