"""GTO's tag grammar, semantic versions, and the registry's events read from git tags.

The registry *is* git tags, exactly as GTO writes them, so ``gto show`` and
``dvc artifacts get --stage prod`` understand everything conveyor records:

    name@v1.2.0     registers version v1.2.0 at the tagged commit
    name#prod#7     assigns stage ``prod`` to the version registered at the tagged commit
    name@v1.2.0!    deregisters; ``name#prod!#8`` unassigns; ``name@deprecated`` deprecates

``N`` counts every counted tag of the artifact. Reading needs neither gto nor dvc: one
``git for-each-ref`` gives every tag with its commit, time, tagger and message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from conveyor.registry._errors import RegistryError
from conveyor.registry._git import run_git

if TYPE_CHECKING:
    from pathlib import Path

_NAME = r"[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?"
_SEMVER = (
    r"v(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<buildmetadata>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
# Copied from gto/constants.py (tag_re); a unit test pins it to the installed gto's pattern.
TAG_PATTERN = (
    rf"^(?P<artifact>(?P<dirname>[a-zA-Z0-9-_./]+=)?(?P<name>{_NAME}))"
    rf"(((#(?P<stage>{_NAME})|@(?P<version>{_SEMVER}))(?P<cancel>!?))"
    r"|@((?P<deprecated>deprecated)|(?P<created>created)))(#(?P<counter>[0-9]+))?$"
)
TAG_RE = re.compile(TAG_PATTERN)
NAME_RE = re.compile(f"^{_NAME}$")
SEMVER_RE = re.compile(f"^{_SEMVER}$")

EventKind = Literal["registration", "deregistration", "assignment", "unassignment", "deprecation"]
Bump = Literal["major", "minor", "patch"]

# Trailers conveyor writes into annotated tag messages; plain gto tags simply lack them.
ACTION_TRAILER = "conveyor-action"
FORCED_TRAILER = "conveyor-forced"
BY_TRAILER = "conveyor-by"
REASON_TRAILER = "conveyor-reason"
FROM_TRAILER = "conveyor-rollback-from"
# What a tag was made for, so a moved or re-created tag can be told from the original: every
# tag records the commit it was made at; a stage tag also records the version it assigns and
# that version's tag object (``git rev-parse name@v1.2.0``) at the time.
COMMIT_TRAILER = "conveyor-commit"
VERSION_TRAILER = "conveyor-version"
VERSION_TAG_TRAILER = "conveyor-version-tag"

# What older conveyor tags (and GTO's default messages) say in their first line.
_RECORDED_COMMIT = re.compile(r"\(commit (?P<commit>[0-9a-f]{7,40})\)$")
_RECORDED_VERSION = re.compile(
    r"^(?:promote \S+ (?P<promoted>v\S+) to \S+"
    r"|rollback \S+ \S+ from \S+ to (?P<rolled>v\S+)"
    r"|Assigning stage \S+ to artifact \S+ version (?P<gto>v\S+))$"
)


@dataclass(frozen=True, order=True)
class SemVer:
    """A ``vMAJOR.MINOR.PATCH[-pre]`` version, ordered as semver orders them."""

    major: int
    minor: int
    patch: int
    prerelease: str = ""

    @classmethod
    def parse(cls, text: str, *, where: str = "--version") -> SemVer:
        """Parse ``v1.2.3`` (build metadata is accepted and ignored, as semver says)."""
        match = SEMVER_RE.match(text)
        if match is None:
            hint = f"; did you mean 'v{text}'?" if SEMVER_RE.match(f"v{text}") else ""
            raise RegistryError(
                f"'{text}' is not a version",
                where=where,
                fix=f"write a semantic version with a 'v' prefix, like v1.2.0{hint}",
            )
        major, minor, patch = (int(match[part]) for part in ("major", "minor", "patch"))
        return cls(major, minor, patch, match["prerelease"] or "")

    def sort_key(self) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
        """Semver precedence: a pre-release sorts before its release, identifiers piecewise."""
        pieces = tuple(
            (0, int(p)) if p.isdigit() else (1, p) for p in self.prerelease.split(".") if p
        )
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pieces)

    def bump(self, part: Bump) -> SemVer:
        """The next release: ``major`` and ``minor`` reset the parts below them."""
        if part == "major":
            return SemVer(self.major + 1, 0, 0)
        if part == "minor":
            return SemVer(self.major, self.minor + 1, 0)
        if self.prerelease:  # v1.2.0-rc.1 -> v1.2.0, as GTO does
            return SemVer(self.major, self.minor, self.patch)
        return SemVer(self.major, self.minor, self.patch + 1)

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}" + (
            f"-{self.prerelease}" if self.prerelease else ""
        )


def check_name(name: str, *, what: str = "model name") -> str:
    """``name`` if GTO's grammar accepts it as an artifact (or stage) name."""
    if NAME_RE.match(name) is None:
        raise RegistryError(
            f"'{name}' is not a valid {what}",
            fix="use letters, digits, '-', '_' or '/', starting and ending with a letter or digit",
        )
    return name


