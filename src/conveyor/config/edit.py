"""Write an override into conf/ where it belongs, for a human to review (``conveyor adopt``).

A group option goes into the defaults list of conf/config.yaml; a value onto the line that sets
it (found by :mod:`conveyor.config.provenance`; the line's comment is kept); a key that no file
sets under the nearest mapping that one does (ruamel.yaml, so the file's comments survive).
Each function returns the files it changed, relative to the project root.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from conveyor import _atomic
from conveyor.config.compose import CONFIG_DIR, CONFIG_NAME, compose
from conveyor.config.provenance import trace
from conveyor.errors import SpecError

if TYPE_CHECKING:
    from pathlib import Path


def override_key(override: str) -> str:
    """The key an override sets (``model.params.max_depth`` of ``+model.params.max_depth=4``)."""
    return override.split("=", 1)[0].lstrip("+~")


def _value(override: str) -> str:
    return override.split("=", 1)[1]


def set_group_option(root: Path, override: str) -> list[str]:
    """Point the group's entry in conf/config.yaml's defaults list at the applied option."""
    group, value = override_key(override), _value(override)
    path = root / CONFIG_DIR / f"{CONFIG_NAME}.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    entry = re.compile(
        rf"^(\s*-\s*(?:override\s+)?{re.escape(group)}(?:@\S+)?\s*:\s*)([^#\r\n]*?)(\s*#.*)?(\r?\n)?$"
    )
    for index, line in enumerate(lines):
        match = entry.match(line)
        if match:
            shown = value.replace(",", ", ") if value.startswith("[") else value
            if match.group(2).strip() == shown:
                return []
            lines[index] = f"{match.group(1)}{shown}{match.group(3) or ''}{match.group(4) or ''}"
            _atomic.write_text(path, "".join(lines))
            return [f"{CONFIG_DIR}/{CONFIG_NAME}.yaml"]
    raise SpecError(
        f"the defaults list has no entry for group '{group}'",
        where=f"{CONFIG_DIR}/{CONFIG_NAME}.yaml",
        fix=f"add '- {group}: {value}' to the defaults list by hand",
    )


def set_value(root: Path, override: str) -> list[str]:
    """Write ``key=value`` on the line that sets the key, or add it where its parent is set."""
    key, value = override_key(override), _value(override)
    conf_dir = root / CONFIG_DIR
    composed = compose(conf_dir)
    provenance = trace(root, conf_dir, composed.choices, ())
    exact = provenance.origins.get(key)
    origin = provenance.origin(key)
    path = root / origin.file
    if origin.override is not None or not path.is_file():
        path = conf_dir / f"{CONFIG_NAME}.yaml"
    package = _package(path, conf_dir)
    inner = key.removeprefix(f"{package}.") if package else key
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    if exact is not None and exact.line and exact.file == origin.file:
        leaf = re.escape(inner.rsplit(".", 1)[-1])
        pattern = re.compile(rf"^(\s*{leaf}\s*:\s*)([^#\r\n{{\[]*?)(\s+#.*)?(\r?\n)?$")
        match = pattern.match(lines[exact.line - 1])
        if match and match.group(2).strip():  # a scalar on that line, not a block below it
            if match.group(2).strip() == value:
                return []
            lines[exact.line - 1] = (
                f"{match.group(1)}{value}{match.group(3) or ''}{match.group(4) or ''}"
            )
            _atomic.write_text(path, "".join(lines))
            return [_relative(path, root)]
    _set_with_ruamel(path, inner, value)
    return [_relative(path, root)]


def _set_with_ruamel(path: Path, inner: str, value: str) -> None:
    """Set (or add) a nested key in a YAML file, keeping its comments."""
    import io

    import yaml
    from ruamel.yaml import YAML

    rt = YAML()
    rt.preserve_quotes = True
    rt.width = 4096
    rt.indent(mapping=2, sequence=4, offset=2)
    data: Any = rt.load(path.read_text(encoding="utf-8")) or {}
    node = data
    parts = inner.split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = yaml.safe_load(value)
    out = io.StringIO()
    rt.dump(data, out)
    _atomic.write_text(path, out.getvalue())


def _package(path: Path, conf_dir: Path) -> str:
    """The config package a conf file's keys sit under (``model`` for conf/model/x.yaml)."""
    relative = path.resolve().relative_to(conf_dir.resolve())
    return ".".join(relative.parts[:-1])


def _relative(path: Path, root: Path) -> str:
    return path.resolve().relative_to(root.resolve()).as_posix()
