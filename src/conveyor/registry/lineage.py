"""What a version is made of, read from git at its commit: dvc.lock hashes, params, metrics.

Paths mirror ``conveyor.runtime.layout`` (the registry sits below runtime and cannot import it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor._paths import BLESSING_FILE, METRICS_FILE, model_dir
from conveyor.registry._errors import RegistryError
from conveyor.registry._git import show_file

if TYPE_CHECKING:
    from pathlib import Path

LOCK_FILE = "dvc.lock"


@dataclass(frozen=True)
class Lineage:
    """A version's provenance at its commit."""

    commit: str
    model_md5: str | None
    outputs: dict[str, str]
    params: dict[str, Any]
    metrics: dict[str, Any] | None
    blessing: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {
            "commit": self.commit,
            "model_md5": self.model_md5,
            "outputs": self.outputs,
            "params": self.params,
            "metrics": self.metrics,
            "blessing": self.blessing,
        }


def read_lock(root: Path, commit: str) -> dict[str, Any] | None:
    """dvc.lock as committed at ``commit``; None if that commit has none."""
    import yaml

    text = show_file(root, commit, LOCK_FILE)
    if text is None:
        return None
    try:
        lock = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RegistryError(
            f"dvc.lock at commit {commit[:7]} is not valid YAML: {exc}",
            fix="that commit's dvc.lock is broken; register another commit",
        ) from exc
    return lock if isinstance(lock, dict) else None


def _stage_outs(lock: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """``(stage, stage entry, out entry)`` for every out of every stage."""
    found = []
    for stage, entry in (lock.get("stages") or {}).items():
        if isinstance(entry, dict):
            found += [(stage, entry, out) for out in entry.get("outs") or [] if "path" in out]
    return found


def output_hashes(lock: dict[str, Any]) -> dict[str, str]:
    """``path -> md5`` of every stage output (a directory's md5 ends in ``.dir``)."""
    return {out["path"]: str(out.get("md5", "")) for _, _, out in _stage_outs(lock)}


def model_entry(lock: dict[str, Any], name: str) -> tuple[dict[str, Any], str] | None:
    """The stage that writes the model's bundle and the bundle's ``.dir`` md5."""
    for _, entry, out in _stage_outs(lock):
        if out["path"].rstrip("/") == model_dir(name):
            return entry, str(out.get("md5", ""))
    return None


def _params(entry: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for values in (entry.get("params") or {}).values():
        merged.update(values or {})
    return merged


def read_json(root: Path, commit: str, path: str) -> dict[str, Any] | None:
    """A committed JSON object (metrics, blessing); None if absent or not an object."""
    raw = show_file(root, commit, path)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def read_lineage(root: Path, name: str, commit: str) -> Lineage:
    """Model hash, every output hash, the training params, metrics and blessing at ``commit``."""
    lock = read_lock(root, commit) or {}
    found = model_entry(lock, name)
    return Lineage(
        commit=commit,
        model_md5=found[1] if found else None,
        outputs=output_hashes(lock),
        params=_params(found[0]) if found else {},
        metrics=read_json(root, commit, METRICS_FILE),
        blessing=read_json(root, commit, BLESSING_FILE),
    )


def check_describes_model(root: Path, name: str, commit: str) -> None:
    """Refuse a commit whose dvc.lock has no model, or whose metrics are not the locked ones."""
    short = commit[:7]
    lock = read_lock(root, commit)
    fix = "run 'dvc repro', commit dvc.lock and reports/, then register that commit"
    if lock is None or model_entry(lock, name) is None:
        raise RegistryError(
            f"commit {short} has no trained '{model_dir(name)}' in dvc.lock", where=name, fix=fix
        )
    metrics = show_file(root, commit, METRICS_FILE)
    if metrics is None:
        raise RegistryError(f"commit {short} has no {METRICS_FILE}", where=name, fix=fix)
    locked = output_hashes(lock).get(METRICS_FILE)
    # DVC 3 hashes the raw bytes, so a mismatch means metrics edited or from another run.
    if locked and hashlib.md5(metrics, usedforsecurity=False).hexdigest() != locked:
        raise RegistryError(
            f"{METRICS_FILE} at commit {short} is not the one dvc.lock records",
            where=name,
            fix=fix,
        )


def failed_checks(blessing: dict[str, Any]) -> list[str]:
    """One line per failed check of a blessing document: ``metric kind required, observed``."""
    lines = []
    for check in blessing.get("checks") or []:
        if isinstance(check, dict) and not check.get("passed", False):
            lines.append(
                f"{check.get('metric', '?')} {check.get('kind', '?')} "
                f"{_number(check.get('required'))} (observed {_number(check.get('observed'))})"
            )
    return lines


def _number(value: object) -> str:
    """Metric values to 4 significant digits; anything else (None, text) as is."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
