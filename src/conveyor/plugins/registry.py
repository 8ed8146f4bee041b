"""Entry-point registries: discover by metadata, import lazily, suggest on typos."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, cast

from conveyor.errors import PluginError, UnknownComponentError
from conveyor.plugins import _verify
from conveyor.plugins.base import Component, DeployTarget, Metric, Model, Source, Transform
from conveyor.plugins.drift import DriftTest
from conveyor.plugins.executor import Executor

if TYPE_CHECKING:
    from collections.abc import Mapping

GROUPS: dict[str, str] = {
    "source": "conveyor.sources",
    "transform": "conveyor.transforms",
    "model": "conveyor.models",
    "metric": "conveyor.metrics",
    "target": "conveyor.targets",
    "drift_test": "conveyor.drift_tests",
    "executor": "conveyor.executors",
}
"""Component kind -> entry-point group: the one table of plugin kinds."""

BASES: dict[str, type[Component[Any]]] = {
    "source": Source,
    "transform": Transform,
    "model": Model,
    "metric": Metric,
    "target": DeployTarget,
    "drift_test": DriftTest,
    "executor": Executor,
}


@dataclass(frozen=True)
class Registry:
    """The components of one kind, by name. Tests build one from fake entry points."""

    kind: str
    _refs: Mapping[str, EntryPoint]

    @classmethod
    def discover(cls, kind: str) -> Registry:
        """Read the entry points of ``kind``'s group (metadata only: nothing is imported)."""
        return cls(kind, {ep.name: ep for ep in entry_points(group=GROUPS[kind])})

    @property
    def label(self) -> str:
        """The kind as messages name it: ``model``, ``drift test``."""
        return self.kind.replace("_", " ")

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._refs)

    def __contains__(self, name: object) -> bool:
        return name in self._refs

    def entry_point(self, name: str) -> EntryPoint | None:
        """The entry point behind ``name``, if registered."""
        return self._refs.get(name)

    def provider(self, name: str) -> str:
        """``distribution version`` that registered ``name`` (how pluggy records it)."""
        ref = self._refs[name]
        dist = ref.dist
        return f"{dist.name} {dist.version}" if dist is not None else "(unknown distribution)"

    def suggest(self, name: str) -> str:
        """A fix line: close matches first, then every option."""
        close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
        return f"{hint}available: {', '.join(self.names()) or '(none installed)'}"

    def load(self, name: str, *, where: str) -> type[Component[Any]]:
        """Import, check and return the component class registered as ``name``.

        As pluggy verifies a hook implementation when it registers, the class is checked
        before anything uses it (see :mod:`conveyor.plugins._verify`): its base class and
        methods, its ``tasks`` and its ``Params``. A broken plugin is refused here, naming
        itself, its entry point and its distribution.

        Raises:
            UnknownComponentError: No component of this kind is registered as ``name``.
            PluginError: It fails to import, or breaks the component contract.
        """
        ref = self._refs.get(name)
        if ref is None:
            raise UnknownComponentError(
                f"unknown {self.label} '{name}'", where=where, fix=self.suggest(name)
            )
        try:
            loaded = ref.load()
        except Exception as exc:
            raise PluginError(
                f"{self.label} '{name}' ({ref.value}) failed to import: {exc}",
                where=where,
                fix=f"reinstall or fix the plugin that provides it ({self.provider(name)})",
            ) from exc
        problems = _verify.problems(loaded, BASES[self.kind])
        if problems:
            raise PluginError(
                f"{self.label} '{name}' ({ref.value}) {'; '.join(problems)}",
                where=where,
                fix=f"report this to the plugin's authors ({self.provider(name)})",
            )
        return cast("type[Component[Any]]", loaded)


@dataclass(frozen=True)
class Plugins:
    """Every registry, discovered once and passed in (never a global)."""

    registries: Mapping[str, Registry] = field(default_factory=dict)

    @classmethod
    def discover(cls) -> Plugins:
        """All registries from installed entry points, in one scan of the installed metadata."""
        found = entry_points()
        return cls(
            {
                kind: Registry(kind, {ep.name: ep for ep in found.select(group=group)})
                for kind, group in GROUPS.items()
            }
        )

    def __getitem__(self, kind: str) -> Registry:
        return self.registries[kind]
