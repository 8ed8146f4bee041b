"""The model-reference grammar: what a MODEL argument names, read in one place.

``conveyor serve``, ``conveyor score`` and ``conveyor monitor --model`` take MODEL, which is,
in this order:

- a directory (relative to the project root): a bundle (``models/NAME``, holding
  ``manifest.json``), or a directory holding one in ``bundle/`` (what the ``rest`` deploy
  target writes);
- ``NAME@vX.Y.Z``: a registered version;
- ``NAME#STAGE``: whatever version holds a registry stage now.

The registry's own commands also accept a bare ``NAME``: its latest version. Names and stages
follow GTO's grammar (letters, digits, ``-``, ``_`` and ``/``), so a reference may hold a
``/``; an existing directory is never read as one. The version after ``@`` is checked when the
reference is resolved, once the model is known, so an unknown model is named first.

:func:`parse_model` says what a MODEL names, and
:func:`conveyor.registry.materialise.locate` where its bundle is and which types it may hold:
a library user opens a model as the CLI does, without the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEPLOY_BUNDLE", "FORMS", "BundleDir", "RegistryRef", "parse_model"]

FORMS = "a bundle directory (models/NAME), NAME@vX.Y.Z, or NAME#STAGE"
"""The forms of MODEL, for help texts and messages."""

DEPLOY_BUNDLE = "bundle"
"""Where a deploy directory (``deploy/rest``) keeps its bundle."""


@dataclass(frozen=True)
class RegistryRef:
    """``NAME@vX.Y.Z`` (``version``), ``NAME#STAGE`` (``stage``), or ``NAME`` (the latest)."""

    name: str
    version: str | None = None
    stage: str | None = None

    @classmethod
    def parse(cls, text: str) -> RegistryRef:
        """Split ``text`` at its first ``@`` (a version), else its first ``#`` (a stage).

        Raises:
            RegistryError: The name (or the stage) is not a valid GTO name.
        """
        from conveyor.registry.tags import check_name

        name, at, version = text.partition("@")
        if at:
            return cls(check_name(name), version=version)
        name, hash_, stage = text.partition("#")
        if hash_:
            return cls(check_name(name), stage=check_name(stage, what="stage name"))
        return cls(check_name(name))

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}@{self.version}"
        if self.stage is not None:
            return f"{self.name}#{self.stage}"
        return self.name


@dataclass(frozen=True)
class BundleDir:
    """An existing directory that MODEL names."""

    text: str
    """MODEL as given: how messages and banners name the directory."""
    path: Path
    """The directory (a relative MODEL is taken from the project root)."""
    bundle: Path | None
    """The bundle in it: the directory itself, or its ``bundle/``; None when it holds none."""

    @property
    def deploy(self) -> bool:
        """True for a deploy directory: the bundle is in its ``bundle/``."""
        return self.bundle is not None and self.bundle != self.path


def parse_model(text: str, root: Path) -> BundleDir | RegistryRef | None:
    """What MODEL ``text`` names: a directory, a registry reference, or (None) neither.

    A directory that exists wins; otherwise ``text`` is a registry reference when it holds
    ``@`` or ``#``. A bare NAME is a path here (it could be either), so it is None unless the
    directory exists.

    Raises:
        RegistryError: ``text`` holds ``@`` or ``#``, but its name or stage is malformed.
    """
    from conveyor.bundle.manifest import MANIFEST

    path = Path(text) if Path(text).is_absolute() else root / text
    if path.is_dir():
        if (path / MANIFEST).is_file():
            return BundleDir(text, path, path)
        if (path / DEPLOY_BUNDLE / MANIFEST).is_file():
            return BundleDir(text, path, path / DEPLOY_BUNDLE)
        return BundleDir(text, path, None)
    if "@" in text or "#" in text:
        return RegistryRef.parse(text)
    return None
