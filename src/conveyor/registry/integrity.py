"""Cross-check registry tags against what their messages record: moved and re-created tags.

A version tag is a release, and like a release tag in git it names one commit for good
(``git tag -f`` says "Updated tag", and ``git fetch`` refuses to clobber a tag that changed).
Tags can still be moved (``git tag -f -a name@v1.0.0 -m ... <other>``) or deleted and made
again, and GTO follows wherever a tag points. So conveyor records in every tag's message the
commit it was made at, and in every stage tag the version it assigns and that version's tag
object. Pure: a replayed :class:`ModelState` in, findings out. Three kinds:

- ``moved``: a tag points at another commit than its message, or the stage tag that promoted
  its version, records. The name now means another model, so resolving it (serve, score,
  verify, the gate's champion), promoting it and re-registering its commit are refused.
- ``re-created``: the version tag is a new tag object at the commit its stage was given. Same
  commit, same dvc.lock, same model: it keeps resolving, and list/show/verify report it.
- ``deleted``: a stage is held by a version whose tag no longer exists: refused.

Whoever may push tags may also write their messages; this catches tags moved by mistake or by
plain ``git tag -f``, not a forger who rewrites every tag (signed tags guard against that).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from conveyor.registry._errors import RegistryError
from conveyor.registry.tags import VERSION_TAG_TRAILER

if TYPE_CHECKING:
    from conveyor.registry.state import ModelState
    from conveyor.registry.tags import Event

ProblemKind = Literal["moved", "re-created", "deleted"]


@dataclass(frozen=True)
class TagProblem:
    """One tag that no longer says what it said when conveyor made it."""

    kind: ProblemKind
    version: str
    tag: str
    what: str
    fix: str
    stage: str | None = None  # set when only this stage's assignment is at fault
    recorded: str = ""  # the commit the tag was made at (a moved tag points elsewhere now)

    @property
    def blocking(self) -> bool:
        """Moved and deleted tags are refused; a re-created one is only reported."""
        return self.kind != "re-created"

    def blocks(self, version: str, stage: str | None) -> bool:
        """Whether resolving ``version`` (through ``stage``, if given) must be refused."""
        return self.blocking and self.version == version and self.stage in (None, stage)

    def concerns(self, version: str, stage: str | None) -> bool:
        """Whether a command about ``version`` (through ``stage``) should mention this."""
        return self.version == version and (self.stage is None or stage in (None, self.stage))

    def error(self) -> RegistryError:
        """The refusal, where (the tag) -> what -> fix, the same text in every command."""
        return RegistryError(self.what, where=self.tag, fix=self.fix)

    def render(self) -> str:
        """``tag: what`` and the fix, as the CLI prints errors and warnings."""
        return self.error().render()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {
            "kind": self.kind,
            "version": self.version,
            "stage": self.stage,
            "tag": self.tag,
            "what": self.what,
            "fix": self.fix,
        }


def find_problems(state: ModelState) -> list[TagProblem]:
    """Every moved, re-created or deleted tag behind the model's current versions and stages."""
    found: dict[tuple[str, str, str | None], TagProblem] = {}

    def add(problem: TagProblem) -> None:
        found.setdefault((problem.kind, problem.tag, problem.stage), problem)

    for version, event in state.registrations.items():
        recorded = event.recorded_commit
        if recorded is not None and not event.commit.startswith(recorded):
            add(_moved_version(state.name, version, event, recorded))
    for stage, version in state.stages.items():
        holder = state.holder(stage)
        if holder is not None and (problem := _check_stage(state, stage, version, holder)):
            add(problem)
    return sorted(found.values(), key=lambda p: (p.version, p.kind, p.tag, p.stage or ""))


def refuse_moved(problems: list[TagProblem], version: str, stage: str | None = None) -> None:
    """Raise the first problem that blocks ``version`` (through ``stage``), if any."""
    for problem in problems:
        if problem.blocks(version, stage):
            raise problem.error()


def _check_stage(state: ModelState, stage: str, version: str, holder: Event) -> TagProblem | None:
    name = state.name
    recorded = holder.recorded_commit
    if recorded is not None and not holder.commit.startswith(recorded):
        return TagProblem(
            "moved",
            version,
            holder.tag,
            f"tag moved: it points at commit {holder.commit[:7]}, but it was made at commit "
            f"{recorded[:7]} (as its message records), so stage '{stage}' would name another "
            "model",
            f"delete it ('git tag -d {holder.tag}') and promote the version you mean: "
            f"'conveyor registry promote {name} VERSION --to {stage}'",
            stage,
            recorded,
        )
    registration = state.registrations.get(version)
    if registration is None:
        what = (
            f"stage '{stage}' holds {version}, but tag '{name}@{version}' no longer exists "
            "(deleted or deregistered)"
            if holder.recorded_version == version
            else f"stage '{stage}' holds commit {holder.commit[:7]}, which no registered "
            "version points at (its version tag was moved or deleted)"
        )
        return TagProblem(
            "deleted",
            version,
            holder.tag,
            what,
            f"register commit {holder.commit[:7]} again ('conveyor registry register {name} "
            f"--ref {holder.commit[:7]}') or promote another version: "
            f"'conveyor registry promote {name} VERSION --to {stage}'",
            stage,
            holder.commit,
        )
    if registration.commit != holder.commit:
        return _moved_version(
            name, version, registration, holder.commit, f"'{holder.tag}' promoted it to '{stage}'"
        )
    recorded_object = holder.trailers.get(VERSION_TAG_TRAILER)
    if (recorded_object is not None and recorded_object != registration.tag_object) or (
        recorded_object is None and registration.order_key() > holder.order_key()
    ):
        return TagProblem(
            "re-created",
            version,
            registration.tag,
            f"tag re-created after it was promoted to '{stage}' (by '{holder.tag}'): same commit "
            f"{holder.commit[:7]}, so the same model, but not the tag that was promoted",
            "if nobody meant to re-create it, find out who did; to record the tag as it is now, "
            f"promote it again: 'conveyor registry promote {name} {version} --to {stage}'",
            stage,
            holder.commit,
        )
    return None


def _moved_version(
    name: str, version: str, registration: Event, recorded: str, by: str = ""
) -> TagProblem:
    """The version tag points at another commit than it was registered (or promoted) at."""
    tag, now, was = registration.tag, registration.commit[:7], recorded[:7]
    said = by or "it was registered"
    return TagProblem(
        "moved",
        version,
        tag,
        f"tag moved: it points at commit {now}, but {said} at commit {was}"
        + ("" if by else " (as its message records)")
        + f", so '{tag}' would name another model",
        f'move it back: \'git tag -f -a {tag} -m "register {name} {version} (commit {was})" '
        f"{was}'; or delete it ('git tag -d {tag}') and register commit {now} as a new version",
        None,
        recorded,
    )
