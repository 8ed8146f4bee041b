"""Categorical encoders, fitted on the training split: categories seen only later are unknown."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, NonNegativeFloat

from conveyor.components.transforms._params import TransformParams
from conveyor.plugins.base import Transform


class OneHotParams(TransformParams):
    """``OneHotEncoder`` arguments (dense output, so pandas column names survive)."""

    handle_unknown: Literal["error", "ignore", "infrequent_if_exist"] = "ignore"
    drop: Literal["first", "if_binary"] | None = None
    min_frequency: int | float | None = Field(default=None, gt=0)
    max_categories: int | None = Field(default=None, ge=1)


class OneHot(Transform[OneHotParams]):
    """``kind: one_hot`` — one column per category seen in the training split."""

    Params = OneHotParams
    trusted_types = frozenset({"sklearn.preprocessing._encoders.OneHotEncoder"})

    def build(self) -> Any:  # noqa: ANN401 - a scikit-learn transformer
        """A dense ``OneHotEncoder`` that ignores unseen categories by default."""
        from sklearn.preprocessing import OneHotEncoder

        params = {"handle_unknown": "ignore", **self.explicit_params()}
        return OneHotEncoder(sparse_output=False, **params)


class OrdinalParams(TransformParams):
    """``OrdinalEncoder`` arguments.

    Categories seen in training get codes 0..n-1 in sorted order; a missing value stays NaN.
    A category never seen in training gets ``unknown_value``: -1 by default (every model
    takes it), or ``nan`` to treat it like a missing value (for models that handle NaN:
    xgboost, hist_gradient_boosting).
    """

    unknown_value: int | Literal["nan"] = -1
    min_frequency: int | float | None = Field(default=None, gt=0)
    max_categories: int | None = Field(default=None, ge=1)


class Ordinal(Transform[OrdinalParams]):
    """``kind: ordinal`` — one integer code per category, in one column."""

    Params = OrdinalParams
    trusted_types = frozenset({"conveyor.components.transformers.ordinal.FrameOrdinalEncoder"})

    def build(self) -> Any:  # noqa: ANN401 - a scikit-learn transformer
        """An ``OrdinalEncoder`` that encodes unseen categories as ``unknown_value``."""
        from conveyor.components.transformers.ordinal import FrameOrdinalEncoder

        params = self.explicit_params()
        unknown = params.pop("unknown_value", self.params.unknown_value)
        return FrameOrdinalEncoder(
            handle_unknown="use_encoded_value",
            unknown_value=float("nan") if unknown == "nan" else unknown,
            **params,
        )


class TargetEncodingParams(TransformParams):
    """``TargetEncoder`` arguments.

    Each category becomes the (smoothed) mean target of its training rows: one column for
    regression and binary classification, one per class for multiclass. Training rows are
    encoded by cross fitting (each fold with encodings learnt on the other folds), as
    scikit-learn does, so a row's own target never feeds its encoding; ``random_state`` seeds
    the fold shuffle, so training is reproducible. Unseen categories get the training mean.
    """

    target_type: Literal["auto", "continuous", "binary", "multiclass"] = "auto"
    smooth: Literal["auto"] | NonNegativeFloat = "auto"
    """Weight of the overall mean against a category's own mean; ``auto`` estimates it."""
    cv: int = Field(default=5, ge=2)
    """Cross-fitting folds."""
    random_state: int = Field(default=0, ge=0, le=2**32 - 1)
    """Seeds the fold shuffle: numpy's seed range, as ``project.seed``."""


class TargetEncoding(Transform[TargetEncodingParams]):
    """``kind: target_encoding`` — replace categories by the mean target learnt in training."""

    Params = TargetEncodingParams
    trusted_types = frozenset(
        {
            "sklearn.preprocessing._target_encoder.TargetEncoder",
            "conveyor.components.transformers.encoding.TargetFolds",
        }
    )

    def build(self) -> Any:  # noqa: ANN401 - a scikit-learn transformer
        """A ``TargetEncoder`` with seeded, stratified-for-classes cross-fitting folds."""
        from sklearn.preprocessing import TargetEncoder

        from conveyor.components.transformers.encoding import TargetFolds

        params = self.params
        return TargetEncoder(
            target_type=params.target_type,
            smooth=params.smooth,
            cv=TargetFolds(params.cv, params.random_state),
        )
