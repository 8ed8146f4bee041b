"""Lower a fitted feature Pipeline to numpy operations on one float64 matrix.

Supported: ``ColumnTransformer`` steps (as ``build_pipeline`` makes them) holding one
SimpleImputer, StandardScaler, MinMaxScaler or RobustScaler over named columns with the rest
passed through, then any final estimator. XGBoost models are called through
``Booster.inplace_predict``; other estimators get the matrix without the pandas round trip.
Anything else returns ``None`` and a reason, and the Pipeline itself is used.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from conveyor.bundle.inputs import Checked, InputSchema

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    from sklearn.base import BaseEstimator

    Step = Callable[[np.ndarray], np.ndarray]

_SCALERS = ("SimpleImputer", "StandardScaler", "MinMaxScaler", "RobustScaler")


class _Unsupported(Exception):  # noqa: N818 - internal signal, never leaves this module
    pass


def lower(
    pipeline: BaseEstimator,  # a fitted Pipeline or estimator
    schema: InputSchema,
    task: str,
    threads: int,
) -> tuple[Step | None, str]:
    """A function from the input matrix (schema order) to scores, or None and why not."""
    if any(rule.kind != "numeric" for rule in schema.rules):
        return None, "non-numeric input columns go through the Pipeline"
    steps = list(getattr(pipeline, "steps", [("model", pipeline)]))
    names = list(schema.names)
    try:
        ops = []
        for step_name, step in steps[:-1]:
            op, names = _lower_step(step, names, step_name)
            ops.append(op)
        model, model_kind = _lower_model(steps[-1][1], names, task, threads)
    except _Unsupported as exc:
        return None, str(exc)

    def scores(matrix: np.ndarray) -> np.ndarray:
        for op in ops:
            matrix = op(matrix)
        return model(matrix)

    return scores, f"numpy features + {model_kind}"


def probe_rows(schema: InputSchema, n_rows: int) -> Checked:
    """Deterministic rows spanning each numeric column's training range, some of them null."""
    import numpy as np

    rng = np.random.default_rng(0)
    arrays = {}
    for rule in schema.rules:
        low = rule.minimum if rule.minimum is not None else -1.0
        high = rule.maximum if rule.maximum is not None else 1.0
        values = rng.uniform(float(low), float(high), n_rows)
        values[: n_rows // 8] = float(low)
        if rule.nullable:
            values[::7] = np.nan
        arrays[rule.name] = values
    return Checked(arrays, n_rows, (), np.zeros(n_rows, dtype=bool))


def _lower_step(step: Any, names: list[str], where: str) -> tuple[Step, list[str]]:  # noqa: ANN401
    import numpy as np

    if type(step).__name__ != "ColumnTransformer":
        raise _Unsupported(f"step '{where}' ({type(step).__name__}) has no numpy form")
    if list(getattr(step, "feature_names_in_", [])) != names:
        raise _Unsupported(f"step '{where}' was fitted on other columns")
    fitted = [t for t in step.transformers_ if t[0] != "remainder"]
    if len(fitted) != 1 or step.remainder != "passthrough":
        raise _Unsupported(f"step '{where}' is not one transform plus passthrough")
    _, transformer, columns = fitted[0]
    # By the scikit-learn base class, so subclasses such as conveyor's FrameImputer qualify.
    kinds = [c.__name__ for c in type(transformer).__mro__ if c.__module__.startswith("sklearn.")]
    kind = next((k for k in kinds if k in _SCALERS), type(transformer).__name__)
    if kind not in _SCALERS or not all(isinstance(c, str) for c in columns):
        raise _Unsupported(f"step '{where}' ({kind}) has no numpy form")
    columns = list(columns)
    if list(transformer.get_feature_names_out(columns)) != columns:
        raise _Unsupported(f"step '{where}' ({kind}) adds or drops columns")
    out = [str(n) for n in step.get_feature_names_out()]
    if sorted(out) != sorted(names):
        raise _Unsupported(f"step '{where}' renames columns")
    order = np.asarray([names.index(n) for n in out])
    targets = np.asarray([out.index(c) for c in columns])
    apply = _column_op(transformer, kind)
    identity = bool((order == np.arange(len(names))).all())

    def op(matrix: np.ndarray) -> np.ndarray:
        matrix = matrix.copy() if identity else matrix[:, order]
        matrix[:, targets] = apply(matrix[:, targets])
        return matrix

    return op, out


def _column_op(transformer: Any, kind: str) -> Step:  # noqa: ANN401
    import numpy as np

    if kind == "SimpleImputer":
        if transformer.add_indicator or not _is_nan(transformer.missing_values):
            raise _Unsupported("SimpleImputer with an indicator or a non-NaN marker")
        fill = np.asarray(transformer.statistics_, dtype=np.float64)

        def impute(block: np.ndarray) -> np.ndarray:
            missing = np.isnan(block)
            if missing.any():
                block[missing] = np.broadcast_to(fill, block.shape)[missing]
            return block

        return impute
    if kind == "StandardScaler":
        mean, scale = transformer.mean_, transformer.scale_
        return lambda block: _affine(block, mean if transformer.with_mean else None, scale)
    if kind == "RobustScaler":
        return lambda block: _affine(block, transformer.center_, transformer.scale_)
    low, high = transformer.feature_range
    scale, offset, clip = transformer.scale_, transformer.min_, transformer.clip

    def minmax(block: np.ndarray) -> np.ndarray:
        block *= scale
        block += offset
        return np.clip(block, low, high, out=block) if clip else block

    return minmax


def _affine(block: np.ndarray, center: Any, scale: Any) -> np.ndarray:  # noqa: ANN401
    """``(block - center) / scale`` in place, in scikit-learn's order of operations."""
    if center is not None:
        block -= center
    if scale is not None:
        block /= scale
    return block


def _lower_model(
    model: BaseEstimator, names: list[str], task: str, threads: int
) -> tuple[Step, str]:
    import numpy as np

    fitted_names = [str(n) for n in getattr(model, "feature_names_in_", names)]
    if fitted_names != names:
        raise _Unsupported("the model was fitted on other columns")
    classify = task != "regression"
    if type(model).__module__.startswith("xgboost.") and hasattr(model, "get_booster"):
        booster = model.get_booster()
        booster.set_param({"nthread": threads})
        best = getattr(model, "best_iteration", None) if _has_best(model) else None
        iterations = (0, best + 1) if best is not None else (0, 0)
        missing = getattr(model, "missing", np.nan)

        def boosted(matrix: np.ndarray) -> np.ndarray:
            out = booster.inplace_predict(
                matrix, iteration_range=iterations, missing=missing, validate_features=False
            )
            if classify and out.ndim == 1:
                return np.column_stack([1.0 - out, out])
            return out  # type: ignore[no-any-return]

        return boosted, "xgboost booster"
    if classify and not hasattr(model, "predict_proba"):
        raise _Unsupported(f"{type(model).__name__} has no predict_proba")
    plain = copy.copy(model)  # a shallow copy: drop the names check without touching the bundle
    if hasattr(plain, "feature_names_in_"):
        del plain.feature_names_in_
    method = plain.predict_proba if classify else plain.predict
    return method, f"{type(model).__name__} on a matrix"


def _has_best(model: BaseEstimator) -> bool:
    try:
        return model.best_iteration is not None
    except AttributeError:
        return False


def _is_nan(value: Any) -> bool:  # noqa: ANN401
    return isinstance(value, float) and value != value  # NaN is the one value != itself
