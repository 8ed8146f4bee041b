"""``conveyor explain KEY`` and ``conveyor config show``: where each value of the config comes from.

:func:`explain` answers, for one dotted key: its composed value, every conf file (and line) or
override that wrote it in composition order (the last one wins), the defaults-list entry that
pulled each file in, the spec default when no file sets it, and the stages that read it.
:func:`resolved_config` is the validated config with every spec default filled in.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel

from conveyor.config.compose import CONFIG_DIR, CONFIG_NAME, flatten
from conveyor.errors import PluginError, SpecError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from conveyor.config.load import LoadedProject
    from conveyor.config.provenance import Origin

_MISSING = object()
_PRIMARY = f"{CONFIG_DIR}/{CONFIG_NAME}.yaml"
_COMPONENTS = (
    ("model", 1, "model"),
    ("data.sources", 3, "source"),
    ("features.transforms", 3, "transform"),
    ("deploy", 2, "target"),
)
"""(prefix, how many parts name the component, registry kind) of ``<component>.params.<x>``."""


@dataclass(frozen=True)
class Writer:
    """One conf file (and line) or override that wrote a key, and how it was pulled in."""

    origin: str
    via: str | None
    """The defaults-list entry (or override) that brought the file in; None for overrides."""


@dataclass(frozen=True)
class Explanation:
    """Everything ``conveyor explain`` says about one key."""

    key: str
    value: Any
    writers: tuple[Writer, ...]
    """In composition order: the last one set the value, the others were shadowed."""
    default: str | None
    """``<Model>.<field>`` whose default supplies the value when no writer set it."""
    readers: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The explanation as ``--json`` prints it."""
        writers = [{"origin": w.origin, "via": w.via} for w in self.writers]
        return {
            "key": self.key,
            "value": self.value,
            "set_by": writers[-1] if writers else None,
            "shadowed": writers[:-1],
            "default": self.default,
            "read_by": list(self.readers),
        }

    def render(self) -> str:
        """Plain text: the value, who set it, whom it shadowed, who reads it."""
        lines = [f"key: {self.key}", _value_lines(self.value)]
        if self.writers:
            last = self.writers[-1]
            lines.append(f"set by: {last.origin}")
            if last.via:
                lines.append(f"  via {last.via}")
            if len(self.writers) > 1:
                lines.append("shadowed (earlier writers, in composition order):")
                lines += [
                    f"  - {w.origin}" + (f" (via {w.via})" if w.via else "")
                    for w in self.writers[:-1]
                ]
        elif self.default:
            lines.append(
                f"set by: nothing in {CONFIG_DIR}/; default from the spec ({self.default})"
            )
        lines.append(f"read by: {', '.join(self.readers) or '(no stage)'}")
        return "\n".join(lines) + "\n"


def explain(
    project: LoadedProject, key: str, readers: Callable[[str], Iterable[str]] | None = None
) -> Explanation:
    """Explain the dotted ``key`` of ``project``'s composed config.

    Args:
        project: A loaded (composed and validated) project.
        key: A dotted path such as ``model.params.max_depth``; list items by index.
        readers: Stage names that read a params key (``Pipeline.readers``), if compiled.

    Raises:
        SpecError: no such key, with the closest keys that exist.
    """
    value = _lookup(project.composed.data, key)
    default = None
    if value is _MISSING:
        value, default = _spec_default(project, key)
    if value is _MISSING:
        raise unknown_key(project, key)
    writers = (
        tuple(_writer(project, origin) for origin in project.provenance.writers(key))
        if default is None
        else ()
    )
    stages = tuple(sorted(readers(key))) if readers is not None else ()
    return Explanation(key, value, writers, default, stages)


def resolved_config(project: LoadedProject, *, fill_defaults: bool = True) -> dict[str, Any]:
    """The composed config; with ``fill_defaults``, the validated spec with every default.

    Keys keep the composed order; keys only the spec knows follow in its field order.
    """
    composed = project.composed.data
    if not fill_defaults:
        return composed
    dumped = project.spec.model_dump(mode="json", by_alias=True)
    model = dumped.get("model")
    if isinstance(model, dict):  # exactly one of kind/_target_ is set: drop the other
        for name in ("kind", "_target_"):
            if model.get(name) is None:
                model.pop(name, None)
    merged = _merge(composed, dumped)
    assert isinstance(merged, dict)  # noqa: S101 - both roots are mappings
    return merged


def subtree(project: LoadedProject, data: dict[str, Any], key: str) -> Any:  # noqa: ANN401
    """The value at dotted ``key`` of ``data`` (a config of ``project``).

    Raises:
        SpecError: no such key, with the closest keys that exist.
    """
    found = _lookup(data, key)
    if found is _MISSING:
        raise unknown_key(project, key)
    return found


def unknown_key(project: LoadedProject, key: str) -> SpecError:
    """A located error for a key the config does not have, with did-you-mean suggestions."""
    known = _known_keys(project)
    parent, _, leaf = key.rpartition(".")
    siblings = sorted({k.rpartition(".")[2] for k in known if k.rpartition(".")[0] == parent})
    close = [
        f"{parent}.{c}" if parent else c
        for c in difflib.get_close_matches(leaf, siblings, n=3, cutoff=0.6)
    ]
    close = close or difflib.get_close_matches(key, sorted(known), n=3, cutoff=0.75)
    hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
    where = parent if parent in known else None
    under = f"keys under '{parent}'" if parent else "top-level keys"
    listed = f"{under}: {', '.join(siblings)}" if 0 < len(siblings) <= 12 else None
    return SpecError(
        f"the composed config has no key '{key}'",
        where=f"{where} ({project.provenance.file(where)})" if where else None,
        fix=hint + (listed or "run 'conveyor config show' to see every key"),
    )


