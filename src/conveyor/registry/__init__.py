"""The git-native model registry: versions, stages, promotion, rollback and integrity.

Versions and stages are git tags in GTO's grammar (``name@v1.2.0``, ``name#prod#3``), so
``gto show`` and ``dvc artifacts get --stage prod`` read what conveyor writes. A version points
at a commit whose dvc.lock and reports/ describe the model; its bundle is materialised from
the DVC cache and verified before anything is loaded.

A MODEL argument (a bundle directory, ``name@v1.2.0``, ``name#prod``) is read by
``parse_model`` and its bundle found by ``locate``, so a library opens a model as the CLI does.

Reads (``resolve``, ``champion``, ``list_models``, ``show_model``, ``history``) need only
``git``; writes (``register``, ``promote``, ``rollback``) create tags through ``gto.api`` under
a repository-wide lock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor._lazy import lazy_getattr
from conveyor.registry._errors import RegistryError

if TYPE_CHECKING:
    from conveyor.registry.lineage import Lineage
    from conveyor.registry.materialise import (
        Located,
        Materialised,
        load_version,
        locate,
        verify_version,
    )
    from conveyor.registry.operations import promote, register, rollback
    from conveyor.registry.query import (
        HistoryEntry,
        ModelSummary,
        Version,
        VersionDetail,
        champion,
        history,
        list_models,
        resolve,
        show_model,
    )
    from conveyor.registry.reference import BundleDir, RegistryRef, parse_model
    from conveyor.registry.tags import Event


# Loaded on first use: the compiler imports ``conveyor.registry.gate`` (through the gate stage),
# which imports this package, and must not pay for the git and gto machinery below.
_HOMES = {
    "BundleDir": "reference",
    "Event": "tags",
    "HistoryEntry": "query",
    "Lineage": "lineage",
    "Located": "materialise",
    "Materialised": "materialise",
    "ModelSummary": "query",
    "RegistryRef": "reference",
    "Version": "query",
    "VersionDetail": "query",
    "champion": "query",
    "history": "query",
    "list_models": "query",
    "load_version": "materialise",
    "locate": "materialise",
    "parse_model": "reference",
    "promote": "operations",
    "register": "operations",
    "resolve": "query",
    "rollback": "operations",
    "show_model": "query",
    "verify_version": "materialise",
}


__getattr__ = lazy_getattr("conveyor.registry", _HOMES)


__all__ = [
    "BundleDir",
    "Event",
    "HistoryEntry",
    "Lineage",
    "Located",
    "Materialised",
    "ModelSummary",
    "RegistryError",
    "RegistryRef",
    "Version",
    "VersionDetail",
    "champion",
    "history",
    "list_models",
    "load_version",
    "locate",
    "parse_model",
    "promote",
    "register",
    "resolve",
    "rollback",
    "show_model",
    "verify_version",
]
