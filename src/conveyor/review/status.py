"""``conveyor status``: which stages ``dvc repro`` will run, and why each one is stale.

``dvc status`` says *that* a stage changed ("changed deps: params.yaml: model: modified"); we
say *what* changed (``model.params.max_depth: 4 -> 6``, old value from dvc.lock, new from
params.yaml), and add the stages it does not list but ``dvc repro`` will rerun: those
downstream of a stale stage. DVC is imported in-process (about a second), only here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from conveyor.compiler.ir import Pipeline, Stage, covers
from conveyor.compiler.render import DVC_YAML, PARAMS_YAML
from conveyor.errors import ConveyorError, StatusError
from conveyor.review.rerun import Reason, Rerun

if TYPE_CHECKING:
    from pathlib import Path

DVC_LOCK = "dvc.lock"
_UNSET = object()


@dataclass(frozen=True)
class Status:
    """The stale stages in run order, and warnings about the pipeline files themselves."""

    stages: tuple[Rerun, ...]
    warnings: tuple[str, ...] = ()
    dvc_listed: tuple[str, ...] = ()
    """What ``dvc status`` itself lists (the others are stale through an upstream stage)."""

    @property
    def up_to_date(self) -> bool:
        """Whether ``dvc repro`` has nothing to run."""
        return not self.stages

    def to_dict(self) -> dict[str, Any]:
        """The status as ``--json`` prints it."""
        return {
            "up_to_date": self.up_to_date,
            "stale": [
                {
                    "stage": s.stage,
                    "reasons": [{"kind": r.kind, "text": r.text, **r.detail} for r in s.reasons],
                }
                for s in self.stages
            ],
            "dvc_status": list(self.dvc_listed),
            "warnings": list(self.warnings),
        }

    def render(self) -> str:
        """Plain text: each stale stage, then its reasons indented."""
        if self.up_to_date:
            return "Pipeline is up to date.\n"
        count = len(self.stages)
        lines = [f"{count} stage{'s' if count > 1 else ''} will run on 'dvc repro':"]
        for stage in self.stages:
            lines.append(f"{stage.stage}")
            lines += [f"  - {reason}" for reason in stage.reasons]
        return "\n".join(lines) + "\n"


def pipeline_status(root: Path) -> Status:
    """Why each stage of ``root``'s dvc.yaml is stale, per ``dvc status`` and dvc.lock.

    Raises:
        StatusError: ``root`` is not a DVC project, has no dvc.yaml, or DVC fails.
    """
    if not (root / ".dvc").is_dir():
        raise StatusError(
            "not a DVC project (no .dvc/ directory)",
            where=str(root),
            fix="run conveyor from the project root, or 'dvc init' there first",
        )
    if not (root / DVC_YAML).is_file():
        raise StatusError(
            f"no {DVC_YAML} to report on", where=str(root), fix="run 'conveyor compile'"
        )
    warnings = _generated_files_warnings(root)
    listed = _dvc_status(root)
    stages = _read_yaml(root / DVC_YAML).get("stages") or {}
    locked = _read_yaml(root / DVC_LOCK).get("stages") or {}
    params = _read_yaml(root / PARAMS_YAML)
    reasons: dict[str, list[Reason]] = {}
    for name, definition in stages.items():
        if name in locked:
            found = _definition_reasons(definition, locked[name])
            found += _listed_reasons(listed.get(name, []), found, locked[name], params)
        else:
            found = [Reason("never_run", text=f"never run ({name} is not in {DVC_LOCK})")]
        if found or name in listed:
            reasons[name] = found or [Reason("changed", text="changed (per dvc status)")]
    pipeline = _pipeline(stages)
    for stage in pipeline.stages:
        if stage.name in reasons or stage.name not in pipeline.downstream(set(reasons)):
            continue
        upstream = sorted(s.name for s in pipeline.stages if s.name in reasons and _feeds(s, stage))
        named = ", ".join(f"'{s}'" for s in upstream)
        reasons[stage.name] = [
            Reason(
                "upstream",
                ", ".join(upstream),
                f"upstream stage{'s' if len(upstream) > 1 else ''} {named} "
                f"{'are' if len(upstream) > 1 else 'is'} stale",
                {"stages": upstream},
            )
        ]
    ordered = tuple(
        Rerun(s.name, tuple(reasons[s.name])) for s in pipeline.stages if s.name in reasons
    )
    return Status(ordered, warnings, tuple(n for n in stages if n in listed))


def _generated_files_warnings(root: Path) -> tuple[str, ...]:
    """Like ``compile --check``: dvc.yaml/params.yaml out of date with conf/."""
    from conveyor.compiler import check_drift

    try:
        drift = check_drift(root)
    except ConveyorError as exc:
        return (f"conf/ does not compile, so dvc.yaml may be stale: {exc}",)
    if not drift.diff:
        return ()
    fix = drift.short_fix() if drift.keeps_values else "run 'conveyor compile'"
    return (
        f"dvc.yaml/params.yaml are not what conf/ generates: {fix} "
        "(this status describes the pipeline dvc.yaml defines now)",
    )


def _dvc_status(root: Path) -> dict[str, list[Any]]:
    """``dvc status`` as data, by stage name."""
    from dvc.exceptions import DvcException, NotDvcRepoError
    from dvc.repo import Repo

    try:
        with Repo(str(root)) as repo:
            raw: dict[str, list[Any]] = repo.status()
    except NotDvcRepoError as exc:
        raise StatusError(
            "not a DVC project", where=str(root), fix="run 'dvc init' in the project root"
        ) from exc
    except DvcException as exc:
        raise StatusError(
            f"dvc status failed: {exc}", where=str(root), fix="run 'dvc status' to see DVC's error"
        ) from exc
    # Stages of the root dvc.yaml are named plainly; others are 'sub/dvc.yaml:stage'.
    return {key.removeprefix(f"{DVC_YAML}:"): value for key, value in raw.items()}


def _definition_reasons(definition: dict[str, Any], lock: dict[str, Any]) -> list[Reason]:
    """What dvc.yaml changed in the stage since it last ran (cmd, deps, outs, params)."""
    found = []
    if _cmd(definition.get("cmd")) != _cmd(lock.get("cmd")):
        found.append(
            Reason(
                "definition",
                "cmd",
                "dvc.yaml definition changed: cmd",
                {"field": "cmd", "old": lock.get("cmd"), "new": definition.get("cmd")},
            )
        )
    declared = {
        "deps": (_paths(definition.get("deps")), [d["path"] for d in lock.get("deps") or []]),
        "outs": (_outs(definition), [o["path"] for o in lock.get("outs") or []]),
        "params": (_param_keys(definition.get("params")), list(_locked_params(lock))),
    }
    for section, (now, then) in declared.items():
        added = [p for p in now if p not in then]
        removed = [p for p in then if p not in now]
        if added or removed:
            parts = [f"added {', '.join(added)}"] * bool(added) + [
                f"removed {', '.join(removed)}"
            ] * bool(removed)
            found.append(
                Reason(
                    "definition",
                    section,
                    f"dvc.yaml definition changed: {section} {'; '.join(parts)}",
                    {"field": section, "added": added, "removed": removed},
                )
            )
    return found


def _listed_reasons(
    items: list[Any], known: list[Reason], lock: dict[str, Any], params: dict[str, Any]
) -> list[Reason]:
    """Explain each entry ``dvc status`` listed for a stage that has run before."""
    new_paths = {p for r in known if r.kind == "definition" for p in r.detail.get("added", [])}
    found: list[Reason] = []
    for item in items:
        if item == "changed command":
            if not any(r.detail.get("field") == "cmd" for r in known):
                found.append(Reason("definition", "cmd", "dvc.yaml definition changed: cmd"))
            continue
        if not isinstance(item, dict):
            found.append(Reason("changed", text=str(item)))
            continue
        for path, change in (item.get("changed deps") or {}).items():
            if isinstance(change, dict):  # a params file: key -> modified/new/deleted
                found += _param_reasons(path, change, lock, params, new_paths)
            elif path not in new_paths:
                found.append(
                    Reason(
                        "dependency",
                        path,
                        f"dependency {path} {change}",
                        {"path": path, "change": change},
                    )
                )
        for path, change in (item.get("changed outs") or {}).items():
            text = f"output {path} missing" if change == "deleted" else f"output {path} {change}"
            found.append(Reason("output", path, text, {"path": path, "change": change}))
    return found


def _param_reasons(
    file: str,
    changes: dict[str, str],
    lock: dict[str, Any],
    params: dict[str, Any],
    new_keys: set[str],
) -> list[Reason]:
    found = []
    recorded = _locked_params(lock, file)
    for key, change in changes.items():
        if key in new_keys:
            continue  # newly declared: the definition reason says so
        old = recorded.get(key, _UNSET)
        new = _lookup(params, key) if file == PARAMS_YAML else _UNSET
        for leaf, before, after in _leaf_changes(key, old, new) or [(key, old, new)]:
            found.append(
                Reason(
                    "param",
                    leaf,
                    f"param {leaf}: {_show(before)} -> {_show(after)}",
                    {
                        "key": leaf,
                        "file": file,
                        "old": _json(before),
                        "new": _json(after),
                        "change": change,
                    },
                )
            )
    return found


def _leaf_changes(path: str, old: Any, new: Any) -> list[tuple[str, Any, Any]]:  # noqa: ANN401
    """Every leaf under ``path`` whose value differs, mappings walked key by key."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        keys = [*old, *(k for k in new if k not in old)]
        return [
            c
            for k in keys
            for c in _leaf_changes(f"{path}.{k}", old.get(k, _UNSET), new.get(k, _UNSET))
        ]
    return [(path, old, new)]


