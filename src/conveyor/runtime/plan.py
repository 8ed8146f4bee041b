"""What a stage declares (reads, deps, outs) and what it gets when it runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from conveyor.plugins import Plugins
    from conveyor.runtime.params import ParamsView
    from conveyor.spec import ProjectSpec


TRUST_READS = ("model._target_", "model.trusted_types")
"""What says which types a bundle may hold: every stage that loads the bundle reads them.

So changing ``model.trusted_types`` reruns those stages, and each re-checks the bundle
against the new list (a type taken off the list fails the next ``dvc repro``, as it should).
"""


@dataclass(frozen=True)
class StagePlan:
    """One stage as the compiler sees it. Paths are project-relative POSIX strings."""

    name: str
    desc: str
    reads: tuple[str, ...]
    """params.yaml keys the stage reads: its dvc.yaml ``params:``, enforced at run time."""
    deps: tuple[str, ...] = ()
    outs: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    """Outputs declared as DVC metrics (kept in git, not the cache)."""
    reports: tuple[str, ...] = ()
    """Other outputs kept in git, not the cache (``cache: false``)."""
    plots: tuple[tuple[str, Mapping[str, str]], ...] = ()
    """DVC plots kept in git: (path, props such as ``template``, ``x``, ``y``, ``title``)."""
    components: tuple[tuple[str, str], ...] = ()
    """(kind, name) of each plugin component the stage runs."""
    targets: tuple[str, ...] = ()
    """``_target_`` classes the stage imports."""
    always_changed: bool = False
    """DVC reruns the stage on every ``dvc repro`` (a source whose data DVC cannot track)."""
    on_executor: bool = False
    """Whether its heavy work runs on the project's executor (``executor:``): dvc.yaml then
    records which one in the stage's ``meta:``, which DVC ignores (it reruns nothing)."""


@dataclass(frozen=True)
class StageContext:
    """Everything ``run`` may use: the root, its declared params, its plan, the plugins."""

    root: Path
    params: ParamsView
    plan: StagePlan
    plugins: Plugins

    def trusted_types(self) -> frozenset[str]:
        """What the project vouches for in a bundle (:data:`TRUST_READS`, through the view)."""
        from conveyor.bundle.trust import declared_types

        model = {
            "_target_": self.params.get("model._target_", None),
            "trusted_types": self.params.get("model.trusted_types", []),
        }
        return declared_types({"model": model}, self.root)


@dataclass(frozen=True)
class StageDef:
    """A kind of stage: how to plan its instances from the spec, and how to run one.

    Most kinds have one instance named like the kind (``split``); ``ingest`` has one per source
    (``ingest-sales``), and optional kinds (``combine``, ``validate``) may have none.
    """

    name: str
    plan: Callable[[ProjectSpec, Plugins], tuple[StagePlan, ...]]
    run: Callable[[StageContext], None] = field(repr=False)
