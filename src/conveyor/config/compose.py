"""Compose ``conf/`` with Hydra's public API, exactly as ``dvc exp run`` does with hydra enabled.

DVC (``dvc/utils/hydra.py:compose_and_dump``) runs
``initialize_config_dir(conf, version_base=None)``, ``compose(config_name, overrides)`` and
``OmegaConf.resolve``, then writes ``OmegaConf.to_yaml``. We do the same, so the params.yaml we
write is byte-for-byte the one DVC writes, and ``dvc exp run -S model.params.max_depth=6`` leaves
no spurious diff.
"""

from __future__ import annotations

import copy
import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.config.limits import check_conf_dir
from conveyor.config.resolve import unresolved
from conveyor.config.shape import CONFIG_NAME as CONFIG_NAME  # re-exported: the name users import
from conveyor.config.shape import Choice as Choice
from conveyor.config.shape import defaults_problems, file_problems
from conveyor.errors import ConfigProblem, OverrideError, SpecError

CONFIG_DIR = "conf"
OVERRIDE_SYNTAX = "key=value, group=option, +new.key=value, ~key (Hydra's override grammar)"


@dataclass(frozen=True)
class ComposedConfig:
    """What Hydra composed: the resolved plain data, its params.yaml text, and group choices."""

    data: dict[str, Any]
    params_yaml: str
    choices: dict[str, Choice]
    overrides: tuple[str, ...]


def group_options(conf_dir: Path, group: str) -> list[str]:
    """The options of a config group: ``conf/<group>/*.yaml`` stems, sorted."""
    return sorted(p.stem for p in (conf_dir / group).glob("*.yaml"))


def compose(conf_dir: Path, overrides: list[str] | tuple[str, ...] = ()) -> ComposedConfig:
    """Compose ``conf_dir/config.yaml`` with ``overrides``, mapping Hydra errors to SpecErrors."""
    return compose_keeping(conf_dir, overrides, None)


