"""The sha256 manifest of a bundle: every file listed, every hash checked before anything loads.

A bundle is a directory of regular files and nothing else. Verification walks it without
following symbolic links (``lstat``) and opens every file component by component with
``O_NOFOLLOW``, so a symlinked ``pipeline.skops``, a symlinked folder, a FIFO, or a manifest
key such as ``../x`` is refused instead of read. The bytes that were hashed are the bytes
that get loaded (:func:`read_verified`): nothing can be swapped in between.

The manifest detects accidents and partial copies. It proves nothing about who wrote the
bundle (anyone who edits a file can re-hash it): trust comes from :mod:`conveyor.bundle.trust`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from typing import TYPE_CHECKING

from conveyor import _atomic
from conveyor.bundle.document import ManifestDocument, bad_member_path, parse_document
from conveyor.errors import BundleError

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator
    from pathlib import Path

MANIFEST = "manifest.json"
_CHUNK = 1 << 20
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_FIX_EDITED = "do not edit bundles by hand; restore it with 'dvc checkout' or retrain"
_FIX_LINKS = (
    "a bundle holds regular files only: copy the real files in; with DVC, use a copying cache "
    "type ('dvc config cache.type reflink,copy' and 'dvc checkout --relink')"
)


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
    """Check every file against the manifest; refuse missing, extra, altered or linked files."""
    return read_verified(bundle_dir, ())[0]


def read_verified(
    bundle_dir: Path, keep: Collection[str]
) -> tuple[dict[str, str], dict[str, bytes]]:
    """Verify the bundle; return the manifest's files and the verified bytes of ``keep``."""
    if not bundle_dir.is_dir():
        raise BundleError(
            f"no model bundle at '{bundle_dir}'",
            fix="train one with 'dvc repro', or fetch it with 'dvc pull'",
        )
    where = f"{bundle_dir / MANIFEST}"
    try:
        raw = _read_member(bundle_dir, MANIFEST)
    except _NotRegularError as exc:
        raise BundleError(f"{MANIFEST} {exc}", where=where, fix=_FIX_LINKS) from exc
    except OSError as exc:
        raise BundleError(
            f"bundle '{bundle_dir}' has no readable {MANIFEST}",
            fix="the bundle is incomplete or was not written by conveyor; retrain it",
        ) from exc
    listed: dict[str, str] = parse_document(raw, ManifestDocument, where=where)["files"]
    problems = [f"key 'files.{name}' {why}" for name in listed if (why := bad_member_path(name))]
    problems += [f"key 'files.{MANIFEST}' lists the manifest itself"] if MANIFEST in listed else []
    if problems:
        raise BundleError("; ".join(problems), where=where, fix=_FIX_EDITED)
    present, odd = _walk(bundle_dir)
    if odd:
        raise BundleError(
            f"bundle '{bundle_dir}' holds what is not a regular file: {'; '.join(odd)}",
            fix=_FIX_LINKS,
        )
    problems = [f"'{name}' is missing" for name in sorted(set(listed) - present)]
    problems += [f"'{name}' is not in the manifest" for name in sorted(present - set(listed))]
    kept: dict[str, bytes] = {}
    for name in sorted(set(listed) & present):
        digest, data = _hash_member(bundle_dir, name, keep=name in keep)
        if digest != listed[name]:
            problems.append(f"'{name}' does not match its sha256")
        elif data is not None:
            kept[name] = data
    if problems:
        raise BundleError(
            f"bundle '{bundle_dir}' failed its integrity check: {'; '.join(problems)}",
            fix=_FIX_EDITED,
        )
    return listed, kept


class _NotRegularError(OSError):
    """A bundle member that is a symlink, a device, a FIFO... anything but a regular file."""


def _walk(bundle_dir: Path) -> tuple[set[str], list[str]]:
    """Regular files under ``bundle_dir`` (but the manifest), and what else is there."""
    files: set[str] = set()
    odd: list[str] = []
    stack = [""]
    while stack:
        prefix = stack.pop()
        with os.scandir(bundle_dir / prefix if prefix else bundle_dir) as entries:
            for entry in entries:
                name = f"{prefix}{entry.name}"
                if entry.is_symlink():
                    odd.append(f"'{name}' is a symbolic link")
                elif entry.is_dir(follow_symlinks=False):
                    stack.append(f"{name}/")
                elif entry.is_file(follow_symlinks=False):
                    if name != MANIFEST:
                        files.add(name)
                else:
                    odd.append(f"'{name}' is not a regular file")
    return files, sorted(odd)


@contextlib.contextmanager
def _open_member(bundle_dir: Path, name: str) -> Iterator[int]:
    """A read-only descriptor of ``bundle_dir/name``, no link followed below ``bundle_dir``."""
    parts = name.split("/")
    fds = [os.open(bundle_dir, os.O_RDONLY | _DIRECTORY)]
    try:
        for part in parts[:-1]:
            fds.append(os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=fds[-1]))
        try:
            fds.append(os.open(parts[-1], os.O_RDONLY | _NOFOLLOW, dir_fd=fds[-1]))
        except OSError as exc:
            if os.path.islink(bundle_dir / name):
                raise _NotRegularError(f"'{name}' is a symbolic link") from exc
            raise
        if not stat.S_ISREG(os.fstat(fds[-1]).st_mode):
            raise _NotRegularError(f"'{name}' is not a regular file")
        yield fds[-1]
    finally:
        for fd in reversed(fds):
            os.close(fd)


def _read_member(bundle_dir: Path, name: str) -> bytes:
    with _open_member(bundle_dir, name) as fd, os.fdopen(os.dup(fd), "rb") as handle:
        return handle.read()


def _hash_member(bundle_dir: Path, name: str, *, keep: bool) -> tuple[str, bytes | None]:
    digest = hashlib.sha256()
    chunks: list[bytes] = []
    try:
        with _open_member(bundle_dir, name) as fd, os.fdopen(os.dup(fd), "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                if keep:
                    chunks.append(chunk)
    except OSError as exc:
        raise BundleError(
            f"cannot read '{name}' of bundle '{bundle_dir}': {exc}", fix=_FIX_LINKS
        ) from exc
    return digest.hexdigest(), b"".join(chunks) if keep else None
