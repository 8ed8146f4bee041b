"""A step tried again while another process holds what it needs (conveyor._retry)."""

from __future__ import annotations

import pytest

from conveyor import _retry


class _BusyError(Exception):
    pass


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The sleeps, on a clock that only they move."""
    clock = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(_retry, "sleep", sleep)
    monkeypatch.setattr(_retry, "monotonic", lambda: clock[0])
    return sleeps


def test_a_step_is_tried_again_until_it_passes(slept: list[float]) -> None:
    outcomes: list[object] = [_BusyError(), _BusyError(), "entry"]

    def step(*args: object, **kwargs: object) -> object:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return (outcome, args, kwargs)

    retried = _retry.retrying(step, _BusyError, patience=180, every=0.05)
    assert retried.__wrapped__ is step  # type: ignore[attr-defined]  # re-wrapping finds it
    assert retried(1, k=2) == ("entry", (1,), {"k": 2})
    assert slept == [0.05, 0.05]


def test_after_its_patience_the_last_error_propagates(slept: list[float]) -> None:
    def never() -> None:
        raise _BusyError("held for good")

    with pytest.raises(_BusyError, match="held for good"):
        _retry.retrying(never, _BusyError, patience=1.0, every=0.25)()
    assert slept == [0.25] * 4  # tried at 0, 0.25, 0.5, 0.75 and 1.0


def test_another_error_is_not_retried(slept: list[float]) -> None:
    def broken() -> None:
        raise ValueError("not the lock")

    with pytest.raises(ValueError, match="not the lock"):
        _retry.retrying(broken, _BusyError, patience=180, every=0.05)()
    assert slept == []
