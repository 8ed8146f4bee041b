"""Load the bundle that MODEL names, for ``conveyor score`` and ``conveyor monitor --model``.

The grammar of MODEL (a bundle directory, a directory holding one in ``bundle/``,
``name@v1.2.0``, ``name#prod``) is the registry's: :mod:`conveyor.registry.reference`. This
module adds what the commands say when MODEL names nothing, and the life of a registry
bundle's copy: materialised from the DVC cache into a temporary directory that lives until the
process exits.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor.errors import BundleError
from conveyor.registry.reference import FORMS, BundleDir, parse_model

if TYPE_CHECKING:
    from conveyor.bundle import Bundle

__all__ = ["FORMS", "resolve_model_version"]


def resolve_model_version(ref: str, root: Path) -> tuple[Bundle, str]:
    """The bundle ``ref`` names, and its version label (``v1.2.0``, or ``local`` for a dir)."""
    from conveyor.bundle import load_bundle
    from conveyor.bundle.manifest import MANIFEST
    from conveyor.registry.materialise import locate

    reference = parse_model(ref, root)
    if reference is None:
        raise BundleError(
            f"'{ref}' is not a directory, nor a registry reference",
            where="MODEL",
            fix=f"give {FORMS}; 'conveyor registry list' shows the registered models",
        )
    if isinstance(reference, BundleDir) and reference.bundle is None:
        found = reference.path.glob(f"*/{MANIFEST}")
        inside = sorted(f"'{Path(ref) / m.parent.name}'" for m in found)
        raise BundleError(
            f"directory '{ref}' holds no model bundle (no {MANIFEST}, nor bundle/{MANIFEST})",
            where="MODEL",
            fix=f"did you mean {' or '.join(inside)}?"
            if inside
            else f"give {FORMS}; 'dvc repro' trains models/NAME",
        )
    scratch = None
    if not isinstance(reference, BundleDir):
        scratch = Path(tempfile.mkdtemp(prefix="conveyor-bundle-"))
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    located = locate(reference, root, scratch=scratch)
    return load_bundle(located.path, trusted=located.trusted), located.version
