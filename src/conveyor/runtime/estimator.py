"""Build the one scikit-learn Pipeline that training fits and serving reuses: features + model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from conveyor.plugins.target import estimator_params, import_target

if TYPE_CHECKING:
    from conveyor.plugins import Plugins
    from conveyor.plugins.base import Model, Transform
    from conveyor.spec import FeaturesSpec, ModelSpec, Task, TransformSpec

_CATEGORICAL = ["object", "category", "string", "bool"]


def build_model(spec: ModelSpec, task: Task, seed: int, plugins: Plugins) -> Any:  # noqa: ANN401
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


def build_pipeline(features: FeaturesSpec, estimator: Any, plugins: Plugins) -> Any:  # noqa: ANN401
    """``Pipeline([<one ColumnTransformer per transform>..., ("model", estimator)])``.

    Each transform touches only its selected columns and passes the rest through, keeping
    pandas column names, so later transforms can select by name or dtype again.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    steps: list[tuple[str, Any]] = []
    for index, transform_spec in enumerate(features.transforms):
        cls = plugins["transform"].load(
            transform_spec.kind, where=f"features.transforms.{index}.kind"
        )
        transformer = cast("Transform[Any]", cls.from_config(transform_spec.params)).build()
        name = f"{index}_{transform_spec.kind}"
        step = ColumnTransformer(
            [(name, transformer, _selector(transform_spec))],
            remainder="passthrough",
            verbose_feature_names_out=False,
        ).set_output(transform="pandas")
        steps.append((name, step))
    steps.append(("model", estimator))
    return Pipeline(steps)


def _selector(spec: TransformSpec) -> Any:  # noqa: ANN401 - a column selector
    from sklearn.compose import make_column_selector

    if isinstance(spec.columns, list):
        return list(spec.columns)
    if spec.columns == "numeric":
        return make_column_selector(dtype_include="number")
    if spec.columns == "categorical":
        return make_column_selector(dtype_include=_CATEGORICAL)
    return make_column_selector()
