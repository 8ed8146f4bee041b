"""The one model of why a stage reruns, as diff and status both fill it."""

from __future__ import annotations

import dataclasses

import pytest

from conveyor.review.rerun import Reason, Rerun


def test_a_diff_reason_says_its_kind_and_subject() -> None:
    assert str(Reason("param changed", "model.depth")) == "param changed model.depth"
    assert str(Reason("new stage")) == "new stage"
    assert str(Reason("upstream", "train")) == "after train"


def test_a_status_reason_says_its_sentence() -> None:
    reason = Reason("upstream", "train", "upstream stage 'train' is stale", {"stages": ["train"]})
    assert str(reason) == "upstream stage 'train' is stale"
    assert reason.detail == {"stages": ["train"]}


def test_reasons_with_details_hash_and_deduplicate() -> None:
    first = Reason("param", "k", "param k: 1 -> 2", {"old": 1, "new": 2})
    again = Reason("param", "k", "param k: 1 -> 2", {"old": 1, "new": 2})
    other = Reason("param", "k", "param k: 1 -> 2", {"old": 1, "new": 3})
    assert list(dict.fromkeys([first, again, other])) == [first, other]


def test_a_reason_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError, match="subject"):
        Reason("new dep", "a.csv").subject = "b.csv"  # type: ignore[misc]


def test_a_rerun_is_direct_unless_every_reason_is_upstream() -> None:
    assert Rerun("train", (Reason("upstream", "ingest"), Reason("new dep", "x"))).direct
    assert not Rerun("evaluate", (Reason("upstream", "train"),)).direct
    assert Rerun("evaluate", (Reason("upstream", "train"),)).to_dict() == {
        "stage": "evaluate",
        "direct": False,
        "reasons": [{"kind": "upstream", "subject": "train"}],
    }
