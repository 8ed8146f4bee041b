"""Bounds on the YAML in ``conf/``, checked before Hydra reads a byte of it.

Hydra and OmegaConf build one Python object per YAML node, and they expand every alias into a
copy of what it names. Nine lines of nested aliases (the "billion laughs") therefore expand to
387 million nodes and a compile that never ends; a recursive alias never ends at all. So every
``conf/**/*.yaml`` file is first streamed through the YAML parser, which builds nothing: only
event counts and the size of each anchored node are kept, and the scan stops at the first
bound it crosses. The bounds follow SnakeYAML's defaults (3 MiB of input, nesting depth 50),
the most widely deployed YAML loader that sets any, and are far above a real project's:

- a file holds at most ``MAX_FILE_BYTES`` (4 MiB);
- it nests at most ``MAX_DEPTH`` (50) mappings and lists deep;
- it holds at most ``MAX_NODES`` (200,000) keys and values, aliases expanded;
- its aliases expand to at most ``MAX_ALIAS_NODES`` (10,000) nodes in all, and none is recursive.

A file the parser rejects is left to Hydra, which reports the syntax error if it reads it;
but a file that is not UTF-8, or nests deeper than libyaml itself allows (its scanner stops
at 1,000 levels before our count sees them, and Hydra's pure-Python loader would then recurse
until Python's stack ran out), is refused here, located.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import yaml

from conveyor.errors import SpecError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "check_conf_dir",
    "check_conf_file",
]

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 50
MAX_NODES = 200_000
MAX_ALIAS_NODES = 10_000

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_FIX = "split the file or trim it"


def check_conf_dir(conf_dir: Path) -> None:
    """Refuse the first YAML file under ``conf_dir`` that crosses a bound (a located SpecError)."""
    for path in sorted(conf_dir.rglob("*.yaml")):
        if path.is_file():
            check_conf_file(path, shown=_shown(path, conf_dir.parent))


def check_conf_file(path: Path, *, shown: str | None = None) -> None:
    """Refuse ``path`` if it is too large, too deep, has too many nodes or aliases too much."""
    shown = shown or path.as_posix()
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SpecError(
            f"the file is {size:,} bytes; conf/ files may hold at most {MAX_FILE_BYTES:,}",
            where=shown,
            fix=f"{_FIX}: configuration belongs in conf/, data in files a source reads",
        )
    try:
        data = path.read_bytes()
    except OSError:
        return  # Hydra reports it if it reads the file
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:  # Hydra's open() would raise it, unlocated
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        raise SpecError(
            f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at column {column})",
            where=f"{shown}:{line}",
            fix="save the file as UTF-8: Hydra reads conf/ files as UTF-8",
        ) from exc
    counter = _Counter(shown)
    try:
        for event in yaml.parse(text, Loader=_Loader):
            counter.add(event)
    except yaml.YAMLError as exc:
        if "maximum nesting depth" in str(exc):  # libyaml's own bound (1,000), met while
            counter.too_deep(getattr(exc, "problem_mark", None))  # scanning ahead of events
        return  # a syntax error: Hydra reports it, located, if the file is composed


@dataclass
class _Open:
    """A mapping or list whose end event has not come yet."""

    anchor: str | None
    nodes: int = 1


@dataclass
class _Counter:
    """Counts nodes as the parser streams events, aliases counted at their expanded size."""

    shown: str
    nodes: int = 0
    alias_nodes: int = 0
    anchors: dict[str, int] = field(default_factory=dict)
    stack: list[_Open] = field(default_factory=list)

    def add(self, event: yaml.Event) -> None:
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        if isinstance(event, yaml.DocumentStartEvent):
            self.anchors.clear()  # anchors are local to a YAML document
        elif isinstance(event, yaml.CollectionStartEvent):
            self.stack.append(_Open(event.anchor))
            if len(self.stack) > MAX_DEPTH:
                self._refuse(
                    line,
                    f"mappings and lists nest more than {MAX_DEPTH} levels deep here",
                    "flatten the structure",
                )
            self._grow(1, line)
        elif isinstance(event, yaml.CollectionEndEvent):
            closed = self.stack.pop()
            if closed.anchor is not None:
                self.anchors[closed.anchor] = closed.nodes
            self._credit(closed.nodes)
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor is not None:
                self.anchors[event.anchor] = 1
            self._grow(1, line)
            self._credit(1)
        elif isinstance(event, yaml.AliasEvent):
            self._alias(str(event.anchor), line)

    def _alias(self, anchor: str, line: int | None) -> None:
        if any(item.anchor == anchor for item in self.stack):
            self._refuse(
                line,
                f"alias '*{anchor}' is inside the node it names, so it never ends expanding",
                f"write the value out instead of '*{anchor}'",
            )
        size = self.anchors.get(anchor)
        if size is None:
            return  # an undefined alias: Hydra reports it
        self.alias_nodes += size
        if self.alias_nodes > MAX_ALIAS_NODES:
            self._refuse(
                line,
                f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes by alias '*{anchor}' "
                "(nested aliases multiply: the 'billion laughs' pattern)",
                "write the repeated values out, or alias fewer and smaller nodes",
            )
        self._grow(size, line)
        self._credit(size)

    def too_deep(self, mark: yaml.Mark | None) -> None:
        """Refuse the nesting libyaml stopped at; Hydra's pure-Python loader would recurse."""
        self._refuse(
            mark.line + 1 if mark is not None else None,
            f"mappings and lists nest more than {MAX_DEPTH} levels deep here",
            "flatten the structure",
        )

    def _grow(self, nodes: int, line: int | None) -> None:
        self.nodes += nodes
        if self.nodes > MAX_NODES:
            self._refuse(
                line,
                f"the file holds more than {MAX_NODES:,} keys and values (aliases expanded)",
                _FIX,
            )

    def _credit(self, nodes: int) -> None:
        """Add a finished node's size to the collection that holds it."""
        if self.stack:
            self.stack[-1].nodes += nodes

    def _refuse(self, line: int | None, what: str, fix: str) -> None:
        where = f"{self.shown}:{line}" if line else self.shown
        raise SpecError(what, where=where, fix=f"{fix} (conveyor's limits: docs/security.md)")


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
