"""Which Hydra overrides turn conf/ into a given params.yaml (the inference behind ``adopt``).

DVC records an experiment's ``-S`` overrides nowhere but in the params.yaml it composed, so they
are read back from it. Each config group is set to the option whose composition matches that
params.yaml best (an exact match first, else the fewest differing leaves; the current option
wins ties); the leaves that still differ become ``key=value`` overrides (a whole list when
anything inside it differs). The result is checked by composing conf/ with it: the caller
gets overrides that reproduce the experiment's values, or an error listing the keys that do not.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from conveyor.config import compose, flatten
from conveyor.errors import ExperimentError, SpecError

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.config import ComposedConfig

_MISSING: Any = object()
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")
_PACKAGE_HEADER = re.compile(r"^#\s*@package\s", re.MULTILINE)
_SHOWN = 10


@dataclass(frozen=True)
class Inferred:
    """Overrides that compose conf/ into the target params.yaml: group options, then values."""

    groups: tuple[str, ...]
    values: tuple[str, ...]

    @property
    def overrides(self) -> tuple[str, ...]:
        """Every override, group options first (as Hydra applies them)."""
        return self.groups + self.values


def infer_overrides(conf_dir: Path, params_yaml: str, *, where: str) -> Inferred:
    """The overrides that make ``conf_dir`` compose to ``params_yaml``; checked by composing.

    Raises:
        ExperimentError: ``params_yaml`` is not a mapping, or no overrides reproduce it
            (the message lists the keys that still differ).
    """
    target = _parse(params_yaml, where)
    base = compose(conf_dir)
    if _same(base.data, target):
        return Inferred((), ())
    groups = _group_overrides(conf_dir, base, target)
    chosen = compose(conf_dir, groups) if groups else base
    values, removed = value_overrides(chosen.data, target)
    if removed:
        raise ExperimentError(
            f"the experiment has no {_keys(removed)}, which conf/ sets",
            where=where,
            fix="adopt cannot delete keys; delete them from conf/ by hand, then compile",
        )
    overrides = (*groups, *values)
    try:
        result = compose(conf_dir, overrides)
    except SpecError as exc:
        raise ExperimentError(
            f"the inferred overrides do not compose ({' '.join(overrides)}): {exc.what}",
            where=where,
            fix="apply it with 'dvc exp apply' and write the values into conf/ by hand",
        ) from exc
    if result.params_yaml != params_yaml and not _same(result.data, target):
        differing = differing_keys(result.data, target)
        raise ExperimentError(
            f"no overrides of conf/ reproduce the experiment's params.yaml; {_keys(differing)} "
            "still differ",
            where=where,
            fix="apply it with 'dvc exp apply' and write those values into conf/ by hand",
        )
    return Inferred(tuple(groups), tuple(values))


def _parse(text: str, where: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ExperimentError(
            f"the experiment's params.yaml is not valid YAML: {exc}", where=where
        ) from exc
    if not isinstance(data, dict):
        raise ExperimentError("the experiment's params.yaml is not a mapping", where=where)
    return data


def _group_overrides(conf_dir: Path, base: ComposedConfig, target: dict[str, Any]) -> list[str]:
    """``group=option`` for each group whose best-matching option is not the current one."""
    differing = differing_keys(base.data, target)
    overrides: list[str] = []
    for group, current in base.choices.items():
        files = sorted((conf_dir / group).glob("*.yaml"))
        if len(files) < 2 or not (conf_dir / group).is_dir():
            continue
        moved = any(_PACKAGE_HEADER.search(f.read_text(encoding="utf-8")) for f in files)
        if not moved and not any(k == group or k.startswith(f"{group}.") for k in differing):
            continue  # nothing this group sets differs: keep its option
        candidates = _candidates(conf_dir, group, current, [f.stem for f in files], target)
        scored = [
            (_distance(compose(conf_dir, [_choice(group, c)]).data, target), index, c)
            for index, c in enumerate(candidates)  # index 0 is the current option: wins ties
        ]
        best = min(scored)[2]
        if best != current:
            overrides.append(_choice(group, best))
    return overrides


def _candidates(
    conf_dir: Path,
    group: str,
    current: str | tuple[str, ...],
    options: list[str],
    target: dict[str, Any],
) -> list[str | tuple[str, ...]]:
    """The options to try: the current one first; for a list group, the options in the target."""
    if isinstance(current, str):
        return [current, *(o for o in options if o != current)]
    empty = set(flatten(compose(conf_dir, [_choice(group, ())]).data))
    order = list(flatten(target))
    present: list[tuple[int, str]] = []
    for option in options:
        added = set(flatten(compose(conf_dir, [_choice(group, (option,))]).data)) - empty
        at = [order.index(k) for k in added if k in order]
        if at and len(at) == len(added):
            present.append((min(at), option))
    return [current, tuple(o for _, o in sorted(present))]


def _choice(group: str, option: str | tuple[str, ...]) -> str:
    return f"{group}={option}" if isinstance(option, str) else f"{group}=[{','.join(option)}]"


def value_overrides(
    composed: dict[str, Any], target: dict[str, Any]
) -> tuple[list[str], list[str]]:
    """``key=value`` (``+key=value`` for a new key) for each leaf that differs; and keys removed.

    A difference inside a list overrides the whole list, as Hydra cannot address its items.
    """
    overrides: list[str] = []
    removed: list[str] = []
    done: set[str] = set()
    for path in differing_keys(composed, target):
        key = _overridable(path, composed, target)
        if key in done:
            continue
        done.add(key)
        new, old = _get(target, key), _get(composed, key)
        if new is _MISSING:
            removed.append(key)
        else:
            overrides.append(f"{'+' if old is _MISSING else ''}{key}={format_value(new)}")
    return overrides, removed


def differing_keys(composed: dict[str, Any], target: dict[str, Any]) -> list[str]:
    """Dotted leaf paths whose values differ (or exist on one side only), target's order first."""
    ours, theirs = flatten(composed), flatten(target)
    paths = [*theirs, *(p for p in ours if p not in theirs)]
    return [p for p in paths if not _same(ours.get(p, _MISSING), theirs.get(p, _MISSING))]


def _distance(composed: dict[str, Any], target: dict[str, Any]) -> int:
    return len(differing_keys(composed, target))


def _overridable(path: str, *trees: dict[str, Any]) -> str:
    """``path`` cut at the first list on the way down in either tree (``a.0.b`` -> ``a``)."""
    parts = path.split(".")
    for end in range(1, len(parts) + 1):
        prefix = ".".join(parts[:end])
        if any(isinstance(_get(tree, prefix), list) for tree in trees):
            return prefix
    return path


def _get(tree: Any, path: str) -> Any:  # noqa: ANN401 - any YAML value
    node = tree
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def _same(a: object, b: object) -> bool:
    """Equal, and of the same types all the way down (``1`` is not ``1.0`` nor ``True``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def format_value(value: object) -> str:
    """``value`` as text that Hydra's override grammar and YAML both read back as ``value``."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, str):
        plain = _PLAIN.fullmatch(value) and yaml.safe_load(value) == value
        return value if plain else json.dumps(value)
    text: str = yaml.safe_dump(value, default_flow_style=True)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _keys(keys: list[str]) -> str:
    shown = ", ".join(f"'{k}'" for k in keys[:_SHOWN])
    more = f" and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
    return f"{'key' if len(keys) == 1 else 'keys'} {shown}{more}"
