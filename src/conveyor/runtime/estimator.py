"""Build the one scikit-learn Pipeline that training fits and serving reuses: features + model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from conveyor.plugins.target import estimator_params, import_target

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator
    from sklearn.pipeline import Pipeline

    from conveyor.plugins import Plugins
    from conveyor.plugins.base import Model, Transform
    from conveyor.spec import FeaturesSpec, ModelSpec, Task


def build_model(spec: ModelSpec, task: Task, seed: int, plugins: Plugins) -> BaseEstimator:
    """An unfitted estimator from ``kind:`` or ``_target_:``, seeded with ``seed``."""
    if spec.kind is not None:
        cls = plugins["model"].load(spec.kind, where="model.kind")
        model = cast("Model[Any]", cls.from_config(spec.params, task))
        return model.build(task, seed)
    assert spec.target is not None  # noqa: S101 - ModelSpec guarantees one of the two
    estimator_cls = import_target(spec.target, where="model._target_")
    params = dict(spec.params)
    if "random_state" in estimator_params(estimator_cls):
        params.setdefault("random_state", seed)
    return estimator_cls(**params)


def build_pipeline(features: FeaturesSpec, estimator: BaseEstimator, plugins: Plugins) -> Pipeline:
    """``Pipeline([<one ColumnTransformer per transform>..., ("model", estimator)])``.

    Each transform touches only its selected columns, plus those its component requires (the
    time and group keys of ``lag``), and passes the rest through, keeping pandas column names,
    so later transforms can select by name or dtype again. Fitting the Pipeline fits every
    transform on the rows it is given (the training split) and nothing else.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    from conveyor.components.transformers.selection import ColumnSelection

    steps: list[tuple[str, Any]] = []
    for index, transform_spec in enumerate(features.transforms):
        where = f"features.transforms.{index}"
        cls = plugins["transform"].load(transform_spec.kind, where=f"{where}.kind")
        component = cast("Transform[Any]", cls.from_config(transform_spec.params))
        columns = transform_spec.columns
        selection = ColumnSelection(
            list(columns) if isinstance(columns, list) else columns,
            component.required_columns(),
            where,
        )
        name = f"{index}_{transform_spec.kind}"
        step = ColumnTransformer(
            [(name, component.build(), selection)],
            remainder="passthrough",
            verbose_feature_names_out=False,
        ).set_output(transform="pandas")
        steps.append((name, step))
    steps.append(("model", estimator))
    return Pipeline(steps)
