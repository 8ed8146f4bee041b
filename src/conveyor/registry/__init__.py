"""The git-native model registry: versions, stages, promotion, rollback and integrity.

Versions and stages are git tags in GTO's grammar (``name@v1.2.0``, ``name#prod#3``), so
``gto show`` and ``dvc artifacts get --stage prod`` read what conveyor writes. A version points
at a commit whose dvc.lock and reports/ describe the model; its bundle is materialised from
the DVC cache and verified before anything is loaded.

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
        Materialised,
        load_version,
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
    from conveyor.registry.tags import Event


# Loaded on first use: the compiler imports ``conveyor.registry.gate`` (through the gate stage),
# which imports this package, and must not pay for the git and gto machinery below.
_HOMES = {
    "Event": "tags",
    "HistoryEntry": "query",
    "Lineage": "lineage",
    "Materialised": "materialise",
    "ModelSummary": "query",
    "Version": "query",
    "VersionDetail": "query",
    "champion": "query",
    "history": "query",
    "list_models": "query",
    "load_version": "materialise",
    "promote": "operations",
    "register": "operations",
    "resolve": "query",
    "rollback": "operations",
    "show_model": "query",
    "verify_version": "materialise",
}


__getattr__ = lazy_getattr("conveyor.registry", _HOMES)


__all__ = [
    "Event",
    "HistoryEntry",
    "Lineage",
    "Materialised",
    "ModelSummary",
    "RegistryError",
    "Version",
    "VersionDetail",
    "champion",
    "history",
    "list_models",
    "load_version",
    "promote",
    "register",
    "resolve",
    "rollback",
    "show_model",
    "verify_version",
]
