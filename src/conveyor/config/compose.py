"""Compose ``conf/`` with Hydra's public API, exactly as ``dvc exp run`` does with hydra enabled.

DVC (``dvc/utils/hydra.py:compose_and_dump``) runs
``initialize_config_dir(conf, version_base=None)``, ``compose(config_name, overrides)`` and
``OmegaConf.resolve``, then writes ``OmegaConf.to_yaml``. We do the same, so the params.yaml we
write is byte-for-byte the one DVC writes, and ``dvc exp run -S model.params.max_depth=6`` leaves
no spurious diff.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.errors import OverrideError, SpecError

CONFIG_DIR = "conf"
CONFIG_NAME = "config"
OVERRIDE_SYNTAX = "key=value, group=option, +new.key=value, ~key (Hydra's override grammar)"


@dataclass(frozen=True)
class ComposedConfig:
    """What Hydra composed: the resolved plain data, its params.yaml text, and group choices."""

    data: dict[str, Any]
    params_yaml: str
    choices: dict[str, str]
    overrides: tuple[str, ...]


def group_options(conf_dir: Path, group: str) -> list[str]:
    """The options of a config group: ``conf/<group>/*.yaml`` stems, sorted."""
    return sorted(p.stem for p in (conf_dir / group).glob("*.yaml"))


def compose(conf_dir: Path, overrides: list[str] | tuple[str, ...] = ()) -> ComposedConfig:
    """Compose ``conf_dir/config.yaml`` with ``overrides``, mapping Hydra errors to SpecErrors."""
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
    overrides = list(overrides)
    try:
        with initialize_config_dir(str(conf_dir.resolve()), version_base=None):
            cfg = hydra_compose(CONFIG_NAME, overrides=overrides)
        OmegaConf.resolve(cfg)
        text = OmegaConf.to_yaml(cfg)
        data = OmegaConf.to_container(cfg)
    except OverrideParseException as exc:
        lines = str(exc).strip().splitlines()
        bad = next((o for o in overrides if f"'{o}'" in lines[0]), None)
        raise OverrideError(
            f"cannot parse the override: {' '.join(lines[1:2]) or lines[0]}",
            where=f"override '{bad}'" if bad is not None else "command line",
            fix=f"write overrides as {OVERRIDE_SYNTAX}",
        ) from exc
    except MissingConfigException as exc:
        raise _missing_option(conf_dir, exc.missing_cfg_file, overrides) from exc
    except ConfigCompositionException as exc:
        raise _composition_error(conf_dir, overrides, exc) from exc
    except YAMLError as exc:
        raise _yaml_error(conf_dir, exc) from exc
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or "(config)"
        raise SpecError(
            f"cannot resolve the configuration: {_first_line(exc)}",
            where=key,
            fix="check the ${...} interpolations: each must name an existing key",
        ) from exc
    if not isinstance(data, dict):  # a primary config that is a list, say
        raise SpecError(f"{CONFIG_DIR}/{CONFIG_NAME}.yaml must be a mapping of keys")
    return ComposedConfig(data, text, _choices(conf_dir, overrides), tuple(overrides))


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
    for override in overrides:
        key = override.lstrip("+~").split("=", 1)[0]
        if f"Could not override '{key}'" not in message and f"override {override}" not in message:
            continue
        if "No match in the defaults list" in message:
            groups = sorted(p.name for p in conf_dir.iterdir() if p.is_dir())
            close = difflib.get_close_matches(key, groups, n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
            return OverrideError(
                f"'{key}' is not a config group",
                where=f"override '{override}'",
                fix=f"{hint}config groups: {', '.join(groups)}",
            )
        known = _known_keys(conf_dir, [o for o in overrides if o != override])
        if "." not in key:
            known += [p.name for p in conf_dir.iterdir() if p.is_dir()]
        close = difflib.get_close_matches(key, known, n=3, cutoff=0.75)
        hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
        return OverrideError(
            f"the composed config has no key '{key}'",
            where=f"override '{override}'",
            fix=f"{hint}to add a new key write '+{override}'",
        )
    return SpecError(f"cannot compose the configuration: {_first_line(exc)}", where=CONFIG_DIR)


def _known_keys(conf_dir: Path, overrides: list[str]) -> list[str]:
    try:
        composed = compose(conf_dir, overrides)
    except SpecError:
        return []
    return list(flatten(composed.data))


def _yaml_error(conf_dir: Path, exc: Exception) -> SpecError:
    mark = getattr(exc, "problem_mark", None)
    where = CONFIG_DIR
    if mark is not None:
        name = Path(mark.name)
        shown = name.relative_to(conf_dir.parent) if name.is_relative_to(conf_dir.parent) else name
        where = f"{shown}:{mark.line + 1}"
    problem = getattr(exc, "problem", None) or _first_line(exc)
    return SpecError(
        f"invalid YAML: {problem}",
        where=where,
        fix="fix the YAML syntax at that line (indentation, a missing ':' or quote)",
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


def _choices(conf_dir: Path, overrides: list[str]) -> dict[str, str]:
    """The option chosen for each config group: the primary defaults list, then overrides.

    Read from the files rather than from Hydra's ``hydra.runtime.choices``, which would make
    Hydra compose its own dozen ``hydra/*`` configs and double the cost of every compile.
    """
    import yaml

    primary = yaml.safe_load((conf_dir / f"{CONFIG_NAME}.yaml").read_text(encoding="utf-8"))
    choices: dict[str, str] = {}
    for entry in (primary or {}).get("defaults") or []:
        if isinstance(entry, dict) and entry:
            key, option = next(iter(entry.items()))
            group = str(key).removeprefix("override ").split("@")[0].strip()
            if option is not None:
                choices[group] = str(option)
    for override in overrides:
        key, _, option = override.partition("=")
        group = key.lstrip("+~").split("@")[0]
        if (conf_dir / group).is_dir():
            if key.startswith("~"):
                choices.pop(group, None)
            else:
                choices[group] = option
    return choices
