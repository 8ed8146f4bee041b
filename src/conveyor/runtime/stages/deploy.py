"""``deploy-<target>``: ship the blessed model to one ``deploy:`` target.

One stage per target, after ``gate``. Each depends on the bundle and on
``reports/blessing.json``, so retraining or re-gating reruns it; it refuses a model the gate did
not bless (listing the failed checks) and a bundle that ``conveyor serve`` would refuse (its
manifest, its JSON documents, the types in its pipeline), before the target writes anything.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationError

from conveyor.errors import SpecError, StageError
from conveyor.plugins.base import DeployContext, DeployTarget
from conveyor.runtime import layout
from conveyor.runtime.plan import TRUST_READS, StageContext, StageDef, StagePlan
from conveyor.spec import DeployTargetSpec

if TYPE_CHECKING:
    from conveyor.plugins import Plugins
    from conveyor.spec import ProjectSpec

PREFIX = "deploy-"


def plan(spec: ProjectSpec, plugins: Plugins) -> tuple[StagePlan, ...]:
    """One stage per target: reads its ``deploy.<target>`` entry, the bundle and the blessing."""
    name = spec.project.name
    plans = []
    for target, target_spec in spec.deploy.items():
        component = build_target(plugins, target, target_spec)
        deps = (layout.model_dir(name), layout.BLESSING_FILE)
        plans.append(
            StagePlan(
                name=f"{PREFIX}{target}",
                desc=f"Ship the blessed model '{name}' to deploy target '{target}' "
                f"(kind: {target_spec.kind})",
                reads=(f"deploy.{target}", "project.name", *TRUST_READS),
                deps=deps + tuple(d for d in component.deps() if d not in deps),
                outs=component.outs(target),
                reports=component.reports(target),
                components=(("target", target_spec.kind),),
            )
        )
    return tuple(plans)


def build_target(plugins: Plugins, target: str, spec: DeployTargetSpec) -> DeployTarget[Any]:
    """The configured target component (``conveyor compile`` has checked its params)."""
    where = f"deploy.{target}"
    cls = plugins["target"].load(spec.kind, where=f"{where}.kind")
    try:
        return cast("DeployTarget[Any]", cls.from_config(spec.params))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SpecError(
            f"invalid params for target '{spec.kind}': {first['msg']}",
            where=".".join([f"{where}.params", *map(str, first["loc"])]),
            fix="run 'conveyor compile' to see every problem with its conf/ file",
        ) from exc


def run(ctx: StageContext) -> None:
    """Refuse an unblessed model or a bundle serve would refuse; then let the target write."""
    from conveyor.registry.gate import require_blessed

    target = ctx.plan.name.removeprefix(PREFIX)
    spec = ctx.params.parse(f"deploy.{target}", DeployTargetSpec)
    model = ctx.params.parse("project.name", str)
    bundle_dir, blessing_file = ctx.plan.deps[:2]
    where = f"stage '{ctx.plan.name}'"
    blessing = _read_blessing(ctx, blessing_file, where)
    require_blessed(blessing, where=where)
    if blessing.get("model") not in (None, model):
        raise StageError(
            f"{blessing_file} blesses model '{blessing.get('model')}', not '{model}'",
            where=where,
            fix="rerun the gate for this model: 'dvc repro gate'",
        )
    _load_as_served(ctx, bundle_dir)
    component = build_target(ctx.plugins, target, spec)
    component.run(
        DeployContext(
            root=ctx.root,
            target=target,
            model=model,
            bundle_dir=ctx.root / bundle_dir,
            blessing=blessing,
            outs=tuple(ctx.root / out for out in ctx.plan.outs),
            reports=tuple(ctx.root / report for report in ctx.plan.reports),
            trusted=ctx.trusted_types(),
        )
    )


def _load_as_served(ctx: StageContext, bundle_dir: str) -> None:
    """Load the bundle as ``conveyor serve`` does, so a target never ships one it would refuse.

    The manifest alone proves the files are the ones it lists, not that they are well formed:
    whoever rewrote schema.json could rewrite manifest.json too. Loading checks the manifest,
    the documented shape of every JSON file and the exact-type allowlist of the pipeline; the
    predictor reads the input schema the server would answer requests with.
    """
    from conveyor.bundle import load_bundle
    from conveyor.bundle.predictor import Predictor

    Predictor(load_bundle(ctx.root / bundle_dir, trusted=ctx.trusted_types()))


def _read_blessing(ctx: StageContext, blessing_file: str, where: str) -> dict[str, Any]:
    try:
        document = json.loads((ctx.root / blessing_file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StageError(
            f"cannot read {blessing_file}: {exc}",
            where=where,
            fix="run the gate stage first: 'dvc repro' runs the stages in order",
        ) from exc
    if not isinstance(document, dict):
        raise StageError(
            f"{blessing_file} is not a blessing document", where=where, fix="rerun 'dvc repro gate'"
        )
    return document


STAGE = StageDef("deploy", plan, run)
