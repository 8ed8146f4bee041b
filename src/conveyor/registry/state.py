"""A model's registry state, replayed from its events: versions, and who holds each stage.

Pure (events in, state out), so rollback logic is tested without git. Each stage keeps a
*stack* of the versions that held it: a promotion pushes; a rollback pops the current version
and re-assigns the one beneath it (recorded as a new assignment, so history is never
rewritten); an unassignment removes that version. Rolling back twice after three promotions
walks back two steps, and rollback never bounces between the last two versions.

A stage tag names a commit; the version it means is the one its message records (conveyor
writes it, since tags can be moved or re-created), else the version registered at that
commit, as GTO maps it. ``assigned`` keeps the tag that last gave each stage each version, so
:mod:`conveyor.registry.integrity` can cross-check it against the version's tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conveyor.registry._errors import RegistryError
from conveyor.registry.tags import SemVer

if TYPE_CHECKING:
    from collections.abc import Iterable

    from conveyor.registry.tags import Event


@dataclass
class ModelState:
    """Registered versions (by name, with their events) and the version stack of each stage."""

    name: str
    registrations: dict[str, Event] = field(default_factory=dict)
    stacks: dict[str, list[str]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    deprecated: bool = False
    assigned: dict[tuple[str, str], Event] = field(default_factory=dict)

    @property
    def versions(self) -> list[str]:
        """Registered (not deregistered) versions, oldest semver first."""
        return sorted(self.registrations, key=lambda v: SemVer.parse(v).sort_key())

    @property
    def latest(self) -> str | None:
        """The highest registered version."""
        return self.versions[-1] if self.registrations else None

    @property
    def stages(self) -> dict[str, str]:
        """``stage -> version`` that holds it now, for every stage someone holds."""
        return {stage: stack[-1] for stage, stack in sorted(self.stacks.items()) if stack}

    def commit_of(self, version: str) -> str:
        """The commit a registered version points at."""
        return self.registration(version).commit

    def registration(self, version: str) -> Event:
        """The registration event of ``version``, or a RegistryError listing what exists."""
        found = self.registrations.get(version)
        if found is None:
            known = ", ".join(self.versions) or "(none)"
            raise RegistryError(
                f"model '{self.name}' has no registered version '{version}'",
                fix=f"registered versions: {known}; register one with "
                f"'conveyor registry register {self.name}'",
            )
        return found

    def version_at(self, commit: str) -> str | None:
        """The registered version whose commit is ``commit``, if any."""
        return next((v for v, e in self.registrations.items() if e.commit == commit), None)

    def version_meant(self, event: Event) -> str:
        """The version a stage tag assigns: recorded in its message, else by its commit."""
        recorded = event.recorded_version
        if recorded in self.registrations:
            return recorded
        return self.version_at(event.commit) or recorded or event.commit[:7]

    def holder(self, stage: str) -> Event | None:
        """The tag that gave ``stage`` to the version holding it now."""
        version = self.stages.get(stage)
        return None if version is None else self.assigned.get((stage, version))

    def stages_of(self, version: str) -> list[str]:
        """The stages ``version`` holds now."""
        return [stage for stage, held in self.stages.items() if held == version]

    def rollback_target(self, stage: str) -> str:
        """The version that held ``stage`` before the current one, or a RegistryError."""
        stack = self.stacks.get(stage, [])
        if len(stack) < 2:  # the current version and one beneath it
            now = f"only '{stack[-1]}' has held it" if stack else "nobody holds it"
            raise RegistryError(
                f"nothing to roll back to: {now}",
                where=f"{self.name}#{stage}",
                fix=f"promote a version instead: 'conveyor registry promote {self.name} "
                f"VERSION --to {stage}'",
            )
        return stack[-2]

    def apply(self, event: Event) -> None:
        """Replay one event (they must come in the order they happened)."""
        self.events.append(event)
        if event.kind == "registration" and event.version:
            self.registrations[event.version] = event
        elif event.kind == "deregistration" and event.version:
            self.registrations.pop(event.version, None)
        elif event.kind == "deprecation":
            self.deprecated = True
        elif event.stage is not None:
            self._assign(event)

    def _assign(self, event: Event) -> None:
        assert event.stage is not None  # noqa: S101 - the caller checked
        # An assignment tag names a commit, not a version: GTO maps it through registrations.
        version = self.version_meant(event)
        stack = self.stacks.setdefault(event.stage, [])
        if event.kind == "unassignment":
            stack[:] = [held for held in stack if held != version]
            return
        if event.action == "rollback" and len(stack) >= 2 and stack[-2] == version:
            stack.pop()
        else:  # a promotion (or a rollback tag that does not match the stack: a plain re-assign)
            stack.append(version)
        self.assigned[(event.stage, version)] = event

    def relink(self) -> None:
        """Name by version the stages whose tag's version was not registered when it was made.

        A version tag re-created after its stage tags (a newer tag time) is replayed after
        them. Same commit, same model: the stage keeps its version (``gto show`` agrees), and
        :mod:`conveyor.registry.integrity` reports the re-created tag.
        """
        for (stage, held), event in list(self.assigned.items()):
            if held in self.registrations or (found := self.version_at(event.commit)) is None:
                continue
            stack = self.stacks[stage]
            stack[:] = [found if version == held else version for version in stack]
            del self.assigned[(stage, held)]
            known = self.assigned.get((stage, found))
            if known is None or known.order_key() < event.order_key():
                self.assigned[(stage, found)] = event


def replay(name: str, events: Iterable[Event]) -> ModelState:
    """The state of model ``name`` after ``events`` (already in order)."""
    state = ModelState(name)
    for event in events:
        if event.name == name:
            state.apply(event)
    state.relink()
    return state


def model_names(events: Iterable[Event]) -> list[str]:
    """Every model that has at least one event, sorted."""
    return sorted({event.name for event in events})
