"""Environment variables set for a block (conveyor._environ), then put back as they were."""

from __future__ import annotations

import os

import pytest

from conveyor._environ import variables_set


def test_variables_are_set_in_the_block_and_put_back_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONVEYOR_T_KEPT", "before")
    monkeypatch.delenv("CONVEYOR_T_NEW", raising=False)
    with variables_set({"CONVEYOR_T_KEPT": "during", "CONVEYOR_T_NEW": "during"}):
        assert os.environ["CONVEYOR_T_KEPT"] == "during"
        assert os.environ["CONVEYOR_T_NEW"] == "during"
    assert os.environ["CONVEYOR_T_KEPT"] == "before"
    assert "CONVEYOR_T_NEW" not in os.environ


def test_they_are_put_back_when_the_block_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_T_KEPT", "before")
    monkeypatch.delenv("CONVEYOR_T_NEW", raising=False)
    with (
        pytest.raises(KeyboardInterrupt),
        variables_set({"CONVEYOR_T_KEPT": "during", "CONVEYOR_T_NEW": "during"}),
    ):
        raise KeyboardInterrupt
    assert os.environ["CONVEYOR_T_KEPT"] == "before"
    assert "CONVEYOR_T_NEW" not in os.environ
