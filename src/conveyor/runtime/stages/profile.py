"""``profile``: the reference profile of the training split and of the model's predictions on it.

Writes ``reports/profile.json`` (kept in git, so each registered commit carries the profile of
its own model) for the ``monitor`` stage, ``conveyor monitor`` and ``conveyor ct`` to compare new
data with: quantiles, counts, ranges and null rates per feature, never the rows themselves
(only a sample when the split has at most 1000 rows). The target is left out; the model's
score on each row (P(positive class), the top class probability, or the predicted value) is
profiled as the prediction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor import _atomic
from conveyor.errors import DataError
from conveyor.runtime import layout
from conveyor.runtime.outofcore import over_budget
from conveyor.runtime.plan import TRUST_READS, StageContext, StageDef, StagePlan

if TYPE_CHECKING:
    from conveyor.plugins import Plugins
    from conveyor.spec import ProjectSpec

READS = ("data.target", *TRUST_READS)


def plan(spec: ProjectSpec, plugins: Plugins) -> tuple[StagePlan, ...]:
    """Reads the training split and the bundle; writes the profile (in git)."""
    del plugins
    return (
        StagePlan(
            name="profile",
            desc="Profile the training split and the model's predictions on it, for drift "
            "monitoring",
            reads=READS,
            deps=(layout.split_path("train"), layout.model_dir(spec.project.name)),
            reports=(layout.PROFILE_FILE,),
            on_executor=True,
        ),
    )


def run(ctx: StageContext) -> None:
    """Score the training split with the bundle and profile both.

    On the project's executor (other than ``local``) each column's statistics are computed from
    the split's parts on the workers and merged, and the bundle scores each part there, in the
    chunks an in-process run cuts, so the profile is the same bytes on any executor. On
    ``local`` with the split over the memory budget (``CONVEYOR_MEMORY_BUDGET``), the split is
    profiled one column at a time and scored one chunk at a time, again the same bytes.
    """
    from conveyor.bundle import load_bundle
    from conveyor.executors import open_project_executor  # not needed to compile
    from conveyor.monitoring.monitor import model_predictor, profile_data

    target = ctx.params.parse("data.target", str)
    train_path, bundle_dir = ctx.plan.deps
    if not (ctx.root / train_path).is_file():
        raise DataError(
            f"input '{train_path}' does not exist",
            where="stage 'profile'",
            fix="run the upstream stages first: 'dvc repro' runs them in order",
        )
    over = over_budget([ctx.root / train_path]) is not None  # a bad budget fails here
    predictor = model_predictor(load_bundle(ctx.root / bundle_dir, trusted=ctx.trusted_types()))
    with open_project_executor(ctx.root, ctx.plugins) as session:  # not a param: reruns nothing
        profile = profile_data(
            ctx.root,
            [train_path],
            predictor=predictor,
            exclude=[target],
            where="stage 'profile'",
            session=session,
            stream=over,
        )
    (profile_file,) = ctx.plan.reports
    _atomic.write_text(ctx.root / profile_file, profile.to_json())
    scored = "with" if profile.prediction is not None else "without"
    how = " (out of core, a column at a time)" if over and session is None else ""
    print(  # noqa: T201
        f"profile: {profile.rows} rows x {len(profile.names)} columns of {train_path}, "
        f"{scored} predictions -> {profile_file}{how}"
    )


STAGE = StageDef("profile", plan, run)
