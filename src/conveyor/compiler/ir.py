"""The pipeline IR: plain, immutable data between the spec and the dvc.yaml text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True)
class Stage:
    """One DVC stage. Every path is project-relative and POSIX."""

    name: str
    desc: str
    cmd: str
    deps: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    outs: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    reports: tuple[str, ...] = ()
    """Outputs kept in git rather than the DVC cache (``cache: false``)."""
    plots: tuple[tuple[str, Mapping[str, str]], ...] = ()
    """DVC plots kept in git (``cache: false``): each path with its props (template, x, y...)."""
    meta: tuple[tuple[str, str], ...] = ()
    """dvc.yaml's ``meta:``, for people only (DVC ignores it): ``(("executor", "dask"),)``."""
    always_changed: bool = False
    """DVC's ``always_changed``: the stage reruns on every ``dvc repro``."""

    def to_dict(self) -> dict[str, Any]:
        """The stage as dvc.yaml holds it; empty sections are left out."""
        out: dict[str, Any] = {"desc": self.desc, "cmd": self.cmd}
        if self.deps:
            out["deps"] = list(self.deps)
        if self.params:
            out["params"] = list(self.params)
        if self.outs or self.reports:
            out["outs"] = [*self.outs, *({path: {"cache": False}} for path in self.reports)]
        if self.metrics:
            out["metrics"] = [{path: {"cache": False}} for path in self.metrics]
        if self.plots:
            out["plots"] = [{path: {"cache": False, **props}} for path, props in self.plots]
        if self.always_changed:
            out["always_changed"] = True
        if self.meta:
            out["meta"] = dict(self.meta)
        return out

    @property
    def produces(self) -> tuple[str, ...]:
        """Every path this stage writes."""
        return self.outs + self.reports + self.metrics + tuple(path for path, _ in self.plots)


@dataclass(frozen=True)
class Artifact:
    """An entry of dvc.yaml's ``artifacts:``, which GTO tags and ``dvc artifacts get`` resolve."""

    name: str
    path: str
    type: str
    desc: str

    def to_dict(self) -> dict[str, Any]:
        """The entry as dvc.yaml holds it."""
        return {"path": self.path, "type": self.type, "desc": self.desc}


@dataclass(frozen=True)
class Pipeline:
    """The compiled stages, in run order."""

    stages: tuple[Stage, ...]
    artifacts: tuple[Artifact, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The whole dvc.yaml document."""
        document: dict[str, Any] = {"stages": {s.name: s.to_dict() for s in self.stages}}
        if self.artifacts:
            document["artifacts"] = {a.name: a.to_dict() for a in self.artifacts}
        return document

    def stage(self, name: str) -> Stage:
        """The stage called ``name``."""
        return next(s for s in self.stages if s.name == name)

    def readers(self, key: str) -> set[str]:
        """Stages whose ``params:`` cover the params.yaml key ``key`` (or a key under it)."""
        return {
            s.name
            for s in self.stages
            if any(key == p or key.startswith(f"{p}.") or p.startswith(f"{key}.") for p in s.params)
        }

    def downstream(self, names: set[str]) -> set[str]:
        """``names`` plus every stage that depends, directly or not, on their outputs."""
        result = set(names)
        for stage in self.stages:  # stages are in run order, so one pass closes the set
            upstream = [s for s in self.stages if s.name in result]
            if any(covers(out, dep) for s in upstream for out in s.produces for dep in stage.deps):
                result.add(stage.name)
        return result


def covers(out: str, dep: str) -> bool:
    """Whether path ``out`` is ``dep``, contains it, or lies inside it."""
    return dep == out or dep.startswith(f"{out}/") or out.startswith(f"{dep}/")
