"""Locate an interpolation that does not resolve: the key, the file that set it, and why.

``OmegaConf.resolve`` stops at the first ``${...}`` it cannot resolve with an error that often
names no key (a cycle says only "Recursive interpolation detected"). So once it has failed,
each interpolation left in the composed config is resolved on its own, in order, to find the
first one that fails; provenance then names the file and line that set it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.errors import SpecError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from omegaconf import Container

    from conveyor.config.shape import Choice

__all__ = ["unresolved"]

_FIX = "check the ${...} interpolations: each must name an existing key"


def unresolved(
    conf_dir: Path,
    cfg: Container | None,
    choices: dict[str, Choice],
    overrides: tuple[str, ...],
    exc: Exception,
) -> SpecError:
    """The SpecError for ``exc``, raised while resolving ``cfg``, at the key that failed."""
    found = _first_failure(cfg) if cfg is not None else None
    if found is None:
        key = getattr(exc, "full_key", None) or "(config)"
        return SpecError(
            f"cannot resolve the configuration: {_first_line(exc)}", where=key, fix=_FIX
        )
    path, value, error = found
    from conveyor.config.provenance import trace  # provenance imports compose, which imports us

    origin = trace(conf_dir.parent, conf_dir, choices, overrides).origin(path)
    where = f"{path} ({origin})"
    if "Recursive interpolation" in str(error):
        return SpecError(
            f"the interpolation {value!r} never resolves: it leads back to itself",
            where=where,
            fix="break the cycle: give one of the keys it passes through a plain value",
        )
    reason = _first_line(error)
    return SpecError(
        f"cannot resolve {value!r}: {reason[:1].lower()}{reason[1:]}", where=where, fix=_FIX
    )


def _first_failure(cfg: Container) -> tuple[str, str, Exception] | None:
    """(dotted path, raw value, error) of the first interpolation that does not resolve."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    for path, parent, key in _leaves(cfg, ""):
        if not OmegaConf.is_interpolation(parent, key):
            continue
        node = parent._get_node(key)
        try:
            node._dereference_node()
        except OmegaConfBaseException as exc:
            return path, str(node._value()), exc
    return None


def _leaves(node: Any, prefix: str) -> Iterator[tuple[str, Any, Any]]:  # noqa: ANN401 - a node
    """(dotted path, parent container, key) of every value, in order, never resolving one."""
    from omegaconf import DictConfig, ListConfig

    if isinstance(node, DictConfig):
        keys: Any = list(node.keys())
    elif isinstance(node, ListConfig):
        keys = range(len(node))
    else:
        return
    for key in keys:
        path = f"{prefix}.{key}" if prefix else str(key)
        child = node._get_node(key)
        if isinstance(child, DictConfig | ListConfig) and not child._is_interpolation():
            yield from _leaves(child, path)
        else:
            yield path, node, key


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
