"""Numeric transforms: imputation and scaling, fitted on the training split only."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import model_validator

from conveyor.components.transforms._params import TransformParams
from conveyor.plugins.base import Transform


class ImputeParams(TransformParams):
    """``SimpleImputer`` arguments.

    ``mean`` and ``median`` need numeric columns; ``most_frequent`` and ``constant`` also fill
    text and categorical columns (``constant`` uses ``fill_value``, by default 0 for numbers and
    ``"missing_value"`` for text).
    """

    strategy: Literal["mean", "median", "most_frequent", "constant"] = "median"
    fill_value: str | float | None = None
    add_indicator: bool = False


class Impute(Transform[ImputeParams]):
    """``kind: impute`` — fill missing values with a statistic of the training split."""

    Params = ImputeParams
    trusted_types = frozenset({"conveyor.components.transformers.impute.FrameImputer"})

    def build(self) -> Any:  # noqa: ANN401 - a scikit-learn transformer
        """A ``SimpleImputer`` that keeps numeric columns numeric in its pandas output."""
        from conveyor.components.transformers.impute import FrameImputer

        return FrameImputer(**self.explicit_params())


class StandardScaleParams(TransformParams):
    """``StandardScaler`` arguments."""

    with_mean: bool = True
    with_std: bool = True


class StandardScale(Transform[StandardScaleParams]):
    """``kind: standard_scaler`` — centre and scale with training-split statistics."""

    Params = StandardScaleParams
    trusted_types = frozenset({"sklearn.preprocessing._data.StandardScaler"})

    def build(self) -> Any:  # noqa: ANN401 - a scikit-learn transformer
        """A ``StandardScaler``."""
        from sklearn.preprocessing import StandardScaler

        return StandardScaler(**self.explicit_params())


class MinMaxScaleParams(TransformParams):
    """``MinMaxScaler`` arguments."""

    feature_range: tuple[float, float] = (0.0, 1.0)
    clip: bool = False
    """Clip values outside the training range (at serving) into ``feature_range``."""

    @model_validator(mode="after")
    def _range_is_increasing(self) -> MinMaxScaleParams:
        low, high = self.feature_range
        if low >= high:
            msg = f"feature_range must be [low, high] with low < high, got [{low}, {high}]"
            raise ValueError(msg)
        return self


class MinMaxScale(Transform[MinMaxScaleParams]):
    """``kind: minmax_scaler`` — map the training range of each column onto ``feature_range``."""

    Params = MinMaxScaleParams
    trusted_types = frozenset({"sklearn.preprocessing._data.MinMaxScaler"})

    def build(self) -> Any:  # noqa: ANN401 - a scikit-learn transformer
        """A ``MinMaxScaler``."""
        from sklearn.preprocessing import MinMaxScaler

        return MinMaxScaler(**self.explicit_params())


class RobustScaleParams(TransformParams):
    """``RobustScaler`` arguments: centre on the median, scale by a quantile range."""

    with_centering: bool = True
    with_scaling: bool = True
    quantile_range: tuple[float, float] = (25.0, 75.0)
    unit_variance: bool = False

    @model_validator(mode="after")
    def _quantiles_are_ordered(self) -> RobustScaleParams:
        low, high = self.quantile_range
        if not 0 <= low < high <= 100:
            msg = f"quantile_range must satisfy 0 <= low < high <= 100, got [{low}, {high}]"
            raise ValueError(msg)
        return self


class RobustScale(Transform[RobustScaleParams]):
    """``kind: robust_scaler`` — scaling that outliers in the training split barely move."""

    Params = RobustScaleParams
    trusted_types = frozenset({"sklearn.preprocessing._data.RobustScaler"})

    def build(self) -> Any:  # noqa: ANN401 - a scikit-learn transformer
        """A ``RobustScaler``."""
        from sklearn.preprocessing import RobustScaler

        return RobustScaler(**self.explicit_params())
