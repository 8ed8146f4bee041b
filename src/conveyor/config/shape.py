"""The shape of each conf file Hydra is about to read, checked before Hydra reads it.

Hydra reports some mistakes in a file as a traceback (``defaults: 3``, an option file that is
a bare number), others as a ``ConfigCompositionException`` that names no file (a ``~: 1`` key,
an unterminated ``${seed``), and takes one in silence: an option file that is empty composes
to nothing, so an emptied ``conf/deploy/batch.yaml`` drops the ``deploy-batch`` stage and an
emptied features file every transform. Each of these is found here instead, in the primary
config and in every option file it chooses, and located by file, line and YAML path.

An option file that sets nothing on purpose says so with ``{}``: Hydra composes ``{}`` and an
empty file alike, but only one of them can be a file emptied by a bad merge or a crashed editor.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import yaml

from conveyor.errors import ConfigProblem

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

CONFIG_NAME = "config"
"""The primary config: ``conf/config.yaml``."""
Choice = str | tuple[str, ...]
"""A config group's option, or a list of options (``deploy: [rest, batch]``)."""

__all__ = ["defaults_problems", "file_problems", "package_of"]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PACKAGE_HEADER = re.compile(r"^#\s*@package\s+(\S+)", re.MULTILINE)
_NULL = "tag:yaml.org,2002:null"
_NOUNS: dict[type, str] = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a mapping",
}
_DEFAULTS_FIX = (
    "write it as a list: defaults: [_self_, {model: xgboost}, ...], "
    "one '- group: option' entry a line (Hydra's defaults list)"
)


def package_of(path: Path, group: str) -> str:
    """The dotted path an option file's keys go under: its group, or its ``# @package``."""
    match = _PACKAGE_HEADER.search(path.read_text(encoding="utf-8"))
    if match is None or match.group(1) == "_group_":
        return group.replace("/", ".")
    package = match.group(1)
    return "" if package == "_global_" else package.removeprefix("_global_.")


