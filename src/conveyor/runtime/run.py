"""``conveyor run <stage>``: params.yaml -> plan -> the stage's work, on declared params only."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from conveyor import _atomic
from conveyor.errors import StageError
from conveyor.plugins import Plugins
from conveyor.plugins.target import project_importable
from conveyor.runtime.layout import PARAMS_FILE
from conveyor.runtime.params import ParamsView, load_params
from conveyor.runtime.plan import StageContext, StagePlan
from conveyor.runtime.repo_lock import repo_lock
from conveyor.runtime.stages import plan_stages
from conveyor.spec import ProjectSpec

if TYPE_CHECKING:
    from pathlib import Path


def run_stage(root: Path, name: str, *, plugins: Plugins | None = None) -> None:
    """Run the stage called ``name`` (as in dvc.yaml) of the project at ``root``."""
    data = load_params(root)
    try:
        # The full spec decides only the stage's paths, which dvc.yaml already pins; the
        # stage's own work sees nothing but its declared keys, through the view.
        spec = ProjectSpec.model_validate(data)
    except ValidationError as exc:
        raise StageError(
            f"{PARAMS_FILE} is not a valid configuration ({exc.error_count()} problems)",
            where=f"stage '{name}'",
            fix="run 'conveyor compile' to see each problem with its conf/ file",
        ) from exc
    plugins = plugins or Plugins.discover()
    plans = {plan.name: (definition, plan) for definition, plan in plan_stages(spec, plugins)}
    if name not in plans:
        close = difflib.get_close_matches(name, list(plans), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise StageError(
            f"unknown stage '{name}'", fix=f"{hint}this project's stages: {', '.join(plans)}"
        )
    definition, plan = plans[name]
    context = StageContext(root, ParamsView(data, plan.reads, name), plan, plugins)
    with repo_lock(root, name), project_importable(root):  # _target_ classes at the root
        # Finish or undo what a killed run left beside this stage's inputs and outputs.
        _atomic.recover(*(root / path for path in _paths(plan)))
        definition.run(context)
    if spec.tracking.enabled:
        _track(root, spec, data, plan)


def _track(root: Path, spec: ProjectSpec, data: dict[str, Any], plan: StagePlan) -> None:
    """Log a finished train/evaluate run (tracking:); a failure is one warning, never an error."""
    import sys

    from conveyor.tracking import TRACKED, track_stage

    if plan.name not in TRACKED:
        return
    model = plan.outs[0] if plan.name == "train" and plan.outs else None
    files = [*plan.metrics, *plan.reports, *(path for path, _ in plan.plots)]
    for warning in track_stage(root, spec, data, plan.name, files=files, model=model):
        print(f"warning: {warning}", file=sys.stderr)  # noqa: T201


def _paths(plan: StagePlan) -> list[str]:
    """Every file or folder the stage reads or writes, as dvc.yaml lists them."""
    plots = [path for path, _ in plan.plots]
    return [*plan.deps, *plan.outs, *plan.metrics, *plan.reports, *plots]
