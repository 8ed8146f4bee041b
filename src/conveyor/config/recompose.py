"""Compose many override lists that share their config-group choices with one Hydra compose.

A sweep's trials mostly differ in values only (``model.params.max_depth=2,4,6``), and Hydra
composes each from scratch: reading the defaults list's files is about nine tenths of a
compile. Hydra composes in two steps (``hydra/_internal/config_loader_impl.py``): the defaults
list, chosen by the group overrides, gives a config in struct mode; then each value override is
applied to it in order with ``OmegaConf.update(cfg, key, value, merge=True)``. A
:class:`Composer` does the first step once per distinct list of group overrides and repeats only
the second, with the same calls on a copy, then resolves and dumps as :func:`compose` does, so
the params.yaml text is byte-identical (tests/unit/config/test_recompose.py).

Anything else (``+key``, ``++key``, ``~key``, ``key@package``, ``hydra.*``, a sweep, a value for
a group that is a mapping, an override that does not parse) goes through :func:`compose`, and
so does an override list whose short path raises: its error is exactly :func:`compose`'s.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from conveyor.config.compose import ComposedConfig, compose, compose_keeping

if TYPE_CHECKING:
    from pathlib import Path


class Composer:
    """:func:`compose` for many override lists, composing each distinct structure once.

    ``composes`` counts the Hydra composes it ran (tests and the sweep's progress read it).
    """

    def __init__(self, conf_dir: Path) -> None:
        """Compose ``conf_dir`` (``<project>/conf``)."""
        self.conf_dir = conf_dir
        self.composes = 0
        self._bases: dict[tuple[str, ...], tuple[ComposedConfig, Any]] = {}

    def compose(self, overrides: list[str] | tuple[str, ...] = ()) -> ComposedConfig:
        """What ``compose(conf_dir, overrides)`` returns, sharing the compose of its groups."""
        split = self._split(list(overrides))
        if split is None:
            return self._full(overrides)
        groups, values = split
        if groups not in self._bases:
            keep: list[Any] = []
            try:
                composed = self._counted(groups, keep)
            except Exception:
                return self._full(overrides)
            self._bases[groups] = (composed, keep[0])
        base, unresolved = self._bases[groups]
        if not values:
            data = copy.deepcopy(base.data)
            return ComposedConfig(data, base.params_yaml, base.choices, tuple(overrides))
        try:
            data, text = _apply(unresolved, values)
        except Exception:
            return self._full(overrides)
        return ComposedConfig(data, text, base.choices, tuple(overrides))

    def _full(self, overrides: list[str] | tuple[str, ...]) -> ComposedConfig:
        self.composes += 1
        return compose(self.conf_dir, overrides)

    def _counted(self, overrides: tuple[str, ...], keep: list[Any]) -> ComposedConfig:
        self.composes += 1
        return compose_keeping(self.conf_dir, overrides, keep)

    def _split(self, overrides: list[str]) -> tuple[tuple[str, ...], list[Any]] | None:
        """Group overrides (the structure) and parsed value overrides; None: compose it all."""
        from hydra.core.override_parser.overrides_parser import OverridesParser
        from hydra.errors import HydraException

        parser = OverridesParser.create()
        groups: list[str] = []
        values: list[Any] = []
        for text in overrides:
            try:
                (parsed,) = parser.parse_overrides([text])
            except HydraException:
                return None
            key = parsed.key_or_group
            plain = not (
                parsed.is_add()
                or parsed.is_force_add()
                or parsed.is_delete()
                or parsed.is_sweep_override()
                or parsed.package is not None
            )
            if not plain or not key or key.split(".")[0] == "hydra":
                return None
            if (self.conf_dir / key).is_dir():
                if isinstance(parsed.value(), dict):  # Hydra merges it as a value: rare
                    return None
                groups.append(text)
            elif "/" in key:
                return None
            else:
                values.append(parsed)
        return tuple(groups), values


def _apply(unresolved: Any, values: list[Any]) -> tuple[dict[str, Any], str]:  # noqa: ANN401
    """Hydra's value overrides on a copy of a composed config, then :func:`compose`'s dump."""
    from omegaconf import OmegaConf

    cfg = copy.deepcopy(unresolved)
    for override in values:
        OmegaConf.update(cfg, override.key_or_group, override.value(), merge=True)
    OmegaConf.resolve(cfg)
    text = OmegaConf.to_yaml(cfg)
    data = OmegaConf.to_container(cfg)
    if not isinstance(data, dict):
        raise TypeError("not a mapping")  # compose() reports it
    return {str(key): value for key, value in data.items()}, text
