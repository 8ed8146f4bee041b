"""Open what ``conveyor serve MODEL`` names: a bundle or deploy directory, or a registry version.

Its own module so ``server`` (which serves the primary) and ``traffic`` (which loads a canary or
shadow the same way) both import it, and not each other.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor.bundle.manifest import MANIFEST
from conveyor.errors import BundleError
from conveyor.registry.reference import DEPLOY_BUNDLE, BundleDir, parse_model

if TYPE_CHECKING:
    from conveyor.bundle import Bundle
    from conveyor.registry.reference import RegistryRef

__all__ = ["DEPLOY_CONFIG", "OpenedModel", "open_model"]

DEPLOY_CONFIG = "serve.json"
_WHAT_MODEL_IS = (
    "give a bundle directory (models/<name>), a deploy directory holding bundle/ and "
    "serve.json (deploy/rest), or a registry reference: name@v1.2.0 or name#prod"
)


@dataclass(frozen=True)
class OpenedModel:
    """A verified, loaded bundle and what the server needs to know about where it came from."""

    bundle: Bundle
    label: str
    """How the banner names it: a path or a registry reference."""
    version: str
    """The registry version (``v1.2.0``), or ``local`` for a directory."""
    config_file: Path | None = None
    """A deploy directory's ``serve.json``."""
    scratch: Path | None = None
    """A temporary copy of a registry version's bundle, removed by ``close``."""

    def close(self) -> None:
        """Remove the temporary copy, if any."""
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


def open_model(model: str, *, root: Path) -> OpenedModel:
    """Load what ``model`` names: a bundle dir, a deploy dir, or ``name@v..``/``name#stage``.

    The grammar is the registry's (:func:`conveyor.registry.reference.parse_model`). Registry
    references are resolved in the git repository at ``root`` and materialised from its DVC
    cache into a temporary directory.
    """
    from conveyor.bundle import load_bundle
    from conveyor.registry.materialise import locate

    reference = parse_model(model, root)
    if isinstance(reference, BundleDir):
        if reference.bundle is None:
            raise BundleError(
                f"'{model}' holds neither a bundle ({MANIFEST}) nor a deploy directory "
                f"({DEPLOY_BUNDLE}/)",
                fix=_WHAT_MODEL_IS,
            )
        located = locate(reference, root)
        config = reference.path / DEPLOY_CONFIG
        bundle = load_bundle(located.path, trusted=located.trusted)
        shown = str(Path(model))
        if not reference.deploy:
            return OpenedModel(bundle, shown, located.version)
        return OpenedModel(bundle, shown, located.version, config if config.is_file() else None)
    if reference is not None:
        return _from_registry(reference, root)
    what = "is a file, not a directory" if (root / model).exists() else "does not exist"
    raise BundleError(f"MODEL '{model}' {what}", fix=_WHAT_MODEL_IS)


def _from_registry(reference: RegistryRef, root: Path) -> OpenedModel:
    from conveyor.bundle import load_bundle
    from conveyor.registry.materialise import locate

    scratch = Path(tempfile.mkdtemp(prefix="conveyor-serve-"))
    try:
        located = locate(reference, root, scratch=scratch / DEPLOY_BUNDLE)
        bundle = load_bundle(located.path, trusted=located.trusted)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return OpenedModel(bundle, located.label, located.version, scratch=scratch)
