"""Resolve the MODEL argument of ``conveyor serve`` and ``conveyor score`` to a loaded bundle.

MODEL is a bundle directory (``models/diagnostics``), a directory holding one in ``bundle/``
(what the ``rest`` deploy target writes), or a registry reference: ``name@v1.2.0`` for a
version, ``name#prod`` for whatever holds a stage. A registry bundle is materialised from the
DVC cache into a temporary directory that lives until the process exits.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor.errors import BundleError

if TYPE_CHECKING:
    from conveyor.bundle import Bundle

MANIFEST = "manifest.json"
FORMS = "a bundle directory (models/NAME), NAME@vX.Y.Z, or NAME#STAGE"


def resolve_model(ref: str, root: Path) -> Bundle:
    """Load the bundle ``ref`` names: a directory (relative to ``root``) or a registry ref."""
    return resolve_model_version(ref, root)[0]


def resolve_model_version(ref: str, root: Path) -> tuple[Bundle, str]:
    """The bundle ``ref`` names, and its version label (``v1.2.0``, or ``local`` for a dir)."""
    from conveyor.bundle import load_bundle
    from conveyor.bundle.trust import project_types

    path = Path(ref) if Path(ref).is_absolute() else root / ref
    if path.is_dir():
        if (path / MANIFEST).is_file():
            return load_bundle(path, trusted=project_types(root)), "local"
        if (path / "bundle" / MANIFEST).is_file():
            return load_bundle(path / "bundle", trusted=project_types(root)), "local"
        inside = sorted(f"'{Path(ref) / m.parent.name}'" for m in path.glob(f"*/{MANIFEST}"))
        raise BundleError(
            f"directory '{ref}' holds no model bundle (no {MANIFEST}, nor bundle/{MANIFEST})",
            where="MODEL",
            fix=f"did you mean {' or '.join(inside)}?"
            if inside
            else f"give {FORMS}; 'dvc repro' trains models/NAME",
        )
    if ("@" in ref or "#" in ref) and "/" not in ref:
        from conveyor.registry.materialise import materialise

        scratch = Path(tempfile.mkdtemp(prefix="conveyor-bundle-"))
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        done = materialise(root, ref, scratch)
        return load_bundle(done.path, trusted=done.trusted), done.version.version
    raise BundleError(
        f"'{ref}' is not a directory, nor a registry reference",
        where="MODEL",
        fix=f"give {FORMS}; 'conveyor registry list' shows the registered models",
    )
