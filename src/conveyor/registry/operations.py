"""The registry's writes: register, promote, rollback — each one GTO tag, made under a lock.

Every write takes ``.git/conveyor-registry.lock``, re-reads the tags inside it, checks, then
creates exactly one annotated tag through ``gto.api`` (so the grammar and counters are GTO's).
Two processes therefore never compute the same ``name#stage#N``; git refuses a duplicate tag
name anyway, and a process outside the lock that wins a race gets a clear error, not a clobber.

Each tag's message records the commit it was made at, and a stage tag also the version and
that version's tag object, so :mod:`conveyor.registry.integrity` can tell a moved or
re-created tag; a version whose tag was moved is neither promoted nor registered again.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

from conveyor._paths import (
    BLESSING_FILE,
    METRICS_FILE,
    MODEL_CARD_FILE,
    MODEL_CARD_HTML,
    PARAMS_FILE,
)
from conveyor.registry._errors import RegistryError
from conveyor.registry._git import git_dir, identity, resolve_commit, uncommitted
from conveyor.registry.card import CARD_TRAILER, card_trailer
from conveyor.registry.integrity import find_problems, refuse_moved
from conveyor.registry.lineage import (
    LOCK_FILE,
    check_describes_model,
    failed_checks,
    read_json,
)
from conveyor.registry.query import HistoryEntry, history_entry
from conveyor.registry.state import ModelState, replay
from conveyor.registry.tags import (
    ACTION_TRAILER,
    BY_TRAILER,
    COMMIT_TRAILER,
    FORCED_TRAILER,
    FROM_TRAILER,
    REASON_TRAILER,
    VERSION_TAG_TRAILER,
    VERSION_TRAILER,
    SemVer,
    check_name,
    read_events,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from conveyor.registry.tags import Bump

LOCK_NAME = "conveyor-registry.lock"
LOCK_TIMEOUT_S = 60.0
FIRST_VERSION = SemVer(1, 0, 0)


@contextmanager
def registry_lock(root: Path) -> Iterator[None]:
    """Hold the repository-wide registry lock (other writers wait up to a minute)."""
    from filelock import FileLock, Timeout

    path = git_dir(root) / LOCK_NAME
    try:
        with FileLock(path, timeout=LOCK_TIMEOUT_S):
            yield
    except Timeout as exc:
        raise RegistryError(
            f"another registry command has held '{path}' for over {LOCK_TIMEOUT_S:g} s",
            fix="wait for it to finish; if none is running, delete the lock file",
        ) from exc


def _locked_state(root: Path, name: str) -> ModelState:
    """The model's state re-read inside the lock, after waiting out GTO's 1 s time resolution.

    GTO orders events by tag time, which git stores in whole seconds; two events of one model
    in the same second would make ``gto show`` and ``gto history`` disagree on the order.
    """
    events = read_events(root, name)
    if events and (wait := events[-1].timestamp + 1 - time.time()) > 0:
        time.sleep(wait)
    return replay(name, events)


def _message(headline: str, trailers: dict[str, str]) -> str:
    lines = [f"{key}: {value}" for key, value in trailers.items() if value]
    return headline + ("\n\n" + "\n".join(lines) if lines else "")


def _created(root: Path, name: str, tag: str) -> HistoryEntry:
    """The history line of the tag just created, read back from git."""
    return history_entry(root, name, tag)


def _gto_error(exc: Exception, where: str) -> RegistryError:
    return RegistryError(
        f"gto refused: {exc}", where=where, fix="see 'gto history' for the current state"
    )


def register(
    root: Path,
    name: str,
    *,
    version: str | None = None,
    bump: Bump | None = None,
    ref: str = "HEAD",
) -> HistoryEntry:
    """Register a new version of ``name`` at commit ``ref``; return its history line."""
    import gto.api
    from gto.exceptions import GTOException

    check_name(name)
    if version is not None and bump is not None:
        raise RegistryError("give --version or --bump, not both", where=name)
    commit = resolve_commit(root, ref)
    if commit == resolve_commit(root, "HEAD"):
        tracked = [LOCK_FILE, "dvc.yaml", PARAMS_FILE, METRICS_FILE, BLESSING_FILE]
        tracked += [MODEL_CARD_FILE, MODEL_CARD_HTML]
        if dirty := uncommitted(root, tracked):
            raise RegistryError(
                f"uncommitted changes in {', '.join(dirty)}: the version would not describe "
                "the model in the work tree",
                where=name,
                fix="commit them ('git add dvc.lock reports && git commit'), then register",
            )
    check_describes_model(root, name, commit)
    card = card_trailer(root, name, commit)  # the card dvc.lock records, checked and attached
    with registry_lock(root):
        state = _locked_state(root, name)
        if (taken := state.version_at(commit)) is not None:
            raise RegistryError(
                f"commit {commit[:7]} is already registered as '{name}@{taken}'",
                fix=f"commit a new model first (each version is one commit), or promote '{taken}'",
            )
        for problem in find_problems(state):  # its version tag was moved away: say so
            if (
                problem.kind == "moved"
                and not problem.stage
                and commit.startswith(problem.recorded)
            ):
                raise problem.error()
        chosen = _next_version(state, version, bump)
        message = _message(
            f"register {name} {chosen} (commit {commit[:7]})",
            {
                ACTION_TRAILER: "register",
                COMMIT_TRAILER: commit,
                BY_TRAILER: identity(root),
                CARD_TRAILER: card,
            },
        )
        try:
            gto.api.register(str(root), name, commit, version=str(chosen), message=message)
        except GTOException as exc:
            raise _gto_error(exc, name) from exc
        return _created(root, name, f"{name}@{chosen}")


def _next_version(state: ModelState, version: str | None, bump: Bump | None) -> SemVer:
    latest = SemVer.parse(state.latest) if state.latest else None
    if version is None:
        return latest.bump(bump or "patch") if latest else FIRST_VERSION
    chosen = SemVer.parse(version)
    tag = f"{state.name}@{chosen}"
    if str(chosen) in state.registrations or any(e.tag == tag for e in state.events):
        raise RegistryError(  # a version tag is never made twice, even after deregistering
            f"'{tag}' is already registered",
            fix=f"pick a new version (latest is {latest}) or use --bump",
        )
    if latest is not None and chosen.sort_key() <= latest.sort_key():
        raise RegistryError(
            f"'{chosen}' is not above the latest version '{latest}'",
            where=state.name,
            fix=f"versions only go up: try '{latest.bump('patch')}' or --bump minor",
        )
    return chosen


def promote(
    root: Path,
    name: str,
    version: str,
    stage: str,
    *,
    force: bool = False,
    reason: str | None = None,
) -> HistoryEntry:
    """Assign ``stage`` to a blessed ``version`` (``force`` records an unblessed promotion)."""
    check_name(name)
    check_name(stage, what="stage name")
    version = str(SemVer.parse(version, where="VERSION"))
    with registry_lock(root):
        state = _locked_state(root, name)
        problems = find_problems(state)
        refuse_moved(problems, version)
        commit = state.commit_of(version)
        recreated = any(p.kind == "re-created" for p in problems if p.concerns(version, stage))
        if state.stages.get(stage) == version and not recreated:
            raise RegistryError(
                f"'{name}@{version}' already holds stage '{stage}'",
                fix=f"nothing to do; 'conveyor registry show {name}' lists the stages",
            )
        unblessed = _unblessed(root, name, commit)
        if unblessed and not force:
            raise RegistryError(
                f"'{name}@{version}' is not blessed: {unblessed}",
                where=f"{BLESSING_FILE} at commit {commit[:7]}",
                fix="register a model that passes the gate, or promote with --force "
                "(recorded in the tag and in history)",
            )
        trailers = {
            ACTION_TRAILER: "promote",
            **_version_trailers(state, version),
            FORCED_TRAILER: f"unblessed: {unblessed}" if unblessed else "",
            BY_TRAILER: identity(root),
            REASON_TRAILER: reason or "",
        }
        headline = f"promote {name} {version} to {stage}"
        return _assign(root, state, version, stage, _message(headline, trailers))


def rollback(root: Path, name: str, stage: str, *, reason: str | None = None) -> HistoryEntry:
    """Re-assign ``stage`` to the version that held it before the current one (a new tag)."""
    check_name(name)
    check_name(stage, what="stage name")
    with registry_lock(root):
        state = _locked_state(root, name)
        target = state.rollback_target(stage)
        refuse_moved(find_problems(state), target)
        current = state.stages[stage]
        trailers = {
            ACTION_TRAILER: "rollback",
            **_version_trailers(state, target),
            FROM_TRAILER: current,
            BY_TRAILER: identity(root),
            REASON_TRAILER: reason or "",
        }
        headline = f"rollback {name} {stage} from {current} to {target}"
        return _assign(root, state, target, stage, _message(headline, trailers))


def _version_trailers(state: ModelState, version: str) -> dict[str, str]:
    """What a stage tag records of the version it assigns, for the integrity cross-check."""
    registration = state.registration(version)
    return {
        VERSION_TRAILER: version,
        COMMIT_TRAILER: registration.commit,
        VERSION_TAG_TRAILER: registration.tag_object,
    }


def _assign(root: Path, state: ModelState, version: str, stage: str, message: str) -> HistoryEntry:
    import gto.api
    from gto.exceptions import GTOException

    try:
        # force: GTO refuses a version that held the stage before; conveyor checked the rest.
        gto.api.assign(str(root), state.name, stage, version=version, message=message, force=True)
    except GTOException as exc:
        raise _gto_error(exc, f"{state.name}#{stage}") from exc
    # The newest assignment of this stage is ours: we hold the lock.
    created = [e for e in read_events(root, state.name) if e.stage == stage]
    return _created(root, state.name, created[-1].tag)


def _unblessed(root: Path, name: str, commit: str) -> str:
    """Empty if the version's committed blessing says blessed; else why not, for messages."""
    blessing = read_json(root, commit, BLESSING_FILE)
    if blessing is None:
        return f"{BLESSING_FILE} is missing or unreadable (run the gate stage and commit it)"
    if blessing.get("model") not in (None, name):
        return f"the blessing is for model '{blessing.get('model')}'"
    if blessing.get("blessed") is True:
        return ""
    failed = failed_checks(blessing)
    return "failed " + "; ".join(failed) if failed else "blessed is not true"