def _show(value: object) -> str:
    return "(unset)" if value is _UNSET else json.dumps(value, ensure_ascii=False)


def _json(value: object) -> object:
    return None if value is _UNSET else value


def _lookup(data: object, key: str) -> Any:  # noqa: ANN401 - any YAML value
    node: Any = data
    for step in key.split("."):
        if not isinstance(node, dict) or step not in node:
            return _UNSET
        node = node[step]
    return node


def _locked_params(lock: dict[str, Any], file: str = PARAMS_YAML) -> dict[str, Any]:
    recorded = (lock.get("params") or {}).get(file) or {}
    return recorded if isinstance(recorded, dict) else {}


def _cmd(cmd: object) -> object:
    return " && ".join(map(str, cmd)) if isinstance(cmd, list) else cmd


def _paths(entries: object) -> list[str]:
    """Paths of a dvc.yaml deps/outs list, whose items are paths or ``{path: options}``."""
    if not isinstance(entries, list):
        return []
    return [str(next(iter(e))) if isinstance(e, dict) else str(e) for e in entries]


def _outs(definition: dict[str, Any]) -> list[str]:
    return [p for section in ("outs", "metrics", "plots") for p in _paths(definition.get(section))]


def _param_keys(entries: object) -> list[str]:
    """The params.yaml keys a dvc.yaml ``params:`` list declares."""
    keys: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, str):
            keys.append(entry)
        elif isinstance(entry, dict) and PARAMS_YAML in entry:
            keys.extend(map(str, entry[PARAMS_YAML] or []))
    return keys


def _pipeline(stages: dict[str, Any]) -> Pipeline:
    """The graph dvc.yaml defines (which may differ from what conf/ compiles to)."""
    return Pipeline(
        tuple(
            Stage(
                name,
                "",
                str(_cmd(d.get("cmd"))),
                deps=tuple(_paths(d.get("deps"))),
                outs=tuple(_outs(d)),
            )
            for name, d in stages.items()
        )
    )


def _feeds(upstream: Stage, stage: Stage) -> bool:
    return any(covers(out, dep) for out in upstream.produces for dep in stage.deps)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506
    except FileNotFoundError:
        return {}
    except yaml.YAMLError as exc:
        raise StatusError(
            f"cannot parse {path.name}: {exc}",
            where=str(path),
            fix=f"fix or regenerate {path.name}",
        ) from exc
    return loaded if isinstance(loaded, dict) else {}


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
