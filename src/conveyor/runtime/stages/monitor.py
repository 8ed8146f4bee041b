"""``monitor``: compare the batch named by ``monitor.current`` with the reference profile.

Present only when ``monitor.current`` is set. Writes ``reports/drift.json`` (DVC metrics: the
flat numbers ``dvc metrics diff`` compares, details nested) and the self-contained
``reports/drift.html``. Drift never fails the run — the reports are the result, and
``conveyor ct`` acts on them; only unusable input (a missing file or column) does.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from conveyor.components._files import dependency
from conveyor.errors import DataError
from conveyor.runtime import layout
from conveyor.runtime.plan import TRUST_READS, StageContext, StageDef, StagePlan
from conveyor.spec import DriftSpec, MonitorSpec, PerformanceSpec, QualitySpec
from conveyor.spec.evaluate import primary_metric

if TYPE_CHECKING:
    from conveyor.plugins import Plugins
    from conveyor.spec import ProjectSpec

READS = (
    "data.target",
    "evaluate.metrics",
    "evaluate.primary",
    "monitor.current",
    "monitor.drift",
    "monitor.id_column",
    "monitor.labels",
    "monitor.performance",
    "monitor.quality",
    *TRUST_READS,
)
"""Not ``monitor.retrain``: the policy is ``conveyor ct``'s, and changing it rescans nothing."""


def plan(spec: ProjectSpec, plugins: Plugins) -> tuple[StagePlan, ...]:
    """Reads the profile, the bundle, the metrics and the batch; none without a batch."""
    del plugins
    monitor = spec.monitor
    if monitor.current is None:
        return ()
    data = [dependency(monitor.current)]
    if monitor.labels is not None:
        labels = dependency(monitor.labels)
        if not any(labels == d or labels.startswith(f"{d}/") for d in data):  # one dep covers
            data.append(labels)
    return (
        StagePlan(
            name="monitor",
            desc=f"Compare the batch '{monitor.current}' with the training profile: drift, "
            "data quality and (with labels) performance",
            reads=READS,
            deps=(
                layout.PROFILE_FILE,
                layout.model_dir(spec.project.name),
                layout.METRICS_FILE,
                *data,
            ),
            metrics=(layout.DRIFT_FILE,),
            reports=(layout.DRIFT_HTML,),
            on_executor=True,
        ),
    )


def run(ctx: StageContext) -> None:
    """Score and compare the batch; write drift.json and drift.html."""
    from conveyor.bundle import load_bundle
    from conveyor.executors import open_project_executor
    from conveyor.monitoring import MonitorRequest, model_predictor, run_monitor
    from conveyor.monitoring.alert import alert_settings, notify
    from conveyor.monitoring.monitor import read_reference_metrics, summary
    from conveyor.monitoring.profile import Profile

    # Where alerts go is not what the stage computes: read beside the params view, like the
    # executor, so monitor.alerts reruns nothing (and a bad target fails before the batch is read)
    alerts = alert_settings(ctx.root)
    current = ctx.params.parse("monitor.current", str)
    # each part is validated by the params view above; the whole is not re-validated here,
    # so the stage checks exactly what it always did (compile checked the rest)
    monitor = MonitorSpec.model_construct(
        current=current,
        labels=ctx.params.parse("monitor.labels", str, None),
        id_column=ctx.params.parse("monitor.id_column", str, None),
        drift=ctx.params.parse("monitor.drift", DriftSpec, DriftSpec()),
        quality=ctx.params.parse("monitor.quality", QualitySpec, QualitySpec()),
        performance=ctx.params.parse("monitor.performance", PerformanceSpec, PerformanceSpec()),
    )
    metrics = ctx.params.parse("evaluate.metrics", list[str])
    primary = ctx.params.parse("evaluate.primary", str, None)
    profile_file, bundle_dir, metrics_file = ctx.plan.deps[:3]
    (drift_file,) = ctx.plan.metrics
    try:
        text = (ctx.root / profile_file).read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(
            f"cannot read {profile_file}: {exc.strerror}",
            where="stage 'monitor'",
            fix="run the profile stage first: 'dvc repro' runs them in order",
        ) from exc
    request = MonitorRequest.from_spec(
        monitor,
        current=[current],
        reference=Profile.from_json(text, where=profile_file),
        predictor=model_predictor(load_bundle(ctx.root / bundle_dir, trusted=ctx.trusted_types())),
        out_dir=(ctx.root / drift_file).parent,
        target=ctx.params.parse("data.target", str),
        metric=primary_metric(metrics, primary),
        reference_metrics=read_reference_metrics(ctx.root / metrics_file),
        reference_name=profile_file,
    )
    with open_project_executor(ctx.root, ctx.plugins) as session:  # not a param: reruns nothing
        result = run_monitor(ctx.root, request, plugins=ctx.plugins, session=session)
    print(f"monitor: {summary(result, ctx.root)}")  # noqa: T201
    for warning in notify(ctx.root, result, alerts).warnings:  # never fails the stage
        print(f"warning: {warning}", file=sys.stderr)  # noqa: T201


STAGE = StageDef("monitor", plan, run)
