"""Where a local bundle came from: its lineage, HEAD's dvc.lock, and the run that wrote it.

The bundle names no commit (:mod:`conveyor.runtime.lineage`), so "which commit made this?" is
answered by comparison, never by a guess: HEAD's dvc.lock either records this bundle's md5, or
records inputs that differ from the ones the bundle was trained on (listed). The run record in
``.conveyor/runs/`` adds whether the work tree differed from HEAD when the bundle was written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor import _git
from conveyor.errors import GitError, StageError
from conveyor.runtime.lineage import RUNS_DIR, dvc_md5

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True)
class Provenance:
    """What :func:`provenance` found for one bundle."""

    bundle: str
    md5: str
    lineage: dict[str, Any]
    head: str | None
    head_md5: str | None
    """The md5 HEAD's dvc.lock records for the bundle's path (None: none recorded)."""
    differences: list[str] = field(default_factory=list)
    """Inputs where the bundle's lineage and HEAD's dvc.lock disagree."""
    run: dict[str, Any] | None = None
    """The run record of the run that wrote exactly these bytes, if it is on this machine."""

    @property
    def matches_head(self) -> bool:
        """HEAD's dvc.lock records exactly this bundle."""
        return self.head_md5 == self.md5

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {
            "bundle": self.bundle,
            "md5": self.md5,
            "lineage": self.lineage,
            "head": self.head,
            "head_md5": self.head_md5,
            "matches_head": self.matches_head,
            "differences": self.differences,
            "run": self.run,
        }

    def render(self) -> str:
        """Lines for a terminal."""
        lines = [f"{self.bundle}  md5 {self.md5}"]
        lines += [f"  dep {path}  md5 {md5}" for path, md5 in self.lineage.get("deps", {}).items()]
        lines += [f"  param {key} = {value}" for key, value in _flat(self.lineage.get("params"))]
        versions = self.lineage.get("versions", {})
        lines.append("  versions " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
        lines.append(f"  inputs {self.lineage.get('inputs', 'not recorded')}")
        head = self.head[:12] if self.head else None
        if head is None:
            lines.append("HEAD: not a git repository with commits")
        elif self.matches_head:
            lines.append(f"HEAD {head}: its dvc.lock records this bundle")
        elif self.head_md5 is None:
            lines.append(f"HEAD {head}: its dvc.lock records no bundle at {self.bundle}")
        else:
            lines.append(f"HEAD {head}: its dvc.lock records another bundle ({self.head_md5})")
            lines += [f"  differs: {d}" for d in self.differences] or [
                "  same inputs: the bytes differ (another conveyor or library version?)"
            ]
        lines.append(_run_line(self.run))
        return "\n".join(lines)


def _run_line(run: dict[str, Any] | None) -> str:
    if run is None:
        return f"work tree at training: unknown (no run record in {RUNS_DIR}/ wrote these bytes)"
    head = str(run.get("head") or "")[:12]
    differs = run.get("differs_from_head")
    if not head or differs is None:
        return "work tree at training: not in git"
    if not differs:
        return f"work tree at training: matched HEAD {head}"
    return f"work tree at training: differed from HEAD {head} in {', '.join(differs)}"


def provenance(root: Path, bundle: str, stage: str = "train") -> Provenance:
    """Compare the bundle at ``root/bundle`` with HEAD's dvc.lock and the local run record."""
    path = root / bundle
    metadata_file = path / "metadata.json"
    try:
        metadata = json.loads(metadata_file.read_text(encoding="utf-8"))
        lineage = metadata["lineage"]
        if not isinstance(lineage, dict):
            raise TypeError(type(lineage).__name__)
        deps = lineage.get("deps", {})
        if not isinstance(deps, dict) or not all(isinstance(v, str) for v in deps.values()):
            raise TypeError("'lineage.deps' must map each input path to its md5")
        if not isinstance(lineage.get("params", {}), dict | None):
            raise TypeError("'lineage.params' must be a mapping")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StageError(
            f"no lineage to read: {exc}",
            where=str(metadata_file),
            fix="train it with this conveyor ('dvc repro train'), or name another bundle",
        ) from exc
    md5 = dvc_md5(path)
    head, entry = _head_entry(root, stage)
    head_md5 = next(
        (o.get("md5") for o in (entry or {}).get("outs") or [] if o.get("path") == bundle), None
    )
    differences = _differences(lineage, entry) if entry and head_md5 != md5 else []
    return Provenance(bundle, md5, lineage, head, head_md5, differences, _run(root, stage, md5))


def _head_entry(root: Path, stage: str) -> tuple[str | None, dict[str, Any] | None]:
    """(HEAD's commit, the lock entry of ``stage`` at HEAD); Nones where there is none."""
    import yaml

    try:
        head = _git.git(root, "rev-parse", "--verify", "-q", "HEAD", check=False)
        if head.returncode != 0:
            return None, None
        lock = _git.git(root, "show", "HEAD:./dvc.lock", check=False)
    except GitError:
        return None, None
    try:
        data = yaml.safe_load(lock.out) if lock.returncode == 0 else None
    except yaml.YAMLError:
        data = None
    stages = data.get("stages") if isinstance(data, dict) else None
    entry = stages.get(stage) if isinstance(stages, dict) else None
    return head.out.strip(), entry if isinstance(entry, dict) else None


def _differences(lineage: dict[str, Any], entry: dict[str, Any]) -> list[str]:
    """Deps and params where the bundle's lineage and a dvc.lock entry disagree."""
    found = []
    locked_deps = {d.get("path"): d.get("md5") for d in entry.get("deps") or []}
    for path, md5 in lineage.get("deps", {}).items():
        if locked_deps.get(path) != md5:
            found.append(f"dep {path} (HEAD {locked_deps.get(path)}, bundle {md5})")
    locked = dict(_flat({k: v for f in (entry.get("params") or {}).values() for k, v in f.items()}))
    mine = dict(_flat(lineage.get("params")))
    for key in sorted(set(locked) | set(mine)):
        if locked.get(key) != mine.get(key):
            found.append(f"param {key} (HEAD {locked.get(key)!r}, bundle {mine.get(key)!r})")
    return found


def _run(root: Path, stage: str, md5: str) -> dict[str, Any] | None:
    """The run record of ``stage`` if the run it describes wrote a bundle with ``md5``."""
    try:
        record = json.loads((root / RUNS_DIR / f"{stage}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    outputs = record.get("outputs") if isinstance(record, dict) else None
    return record if isinstance(outputs, dict) and md5 in outputs.values() else None


def _flat(data: object, prefix: str = "") -> list[tuple[str, Any]]:
    """``a.b.c = value`` pairs; dvc.lock keys may already be dotted (``data.target``)."""
    if isinstance(data, dict) and data:
        return [pair for k, v in data.items() for pair in _flat(v, f"{prefix}{k}.")]
    return [(prefix.rstrip("."), data)] if prefix else []
