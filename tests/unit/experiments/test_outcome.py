"""A trial's outcome from one read of DVC's state (experiments/_outcome): the rule alone.

Each test reads a trial through the states DVC shows it in, in order, as ``queue.wait`` does
(the integration tests run the same rule against real workers: test_sweep_workers.py).
"""

from __future__ import annotations

import pytest

from conveyor.experiments._outcome import ABSENT_READS, MISSING, settle, unresolved_error
from conveyor.experiments.plan import Trial


def _no_log() -> str | None:
    return None


def _reads(trial: Trial, *states: tuple[str, bool], log: str | None = None) -> list[bool]:
    """Settle ``trial`` on each ``(listed, has_ref)`` in turn; whether each changed it."""
    absent: dict[str, int] = {}
    return [settle(trial, listed, ref, absent, lambda: log) for listed, ref in states]


def test_an_experiment_ref_is_a_success_whatever_the_queue_lists() -> None:
    for listed in ("queued", "running", "failed", "success", MISSING):
        trial = Trial("t-1", [], status="running", error="an old error")
        assert _reads(trial, (listed, True)) == [True]
        assert (trial.status, trial.error) == ("success", None)


def test_a_failed_entry_fails_the_trial_with_its_log() -> None:
    trial = Trial("t-1", [], status="running")
    assert _reads(trial, ("failed", False), log="ERROR: train exited 1") == [True]
    assert (trial.status, trial.error) == ("failed", "ERROR: train exited 1")


def test_a_failed_entry_without_a_log_still_says_it_failed() -> None:
    trial = Trial("t-1", [], status="running")
    _reads(trial, ("failed", False), log="")
    assert (trial.status, trial.error) == ("failed", "failed (no log)")


@pytest.mark.parametrize("listed", [MISSING, "success"])
def test_an_absence_is_final_only_after_as_many_reads_in_a_row(listed: str) -> None:
    trial = Trial("t-1", [], status="running")
    changes = _reads(trial, *[(listed, False)] * ABSENT_READS)
    assert changes == [False] * (ABSENT_READS - 1) + [True]
    assert trial.status == "failed"
    assert trial.error == unresolved_error(listed)


@pytest.mark.parametrize("listed", [MISSING, "success"])
def test_one_read_short_of_it_the_trial_is_left_as_it_was(listed: str) -> None:
    trial = Trial("t-1", [], status="running")
    assert _reads(trial, *[(listed, False)] * (ABSENT_READS - 1)) == [False] * (ABSENT_READS - 1)
    assert (trial.status, trial.error) == ("running", None)


def test_a_ref_that_comes_after_absent_reads_is_a_success() -> None:
    trial = Trial("t-1", [], status="running")
    states = [("success", False)] * (ABSENT_READS - 1) + [("success", True)]
    assert _reads(trial, *states)[-1] is True
    assert (trial.status, trial.error) == ("success", None)


@pytest.mark.parametrize("between", ["queued", "running"])
def test_an_entry_seen_again_starts_the_count_again(between: str) -> None:
    """A trial moving between DVC's two lists flickers out for a read at a time: never final."""
    trial = Trial("t-1", [], status="queued")
    flicker = [(MISSING, False)] * (ABSENT_READS - 1) + [(between, False)]
    _reads(trial, *flicker, *flicker, *[(MISSING, False)] * (ABSENT_READS - 1))
    assert trial.status == between


def test_the_count_is_per_trial() -> None:
    first, second = Trial("t-1", [], status="running"), Trial("t-2", [], status="running")
    absent: dict[str, int] = {}
    for _ in range(ABSENT_READS - 1):
        settle(first, MISSING, False, absent, _no_log)
    assert settle(second, MISSING, False, absent, _no_log) is False
    assert second.status == "running"
    assert settle(first, MISSING, False, absent, _no_log) is True
    assert first.status == "failed"


def test_a_failure_or_a_success_forgets_the_count() -> None:
    absent: dict[str, int] = {}
    trial = Trial("t-1", [], status="running")
    settle(trial, MISSING, False, absent, _no_log)
    settle(trial, "failed", False, absent, _no_log)
    assert absent == {}
    settle(trial, MISSING, False, absent, _no_log)
    settle(trial, "success", True, absent, _no_log)
    assert absent == {}


def test_queued_and_running_entries_are_what_the_trial_is_doing() -> None:
    trial = Trial("t-1", [], status="pending")
    assert _reads(trial, ("queued", False)) == [True]
    assert trial.status == "queued"
    assert _reads(trial, ("queued", False), ("running", False), ("running", False)) == [
        False,
        True,
        False,
    ]
    assert (trial.status, trial.error) == ("running", None)


def test_another_status_changes_nothing_however_long_it_lasts() -> None:
    """A status this rule does not know (a newer DVC's) is an entry DVC still lists: never an
    absence, and it starts the count of absent reads again."""
    trial = Trial("t-1", [], status="running")
    states = [("paused", False)] * (ABSENT_READS + 1)
    assert _reads(trial, *states) == [False] * (ABSENT_READS + 1)
    assert (trial.status, trial.error) == ("running", None)
    almost = [(MISSING, False)] * (ABSENT_READS - 1)
    _reads(trial, *almost, ("paused", False), *almost)
    assert trial.status == "running"


def test_a_done_entry_without_a_ref_points_at_the_workers_logs() -> None:
    """DVC's queue lists it as a success, yet no ref came: the workers' logs tell why."""
    assert unresolved_error("success") == (
        "DVC's queue lists it as done, but its experiment never reached the repository: the "
        "queue workers' logs (.dvc/tmp/exps/celery/dvc-exp-worker-*.out) say why; "
        "'conveyor sweep --resume' runs it again"
    )


def test_a_trial_gone_from_the_queue_without_a_ref_is_resumable() -> None:
    assert unresolved_error(MISSING) == (
        "left the DVC queue without a result; 'conveyor sweep --resume' runs it again"
    )
