"""``conveyor config schema``: JSON Schemas of conf/ files, for editors (yaml-language-server).

Hydra group files are fragments: ``conf/model/xgboost.yaml`` holds what lands under ``model:``,
and each ``conf/deploy/<option>.yaml`` adds named targets under ``deploy:``. So we write one
schema per group plus one for ``conf/config.yaml``, all generated from the pydantic spec models.
A component's ``params:`` are typed by its ``kind:`` (``if kind == 'xgboost' then params is
XGBoostParams``) from the installed plugins, so an editor completes ``max_depth`` and flags
``max_dept``. Files with a ``# @package`` header that moves their keys elsewhere are not covered.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from conveyor import _atomic
from conveyor.config.compose import CONFIG_DIR, CONFIG_NAME, group_options
from conveyor.errors import PluginError
from conveyor.plugins import Plugins
from conveyor.spec import TASKS, ProjectSpec, Task

if TYPE_CHECKING:
    from pydantic import BaseModel

SCHEMA_DIR = Path(".conveyor") / "schemas"
GROUPS: dict[str, str] = {
    "data": "DataSpec",
    "features": "FeaturesSpec",
    "model": "ModelSpec",
    "evaluate": "EvaluateSpec",
    "deploy": "",  # named targets: built in _group_schema
    "monitor": "MonitorSpec",
    "executor": "ExecutorSpec",
    "tracking": "TrackingSpec",
}
"""Config group -> the spec model its option files hold."""
_COMPONENT_DEFS = {
    "ComponentSpec": "source",
    "TransformSpec": "transform",
    "DeployTargetSpec": "target",
    "ModelSpec": "model",
    "ExecutorSpec": "executor",
}
_NAME = r"^(?!defaults$)[a-z][a-z0-9_]*$"  # 'defaults' is Hydra's, not a target or source name
_INTERPOLATION = {"type": "string", "pattern": r"^\$\{.+\}$", "description": "an interpolation"}
_DEFAULTS_ITEM: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "description": "'_self_', or a config to merge"},
        {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "additionalProperties": {
                "anyOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string"}},
                    {"type": "null"},
                ]
            },
        },
    ]
}


def write_schemas(
    root: Path, out_dir: Path | None = None, plugins: Plugins | None = None
) -> dict[str, list[str]]:
    """Write ``config.json`` and one ``<group>.json`` per config group into ``out_dir``.

    Args:
        root: The project root (holding ``conf/``).
        out_dir: Where to write; default ``<root>/.conveyor/schemas``.
        plugins: The installed components (discovered when not given).

    Returns:
        VS Code's ``yaml.schemas`` setting: schema path (relative to ``root`` when inside it)
        -> the conf files it describes, e.g. ``{".conveyor/schemas/model.json":
        ["conf/model/*.yaml"]}``.
    """
    out_dir = out_dir if out_dir is not None else root / SCHEMA_DIR
    mapping: dict[str, list[str]] = {}
    for name, schema in build_schemas(root, plugins or Plugins.discover()).items():
        path = out_dir / f"{name}.json"
        _atomic.write_text(
            path, json.dumps(schema, indent=2, sort_keys=True, allow_nan=False) + "\n"
        )
        glob = (
            f"{CONFIG_DIR}/{CONFIG_NAME}.yaml"
            if name == "config"
            else f"{CONFIG_DIR}/{name}/*.yaml"
        )
        mapping[_relative(path, root)] = [glob]
    return dict(sorted(mapping.items()))


def build_schemas(root: Path, plugins: Plugins) -> dict[str, dict[str, Any]]:
    """Schema by name (``config`` and each group), as JSON-ready dicts."""
    base = ProjectSpec.model_json_schema(by_alias=True)
    defs: dict[str, Any] = base.pop("$defs")
    task = _task(root / CONFIG_DIR / f"{CONFIG_NAME}.yaml")
    for def_name, kind in _COMPONENT_DEFS.items():
        _type_component(defs, def_name, kind, plugins, task)
    metric = {"type": "string", "enum": plugins["metric"].names()}
    evaluate = defs["EvaluateSpec"]["properties"]
    evaluate["metrics"]["items"] = metric
    evaluate["primary"] = {"anyOf": [metric, {"type": "null"}], "default": None}
    defs["DataSpec"]["properties"]["sources"]["additionalProperties"] = False
    drift_tests = ["auto", *plugins["drift_test"].names()]
    for def_name in ("ColumnTestSpec", "DriftSpec"):  # monitor.drift and each column's test
        defs[def_name]["properties"]["method"] |= {"enum": drift_tests}
    for node in (defs, base):
        _clean(node)
    schemas = {"config": _config_schema(root / CONFIG_DIR, base, defs)}
    for group, def_name in GROUPS.items():
        body = copy.deepcopy(defs[def_name]) if def_name else _targets()
        body.setdefault("properties", {})["defaults"] = _defaults_list()
        schemas[group] = _document(body, defs, f"conf/{group}/*.yaml: what lands under '{group}:'")
    return schemas


def _type_component(
    defs: dict[str, Any], def_name: str, kind: str, plugins: Plugins, task: Task | None
) -> None:
    """Enumerate the installed kinds; type ``params`` per kind with if/then.

    A component whose params differ by task (a forest's classifier/regressor criteria) gets
    those of the project's ``task``, or any of them when the task is not known.
    """
    registry = plugins[kind]
    names = registry.names()
    node = defs[def_name]
    choice: dict[str, Any] = {"type": "string", "enum": names}
    node["properties"]["kind"] = (
        {"anyOf": [choice, {"type": "null"}], "default": None}
        if def_name == "ModelSpec"
        else choice
    )
    branches = []
    for name in names:
        try:
            cls = registry.load(name, where=f"{kind} '{name}'")
        except PluginError:
            continue  # a broken plugin keeps free-form params; `conveyor plugins` reports it
        models: list[type[BaseModel]] = []
        for each in [task] if task in cls.tasks else cls.tasks:
            model = cls.params_model(each)
            if model not in models:
                models.append(model)
        refs = [_add_model(defs, f"{kind}.{name}", m) for m in models]
        params = refs[0] if len(refs) == 1 else {"anyOf": refs}
        branches.append(
            {
                "if": {"properties": {"kind": {"const": name}}, "required": ["kind"]},
                "then": {"properties": {"params": params}},
            }
        )
    if branches:
        node["allOf"] = branches


def _task(primary: Path) -> Task | None:
    """``project.task`` as conf/config.yaml writes it (no composition), if it does."""
    try:
        loaded = yaml.safe_load(primary.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    project = loaded.get("project") if isinstance(loaded, dict) else None
    task = project.get("task") if isinstance(project, dict) else None
    return next((t for t in TASKS if t == task), None)


def _add_model(defs: dict[str, Any], prefix: str, model: type[BaseModel]) -> dict[str, str]:
    """Put ``model``'s schema (and its nested models) into ``defs`` under prefixed names."""
    template = f"#/$defs/{prefix}.{{model}}"
    schema = model.model_json_schema(ref_template=template)
    for nested, body in schema.pop("$defs", {}).items():
        defs[f"{prefix}.{nested}"] = body
    defs[f"{prefix}.{model.__name__}"] = schema
    return {"$ref": f"#/$defs/{prefix}.{model.__name__}"}


def _clean(node: Any) -> None:  # noqa: ANN401 - any JSON value
    """Drop defaults JSON cannot hold (NaN); accept ``${...}`` for every scalar."""
    if isinstance(node, list):
        for item in node:
            _clean(item)
        return
    if not isinstance(node, dict):
        return
    default = node.get("default")
    if isinstance(default, float) and not math.isfinite(default):
        del node["default"]
    for value in node.values():
        _clean(value)
    if node.get("type") in ("integer", "number", "boolean"):
        original = {k: node.pop(k) for k in list(node) if k not in ("title", "description")}
        node["anyOf"] = [original, _INTERPOLATION]


def _targets() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Deploy targets by name, each {kind, params}: stage 'deploy-<name>'",
        "patternProperties": {_NAME: {"$ref": "#/$defs/DeployTargetSpec"}},
        "additionalProperties": False,
    }


