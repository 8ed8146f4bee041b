"""Rollback and stage logic, replayed from hand-made events (no git)."""

from __future__ import annotations

import pytest

from conveyor.registry import RegistryError
from conveyor.registry.state import replay
from conveyor.registry.tags import Event

_clock = iter(range(1_000, 10_000))


def _register(version: str, commit: str) -> Event:
    return Event("registration", "m", f"m@{version}", commit, next(_clock), "a", "", version)


def _assign(commit: str, stage: str, counter: int, *, rollback: bool = False) -> Event:
    message = "rollback\n\nconveyor-action: rollback" if rollback else "promote"
    tag = f"m#{stage}#{counter}"
    return Event("assignment", "m", tag, commit, next(_clock), "a", message, None, stage, counter)


def _unassign(commit: str, stage: str, counter: int) -> Event:
    tag = f"m#{stage}!#{counter}"
    return Event("unassignment", "m", tag, commit, next(_clock), "a", "", None, stage, counter)


REGISTERED = [_register("v1.0.0", "c1"), _register("v1.1.0", "c2"), _register("v2.0.0", "c3")]


def test_rollback_after_two_promotions_returns_the_earlier_version() -> None:
    state = replay("m", [*REGISTERED, _assign("c1", "prod", 1), _assign("c2", "prod", 2)])
    assert state.stages == {"prod": "v1.1.0"}
    assert state.rollback_target("prod") == "v1.0.0"
    state.apply(_assign("c1", "prod", 3, rollback=True))
    assert state.stages == {"prod": "v1.0.0"}
    with pytest.raises(
        RegistryError, match=r"nothing to roll back to: only 'v1\.0\.0' has held it"
    ):
        state.rollback_target("prod")


def test_rollbacks_walk_back_instead_of_bouncing() -> None:
    events = [*REGISTERED, *(_assign(c, "prod", n) for n, c in enumerate(["c1", "c2", "c3"], 1))]
    state = replay("m", events)
    state.apply(_assign(commit="c2", stage="prod", counter=4, rollback=True))
    assert state.rollback_target("prod") == "v1.0.0"


def test_promoting_a_version_again_is_a_new_step() -> None:
    events = [*REGISTERED, _assign("c1", "prod", 1), _assign("c2", "prod", 2)]
    state = replay("m", [*events, _assign("c1", "prod", 3)])
    assert state.rollback_target("prod") == "v1.1.0"


def test_stages_are_independent_and_unassign_removes() -> None:
    events = [*REGISTERED, _assign("c1", "prod", 1), _assign("c2", "staging", 2)]
    state = replay("m", [*events, _assign("c3", "prod", 3), _unassign("c3", "prod", 4)])
    assert state.stages == {"prod": "v1.0.0", "staging": "v1.1.0"}
    assert state.stages_of("v1.0.0") == ["prod"]


def test_latest_is_by_semver_not_by_time() -> None:
    state = replay("m", [_register("v2.0.0", "c3"), _register("v1.9.0", "c2")])
    assert state.latest == "v2.0.0"
    assert state.versions == ["v1.9.0", "v2.0.0"]


def test_rollback_of_an_empty_stage_errors() -> None:
    with pytest.raises(RegistryError, match="nothing to roll back to: nobody holds it"):
        replay("m", REGISTERED).rollback_target("prod")


def test_unknown_version_lists_the_registered_ones() -> None:
    with pytest.raises(RegistryError, match=r"no registered version 'v9\.0\.0'") as caught:
        replay("m", REGISTERED).commit_of("v9.0.0")
    assert "v1.0.0, v1.1.0, v2.0.0" in (caught.value.fix or "")