def compose_keeping(
    conf_dir: Path, overrides: list[str] | tuple[str, ...], keep: list[Any] | None
) -> ComposedConfig:
    """:func:`compose`; with a ``keep`` list, also append Hydra's config before it is resolved.

    :class:`conveyor.config.recompose.Composer` applies value overrides to that copy.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import (
        ConfigCompositionException,
        MissingConfigException,
        OverrideParseException,
    )
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException
    from yaml import YAMLError

    primary = conf_dir / f"{CONFIG_NAME}.yaml"
    if not primary.is_file():
        raise SpecError(
            f"no {CONFIG_DIR}/{CONFIG_NAME}.yaml in '{conf_dir.parent}'",
            fix="run conveyor from the project root, or create one with 'conveyor init'",
        )
    check_conf_dir(conf_dir)  # before anything parses conf/: an alias bomb must not expand
    shown = f"{CONFIG_DIR}/{CONFIG_NAME}.yaml"
    if problems := defaults_problems(primary, shown):  # choices are read from them
        raise SpecError.from_problems(problems)
    overrides = list(overrides)
    _check_overrides(conf_dir, overrides)
    choices = _choices(conf_dir, overrides)
    _check_files(conf_dir, choices)
    cfg = None
    try:
        with initialize_config_dir(str(conf_dir.resolve()), version_base=None):
            cfg = hydra_compose(CONFIG_NAME, overrides=overrides)
        if keep is not None:
            keep.append(copy.deepcopy(cfg))
        OmegaConf.resolve(cfg)
        text = OmegaConf.to_yaml(cfg)
        data = OmegaConf.to_container(cfg)
    except OverrideParseException as exc:  # _check_overrides parses each one first
        raise OverrideError(
            f"cannot parse the overrides: {_parse_reason(exc, '')}",
            where="command line",
            fix=f"write overrides as {OVERRIDE_SYNTAX}",
        ) from exc
    except MissingConfigException as exc:
        raise _missing_option(conf_dir, exc.missing_cfg_file, overrides) from exc
    except ConfigCompositionException as exc:
        raise _composition_error(conf_dir, overrides, exc) from exc
    except YAMLError as exc:
        raise _yaml_error(conf_dir, exc) from exc
    except OmegaConfBaseException as exc:
        raise unresolved(conf_dir, cfg, choices, tuple(overrides), exc) from exc
    except ValueError as exc:  # Hydra's defaults-list checks; the shape checks catch them first
        raise SpecError(
            f"cannot compose the configuration: {_first_line(exc)}", where=CONFIG_DIR
        ) from exc
    if not isinstance(data, dict):  # a primary config that is a list, say
        raise SpecError(f"{CONFIG_DIR}/{CONFIG_NAME}.yaml must be a mapping of keys")
    plain = {str(key): value for key, value in data.items()}
    return ComposedConfig(plain, text, choices, tuple(overrides))


def _check_files(conf_dir: Path, choices: dict[str, Choice]) -> None:
    """Every file Hydra will read, checked for what Hydra reports unlocated or not at all."""
    root = conf_dir.parent
    primary = f"{CONFIG_NAME}.yaml"
    problems = file_problems(conf_dir / primary, f"{CONFIG_DIR}/{primary}", None, CONFIG_NAME)
    for group, chosen in choices.items():
        for option in (chosen,) if isinstance(chosen, str) else chosen:
            path = conf_dir / group / f"{option}.yaml"
            if path.is_file():
                shown = path.relative_to(root).as_posix()
                problems += file_problems(path, shown, group, option)
    if problems:
        raise SpecError.from_problems(problems)


def _check_overrides(conf_dir: Path, overrides: list[str]) -> None:
    """Parse each override on its own, so every malformed one is named, and all at once."""
    if not overrides:
        return
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser = OverridesParser.create()
    groups = _groups(conf_dir)
    lists = {g for g, c in _choices(conf_dir, []).items() if isinstance(c, tuple)}
    problems: list[ConfigProblem] = []
    for text in overrides:
        where = f"override '{text}'"
        try:
            (parsed,) = parser.parse_overrides([text])
        except OverrideParseException as exc:
            problems.append(
                ConfigProblem(
                    where,
                    None,
                    f"cannot parse the override: {_parse_reason(exc, text)}",
                    _syntax_fix(text),
                )
            )
            continue
        group = parsed.key_or_group
        if not group:
            problems.append(
                ConfigProblem(where, None, "the override names no key", _syntax_fix(text))
            )
        elif (
            group in groups
            and not parsed.is_delete()
            and not isinstance(parsed.value(), str)
            and not (group in lists and _names(parsed.value()))
        ):
            options = ", ".join(group_options(conf_dir, group)) or "(none)"
            problems.append(
                ConfigProblem(
                    where,
                    None,
                    f"config group '{group}' takes one option name, not '{text.split('=', 1)[1]}'",
                    f"write {group}=<option>; available options in '{group}': {options}",
                )
            )
    if problems:
        raise OverrideError.from_problems(problems)


def _names(value: object) -> bool:
    """Whether an override's value is a list of option names (``deploy=[rest,batch]``)."""
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _parse_reason(exc: Exception, text: str) -> str:
    """Hydra's parser message without its banner, link and ANTLR caret line."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    if lines and lines[0].startswith("LexerNoViableAltException"):
        caret = next((line for line in lines if line.strip() == "^"), None)
        column = caret.index("^") - lines[0].index(text) if caret and text in lines[0] else -1
        if 0 <= column < len(text):
            return f"unexpected {text[column]!r} at character {column + 1}"
    kept = [
        line
        for line in lines
        if not line.startswith(("Error parsing override", "See https://", "LexerNoViableAlt"))
        and line.strip() != "^"
    ]
    reason = re.sub(r" expecting (\{.*?\}|\S+)", "", " ".join(kept))  # ANTLR token names
    return reason.replace("EQUAL", "'='").replace("at '<EOF>'", "at the end") or "invalid syntax"


def _syntax_fix(text: str) -> str:
    key = text.split("=", 1)[0]
    if "=" not in text and key and not key.startswith("~"):
        return f"did you mean '{key}=<value>'? (or '~{key}' to delete the key)"
    return f"write overrides as {OVERRIDE_SYNTAX}; quote values with spaces or brackets"


def _groups(conf_dir: Path) -> list[str]:
    return sorted(p.name for p in conf_dir.iterdir() if p.is_dir())


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _missing_option(conf_dir: Path, missing: str | None, overrides: list[str]) -> SpecError:
    group, _, option = (missing or "").rpartition("/")
    options = group_options(conf_dir, group) if group else []
    close = difflib.get_close_matches(option, options, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
    fix = f"{hint}available options in '{group}': {', '.join(options) or '(none)'}"
    from_override = next((o for o in overrides if o.lstrip("+~").split("=")[0] == group), None)
    if from_override is not None:
        return OverrideError(
            f"config group '{group}' has no option '{option}'",
            where=f"override '{from_override}'",
            fix=fix,
        )
    if not group:
        return SpecError(f"cannot find config '{missing}'", where=f"{CONFIG_DIR}/")
    return SpecError(
        f"config group '{group}' has no option '{option}' (no {CONFIG_DIR}/{group}/{option}.yaml)",
        where=f"defaults.{group} ({CONFIG_DIR}/{CONFIG_NAME}.yaml)",
        fix=fix,
    )


def _composition_error(conf_dir: Path, overrides: list[str], exc: Exception) -> SpecError:
    message = str(exc)
    if unchosen := re.match(r"You must specify '([^']+)'", message):  # '- group: ???' in defaults
        group = unchosen.group(1)
        return SpecError(
            f"config group '{group}' has no option chosen ('???')",
            where=f"defaults.{group} ({CONFIG_DIR}/{CONFIG_NAME}.yaml)",
            fix=f"choose one in the defaults list or on the command line ({group}=<option>); "
            f"available options in '{group}': {', '.join(group_options(conf_dir, group))}",
        )
    for override in overrides:
        key = override.lstrip("+~").split("=", 1)[0]
        chosen_twice = (f"{key} appears more than once", f"Multiple values for {key}.")
        if not any(s in message for s in (f"'{key}'", f"override {override}", *chosen_twice)):
            continue
        where, plain = f"override '{override}'", override.lstrip("+")
        if "No match in the defaults list" in message:
            groups = _groups(conf_dir)
            close = difflib.get_close_matches(key, groups, n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
            return OverrideError(
                f"'{key}' is not a config group",
                where=where,
                fix=f"{hint}config groups: {', '.join(groups)}",
            )
        if "An item is already at" in message:
            return OverrideError(
                f"'{key}' already exists, so '+' cannot add it",
                where=where,
                fix=f"to change it write '{plain}'",
            )
        if any(s in message for s in chosen_twice):  # '+group=option' for a chosen group
            return OverrideError(
                f"config group '{key}' already has an option in {CONFIG_DIR}/{CONFIG_NAME}.yaml",
                where=where,
                fix=f"to switch to another option write '{plain}'",
            )
        missing = getattr(exc.__cause__, "full_key", None) or key  # {a: 1} names 'a' only here
        hint = _did_you_mean(
            missing, _known_keys(conf_dir, [o for o in overrides if o != override])
        )
        if override.startswith("~"):
            return OverrideError(
                f"cannot delete '{key}': the composed config has no such key",
                where=where,
                fix=f"{hint}check the key's dotted path (see params.yaml)",
            )
        add = f"+{override}" if missing == key else f"+{missing}=<value>"
        return OverrideError(
            f"the composed config has no key '{missing}'",
            where=where,
            fix=f"{hint}to add a new key write '{add}'",
        )
    cause = exc.__cause__ if str(exc).strip() == "" and exc.__cause__ is not None else exc
    return SpecError(f"cannot compose the configuration: {_first_line(cause)}", where=CONFIG_DIR)


def _known_keys(conf_dir: Path, overrides: list[str]) -> set[str]:
    """Every dotted path of the composed config, mappings included (``model``, ``model.params``)."""
    try:
        composed = compose(conf_dir, overrides)
    except SpecError:
        return set()
    return {
        ".".join(leaf.split(".")[:end])
        for leaf in flatten(composed.data)
        for end in range(1, leaf.count(".") + 2)
    }


def _did_you_mean(path: str, known: set[str]) -> str:
    """Suggest siblings of ``path`` spelled like it: 'model.params.max_depth' for '...max_dept'."""
    parent, _, leaf = path.rpartition(".")
    siblings = [k.rpartition(".")[2] for k in known if k.rpartition(".")[0] == parent]
    close = difflib.get_close_matches(leaf, siblings, n=3, cutoff=0.6)
    named = [f"{parent}.{c}" if parent else c for c in close]
    return f"did you mean {', '.join(map(repr, named))}? " if named else ""


def _yaml_error(conf_dir: Path, exc: Exception) -> SpecError:
    mark = getattr(exc, "problem_mark", None)
    where = CONFIG_DIR
    if mark is not None:
        name = Path(mark.name)
        shown = name.relative_to(conf_dir.parent) if name.is_relative_to(conf_dir.parent) else name
        where = f"{shown}:{mark.line + 1}"
    problem = getattr(exc, "problem", None) or _first_line(exc)
    context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and start is not None and mark is not None and start.line != mark.line:
        problem += f" ({context} that starts at line {start.line + 1})"  # an unclosed '[' or '"'
    return SpecError(
        f"invalid YAML: {problem}",
        where=where,
        fix="fix the YAML syntax at that line or just above it "
        "(indentation, a tab, a missing ':', quote or bracket)",
    )


def flatten(data: object, prefix: str = "") -> dict[str, object]:
    """Leaf values by dotted path; list items are addressed by index (``a.0.b``)."""
    items: dict[str, object] = {}
    if isinstance(data, dict) and data:
        for key, value in data.items():
            items.update(flatten(value, f"{prefix}{key}."))
    elif isinstance(data, list) and data:
        for index, value in enumerate(data):
            items.update(flatten(value, f"{prefix}{index}."))
    else:
        items[prefix.rstrip(".")] = data
    return items


def _choices(conf_dir: Path, overrides: list[str]) -> dict[str, Choice]:
    """The option chosen for each config group: the primary defaults list, then overrides.

    A group selected as a list (``- deploy: [rest, batch]``, ``deploy=[rest]``) maps to its
    options in order.

    Read from the files rather than from Hydra's ``hydra.runtime.choices``, which would make
    Hydra compose its own dozen ``hydra/*`` configs and double the cost of every compile.
    """
    import yaml

    try:
        primary = yaml.safe_load((conf_dir / f"{CONFIG_NAME}.yaml").read_text(encoding="utf-8"))
    except yaml.YAMLError:
        primary = None  # Hydra reports the syntax error with its file and line
    choices: dict[str, Choice] = {}
    for entry in (primary or {}).get("defaults") or []:
        if isinstance(entry, dict) and entry:
            key, option = next(iter(entry.items()))
            group = str(key).removeprefix("override ").split("@")[0].strip()
            if isinstance(option, list):
                choices[group] = tuple(str(item) for item in option)
            elif option is not None:
                choices[group] = str(option)
    for override in overrides:
        key, _, option = override.partition("=")
        group = key.lstrip("+~").split("@")[0]
        if (conf_dir / group).is_dir():
            if key.startswith("~"):
                choices.pop(group, None)
            elif option.strip().startswith("["):
                names = option.strip().removeprefix("[").removesuffix("]").split(",")
                choices[group] = tuple(n.strip().strip("'\"") for n in names if n.strip())
            else:
                choices[group] = option
    return choices