def _defaults_list() -> dict[str, Any]:
    return {
        "type": "array",
        "description": "Hydra's defaults list: '_self_', other configs, group options",
        "items": _DEFAULTS_ITEM,
    }


def _config_schema(conf_dir: Path, base: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """conf/config.yaml: the whole config, every key optional (groups supply the rest)."""
    body = copy.deepcopy(base)
    options = {}
    for group in GROUPS:
        names = group_options(conf_dir, group) if (conf_dir / group).is_dir() else []
        option: dict[str, Any] = {"anyOf": [{"type": "string", "enum": names}, {"type": "string"}]}
        if group == "deploy":
            option = {"anyOf": [{"type": "array", "items": option}, option, {"type": "null"}]}
        options[group] = option
    item = copy.deepcopy(_DEFAULTS_ITEM)
    item["anyOf"][1]["properties"] = options
    defaults = _defaults_list() | {"items": item}
    body["properties"] |= {"defaults": defaults, "hydra": {"type": "object"}}
    document = _document(body, copy.deepcopy(defs), "conf/config.yaml: the primary config")
    _drop_required(document)  # any key may come from a group file instead
    return document


def _drop_required(node: Any) -> None:  # noqa: ANN401 - any JSON value
    if isinstance(node, dict):
        node.pop("required", None)
        for key, value in node.items():
            if key != "if":  # keep 'required: [kind]' of the if/then branches
                _drop_required(value)
    elif isinstance(node, list):
        for item in node:
            _drop_required(item)


def _document(body: dict[str, Any], defs: dict[str, Any], title: str) -> dict[str, Any]:
    """A standalone schema: ``body`` with only the ``$defs`` it reaches."""
    body["title"] = title
    document = {"$schema": "https://json-schema.org/draft/2020-12/schema", **body}
    reached: dict[str, Any] = {}
    pending = _refs(body)
    while pending:
        name = pending.pop()
        if name not in reached:
            reached[name] = defs[name]
            pending |= _refs(defs[name])
    if reached:
        document["$defs"] = reached
    return document


def _refs(node: Any) -> set[str]:  # noqa: ANN401 - any JSON value
    if isinstance(node, dict):
        found = {str(node["$ref"]).removeprefix("#/$defs/")} if "$ref" in node else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*map(_refs, node)) if node else set()
    return set()


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()
