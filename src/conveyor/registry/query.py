"""The registry's reads: resolve a reference, the champion, list, show and history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor._paths import METRICS_FILE
from conveyor.registry._errors import RegistryError
from conveyor.registry._git import is_git_repo
from conveyor.registry.card import CARD_TRAILER, CardRecord, read_card
from conveyor.registry.integrity import TagProblem, find_problems, refuse_moved
from conveyor.registry.lineage import Lineage, read_json, read_lineage
from conveyor.registry.reference import RegistryRef
from conveyor.registry.state import ModelState, model_names, replay
from conveyor.registry.tags import FROM_TRAILER, REASON_TRAILER, SemVer, read_events

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.registry.tags import Event


@dataclass(frozen=True)
class Version:
    """One registered version of a model; ``stage`` is set when it was resolved through one."""

    name: str
    version: str
    commit: str
    stage: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    problems: tuple[TagProblem, ...] = ()  # re-created tags: reported, not refused

    @property
    def ref(self) -> str:
        """``name@v1.2.0``."""
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (the shape of the blessing's ``champion``)."""
        return {
            "name": self.name,
            "version": self.version,
            "stage": self.stage,
            "commit": self.commit,
            "metrics": self.metrics,
        }


def model_state(root: Path, name: str) -> ModelState:
    """The replayed state of ``name``; a RegistryError when it has never been registered."""
    state = replay(name, read_events(root, name))
    if not state.events:
        known = ", ".join(model_names(read_events(root))) or "(none)"
        raise RegistryError(
            f"model '{name}' is not in the registry",
            fix=f"registered models: {known}; register with 'conveyor registry register {name}'",
        )
    return state


def resolve(root: Path, ref: str) -> Version:
    """The version ``ref`` names: ``name@v1.2.0``, ``name#prod`` or ``name`` (latest)."""
    parsed = RegistryRef.parse(ref)
    name, version, stage = parsed.name, parsed.version, parsed.stage
    state = model_state(root, name)
    if stage is not None:
        version = state.stages.get(stage)
        if version is None:
            held = ", ".join(f"{s}={v}" for s, v in state.stages.items()) or "(none)"
            raise RegistryError(
                f"no version of '{name}' is in stage '{stage}'",
                where=ref,
                fix=f"stages held: {held}; promote with "
                f"'conveyor registry promote {name} VERSION --to {stage}'",
            )
    elif version is None:
        version = state.latest
        if version is None:
            raise RegistryError(f"model '{name}' has no registered version", where=ref)
    else:
        version = str(SemVer.parse(version, where=ref))
    problems = find_problems(state)
    refuse_moved(problems, version, stage)
    commit = state.commit_of(version)
    metrics = read_json(root, commit, METRICS_FILE) or {}
    concerns = tuple(p for p in problems if p.concerns(version, stage))
    return Version(name, version, commit, stage, metrics, concerns)


def champion(root: Path, name: str, stage: str = "prod") -> Version | None:
    """The version holding ``stage``, with its committed metrics; None if none or no git repo."""
    if not is_git_repo(root):
        return None
    state = replay(name, read_events(root, name))
    if stage not in state.stages:
        return None
    return resolve(root, f"{name}#{stage}")


@dataclass(frozen=True)
class ModelSummary:
    """One row of ``registry list``."""

    name: str
    latest: str | None
    stages: dict[str, str]
    problems: list[TagProblem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {
            "name": self.name,
            "latest": self.latest,
            "stages": self.stages,
            "problems": [problem.to_dict() for problem in self.problems],
        }

    def marks(self, version: str, stage: str | None = None) -> str:
        """`` (moved)``-style marks for a version shown in a table cell; empty if none."""
        kinds = sorted({p.kind for p in self.problems if p.concerns(version, stage)})
        return f" ({', '.join(kinds)})" if kinds else ""


def _summary(state: ModelState) -> ModelSummary:
    return ModelSummary(state.name, state.latest, state.stages, find_problems(state))


def list_models(root: Path) -> list[ModelSummary]:
    """Every model in the registry: its latest version, stages, and tags found tampered with."""
    events = read_events(root)
    return [_summary(replay(name, events)) for name in model_names(events)]


@dataclass(frozen=True)
class VersionDetail:
    """One version in ``registry show``: its registration, the stages it holds, its lineage."""

    version: str
    registered_at: int
    author: str
    stages: list[str]
    lineage: Lineage
    card: CardRecord | None = None
    """The model card at the version's commit and the tag's record of it (None: no card)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {
            "version": self.version,
            "registered_at": self.registered_at,
            "author": self.author,
            "stages": self.stages,
            **self.lineage.to_dict(),
            "card": None if self.card is None else self.card.to_dict(),
        }


def show_model(root: Path, name: str) -> tuple[ModelSummary, list[VersionDetail]]:
    """The model's summary and every registered version with its lineage, newest first."""
    state = model_state(root, name)
    details = [
        VersionDetail(
            version,
            (event := state.registration(version)).timestamp,
            event.author,
            state.stages_of(version),
            read_lineage(root, name, event.commit),
            read_card(root, event.commit, event.trailers.get(CARD_TRAILER)),
        )
        for version in reversed(state.versions)
    ]
    return _summary(state), details


@dataclass(frozen=True)
class HistoryEntry:
    """One line of ``registry history``."""

    name: str
    timestamp: int
    action: str
    version: str | None
    stage: str | None
    commit: str
    author: str
    tag: str
    forced: str | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return dict(self.__dict__)


def history(root: Path, name: str) -> list[HistoryEntry]:
    """Every event of ``name``, oldest first: registrations, promotions, rollbacks, forced."""
    state = model_state(root, name)
    entries = []
    replayed = ModelState(name)
    for event in state.events:
        replayed.apply(event)  # the version an assignment meant is the one registered *then*
        entries.append(_entry(event, replayed))
    return entries


def history_entry(root: Path, name: str, tag: str) -> HistoryEntry:
    """The history line of one tag (what a write command reports back)."""
    found = next((entry for entry in history(root, name) if entry.tag == tag), None)
    if found is None:
        raise RegistryError(f"tag '{tag}' is not a registry event of '{name}'")
    return found


def _entry(event: Event, state: ModelState) -> HistoryEntry:
    recorded = event.recorded_version if event.stage else None  # what a stage tag meant
    version = event.version or recorded or state.version_at(event.commit)
    trailers = event.trailers
    note = trailers.get(REASON_TRAILER, "")
    if event.action == "rollback":
        note = f"from {trailers.get(FROM_TRAILER, '?')}" + (f"; {note}" if note else "")
    return HistoryEntry(
        name=event.name,
        timestamp=event.timestamp,
        action=event.action,
        version=version,
        stage=event.stage,
        commit=event.commit,
        author=event.author,
        tag=event.tag,
        forced=event.forced,
        note=note,
    )