def _value_lines(value: object) -> str:
    if isinstance(value, dict | list) and value:
        body = yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=100)
        return "value:\n" + "".join(f"  {line}\n" for line in body.splitlines()).rstrip("\n")
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True)
    return f"value: {text.strip().removesuffix('...').strip()}"


def _lookup(data: object, key: str) -> Any:  # noqa: ANN401 - any YAML value
    node: Any = data
    for step in key.split("."):
        if isinstance(node, dict) and step in node:
            node = node[step]
        elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        else:
            return _MISSING
    return node


def _spec_default(project: LoadedProject, key: str) -> tuple[Any, str | None]:
    """The value the spec (or a component's ``Params``) gives ``key`` when no file sets it."""
    node: Any = project.spec
    owner: str | None = None
    for step in key.split("."):
        if isinstance(node, BaseModel):
            name = _field_name(type(node), step)
            if name is None:
                return _component_default(project, key)
            owner, node = f"{type(node).__name__}.{name}", getattr(node, name)
        elif isinstance(node, dict) and step in node:
            node = node[step]
        elif isinstance(node, list | tuple) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        else:
            return _component_default(project, key)
    if isinstance(node, BaseModel):
        node = node.model_dump(mode="json", by_alias=True)
    return node, owner


def _component_default(project: LoadedProject, key: str) -> tuple[Any, str | None]:
    """A component parameter the user left out: its ``Params`` field default."""
    found = _params_model(project, key)
    if found is None:
        return _MISSING, None
    model, field = found
    info = model.model_fields.get(field)
    if info is None:
        return _MISSING, None
    default = info.get_default(call_default_factory=True)
    return default, f"{model.__name__}.{field}"


def _params_model(project: LoadedProject, key: str) -> tuple[type[BaseModel], str] | None:
    """The ``Params`` model behind ``<component>.params.<field>`` keys, and the field."""
    parts = key.split(".")
    for prefix, depth, kind in _COMPONENTS:
        if not key.startswith(f"{prefix}.") or len(parts) != depth + 2 or parts[depth] != "params":
            continue
        name = _lookup(project.composed.data, ".".join([*parts[:depth], "kind"]))
        if not isinstance(name, str) or name not in project.plugins[kind]:
            return None
        try:
            cls = project.plugins[kind].load(name, where=".".join(parts[:depth]))
        except PluginError:
            return None
        return cls.params_model(project.spec.project.task), parts[-1]
    return None


def _field_name(model: type[BaseModel], key: str) -> str | None:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return name
    return None


def _known_keys(project: LoadedProject) -> set[str]:
    """Every dotted path of the config with defaults, mappings included, and component params."""
    leaves = list(flatten(resolved_config(project)))
    known = {
        ".".join(leaf.split(".")[:end]) for leaf in leaves for end in range(1, leaf.count(".") + 2)
    }
    for path in [k for k in known if k.endswith(".params")]:
        found = _params_model(project, f"{path}.x")
        if found is not None:
            known |= {f"{path}.{field}" for field in found[0].model_fields}
    return known


def _writer(project: LoadedProject, origin: Origin) -> Writer:
    if origin.override is not None:
        return Writer(str(origin), None)
    if origin.file == _PRIMARY:
        return Writer(str(origin), f"{_PRIMARY} itself (its own keys, '_self_' in its defaults)")
    group, _, option = origin.file.removeprefix(f"{CONFIG_DIR}/").rpartition("/")
    entry = _defaults_entry(project, group)
    by_override = next(
        (o for o in project.composed.overrides if o.lstrip("+").split("=", 1)[0] == group), None
    )
    if by_override is None:
        choice = project.composed.choices.get(group)
        chosen = f"[{', '.join(choice)}]" if isinstance(choice, tuple) else str(choice or option)
        return Writer(str(origin), entry or f"{_PRIMARY} defaults: {group}: {chosen}")
    replaced = f" (replacing {entry})" if entry else ""
    return Writer(str(origin), f"override '{by_override}'{replaced}")


def _defaults_entry(project: LoadedProject, group: str) -> str | None:
    """``conf/config.yaml:6 defaults: model: xgboost``: ``group``'s entry in the defaults list."""
    path = project.root / _PRIMARY
    root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        return None
    for key_node, value_node in root.value:
        if key_node.value != "defaults" or not isinstance(value_node, yaml.SequenceNode):
            continue
        for item in value_node.value:
            if not (isinstance(item, yaml.MappingNode) and item.value):
                continue
            name, option = item.value[0]
            bare = str(name.value).removeprefix("override ").removeprefix("optional ")
            if bare.split("@")[0].strip() == group:
                shown = _scalar(option)
                return f"{_PRIMARY}:{item.start_mark.line + 1} defaults: {group}: {shown}"
    return None


def _scalar(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return f"[{', '.join(str(item.value) for item in node.value)}]"
    return str(node.value)


def _merge(composed: object, dumped: object) -> object:
    """``dumped``'s content in ``composed``'s key order (spec-only keys after)."""
    if isinstance(composed, dict) and isinstance(dumped, dict):
        ordered = {k: _merge(composed[k], dumped[k]) for k in composed if k in dumped}
        ordered.update({k: v for k, v in dumped.items() if k not in ordered})
        return ordered
    if isinstance(composed, list) and isinstance(dumped, list) and len(composed) == len(dumped):
        return [_merge(c, d) for c, d in zip(composed, dumped, strict=True)]
    return dumped
