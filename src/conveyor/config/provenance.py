"""Which conf file (and line) set each key of the composed config.

We replay the composition order that Hydra used — the primary config's defaults list, each
group at the option Hydra chose, ``_self_`` where it stands, command-line overrides last — over
the raw YAML files, keeping the last writer of every path. Nested defaults lists inside group
files are not followed; their keys are attributed to the group file that pulled them in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from conveyor.config.shape import CONFIG_NAME, package_of

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.config.shape import Choice


@dataclass(frozen=True)
class Origin:
    """Where a value came from: a conf file and line, or a command-line override."""

    file: str
    line: int | None = None
    override: str | None = None

    def __str__(self) -> str:
        if self.override is not None:
            return f"override '{self.override}'"
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class Provenance:
    """Dotted path -> origin, for leaves and for the mapping/list nodes above them."""

    origins: dict[str, Origin] = field(default_factory=dict)
    default_file: str = f"conf/{CONFIG_NAME}.yaml"
    history: list[tuple[str, Origin]] = field(default_factory=list)
    """Every write, in composition order: ``origins`` keeps only the last writer of a path."""
    _below: dict[str, set[str]] = field(default_factory=dict, repr=False, compare=False)
    """Dotted prefix -> the recorded paths one segment longer (``a.b`` -> ``a.b.c``)."""

    def __post_init__(self) -> None:
        for path, origin in list(self.origins.items()):
            self._put(path, origin)

    def origin(self, path: str) -> Origin:
        """The origin of ``path``, or of its nearest ancestor that some file set."""
        parts = path.split(".")
        for end in range(len(parts), 0, -1):
            found = self.origins.get(".".join(parts[:end]))
            if found is not None:
                return found
        return Origin(self.default_file)

    def file(self, path: str) -> str:
        """The file (or override) to name in an error about ``path``."""
        origin = self.origin(path)
        return str(origin) if origin.override is not None else origin.file

    def writers(self, path: str) -> list[Origin]:
        """Every file or override that wrote ``path`` (or a key above or below it), in order.

        The last one wins; the others were shadowed. Consecutive writes by one source count
        once, at the line of ``path`` itself when that source wrote it, else its nearest line.
        """
        runs: list[list[tuple[str, Origin]]] = []
        for written, origin in self.history:
            related = written == path or path.startswith(f"{written}.")
            if not (related or written.startswith(f"{path}.")):
                continue
            source = (origin.file, origin.override)
            if runs and (runs[-1][0][1].file, runs[-1][0][1].override) == source:
                runs[-1].append((written, origin))
            else:
                runs.append([(written, origin)])
        return [_closest(run, path) for run in runs]

    def _set(self, path: str, origin: Origin) -> None:
        """Make ``origin`` the last writer of ``path``, forgetting the writers of keys below it.

        The keys below are found through ``_below``, never by scanning ``origins``: a scan per
        write made a config of n keys cost n² (40,000 keys took a minute).
        """
        for below in self._forget_below(path):
            self.origins.pop(below, None)
        self._put(path, origin)
        self.history.append((path, origin))

    def _put(self, path: str, origin: Origin) -> None:
        """Set ``origins[path]`` and link it under each dotted prefix (``a`` -> ``a.b``)."""
        self.origins[path] = origin
        child, (parent, dot, _) = path, path.rpartition(".")
        while dot:
            siblings = self._below.setdefault(parent, set())
            if child in siblings:
                break  # the prefixes above are linked already
            siblings.add(child)
            child, (parent, dot, _) = parent, parent.rpartition(".")

    def _forget_below(self, path: str) -> list[str]:
        """Unlink and return every linked path under ``path`` (each is unlinked only once)."""
        found: list[str] = []
        pending = [path]
        while pending:
            children = self._below.pop(pending.pop(), ())
            found.extend(children)
            pending.extend(children)
        return found

    def record(self, node: yaml.Node, prefix: str, file: str) -> None:
        """Record every path under ``node`` (a composed YAML node) as set by ``file``."""
        if isinstance(node, yaml.MappingNode):
            if prefix and prefix not in self.origins:
                self._put(prefix, Origin(file, node.start_mark.line + 1))
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if not prefix and key == "defaults":
                    continue
                path = f"{prefix}.{key}" if prefix else key
                if not isinstance(value_node, yaml.MappingNode):
                    self._set(path, Origin(file, key_node.start_mark.line + 1))
                self.record(value_node, path, file)
        elif isinstance(node, yaml.SequenceNode):
            if prefix and prefix not in self.origins:  # a list option under '# @package'
                self._put(prefix, Origin(file, node.start_mark.line + 1))
            for index, item in enumerate(node.value):
                path = f"{prefix}.{index}"
                self._set(path, Origin(file, item.start_mark.line + 1))
                self.record(item, path, file)


def _closest(run: list[tuple[str, Origin]], path: str) -> Origin:
    """The write of ``path`` itself, else of its deepest ancestor, else the first below it."""
    exact = [origin for written, origin in run if written == path]
    above = [origin for written, origin in run if path.startswith(f"{written}.")]
    if exact:
        return exact[-1]
    return above[-1] if above else run[0][1]


def trace(
    root: Path, conf_dir: Path, choices: dict[str, Choice], overrides: tuple[str, ...]
) -> Provenance:
    """Replay the composition over the raw files of ``conf_dir`` (relative to ``root``)."""
    provenance = Provenance(default_file=_relative(conf_dir / f"{CONFIG_NAME}.yaml", root))
    primary = conf_dir / f"{CONFIG_NAME}.yaml"
    order = _composition_order(primary, choices)
    for group in order:
        if group == "_self_":
            _record_file(provenance, primary, "", root)
            continue
        chosen = choices[group]
        for option in (chosen,) if isinstance(chosen, str) else chosen:
            path = conf_dir / group / f"{option}.yaml"
            if path.is_file():
                _record_file(provenance, path, package_of(path, group), root)
    for override in overrides:
        key = override.lstrip("+~").split("=", 1)[0]
        if key and key not in choices:
            provenance._set(key, Origin("command line", override=override))
    return provenance


def _composition_order(primary: Path, choices: dict[str, Choice]) -> list[str]:
    defaults = _load(primary).get("defaults") or []
    order: list[str] = []
    for entry in defaults:
        if entry == "_self_":
            order.append("_self_")
        elif isinstance(entry, dict) and entry:
            group = str(next(iter(entry))).split("@")[0].removeprefix("override ").strip()
            if group in choices:
                order.append(group)
    if "_self_" not in order:
        order.append("_self_")  # Hydra's default position for the primary config's own keys
    order.extend(g for g in choices if g not in order)  # groups added with +group=option
    return order


def _record_file(provenance: Provenance, path: Path, package: str, root: Path) -> None:
    node = yaml.compose(path.read_text(encoding="utf-8"), Loader=_Loader)
    if node is not None:
        provenance.record(node, package, _relative(path, root))


def _load(path: Path) -> dict[str, Any]:
    loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - safe loader
    return loaded if isinstance(loaded, dict) else {}


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
