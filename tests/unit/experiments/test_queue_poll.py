"""The sweep's poll interval (a default, a user's setting, a clear refusal of nonsense) and
what a poll that never finds a trial's experiment says."""

from __future__ import annotations

import atexit
import gc
from typing import TYPE_CHECKING

import pytest

from conveyor.cli.main import main
from conveyor.errors import UsageError
from conveyor.experiments.queue import MIN_POLL_SECONDS, POLL_ENV, POLL_SECONDS, poll_seconds

if TYPE_CHECKING:
    from pathlib import Path


def test_unset_or_blank_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(POLL_ENV, raising=False)
    assert poll_seconds() == POLL_SECONDS == 5.0
    monkeypatch.setenv(POLL_ENV, "  ")
    assert poll_seconds() == POLL_SECONDS


@pytest.mark.parametrize(
    ("text", "seconds"), [("2", 2.0), (" 0.5e1 ", 5.0), ("1", MIN_POLL_SECONDS)]
)
def test_a_number_of_seconds_is_taken(
    monkeypatch: pytest.MonkeyPatch, text: str, seconds: float
) -> None:
    monkeypatch.setenv(POLL_ENV, text)
    assert poll_seconds() == seconds


@pytest.mark.parametrize("text", ["0.99", "0", "-5", "nan", "inf", "5s", "fast"])
def test_anything_else_is_refused_naming_the_variable_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv(POLL_ENV, text)
    with pytest.raises(UsageError) as refused:
        poll_seconds()
    message = refused.value.render()
    assert f"{POLL_ENV}={text!r}" in message
    assert f"{POLL_ENV}=2" in message  # the fix, with an example


def test_the_sweep_command_refuses_it_before_it_starts_anything(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2 with the message, in a folder that is not even a project: nothing was read."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(POLL_ENV, "0")
    try:
        with pytest.raises(SystemExit) as exited:
            main(["sweep", "model.params.max_depth=2,3"])
    finally:
        gc.enable()  # main() turns collection off for its short-lived process
        atexit.unregister(gc.freeze)
    assert exited.value.code == 2
    assert f"{POLL_ENV}='0'" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