@dataclass(frozen=True)
class Event:
    """One registry tag: who did what to which version (or stage), when, at which commit."""

    kind: EventKind
    name: str
    tag: str
    commit: str
    timestamp: int
    author: str
    message: str
    version: str | None = None
    stage: str | None = None
    counter: int | None = None
    tag_object: str = ""  # the annotated tag's own sha (a lightweight tag's is its commit)

    @property
    def headline(self) -> str:
        """The first line of the tag message."""
        return self.message.partition("\n")[0].strip()

    @property
    def recorded_commit(self) -> str | None:
        """The commit the tag was made at, as its message records it (None if it does not)."""
        recorded = self.trailers.get(COMMIT_TRAILER)
        if recorded is None and (found := _RECORDED_COMMIT.search(self.headline)):
            recorded = found["commit"]
        if recorded is None or not re.fullmatch(r"[0-9a-f]{7,64}", recorded):
            return None
        return recorded

    @property
    def recorded_version(self) -> str | None:
        """The version a stage tag assigns, as its message records it (None if it does not)."""
        recorded = self.trailers.get(VERSION_TRAILER)
        if recorded is None and (found := _RECORDED_VERSION.match(self.headline)):
            recorded = found["promoted"] or found["rolled"] or found["gto"]
        return recorded if recorded and SEMVER_RE.match(recorded) else None

    @property
    def trailers(self) -> dict[str, str]:
        """``key: value`` lines of the message that conveyor wrote (empty for plain gto tags)."""
        found: dict[str, str] = {}
        for line in self.message.splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip().startswith("conveyor-"):
                found[key.strip()] = value.strip()
        return found

    @property
    def action(self) -> str:
        """What happened: ``register``, ``promote``, ``rollback``, ``unassign`` and so on."""
        if self.kind == "assignment":
            return "rollback" if self.trailers.get(ACTION_TRAILER) == "rollback" else "promote"
        return {
            "registration": "register",
            "deregistration": "deregister",
            "unassignment": "unassign",
            "deprecation": "deprecate",
        }[self.kind]

    @property
    def forced(self) -> str | None:
        """Why a promotion bypassed the blessing check (``unblessed: ...``), if it did."""
        return self.trailers.get(FORCED_TRAILER)

    def order_key(self) -> tuple[int, int, str]:
        """Time first; GTO's counter breaks ties between tags made in the same second."""
        return (self.timestamp, self.counter or 0, self.tag)


def parse_tag(tag: str) -> dict[str, str | None] | None:
    """The named groups of GTO's grammar for ``tag``; None when it is not a registry tag."""
    match = TAG_RE.match(tag)
    return match.groupdict() if match else None


def _kind(parts: dict[str, str | None]) -> EventKind | None:
    cancelled = parts["cancel"] == "!"
    if parts["version"]:
        return "deregistration" if cancelled else "registration"
    if parts["stage"]:
        return "unassignment" if cancelled else "assignment"
    if parts["deprecated"]:
        return "deprecation"
    return None  # ``name@created`` marks nothing conveyor tracks


_FIELDS = (
    "%(refname:strip=2)",
    "%(objecttype)",
    "%(objectname)",
    "%(*objectname)",
    "%(creatordate:unix)",
    "%(taggername) %(taggeremail)",
    "%(contents)",
)


def read_events(root: Path, name: str | None = None) -> list[Event]:
    """Every registry event (of ``name``, or of all models) in the order they happened."""
    out = run_git(root, "for-each-ref", "refs/tags", f"--format={'%00'.join(_FIELDS)}%01")
    events: list[Event] = []
    for record in out.split("\x01"):
        fields = record.lstrip("\n").split("\x00")
        if len(fields) != len(_FIELDS):
            continue
        tag, kind, target, peeled, created, author, message = fields
        parts = parse_tag(tag)
        if parts is None or (event_kind := _kind(parts)) is None:
            continue
        artifact = (parts["artifact"] or "").replace("=", ":")  # GTO's tag-to-name rule
        if name is not None and artifact != name:
            continue
        events.append(
            Event(
                kind=event_kind,
                name=artifact,
                tag=tag,
                commit=peeled if kind == "tag" else target,
                timestamp=int(created or 0),
                author=author.strip(),
                message=message.strip(),
                version=parts["version"],
                stage=parts["stage"],
                counter=int(parts["counter"]) if parts["counter"] else None,
                tag_object=target,
            )
        )
    return sorted(events, key=Event.order_key)
