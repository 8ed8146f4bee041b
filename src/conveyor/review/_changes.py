"""The comparisons behind ``conveyor diff``: config values, stage definitions, reruns.

Config is compared as composed values, never as text, so whitespace, comments and key order
make no change. Reruns follow DVC's rules for a stage of HEAD checked against a ``dvc.lock``
written at BASE: a changed ``cmd``; a dependency, output or params key that the lock does not
record yet; a declared param whose value changed; an external input whose content changed —
then every stage downstream. (A dependency or param *removed* from a stage does not make DVC
rerun it, so it is reported as a change but not as a reason.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from conveyor.compiler.ir import covers
from conveyor.review._policy import policy_kind
from conveyor.review.rerun import Reason, Rerun

if TYPE_CHECKING:
    from conveyor.compiler.ir import Pipeline, Stage
    from conveyor.config import Provenance
    from conveyor.config.compose import Choice

ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class ConfigChange:
    """One config key whose value differs; lists and new/removed mappings count as one value."""

    path: str
    kind: ChangeKind
    base: Any
    head: Any
    base_origin: str | None
    """``conf/model/xgboost.yaml:4`` — the file and line that set it at BASE (None if absent)."""
    head_origin: str | None
    policy: str | None
    """The kind of policy (``gate threshold``...) or None for tuning; see ``_policy.POLICY``."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "path": self.path,
            "kind": self.kind,
            "base": self.base,
            "head": self.head,
            "base_origin": self.base_origin,
            "head_origin": self.head_origin,
            "policy": self.policy,
        }


@dataclass(frozen=True)
class ChoiceChange:
    """A config group whose option changed in the defaults list (``model: xgboost → rf``)."""

    group: str
    base: str | None
    head: str | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"group": self.group, "base": self.base, "head": self.head}


@dataclass(frozen=True)
class FieldChange:
    """One field of a stage: the values only BASE has, and those only HEAD has."""

    field: str
    removed: tuple[str, ...]
    added: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"field": self.field, "removed": list(self.removed), "added": list(self.added)}


@dataclass(frozen=True)
class StageChange:
    """A stage on both sides whose definition differs."""

    name: str
    fields: tuple[FieldChange, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"name": self.name, "fields": [f.to_dict() for f in self.fields]}


def config_changes(
    base: dict[str, Any], head: dict[str, Any], base_prov: Provenance, head_prov: Provenance
) -> list[ConfigChange]:
    """Every key whose composed value differs, in HEAD's key order (BASE-only keys after)."""
    found: list[tuple[str, ChangeKind, Any, Any]] = []
    _compare("", base, head, found)
    return [
        ConfigChange(
            path,
            kind,
            old,
            new,
            str(base_prov.origin(path)) if kind != "added" else None,
            str(head_prov.origin(path)) if kind != "removed" else None,
            policy_kind(path),
        )
        for path, kind, old, new in found
    ]


def _compare(path: str, old: Any, new: Any, found: list[tuple[str, ChangeKind, Any, Any]]) -> None:  # noqa: ANN401
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*new, *(k for k in old if k not in new)]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                found.append((sub, "added", None, new[key]))
            elif key not in new:
                found.append((sub, "removed", old[key], None))
            else:
                _compare(sub, old[key], new[key], found)
    elif old != new or (type(old) is not type(new) and bool in (type(old), type(new))):
        found.append((path, "changed", old, new))


def choice_changes(base: dict[str, Choice], head: dict[str, Choice]) -> list[ChoiceChange]:
    """Config groups whose chosen option(s) differ."""

    def show(choice: Choice | None) -> str | None:
        return f"[{', '.join(choice)}]" if isinstance(choice, tuple) else choice

    groups = [*head, *(g for g in base if g not in head)]
    return [
        ChoiceChange(g, show(base.get(g)), show(head.get(g)))
        for g in groups
        if base.get(g) != head.get(g)
    ]


def stage_changes(
    base: Pipeline, head: Pipeline
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[StageChange, ...]]:
    """Stages added, removed, and changed (field by field) from BASE to HEAD."""
    old = {s.name: s for s in base.stages}
    new = {s.name: s for s in head.stages}
    added = tuple(n for n in new if n not in old)
    removed = tuple(n for n in old if n not in new)
    changed = []
    for name in (n for n in new if n in old):
        fields = _field_changes(old[name], new[name])
        if fields:
            changed.append(StageChange(name, tuple(fields)))
    return added, removed, tuple(changed)


def _field_changes(old: Stage, new: Stage) -> list[FieldChange]:
    fields = []
    for name in ("cmd", "desc"):
        if getattr(old, name) != getattr(new, name):
            fields.append(FieldChange(name, (getattr(old, name),), (getattr(new, name),)))
    for name, before, after in (
        ("deps", old.deps, new.deps),
        ("outs", old.produces, new.produces),
        ("params", old.params, new.params),
    ):
        gone = tuple(x for x in before if x not in after)
        came = tuple(x for x in after if x not in before)
        if gone or came:
            fields.append(FieldChange(name, gone, came))
    return fields


def external_deps(pipeline: Pipeline) -> list[str]:
    """Dependencies that no stage of ``pipeline`` writes: data in git or DVC, and code."""
    produced = [out for stage in pipeline.stages for out in stage.produces]
    deps = dict.fromkeys(d for s in pipeline.stages for d in s.deps)
    return [d for d in deps if not any(covers(out, d) for out in produced)]


def plan_reruns(
    base: Pipeline, head: Pipeline, config: list[ConfigChange], changed_inputs: set[str]
) -> list[Rerun]:
    """The stages of HEAD that ``dvc repro`` runs after BASE was reproduced, in run order."""
    old = {s.name: s for s in base.stages}
    direct: dict[str, tuple[Reason, ...]] = {}
    for stage in head.stages:
        reasons = _own_reasons(old.get(stage.name), stage, config, changed_inputs)
        if reasons:
            direct[stage.name] = reasons
    closure = head.downstream(set(direct))
    reruns = []
    for stage in head.stages:
        if stage.name not in closure:
            continue
        feeders = [
            Reason("upstream", s.name)
            for s in head.stages
            if s.name in closure
            and s.name != stage.name
            and any(covers(out, dep) for out in s.produces for dep in stage.deps)
        ]
        reruns.append(Rerun(stage.name, (*direct.get(stage.name, ()), *feeders)))
    return reruns


def _own_reasons(
    old: Stage | None, new: Stage, config: list[ConfigChange], changed_inputs: set[str]
) -> tuple[Reason, ...]:
    if old is None:
        return (Reason("new stage"),)
    reasons: list[Reason] = []
    if old.cmd != new.cmd:
        reasons.append(Reason("cmd changed", new.cmd))
    for dep in new.deps:
        if dep not in old.deps:
            reasons.append(Reason("new dep", dep))
        elif dep in changed_inputs:
            reasons.append(Reason("input changed", dep))
    reasons += [Reason("new out", out) for out in new.produces if out not in old.produces]
    for key in new.params:
        if key not in old.params:
            reasons.append(Reason("new param", key))
            continue
        reasons += [Reason("param changed", c.path) for c in config if _overlaps(c.path, key)]
    return tuple(dict.fromkeys(reasons))


def _overlaps(path: str, key: str) -> bool:
    return path == key or path.startswith(f"{key}.") or key.startswith(f"{path}.")
