"""Built-in feature transforms: imputation, scaling and one-hot encoding."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from conveyor.plugins.base import Transform


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ImputeParams(_Params):
    """``SimpleImputer`` arguments."""

    strategy: Literal["mean", "median", "most_frequent", "constant"] = "median"
    fill_value: str | float | None = None
    add_indicator: bool = False


class Impute(Transform[ImputeParams]):
    """``kind: impute`` — fill missing values with a statistic of the training split."""

    Params = ImputeParams

    def build(self) -> Any:  # noqa: ANN401 - a scikit-learn transformer
        """A ``SimpleImputer``."""
        from sklearn.impute import SimpleImputer

        return SimpleImputer(**self.explicit_params())


class StandardScaleParams(_Params):
    """``StandardScaler`` arguments."""

    with_mean: bool = True
    with_std: bool = True


class StandardScale(Transform[StandardScaleParams]):
    """``kind: standard_scaler`` — centre and scale with training-split statistics."""

    Params = StandardScaleParams

    def build(self) -> Any:  # noqa: ANN401 - a scikit-learn transformer
        """A ``StandardScaler``."""
        from sklearn.preprocessing import StandardScaler

        return StandardScaler(**self.explicit_params())


class OneHotParams(_Params):
    """``OneHotEncoder`` arguments (dense output, so pandas column names survive)."""

    handle_unknown: Literal["error", "ignore", "infrequent_if_exist"] = "ignore"
    drop: Literal["first", "if_binary"] | None = None
    min_frequency: int | float | None = Field(default=None, gt=0)
    max_categories: int | None = Field(default=None, ge=1)


class OneHot(Transform[OneHotParams]):
    """``kind: one_hot`` — one column per category seen in the training split."""

    Params = OneHotParams

    def build(self) -> Any:  # noqa: ANN401 - a scikit-learn transformer
        """A dense ``OneHotEncoder`` that ignores unseen categories by default."""
        from sklearn.preprocessing import OneHotEncoder

        params = {"handle_unknown": "ignore", **self.explicit_params()}
        return OneHotEncoder(sparse_output=False, **params)
