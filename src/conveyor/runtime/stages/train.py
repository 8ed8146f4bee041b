"""``train``: fit features + model on the training split; save one verified bundle."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, cast

from conveyor.errors import DataError, StageError
from conveyor.runtime import layout
from conveyor.runtime.code import code_deps
from conveyor.runtime.estimator import build_model, build_pipeline
from conveyor.runtime.fit import fit_model
from conveyor.runtime.frames import input_path, read_frame, require_column
from conveyor.runtime.plan import StageContext, StageDef, StagePlan
from conveyor.spec import FeaturesSpec, ModelSpec, is_classification

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from conveyor.plugins import Plugins
    from conveyor.spec import ProjectSpec, Task
    from conveyor.spec.model import FitSpec

READS = ("data.target", "features", "model", "project.name", "project.task", "seed")


def plan(spec: ProjectSpec, plugins: Plugins) -> tuple[StagePlan, ...]:
    """Reads the training split, writes ``models/<project.name>/``."""
    del plugins
    components = [("transform", t.kind) for t in spec.features.transforms]
    if spec.model.kind is not None:
        components.append(("model", spec.model.kind))
    return (
        StagePlan(
            name="train",
            desc="Fit the features + model pipeline on the training split",
            reads=READS,
            deps=(layout.split_path("train"),),
            outs=(layout.model_dir(spec.project.name),),
            components=tuple(components),
            targets=(spec.model.target,) if spec.model.target else (),
        ),
    )


def run(ctx: StageContext) -> None:
    """Fit, then save the pipeline with its schema and lineage."""
    from conveyor.bundle import save_bundle  # here: the compiler imports plan()
    from conveyor.bundle.bundle import dump_pipeline
    from conveyor.runtime.lineage import lineage, record_run

    started = time.perf_counter()
    target = ctx.params.parse("data.target", str)
    # compile checked the task against the Literal; the stage validates only that it is a str
    task = cast("Task", ctx.params.parse("project.task", str))
    seed = ctx.params.parse("seed", int)
    model_spec = ctx.params.parse("model", ModelSpec)
    features = ctx.params.parse("features", FeaturesSpec)
    (train_path,) = ctx.plan.deps
    x, y, rows, columns, labels = _training_data(ctx, train_path, target, task, model_spec.fit)
    classes: list[Any] | None = None
    encoder = None
    if is_classification(task):
        from sklearn.preprocessing import LabelEncoder

        encoder = LabelEncoder().fit(labels)
        classes = [c.item() if hasattr(c, "item") else c for c in encoder.classes_]
        _require_two_classes(classes, target, task, train_path, rows)
        y = encoder.transform(y)
    estimator = build_model(model_spec, task, seed, ctx.plugins)
    pipeline = build_pipeline(features, estimator, ctx.plugins)
    (bundle_dir,) = ctx.plan.outs
    try:
        fit_model(
            pipeline,
            x,
            y,
            fit=model_spec.fit,
            train_file=ctx.root / train_path,
            target=target,
            encoder=encoder,
            root=ctx.root,
            plugins=ctx.plugins,
            cache_dir=(ctx.root / bundle_dir).parent,
        )
    except (ValueError, TypeError) as exc:  # what scikit-learn and xgboost raise on bad input
        raise StageError(
            f"fitting {model_spec.label} on {train_path} failed: {_first_line(exc)}",
            where="features, model",
            fix=_fit_fix(x),
        ) from exc
    schema = {"task": task, "target": target, "classes": classes, "columns": columns}
    # project-local code is a dependency in dvc.yaml, so the lineage records its md5 too
    code = tuple(d for d in code_deps(ctx.plan, ctx.plugins, ctx.root) if d not in ctx.plan.deps)
    metadata = {
        "name": ctx.params.parse("project.name", str),
        "model": model_spec.label,
        "estimator": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
        "lineage": lineage(ctx.root, ctx.params.section(*READS), (*ctx.plan.deps, *code)),
    }
    data = dump_pipeline(pipeline)
    _require_trusted(ctx, data, model_spec)
    save_bundle(ctx.root / bundle_dir, data, schema, metadata)
    seconds = time.perf_counter() - started
    record = record_run(ctx.root, "train", ctx.plan.outs, seconds=seconds, extra=code)
    print(  # noqa: T201 - the wall time goes to stdout and the run record, never the bundle
        f"train: {model_spec.label} on {rows} rows x {len(columns)} features -> {bundle_dir} "
        f"in {seconds:.1f} s (run record: {record.relative_to(ctx.root)})"
    )


def _training_data(
    ctx: StageContext, train_path: str, target: str, task: Task, fit: FitSpec
) -> tuple[pd.DataFrame, pd.Series, int, list[dict[str, Any]], pd.Series]:
    """Features and labels to fit on, the split's rows, its schema, and its labels' values.

    In memory: the whole split. ``memory: external``: one pass in batches, and the features
    and labels are the bounded sample (:func:`conveyor.runtime.batches.scan_split`); the
    split itself is never held whole.
    """
    if fit.memory != "external":
        from conveyor.bundle import infer_schema

        frame = read_frame(ctx.root, train_path, "train")
        require_column(frame, target, key="data.target", file=train_path)
        x, y = frame.drop(columns=[target]), frame[target]
        return x, y, len(frame), infer_schema(x), y
    from conveyor.runtime.batches import scan_split

    scan = scan_split(
        input_path(ctx.root, train_path, "train"),
        target,
        sample_rows=fit.sample_rows,
        classification=is_classification(task),
    )
    require_column(scan.sample, target, key="data.target", file=train_path)
    x, y = scan.sample.drop(columns=[target]), scan.sample[target]
    return x, y, scan.rows, scan.schema, y if scan.labels is None else scan.labels


def _require_two_classes(
    classes: list[Any], target: str, task: Task, train_path: str, rows: int
) -> None:
    """Refuse a one-class training split: some models fit it, and every later stage breaks."""
    if len(classes) != 1:
        return
    only = shown_label(classes[0])
    raise DataError(
        f"every row of {train_path} has '{target}' = {only}, and a {task} model needs at "
        "least two classes",
        where="data.target",
        fix=f"check the source data of '{target}' (all {rows} training rows are {only}); if "
        "the dataset holds other classes, the split left them out: use data.split strategy: "
        "stratified, or more data; if the target is a quantity, set project.task: regression",
    )


def shown_label(label: object) -> str:
    """A class label as a message quotes it: ``'yes'`` for text, ``1`` for a number."""
    return f"'{label}'" if isinstance(label, str) else str(label)


def _require_trusted(ctx: StageContext, data: bytes, model: ModelSpec) -> None:
    """Refuse, before writing, a pipeline that no stage could load: it holds untrusted types.

    A ``_target_`` ensemble holds classes besides its own (GradientBoostingClassifier holds a
    DummyClassifier); the reviewed conf/ must name them in ``model.trusted_types``.
    """
    from conveyor.bundle.bundle import untrusted_types

    refused = untrusted_types(data, ctx.trusted_types(), where=f"the fitted {model.label}")
    if not refused:
        return
    file = _model_file(ctx.root, model)
    raise StageError(
        f"the fitted {model.label} holds types that neither an installed component nor conf/ "
        f"trusts, so no stage could load its bundle: {', '.join(map(repr, refused))}",
        where=f"model.trusted_types ({file})",
        fix=f"add them to model.trusted_types in {file} after reviewing them "
        "(each is an exact class a bundle of this model may hold; see docs/security.md)",
    )


def _model_file(root: Path, model: ModelSpec) -> str:
    """The conf/model/ option that sets this model, when exactly one does (a hint only)."""
    import yaml

    key, value = ("_target_", model.target) if model.target else ("kind", model.kind)
    found = []
    for path in sorted((root / "conf" / "model").glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and data.get(key) == value:
            found.append(path.relative_to(root).as_posix())
    return found[0] if len(found) == 1 else "the model's file in conf/model/"


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _fit_fix(x: pd.DataFrame) -> str:
    """Point at non-numeric columns or infinite values, the usual causes; else at the params."""
    import numpy as np
    import pandas as pd

    infinite = [str(c) for c in x.columns if x[c].dtype.kind == "f" and np.isinf(x[c]).any()]
    if infinite:
        return (
            f"infinite values in {', '.join(map(repr, infinite[:10]))}: replace them at the "
            "source, and add data.schema (conf/data/) so that validate reports their rows "
            "before training"
        )
    text = [str(c) for c in x.columns if not pd.api.types.is_numeric_dtype(x[c])]
    if text:
        return (
            f"columns {', '.join(map(repr, text[:10]))} are not numeric: add a transform for "
            "them under features.transforms (e.g. kind: one_hot, columns: categorical)"
        )
    return "check model.params and the training data; CONVEYOR_FULL_ERROR=1 shows the cause"


STAGE = StageDef("train", plan, run)
