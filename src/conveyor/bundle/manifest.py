"""The sha256 manifest of a bundle: every file listed, every hash checked before anything loads."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from conveyor import _atomic
from conveyor.errors import BundleError

if TYPE_CHECKING:
    from pathlib import Path

MANIFEST = "manifest.json"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(bundle_dir: Path) -> None:
    """Hash every file in ``bundle_dir`` (but the manifest) into ``manifest.json``."""
    files = {
        p.relative_to(bundle_dir).as_posix(): sha256_file(p)
        for p in sorted(bundle_dir.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    text = json.dumps({"algorithm": "sha256", "files": files}, indent=2, sort_keys=True) + "\n"
    _atomic.write_text(bundle_dir / MANIFEST, text)


def verify_manifest(bundle_dir: Path) -> dict[str, str]:
    """Check every file against the manifest; refuse missing, extra or altered files."""
    manifest_path = bundle_dir / MANIFEST
    if not bundle_dir.is_dir():
        raise BundleError(
            f"no model bundle at '{bundle_dir}'",
            fix="train one with 'dvc repro', or fetch it with 'dvc pull'",
        )
    try:
        listed: dict[str, str] = json.loads(manifest_path.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BundleError(
            f"bundle '{bundle_dir}' has no readable {MANIFEST}",
            fix="the bundle is incomplete or was not written by conveyor; retrain it",
        ) from exc
    present = {
        p.relative_to(bundle_dir).as_posix()
        for p in bundle_dir.rglob("*")
        if p.is_file() and p.name != MANIFEST
    }
    problems = [f"'{name}' is missing" for name in sorted(set(listed) - present)]
    problems += [f"'{name}' is not in the manifest" for name in sorted(present - set(listed))]
    problems += [
        f"'{name}' does not match its sha256"
        for name in sorted(set(listed) & present)
        if sha256_file(bundle_dir / name) != listed[name]
    ]
    if problems:
        raise BundleError(
            f"bundle '{bundle_dir}' failed its integrity check: {'; '.join(problems)}",
            fix="do not edit bundles by hand; restore it with 'dvc checkout' or retrain",
        )
    return listed
