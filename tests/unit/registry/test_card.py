"""The registry's side of the model card: the tag's record, read back from real git commits."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import pytest

from conveyor.registry import RegistryError
from conveyor.registry.card import CardRecord, card_trailer, front_matter, read_card
from tests.conftest import commit_all, sh

if TYPE_CHECKING:
    from pathlib import Path

CARD = '---\nmodel: "m"\ndescription: "a \\u003cb\\u003e"\n---\n\n# Model card: m\n'


def _repo(root: Path, card: str | None, locked: str | None) -> str:
    sh("git", "init", "-q", "-b", "main", cwd=root)
    outs = f"    - path: reports/model_card.md\n      md5: {locked}\n" if locked else ""
    (root / "dvc.lock").write_text(
        f"schema: '2.0'\nstages:\n  card:\n    cmd: x\n    outs:\n{outs}"
    )
    if card is not None:
        (root / "reports").mkdir()
        (root / "reports" / "model_card.md").write_text(card)
    commit_all(root, "c")
    return sh("git", "rev-parse", "HEAD", cwd=root).stdout.strip()


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def test_the_locked_card_is_recorded_and_read_back(tmp_path: Path) -> None:
    commit = _repo(tmp_path, CARD, _md5(CARD))
    trailer = card_trailer(tmp_path, "m", commit)
    assert trailer == f"reports/model_card.md md5:{_md5(CARD)}"
    record = read_card(tmp_path, commit, trailer)
    assert record is not None
    assert record.status == "as registered"
    assert record.summary == {"model": "m", "description": "a <b>"}
    assert record.html is None
    assert read_card(tmp_path, commit, None).status == "not recorded at registration"  # type: ignore[union-attr]


def test_a_missing_or_other_card_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    missing = _repo(tmp_path / "a", None, _md5(CARD))
    with pytest.raises(RegistryError, match=r"has no reports/model_card\.md, which its dvc\.lock"):
        card_trailer(tmp_path / "a", "m", missing)
    (tmp_path / "b").mkdir()
    other = _repo(tmp_path / "b", CARD + "edited\n", _md5(CARD))
    with pytest.raises(RegistryError, match=r"is not the one dvc\.lock records"):
        card_trailer(tmp_path / "b", "m", other)


def test_no_card_in_the_lock_records_nothing(tmp_path: Path) -> None:
    commit = _repo(tmp_path, None, None)
    assert card_trailer(tmp_path, "m", commit) == ""
    assert read_card(tmp_path, commit, None) is None


@pytest.mark.parametrize(
    "text", ["# no front matter\n", "---\nmodel: m\n", "---\n: [\n---\n", "---\n- a list\n---\n"]
)
def test_a_card_without_a_readable_front_matter_has_no_summary(text: str) -> None:
    assert front_matter(text) == {}


def test_a_card_that_differs_from_its_record_says_so() -> None:
    record = CardRecord("reports/model_card.md", "c" * 40, md5="new", recorded="old")
    assert record.status == "DIFFERS from the md5 recorded at registration (old)"
    assert CardRecord("p", "c", md5=None, recorded="old").status == "missing at that commit"
