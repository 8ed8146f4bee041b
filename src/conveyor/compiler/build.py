"""spec -> pipeline IR: plan each stage, add code dependencies, check DVC's invariants."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.compiler.ir import Artifact, Pipeline, Stage, covers
from conveyor.compiler.tracking import on_disk
from conveyor.errors import CompileError
from conveyor.runtime.code import code_deps
from conveyor.runtime.layout import BLESSING_FILE, model_dir
from conveyor.runtime.stages import plan_stages

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.config import LoadedProject
    from conveyor.runtime import StagePlan


def compile_project(project: LoadedProject) -> Pipeline:
    """The DVC pipeline for ``project``; pure apart from locating local plugin code."""
    executor = project.spec.executor.kind
    stages = [
        _stage(
            plan, code_deps(plan, project.plugins, project.root), project.composed.data, executor
        )
        for _, plan in plan_stages(project.spec, project.plugins)
    ]
    name = project.spec.project.name
    model = Artifact(
        name=name,
        path=model_dir(name),
        type="model",
        desc=f"the {project.spec.project.task.replace('_', ' ')} pipeline (features + model) "
        "as a verified conveyor bundle",
    )
    pipeline = Pipeline(tuple(stages), (model,))
    check_invariants(pipeline, project.root)
    return pipeline


def _stage(plan: StagePlan, code_deps: list[str], params: dict[str, Any], executor: str) -> Stage:
    return Stage(
        name=plan.name,
        desc=plan.desc,
        cmd=f"conveyor run {plan.name}",
        deps=plan.deps + tuple(d for d in code_deps if d not in plan.deps),
        # A key conf/ leaves to its default is not in params.yaml, and DVC refuses a stage
        # whose params are missing; the stage still reads it (the view gives the default).
        params=tuple(sorted(key for key in plan.reads if _present(params, key))),
        outs=plan.outs,
        metrics=plan.metrics,
        reports=plan.reports,
        plots=plan.plots,
        # Where it runs, for people reading dvc.yaml; DVC ignores meta (executor: is no param).
        meta=(("executor", executor),) if plan.on_executor else (),
        always_changed=plan.always_changed,
    )


def _present(params: dict[str, Any], key: str) -> bool:
    node: Any = params
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


DEPLOYING = ("package", "deploy")
"""Name prefixes of stages that ship a model: they must depend on the blessing."""


def check_invariants(pipeline: Pipeline, root: Path) -> None:
    """DVC's invariants, and that every stage shipping a model depends on the blessing.

    Unique outputs; every dependency produced upstream, on disk, or tracked by DVC.
    """
    for stage in pipeline.stages:
        if stage.name.startswith(DEPLOYING) and BLESSING_FILE not in stage.deps:
            raise CompileError(
                f"stage '{stage.name}' ships a model but does not depend on {BLESSING_FILE}",
                where=f"stages.{stage.name}.deps",
                fix="add evaluate.gates (so a gate stage blesses the model) and make the stage "
                f"depend on {BLESSING_FILE}",
            )
    owners: dict[str, str] = {}
    for stage in pipeline.stages:
        for out in stage.produces:
            clash = next((o for o in owners if covers(o, out)), None)
            if clash is not None:
                raise CompileError(
                    f"stages '{owners[clash]}' and '{stage.name}' both write '{out}'",
                    where="dvc.yaml",
                    fix="give each output a distinct path",
                )
            owners[out] = stage.name
    produced: set[str] = set()
    for stage in pipeline.stages:
        for dep in stage.deps:
            if any(covers(p, dep) for p in produced):
                continue
            writer = next((owners[o] for o in owners if covers(o, dep)), None)
            if writer is not None:
                raise CompileError(
                    f"stage '{stage.name}' depends on '{dep}', written by the later stage "
                    f"'{writer}' (a cycle)",
                    where="dvc.yaml",
                    fix="reorder the stages so every input is produced first",
                )
            if not on_disk(root, dep):
                raise CompileError(
                    f"stage '{stage.name}' depends on '{dep}', which no stage writes and "
                    "which is neither on disk nor tracked by DVC",
                    where=f"stages.{stage.name}.deps",
                    fix=f"create '{dep}', or fetch it with 'dvc pull', or fix the path in conf/",
                )
        produced.update(stage.produces)
