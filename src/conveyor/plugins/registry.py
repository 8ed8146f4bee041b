"""Entry-point registries: discover by metadata, import lazily, suggest on typos."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from conveyor.errors import PluginError, UnknownComponentError
from conveyor.plugins.base import Component, DeployTarget, Metric, Model, Source, Transform

if TYPE_CHECKING:
    from collections.abc import Mapping

GROUPS: dict[str, str] = {
    "source": "conveyor.sources",
    "transform": "conveyor.transforms",
    "model": "conveyor.models",
    "metric": "conveyor.metrics",
    "target": "conveyor.targets",
}
"""Component kind -> entry-point group. Later kinds (drift tests) join this table."""

BASES: dict[str, type[Component[Any]]] = {
    "source": Source,
    "transform": Transform,
    "model": Model,
    "metric": Metric,
    "target": DeployTarget,
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
        """Import and return the component class registered as ``name``."""
        ref = self._refs.get(name)
        if ref is None:
            raise UnknownComponentError(
                f"unknown {self.kind} '{name}'", where=where, fix=self.suggest(name)
            )
        try:
            loaded = ref.load()
        except Exception as exc:
            raise PluginError(
                f"{self.kind} '{name}' ({ref.value}) failed to import: {exc}",
                where=where,
                fix=f"reinstall or fix the plugin that provides it ({self.provider(name)})",
            ) from exc
        base = BASES[self.kind]
        if not (isinstance(loaded, type) and issubclass(loaded, base)):
            raise PluginError(
                f"{self.kind} '{name}' ({ref.value}) is not a subclass of "
                f"conveyor.plugins.{base.__name__}",
                where=where,
                fix=f"report this to the plugin's authors ({self.provider(name)})",
            )
        return loaded


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