def defaults_problems(path: Path, shown: str) -> list[ConfigProblem]:
    """Problems of ``path``'s top level and ``defaults:`` list: what choices are read from."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError:
        return []  # Hydra reports the syntax error with its file and line
    if node is None or isinstance(node, yaml.MappingNode):
        return _defaults(node, shown)
    return [_not_mapping(node, shown, "primary config", "write it as 'key: value' lines")]


def file_problems(path: Path, shown: str, group: str | None, option: str) -> list[ConfigProblem]:
    """Every problem Hydra would report unlocated in ``path`` (``group`` None: the primary)."""
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return []  # Hydra reports the syntax error with its file and line
    if group is None:
        prefix = ""
    else:
        what = f"{group} option '{option}'"
        if node is None:
            return [
                ConfigProblem(
                    shown,
                    None,
                    f"the option file is empty, so {what} sets nothing",
                    "write its keys back, choose another option "
                    f"(available in '{group}': {', '.join(_options(path.parent))}), "
                    "or write '{}' if it is meant to set nothing",
                )
            ]
        prefix = package_of(path, group)
        if not isinstance(node, yaml.MappingNode) and not _PACKAGE_HEADER.search(text):
            return [_not_mapping(node, shown, "option file", f"write {what} as 'key: value' lines")]
    problems = _defaults(node, shown) if group is not None else []
    problems += [_null_key(path_, shown, line) for path_, line in _null_keys(node, prefix)]
    problems += [
        _bad_interpolation(path_, shown, line, value, reason)
        for path_, line, value, reason in _interpolations(node, prefix)
    ]
    return problems


def _options(group_dir: Path) -> list[str]:
    return sorted(p.stem for p in group_dir.glob("*.yaml"))


def _not_mapping(node: yaml.Node, shown: str, holder: str, fix: str) -> ConfigProblem:
    article = "an" if holder[0] in "aeiou" else "a"
    got = _noun(_construct(node))
    return ConfigProblem(
        f"{shown}:{node.start_mark.line + 1}",
        None,
        f"the {holder} holds {got}, but {article} {holder} is a mapping of keys",
        fix,
    )


def _defaults(node: yaml.Node | None, shown: str) -> list[ConfigProblem]:
    """The ``defaults:`` list is a list of option names or ``group: option`` entries."""
    entry = _item(node, "defaults")
    if entry is None:
        return []
    key, value = entry
    where = f"{shown}:{key.start_mark.line + 1}"
    if not isinstance(value, yaml.SequenceNode):
        got = _noun(_construct(value))
        what = f"the defaults list must be a list, not {got}"
        return [ConfigProblem("defaults", where, what, _DEFAULTS_FIX)]
    problems = []
    for index, item in enumerate(value.value):
        loaded = _construct(item)
        if not _valid_default(loaded):
            problems.append(
                ConfigProblem(
                    f"defaults.{index}",
                    f"{shown}:{item.start_mark.line + 1}",
                    "a defaults entry must be 'group: option' (an option name), "
                    f"not {_flow(_single_value(loaded))}",
                    "write '- group: option', '- group: [option, ...]' for a list, '- _self_', "
                    "or '- group: null' for no option",
                )
            )
    return problems


def _valid_default(entry: Any) -> bool:  # noqa: ANN401 - raw YAML data
    if isinstance(entry, str):
        return True
    if not isinstance(entry, dict):
        return False
    groups = {k: v for k, v in entry.items() if k != "optional"}
    if len(groups) != 1 or not isinstance(next(iter(groups)), str):
        return False
    value = next(iter(groups.values()))
    names = isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value is None or isinstance(value, str) or names


def _single_value(entry: Any) -> Any:  # noqa: ANN401 - raw YAML data
    """The option of a one-key entry (``model: 3`` -> 3), else the entry itself."""
    return next(iter(entry.values())) if isinstance(entry, dict) and len(entry) == 1 else entry


def _item(node: yaml.Node | None, name: str) -> tuple[yaml.Node, yaml.Node] | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next(((k, v) for k, v in node.value if k.tag != _NULL and k.value == name), None)


def _null_keys(node: yaml.Node | None, prefix: str) -> Iterator[tuple[str, int]]:
    """(YAML path, line) of every key that reads as null (``~:``, ``null:``)."""
    for path, key, _value in _walk(node, prefix):
        if key is not None and key.tag == _NULL:
            yield path, key.start_mark.line + 1


def _interpolations(node: yaml.Node | None, prefix: str) -> Iterator[tuple[str, int, str, str]]:
    """(YAML path, line, value, reason) of every ``${...}`` that OmegaConf cannot parse."""
    from omegaconf.errors import GrammarParseError
    from omegaconf.grammar_parser import parse

    for path, _key, value in _walk(node, prefix):
        if not isinstance(value, yaml.ScalarNode) or "${" not in str(value.value):
            continue
        try:
            parse(str(value.value))
        except GrammarParseError as exc:
            reason = re.sub(r" expecting \{.*?\}", "", str(exc)).replace("'<EOF>'", "the end")
            yield path, value.start_mark.line + 1, str(value.value), reason


def _walk(
    node: yaml.Node | None, prefix: str, *, top: bool = True
) -> Iterator[tuple[str, yaml.Node | None, yaml.Node]]:
    """(dotted path, key node or None for a list item, value node) of every node below.

    The file's own ``defaults:`` list is Hydra's, not config: it is skipped.
    """
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if top and key.tag != _NULL and key.value == "defaults":
                continue
            name = "~" if key.tag == _NULL else str(key.value)
            path = f"{prefix}.{name}" if prefix else name
            yield path, key, value
            yield from _walk(value, path, top=False)
    elif isinstance(node, yaml.SequenceNode):
        for index, value in enumerate(node.value):
            path = f"{prefix}.{index}" if prefix else str(index)
            yield path, None, value
            yield from _walk(value, path, top=False)


def _null_key(path: str, shown: str, line: int) -> ConfigProblem:
    return ConfigProblem(
        path,
        f"{shown}:{line}",
        "a key reads as null ('~'), not a name",
        "quote the key ('~': ...) or give it a name",
    )


def _bad_interpolation(path: str, shown: str, line: int, value: str, reason: str) -> ConfigProblem:
    return ConfigProblem(
        path,
        f"{shown}:{line}",
        f"the interpolation in {value!r} does not parse: {reason}",
        "close each '${' with '}', or escape a literal one as '\\${'",
    )


def _construct(node: yaml.Node) -> Any:  # noqa: ANN401 - raw YAML data
    return yaml.load(yaml.serialize(node), Loader=_Loader)  # noqa: S506 - a safe loader


def _noun(value: Any) -> str:  # noqa: ANN401 - raw YAML data
    if value is None:
        return "null"
    return next((noun for kind, noun in _NOUNS.items() if isinstance(value, kind)), "a value")


def _flow(value: Any) -> str:  # noqa: ANN401 - raw YAML data
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("\n...")
