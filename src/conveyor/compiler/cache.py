"""The compile cache: ``conveyor compile`` on inputs it compiled before answers without Hydra.

A compile reads conf/, the overrides, conveyor and the installed plugins (their code and
versions), and the project-local code it validates; it writes dvc.yaml and params.yaml. The
cache keeps the last result in ``.conveyor/compile/`` under a digest of all of those, and on a
hit re-checks what can change without them: local code the pipeline runs, dependencies that
vanished from disk, a source that now leaves the project through a symlink (each a miss, so the
full compile reports it), and which sources git or DVC track (the warnings, recomputed).

Not cached: a conf/ file or an override with a resolver interpolation (``${oc.env:HOME}``,
``${now:%H}``), whose value no file fixes. The cache is only a shortcut: a cache folder that a
symlink leads out of the project is neither read nor written, and one that cannot be read or
written means a full compile. Nothing here imports Hydra, pydantic or a stage.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor import _atomic
from conveyor._paths import link_out_of, real_path_outside
from conveyor.compiler.ir import covers
from conveyor.compiler.tracking import on_disk, source_deps, untracked_sources

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from conveyor.compiler.project import Compiled

__all__ = ["CACHE_FILE", "Hit", "inputs_digest", "lookup", "store"]

CACHE_FILE = ".conveyor/compile/cache.json"
FORMAT = 1
_RESOLVER = re.compile(r"\$\{\s*[\w.]+\s*:")
"""``${name:...}``: a resolver call, whose value may depend on the environment or the clock."""
_PLUGIN_GROUP_PREFIX = "conveyor."


@dataclass(frozen=True)
class Hit:
    """A cached compile that still holds: the files to write, as the full compile would."""

    files: dict[str, str]
    stages: int
    warnings: tuple[str, ...]


def lookup(root: Path, key: str | None) -> Hit | None:
    """The cached result for inputs of digest ``key``, or None when they must be compiled."""
    if key is None or _outside(root):
        return None
    try:
        entry = json.loads((root / CACHE_FILE).read_text(encoding="utf-8"))
        if entry.get("format") != FORMAT or entry.get("key") != key:
            return None
        files: dict[str, str] = entry["files"]
        sources = [(stage, dep) for stage, dep in entry["sources"]]
        if any(_content_digest(root / path) != digest for path, digest in entry["code"].items()):
            return None
        if not all(on_disk(root, dep) for dep in entry["external"]):
            return None
        if any(link_out_of(root, dep) is not None for _, dep in sources):
            return None
        return Hit(files, int(entry["stages"]), tuple(untracked_sources(sources, root)))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no cache, or one this version cannot read: compile


def store(root: Path, key: str | None, compiled: Compiled) -> None:
    """Remember ``compiled`` for the inputs of digest ``key`` (uncacheable when None)."""
    if key is None or _outside(root):
        return
    stages = compiled.pipeline.stages
    produced = [path for stage in stages for path in stage.produces]
    external = sorted(
        {dep for s in stages for dep in s.deps if not any(covers(p, dep) for p in produced)}
    )
    code = {path: _content_digest(root / path) for path in external if _is_code(root / path)}
    entry = {
        "format": FORMAT,
        "key": key,
        "files": compiled.files,
        "stages": len(stages),
        "sources": source_deps(compiled.pipeline),
        "external": external,
        "code": code,
    }
    folder = (root / CACHE_FILE).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        ignore = folder / ".gitignore"
        if not ignore.exists():  # like .pytest_cache: the folder ignores itself in any project
            _atomic.write_text(ignore, "# written by conveyor compile: a local cache\n*\n")
        _atomic.write_text(root / CACHE_FILE, json.dumps(entry, sort_keys=True) + "\n")
    except OSError:
        return  # a read-only project, or .conveyor is a file: the next compile is a full one


def _outside(root: Path) -> bool:
    """Whether a symlink leads the cache file out of the project: then it is left alone.

    A cloned repository can commit ``.conveyor`` as a symlink to anywhere.
    """
    return real_path_outside(root, root / CACHE_FILE) is not None


def inputs_digest(root: Path, overrides: Sequence[str]) -> str | None:
    """A digest of everything a compile of ``root`` reads but local code; None: uncacheable."""
    try:
        return _inputs_digest(root, overrides)
    except OSError:
        return None  # e.g. an unreadable conf/ file: the full compile says which


def _inputs_digest(root: Path, overrides: Sequence[str]) -> str | None:
    digest = hashlib.sha256()
    conf = root / "conf"

    def feed(*parts: Any) -> None:  # noqa: ANN401 - anything with a stable repr
        digest.update(repr(parts).encode("utf-8", "surrogateescape") + b"\0")

    feed(FORMAT, sys.version, sys.prefix, list(overrides))
    if any(_RESOLVER.search(override) for override in overrides):
        return None
    for path in sorted(conf.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if _RESOLVER.search(data.decode("utf-8", "replace")):
                return None
            feed(path.relative_to(conf).as_posix(), data)
    for entry in sys.path:  # installed distributions, by name and version (*.dist-info)
        if installed := sorted(_installed(entry)):  # not the script's folder, which varies
            feed(entry, installed)
    for package in sorted(_plugin_packages()):
        feed(package, _source_stats(package))
    # The project is importable while its components are validated: a module added at the
    # root may shadow one that resolved elsewhere before.
    feed(sorted(p.name for p in root.iterdir() if _is_code(p)))
    return digest.hexdigest()


def _installed(folder: str) -> Iterable[str]:
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return []
    return [n for n in names if n.endswith((".dist-info", ".egg-info", ".egg-link", ".pth"))]


def _plugin_packages() -> set[str]:
    """The packages whose code a compile runs: conveyor and each conveyor plugin's top level."""
    found = entry_points()
    groups = [group for group in found.groups if group.startswith(_PLUGIN_GROUP_PREFIX)]
    return {"conveyor"} | {
        ep.module.partition(".")[0] for group in groups for ep in found.select(group=group)
    }


def _source_stats(package: str) -> list[tuple[str, int, int]]:
    """(file, mtime, size) of a package's sources: an editable install's edits count."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return []
    origin = Path(spec.origin)
    if not spec.submodule_search_locations:
        return [_stat(origin, origin.parent)]
    top = origin.parent
    return [_stat(path, top) for path in sorted(top.rglob("*.py"))]


def _stat(path: Path, top: Path) -> tuple[str, int, int]:
    info = path.stat()
    return path.relative_to(top).as_posix(), info.st_mtime_ns, info.st_size


def _is_code(path: Path) -> bool:
    return path.suffix == ".py" or (path / "__init__.py").is_file()


def _content_digest(path: Path) -> str | None:
    """The md5 DVC records for a file or folder (what dvc.lock holds); None when it is missing."""
    from conveyor.runtime.lineage import dvc_md5

    return dvc_md5(path) if path.exists() else None
