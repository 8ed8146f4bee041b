"""``validate``: check the dataset against ``data.schema`` before anything is split or trained."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from conveyor.runtime import layout
from conveyor.runtime.frames import read_frame
from conveyor.runtime.plan import StageContext, StageDef, StagePlan
from conveyor.spec.schema import SchemaSpec

if TYPE_CHECKING:
    from conveyor.plugins import Plugins
    from conveyor.spec import ProjectSpec

READS = ("data.schema",)


def plan(spec: ProjectSpec, plugins: Plugins) -> tuple[StagePlan, ...]:
    """Reads the dataset, writes ``reports/validation.json``; none without ``data.schema``."""
    del plugins
    if spec.data.schema_ is None:
        return ()
    return (
        StagePlan(
            name="validate",
            desc=f"Check the dataset against data.schema; report in {layout.VALIDATION_FILE}",
            reads=READS,
            deps=(layout.dataset_path(spec.data),),
            reports=(layout.VALIDATION_FILE,),
        ),
    )


def run(ctx: StageContext) -> None:
    """Validate, write the report whatever the outcome, fail on error-level violations."""
    from conveyor.runtime.validation import validate_frame  # not needed to compile

    schema = ctx.params.parse("data.schema", SchemaSpec)
    dataset = ctx.plan.deps[0]
    (report_file,) = ctx.plan.reports
    frame = read_frame(ctx.root, dataset, ctx.plan.name)
    report = validate_frame(frame, schema, dataset=dataset)
    report.write(ctx.root / report_file)
    if not report.passed:
        raise report.error(report_file)
    summary = f"{ctx.plan.name}: {report.summary(report_file)}"
    print(summary, file=sys.stderr if report.warnings else sys.stdout)


STAGE = StageDef("validate", plan, run)
