"""Moved, re-created and deleted tags, found from hand-made events (no git).

The end-to-end cases (real git tags, serve, score, verify) are in
tests/security/test_registry_tags.py; these pin the rules, including tags written before
conveyor recorded trailers and tags written by plain GTO.
"""

from __future__ import annotations

import pytest

from conveyor.registry import RegistryError
from conveyor.registry.integrity import find_problems, refuse_moved
from conveyor.registry.state import replay
from conveyor.registry.tags import Event

A, B = "a" * 40, "b" * 40


def _register(commit: str, at: int, message: str = "", obj: str = "o1") -> Event:
    return Event(
        "registration", "m", "m@v1.0.0", commit, at, "x", message, "v1.0.0", None, None, obj
    )


def _promote(commit: str, at: int, message: str, counter: int = 1) -> Event:
    tag = f"m#prod#{counter}"
    return Event("assignment", "m", tag, commit, at, "x", message, None, "prod", counter, f"s{at}")


def _trailers(version: str = "v1.0.0", commit: str = A, obj: str = "o1") -> str:
    return (
        f"promote m {version} to prod\n\nconveyor-action: promote\nconveyor-version: {version}\n"
        f"conveyor-commit: {commit}\nconveyor-version-tag: {obj}"
    )


def test_an_untouched_registry_has_no_problems() -> None:
    state = replay(
        "m", [_register(A, 1, f"register\n\nconveyor-commit: {A}"), _promote(A, 2, _trailers())]
    )
    assert state.stages == {"prod": "v1.0.0"}
    assert find_problems(state) == []


@pytest.mark.parametrize(
    "message",
    [f"register m v1.0.0\n\nconveyor-commit: {A}", f"register m v1.0.0 (commit {A[:7]})"],
    ids=["trailer", "older-conveyor-headline"],
)
def test_a_version_tag_not_at_its_recorded_commit_is_moved(message: str) -> None:
    state = replay("m", [_register(B, 1, message)])
    (problem,) = find_problems(state)
    assert (problem.kind, problem.tag, problem.stage) == ("moved", "m@v1.0.0", None)
    assert problem.what.startswith("tag moved: it points at commit bbbbbbb, but it was registered")
    with pytest.raises(RegistryError, match=r"^m@v1\.0\.0: tag moved"):
        refuse_moved(find_problems(state), "v1.0.0", "prod")


def test_one_differing_hex_digit_is_enough() -> None:
    moved = A[:-1] + "b"
    state = replay("m", [_register(moved, 1, f"r\n\nconveyor-commit: {A}")])
    assert [p.kind for p in find_problems(state)] == ["moved"]


def test_a_plain_gto_tag_records_nothing_and_is_trusted() -> None:
    state = replay("m", [_register(B, 1, "Registering artifact m version v1.0.0")])
    assert find_problems(state) == []


def test_recreated_old_style_tags_keep_the_stage_by_gtos_own_headline() -> None:
    """Plain GTO messages, no trailers: the newer version tag time is what tells."""
    events = [_promote(A, 2, "Assigning stage prod to artifact m version v1.0.0"), _register(A, 3)]
    state = replay("m", events)
    assert state.stages == {"prod": "v1.0.0"}
    (problem,) = find_problems(state)
    assert (problem.kind, problem.stage, problem.blocking) == ("re-created", "prod", False)
    refuse_moved([problem], "v1.0.0", "prod")  # reported, not refused


def test_recreated_tags_without_any_record_are_relinked_by_commit() -> None:
    state = replay("m", [_promote(A, 2, "promote"), _register(A, 3)])
    assert state.stages == {"prod": "v1.0.0"}
    assert [p.kind for p in find_problems(state)] == ["re-created"]


def test_a_new_tag_object_at_the_same_commit_is_recreated_even_if_older() -> None:
    state = replay("m", [_register(A, 1, obj="o2"), _promote(A, 2, _trailers(obj="o1"))])
    assert [(p.kind, p.tag) for p in find_problems(state)] == [("re-created", "m@v1.0.0")]


def test_the_stage_tag_witnesses_a_version_moved_with_a_forged_message() -> None:
    state = replay(
        "m", [_register(B, 1, f"r\n\nconveyor-commit: {B}"), _promote(A, 2, _trailers())]
    )
    (problem,) = find_problems(state)
    assert (problem.kind, problem.version, problem.stage) == ("moved", "v1.0.0", None)
    assert "'m#prod#1' promoted it to 'prod' at commit aaaaaaa" in problem.what


def test_a_moved_stage_tag_blocks_only_that_stage() -> None:
    state = replay("m", [_register(A, 1), _promote(B, 2, _trailers())])
    (problem,) = find_problems(state)
    assert (problem.kind, problem.tag, problem.stage) == ("moved", "m#prod#1", "prod")
    assert problem.blocks("v1.0.0", "prod")
    assert not problem.blocks("v1.0.0", None)


def test_a_stage_whose_version_tag_is_gone_says_so() -> None:
    state = replay("m", [_promote(A, 2, _trailers())])
    assert state.stages == {"prod": "v1.0.0"}
    (problem,) = find_problems(state)
    assert problem.kind == "deleted"
    assert problem.what == "stage 'prod' holds v1.0.0, but tag 'm@v1.0.0' no longer exists " + (
        "(deleted or deregistered)"
    )
    with pytest.raises(RegistryError, match="no longer exists"):
        refuse_moved([problem], "v1.0.0", "prod")
