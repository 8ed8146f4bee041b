"""``validate``: check the dataset against ``data.schema`` before anything is split or trained."""

from __future__ import annotations

import sys
from functools import partial
from typing import TYPE_CHECKING

from conveyor.plugins.executor import InlineSession
from conveyor.runtime import layout
from conveyor.runtime.frames import input_path, read_frame
from conveyor.runtime.outofcore import over_budget
from conveyor.runtime.plan import StageContext, StageDef, StagePlan
from conveyor.runtime.schema_file import load_schema_file
from conveyor.spec.schema import SchemaSpec

if TYPE_CHECKING:
    from conveyor.plugins import Plugins
    from conveyor.spec import ProjectSpec

READS = ("data.schema", "data.schema_file")


def plan(spec: ProjectSpec, plugins: Plugins) -> tuple[StagePlan, ...]:
    """Reads the dataset (and the schema file), writes ``reports/validation.json``.

    None without ``data.schema`` or ``data.schema_file``.
    """
    del plugins
    schema_file = spec.data.schema_file
    if spec.data.schema_ is None and schema_file is None:
        return ()
    return (
        StagePlan(
            name="validate",
            desc=f"Check the dataset against {schema_file or 'data.schema'}; report in "
            f"{layout.VALIDATION_FILE}",
            reads=READS,
            deps=(layout.dataset_path(spec.data), *([schema_file] if schema_file else [])),
            reports=(layout.VALIDATION_FILE,),
            on_executor=True,
        ),
    )


def run(ctx: StageContext) -> None:
    """Validate, write the report whatever the outcome, fail on error-level violations."""
    from conveyor.executors import open_project_executor  # not needed to compile
    from conveyor.runtime.validation import validate_frame
    from conveyor.runtime.validation._sharded import validate_parts

    schema_file = ctx.params.get("data.schema_file", None)
    if schema_file is None:
        schema = ctx.params.parse("data.schema", SchemaSpec)
    else:
        schema = load_schema_file(ctx.root, str(schema_file))
    dataset = ctx.plan.deps[0]
    (report_file,) = ctx.plan.reports
    with open_project_executor(ctx.root, ctx.plugins) as session:  # not a param: reruns nothing
        path = input_path(ctx.root, dataset, ctx.plan.name)
        if session is None and over_budget([path]) is not None:
            session = InlineSession()  # over the memory budget: one partition at a time
        if session is None:
            frame = read_frame(ctx.root, dataset, ctx.plan.name)
            report = validate_frame(frame, schema, dataset=dataset)
        else:  # partitions on the workers, merged: the same report (runtime/validation/_sharded)
            whole = partial(read_frame, ctx.root, dataset, ctx.plan.name)
            report = validate_parts(session, path, whole, schema, dataset=dataset)
    report.write(ctx.root / report_file)
    if not report.passed:
        raise report.error(report_file, schema_file)
    summary = f"{ctx.plan.name}: {report.summary(report_file)}"
    print(summary, file=sys.stderr if report.warnings else sys.stdout)


STAGE = StageDef("validate", plan, run)
