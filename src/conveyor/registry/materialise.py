"""Materialise a registered version's bundle from the local DVC cache, without the workspace.

dvc.lock at the version's commit gives the bundle directory's md5 (``<md5>.dir``); the ``.dir``
object in the cache lists each file's md5; each file is copied out of the cache, checked
against its md5, and the result goes through ``load_bundle`` (sha256 manifest, exact-type
allowlist). The types the version may hold beyond the installed components are those its own
commit's params.yaml declares (``model._target_``): the reviewed configuration that trained it,
never the bundle. Nothing is unpickled, and nothing in the work tree is read or written.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from conveyor._paths import model_dir
from conveyor.bundle import load_bundle
from conveyor.bundle.trust import PARAMS_FILE, declared_types, project_types
from conveyor.errors import BundleError
from conveyor.registry._errors import RegistryError
from conveyor.registry._git import show_file
from conveyor.registry.lineage import model_entry, read_lock
from conveyor.registry.query import resolve
from conveyor.registry.reference import FORMS, BundleDir

if TYPE_CHECKING:
    from conveyor.bundle import Bundle
    from conveyor.registry.query import Version
    from conveyor.registry.reference import RegistryRef

_CHUNK = 1 << 20


def cache_dir(root: Path) -> Path:
    """The local DVC cache: ``cache.dir`` from .dvc/config(.local), else ``.dvc/cache``."""
    dvc_dir = root / ".dvc"
    found = dvc_dir / "cache"
    for name in ("config", "config.local"):  # later files win, as in DVC
        parser = configparser.ConfigParser()
        try:
            parser.read(dvc_dir / name, encoding="utf-8")
        except configparser.Error:
            continue
        if parser.has_option("cache", "dir"):
            found = (dvc_dir / parser.get("cache", "dir")).resolve()
    return found


def cache_object(cache: Path, md5: str) -> Path:
    """Where DVC 3 keeps an object (``files/md5/ab/cdef...``); DVC 2's flat layout as fallback."""
    modern = cache / "files" / "md5" / md5[:2] / md5[2:]
    legacy = cache / md5[:2] / md5[2:]
    return legacy if not modern.exists() and legacy.exists() else modern


@dataclass(frozen=True)
class Materialised:
    """A version's bundle files, copied out of the cache into ``path``."""

    version: Version
    path: Path
    files: int
    trusted: frozenset[str] = frozenset()
    """Types the version's commit declares in params.yaml: pass them to ``load_bundle``."""


def materialise(root: Path, ref: str, dest: Path) -> Materialised:
    """Copy the bundle of ``ref`` (``name@v1.0.0``, ``name#prod``, ``name``) into ``dest``."""
    version = resolve(root, ref)
    where = f"{version.ref} (commit {version.commit[:7]})"
    lock = read_lock(root, version.commit) or {}
    entry = model_entry(lock, version.name)
    if entry is None or not entry[1].endswith(".dir"):
        raise RegistryError(
            f"dvc.lock at the version's commit has no directory '{model_dir(version.name)}'",
            where=where,
            fix="register a commit whose dvc.lock records the trained model",
        )
    dir_md5 = entry[1].removesuffix(".dir")
    cache = cache_dir(root)
    listing = _read_listing(cache_object(cache, entry[1]), where, version.commit)
    for item in listing:
        relpath = PurePosixPath(str(item.get("relpath", "")))
        md5 = str(item.get("md5", ""))
        if relpath.is_absolute() or ".." in relpath.parts or not md5:
            raise BundleError(
                f"the cache listing {dir_md5}.dir has a bad entry {item}", where=where
            )
        source = cache_object(cache, md5)
        if not source.is_file():
            raise _missing(where, version.commit, f"file '{relpath}' ({md5})")
        target = dest / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        if _md5(target) != md5:
            raise BundleError(
                f"cached file '{relpath}' does not match its md5 {md5}: tampered with or corrupt",
                where=where,
                fix=f"remove '{source}' and fetch it again with "
                f"'dvc fetch --rev {version.commit[:7]}'",
            )
    return Materialised(version, dest, len(listing), declared_at(root, version.commit))


