"""A version's model card: checked and recorded at ``register``, summarised by ``show``.

The ``card`` stage writes ``reports/model_card.md`` (kept in git, its md5 in dvc.lock). When a
commit's dvc.lock records a card, ``register`` refuses a card that is missing or is not the
locked one, and writes its path and md5 into the version's tag (``conveyor-card:``), so what
was registered can be told from what a later commit says. ``show`` reads the card back at the
version's commit, compares it with that record, and prints the summary from its front matter.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor._paths import MODEL_CARD_FILE, MODEL_CARD_HTML
from conveyor.registry._errors import RegistryError
from conveyor.registry._git import show_file
from conveyor.registry.lineage import output_hashes, read_lock

if TYPE_CHECKING:
    from pathlib import Path

CARD_TRAILER = "conveyor-card"
"""The tag trailer: ``conveyor-card: reports/model_card.md md5:<hex>``."""


@dataclass(frozen=True)
class CardRecord:
    """The card of one version, as ``registry show`` reports it."""

    path: str
    commit: str
    md5: str | None
    """md5 of the card at the version's commit; None if the commit has no card."""
    recorded: str | None
    """md5 the tag recorded at registration; None if it recorded none (an older tag)."""
    html: str | None = None
    """The HTML card's path, when that commit has one."""
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """``as registered``, ``not recorded at registration``, or what differs."""
        if self.md5 is None:
            return "missing at that commit"
        if self.recorded is None:
            return "not recorded at registration"
        if self.recorded != self.md5:
            return f"DIFFERS from the md5 recorded at registration ({self.recorded})"
        return "as registered"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {
            "path": self.path,
            "html": self.html,
            "md5": self.md5,
            "recorded_md5": self.recorded,
            "status": self.status,
            "summary": self.summary,
        }


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def card_trailer(root: Path, name: str, commit: str) -> str:
    """The ``conveyor-card`` value for a version at ``commit``; empty if dvc.lock has no card.

    Raises:
        RegistryError: dvc.lock records a card that the commit lacks or does not match.
    """
    locked = output_hashes(read_lock(root, commit) or {}).get(MODEL_CARD_FILE)
    if not locked:
        return ""
    short = commit[:7]
    fix = "run 'dvc repro', commit dvc.lock and reports/, then register that commit"
    data = show_file(root, commit, MODEL_CARD_FILE)
    if data is None:
        raise RegistryError(
            f"commit {short} has no {MODEL_CARD_FILE}, which its dvc.lock records",
            where=name,
            fix=fix,
        )
    if (md5 := _md5(data)) != locked:
        raise RegistryError(
            f"{MODEL_CARD_FILE} at commit {short} is not the one dvc.lock records "
            f"(md5 {md5}, locked {locked})",
            where=name,
            fix=fix,
        )
    return f"{MODEL_CARD_FILE} md5:{md5}"


def read_card(root: Path, commit: str, trailer: str | None) -> CardRecord | None:
    """The card at ``commit`` with the tag's record of it; None when neither exists."""
    data = show_file(root, commit, MODEL_CARD_FILE)
    recorded = None
    if trailer:
        _, _, recorded = trailer.rpartition("md5:")
    if data is None and not recorded:
        return None
    html = MODEL_CARD_HTML if show_file(root, commit, MODEL_CARD_HTML) is not None else None
    return CardRecord(
        path=MODEL_CARD_FILE,
        commit=commit,
        md5=None if data is None else _md5(data),
        recorded=recorded or None,
        html=html,
        summary={} if data is None else front_matter(data.decode("utf-8", errors="replace")),
    )


def front_matter(text: str) -> dict[str, Any]:
    """The YAML mapping between the card's opening ``---`` lines; empty if there is none."""
    import yaml

    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}
    end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), None)
    if end is None:
        return {}
    try:
        data = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}
