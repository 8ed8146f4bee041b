"""``gate``: bless the model or not, from ``evaluate.gates`` and the registry's champion.

Present only when ``evaluate.gates`` is set. An unblessed model does not fail the run (a sweep
of worse models must still finish and be compared); it is recorded in ``reports/blessing.json``
with every failed check, and promotion and packaging refuse it.

The champion is re-scored on this run's test split (as TFX's Evaluator evaluates the baseline
on the same eval data): after a shift in the data its recorded metrics, measured on an older
and perhaps easier test split, would make a better challenger look worse. When its bundle
cannot be materialised from the DVC cache, or cannot score the split, the recorded metrics are
used and the blessing says so (``champion.metrics_source``).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from conveyor import _atomic
from conveyor.errors import ConveyorError, StageError
from conveyor.registry.gate import RECORDED, Blessing, Champion, bless
from conveyor.runtime import layout
from conveyor.runtime.plan import StageContext, StageDef, StagePlan
from conveyor.spec import MetricGateSpec, is_classification

if TYPE_CHECKING:
    from collections.abc import Mapping

    from conveyor.plugins import Plugins
    from conveyor.plugins.base import Metric
    from conveyor.spec import ProjectSpec, Task

READS = (
    "data.target",
    "evaluate.champion_stage",
    "evaluate.gates",
    "project.name",
    "project.task",
)


def plan(spec: ProjectSpec, plugins: Plugins) -> tuple[StagePlan, ...]:
    """Reads the metrics (and the test split, to re-score the champion); writes the blessing."""
    del plugins
    if not spec.evaluate.gates:
        return ()
    return (
        StagePlan(
            name="gate",
            desc=f"Bless the model or not (evaluate.gates, champion: registry stage "
            f"'{spec.evaluate.champion_stage}') into {layout.BLESSING_FILE}",
            reads=READS,
            deps=(layout.METRICS_FILE, layout.split_path("test")),
            reports=(layout.BLESSING_FILE,),
            components=tuple(("metric", name) for name in spec.evaluate.gates),
        ),
    )


def run(ctx: StageContext) -> None:
    """Check the metrics, compare with the (re-scored) champion, write the blessing."""
    gates = ctx.params.parse("evaluate.gates", dict[str, MetricGateSpec])
    stage = ctx.params.parse("evaluate.champion_stage", str, "prod")
    name = ctx.params.parse("project.name", str)
    metrics_file, test_file = ctx.plan.deps
    try:
        metrics = json.loads((ctx.root / metrics_file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StageError(
            f"cannot read {metrics_file}: {exc}",
            where="stage 'gate'",
            fix="run the evaluate stage first: 'dvc repro' runs them in order",
        ) from exc
    registry = ctx.plugins["metric"]
    classes = {
        metric: cast("type[Metric]", registry.load(metric, where=f"evaluate.gates.{metric}"))
        for metric in gates
    }
    higher = {metric: cls.higher_is_better for metric, cls in classes.items()}
    champion = _champion(ctx.root, name, stage)
    if champion is not None and any(gate.required_change is not None for gate in gates.values()):
        champion = _rescored(ctx, champion, classes, test_file)
    blessing = bless(name, metrics, gates, higher, champion)
    (blessing_file,) = ctx.plan.reports
    text = json.dumps(blessing.to_dict(), indent=2, allow_nan=False) + "\n"
    _atomic.write_text(ctx.root / blessing_file, text)
    print(_summary(blessing, stage))  # noqa: T201


def _champion(root: Path, name: str, stage: str) -> Champion | None:
    """The version in ``stage`` with its committed metrics; None outside git or unassigned."""
    from conveyor.registry import champion

    found: Any = champion(root, name, stage=stage)
    if found is None:
        return None
    return Champion(name, found.version, stage, found.commit, dict(found.metrics))


def _rescored(
    ctx: StageContext,
    champion: Champion,
    classes: Mapping[str, type[Metric]],
    test_file: str,
) -> Champion:
    """``champion`` with its gated metrics measured on ``test_file``; as it was if impossible."""
    from dataclasses import replace

    try:
        metrics = _score_champion(ctx, champion, classes, test_file)
    except ConveyorError as exc:
        return replace(champion, note=f"not re-scored: {exc}")
    except (ValueError, KeyError, TypeError) as exc:  # an older pipeline that cannot read the split
        return replace(champion, note=f"not re-scored: its pipeline failed on {test_file}: {exc}")
    return replace(
        champion,
        metrics=metrics,
        metrics_source=f"rescored on {test_file}",
        recorded_metrics=champion.metrics,
    )


def _score_champion(
    ctx: StageContext,
    champion: Champion,
    classes: Mapping[str, type[Metric]],
    test_file: str,
) -> dict[str, Any]:
    """The champion's bundle, from the DVC cache, scored with the gated metrics (as evaluate)."""
    from conveyor.registry import load_version
    from conveyor.runtime.evaluation import finite_or_none
    from conveyor.runtime.frames import read_frame, require_column
    from conveyor.runtime.stages.evaluate import encode_labels

    target = ctx.params.parse("data.target", str)
    # compile checked the task against the Literal; the stage validates only that it is a str
    task = cast("Task", ctx.params.parse("project.task", str))
    frame = read_frame(ctx.root, test_file, "gate")
    require_column(frame, target, key="data.target", file=test_file)
    with tempfile.TemporaryDirectory(prefix="conveyor-champion-") as scratch:
        ref = f"{champion.name}@{champion.version}"
        bundle = load_version(ctx.root, ref, Path(scratch) / "bundle")
        x = frame.drop(columns=[target])
        y_true = encode_labels(frame[target], bundle.classes, test_file)
        y_pred = bundle.pipeline.predict(x)
        y_score = None
        if is_classification(task) and hasattr(bundle.pipeline, "predict_proba"):
            y_score = bundle.pipeline.predict_proba(x)
    values: dict[str, Any] = {}
    for metric, cls in classes.items():
        instance = cast("Metric", cls.from_config({}))
        if instance.needs == "score" and y_score is None:
            continue  # left out: the check falls back to "nothing to beat", as for recorded
        values[metric] = finite_or_none(instance.compute(y_true, y_pred, y_score))
    return values


def _summary(blessing: Blessing, stage: str) -> str:
    champion = blessing.champion
    against = (
        f"against {champion.name}@{champion.version} ({stage}, "
        f"{'recorded metrics' if champion.metrics_source == RECORDED else champion.metrics_source})"
        if champion is not None
        else f"no champion in '{stage}': absolute thresholds only"
    )
    if blessing.blessed:
        return f"gate: BLESSED, {len(blessing.checks)} checks passed, {against}"
    lines = [
        f"gate: NOT BLESSED, {len(blessing.failed)} of {len(blessing.checks)} checks failed, "
        f"{against}:"
    ]
    lines += [f"  - {check.describe()}" for check in blessing.failed]
    lines.append("  promotion and packaging will refuse this model")
    return "\n".join(lines)


STAGE = StageDef("gate", plan, run)