def declared_at(root: Path, commit: str) -> frozenset[str]:
    """The types ``commit``'s params.yaml vouches for (its ``model._target_``), if any."""
    import yaml

    text = show_file(root, commit, PARAMS_FILE)
    try:
        params = yaml.safe_load(text) if text is not None else None
    except yaml.YAMLError:
        return frozenset()
    return declared_types(params, root) if isinstance(params, dict) else frozenset()


def load_version(root: Path, ref: str, dest: Path | None = None) -> Bundle:
    """Materialise ``ref``'s bundle into ``dest`` (default: a new temp dir), verify and load it.

    The files stay in ``dest`` (``bundle.path``), which the caller owns and may delete.
    """
    target = dest if dest is not None else Path(tempfile.mkdtemp(prefix="conveyor-bundle-"))
    done = materialise(root, ref, target)
    return load_bundle(target, trusted=done.trusted)


@dataclass(frozen=True)
class Located:
    """Where the bundle a MODEL names is: load it with ``load_bundle(path, trusted=trusted)``."""

    path: Path
    version: str
    """The registry version (``v1.2.0``), or ``local`` for a directory."""
    label: str
    """How to name the model: MODEL as given for a directory, else ``name@v1.2.0``."""
    trusted: frozenset[str]
    """The types beyond the installed components that reviewed configuration vouches for:
    the project's params.yaml for a directory, the version's commit's for a registry version."""


def locate(
    reference: BundleDir | RegistryRef, root: Path, *, scratch: Path | None = None
) -> Located:
    """The bundle ``reference`` names: in place, or copied from the DVC cache into ``scratch``.

    Args:
        reference: What :func:`conveyor.registry.reference.parse_model` read from MODEL.
        root: The project root (its git repository and DVC cache resolve a reference).
        scratch: Where a registry version's bundle is materialised (default: a new temporary
            directory); the caller owns it and may delete it.

    Raises:
        BundleError: ``reference`` is a directory that holds no bundle.
        RegistryError: The reference names no version, or the cache lacks its files.
    """
    if isinstance(reference, BundleDir):
        if reference.bundle is None:
            raise BundleError(
                f"directory '{reference.text}' holds no model bundle", fix=f"give {FORMS}"
            )
        return Located(reference.bundle, "local", reference.text, project_types(root))
    target = scratch if scratch is not None else Path(tempfile.mkdtemp(prefix="conveyor-bundle-"))
    done = materialise(root, str(reference), target)
    return Located(done.path, done.version.version, done.version.ref, done.trusted)


def verify_version(root: Path, ref: str) -> Materialised:
    """Materialise ``ref`` into a scratch dir and run the full bundle check; raise if it fails."""
    with tempfile.TemporaryDirectory(prefix="conveyor-verify-") as scratch:
        done = materialise(root, ref, Path(scratch) / "bundle")
        load_bundle(done.path, trusted=done.trusted)
    return done


def _read_listing(path: Path, where: str, commit: str) -> list[dict[str, Any]]:
    if not path.is_file():
        raise _missing(where, commit, f"the bundle listing {path.name}")
    try:
        listing = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(f"the cached listing '{path}' is unreadable: {exc}", where=where) from exc
    if not isinstance(listing, list) or not all(isinstance(i, dict) for i in listing):
        raise BundleError(f"the cached listing '{path}' is not a DVC .dir listing", where=where)
    return listing


def _missing(where: str, commit: str, what: str) -> RegistryError:
    return RegistryError(
        f"{what} is not in the local DVC cache",
        where=where,
        fix=f"fetch it: 'dvc fetch --rev {commit[:7]}' (or 'dvc pull' on that commit)",
    )


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
