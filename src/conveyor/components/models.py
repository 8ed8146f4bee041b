"""Built-in models.

Each ``Params`` mirrors the real estimator signature (a contract test pins it), so
``conveyor compile`` catches typos and wrong types without importing scikit-learn or xgboost.

Numbers get the bounds the libraries give them, plus upper bounds where they leave a value
open and a huge one means a fit that never ends or a C integer that overflows at fit time
(``n_estimators: 1e15`` used to compile):

- trees, boosting rounds and solver iterations: at most ``MAX_ROUNDS`` (100,000) in all;
- tree depth: at most ``MAX_TREE_DEPTH`` (1,000; ``None``, or 0 for xgboost, means unlimited);
- xgboost histogram bins: at most ``MAX_BINS`` (65,536; scikit-learn stops at 255);
- ``n_jobs``: at most ``MAX_JOBS`` (4,096) threads or processes either way (-1 = all CPUs);
- ``random_state``: 0 to 2**32 - 1, numpy's seed range (as ``project.seed``);
- other counts that the data bounds anyway (leaves, categories): a C int, 2**31 - 1.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from conveyor.plugins.base import Model
from conveyor.spec import Task, is_classification

MAX_ROUNDS = 100_000
MAX_TREE_DEPTH = 1_000
MAX_BINS = 65_536
MAX_JOBS = 4_096
MAX_SEED = 2**32 - 1
MAX_COUNT = 2**31 - 1

Jobs = Annotated[int, Field(ge=-MAX_JOBS, le=MAX_JOBS)]
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
Count = Annotated[int, Field(ge=1, le=MAX_COUNT)]
Fraction = Annotated[float, Field(gt=0, le=1)]
"""A share of the rows or features, in (0, 1]; an integer in the same field is a count."""


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


ClassWeight = Literal["balanced"] | dict[str, float] | dict[int, float] | None


class XGBoostParams(_Params):
    """``xgboost.XGBClassifier`` / ``XGBRegressor`` arguments (``None`` = xgboost's default)."""

    n_estimators: int | None = Field(default=None, ge=1, le=MAX_ROUNDS)
    max_depth: int | None = Field(default=None, ge=0, le=MAX_TREE_DEPTH)
    max_leaves: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    max_bin: int | None = Field(default=None, ge=2, le=MAX_BINS)
    grow_policy: Literal["depthwise", "lossguide"] | None = None
    learning_rate: float | None = Field(default=None, gt=0)
    verbosity: int | None = Field(default=None, ge=0, le=3)
    objective: str | None = None
    booster: Literal["gbtree", "gblinear", "dart"] | None = None
    tree_method: Literal["auto", "exact", "approx", "hist"] | None = None
    n_jobs: Jobs | None = None
    gamma: float | None = Field(default=None, ge=0)
    min_child_weight: float | None = Field(default=None, ge=0)
    max_delta_step: float | None = Field(default=None, ge=0)
    subsample: float | None = Field(default=None, gt=0, le=1)
    sampling_method: Literal["uniform", "gradient_based"] | None = None
    colsample_bytree: float | None = Field(default=None, gt=0, le=1)
    colsample_bylevel: float | None = Field(default=None, gt=0, le=1)
    colsample_bynode: float | None = Field(default=None, gt=0, le=1)
    reg_alpha: float | None = Field(default=None, ge=0)
    reg_lambda: float | None = Field(default=None, ge=0)
    scale_pos_weight: float | None = Field(default=None, gt=0)
    base_score: float | list[float] | None = None
    random_state: Seed | None = None
    missing: float = math.nan
    num_parallel_tree: int | None = Field(default=None, ge=1, le=MAX_ROUNDS)
    monotone_constraints: dict[str, int] | str | None = None
    interaction_constraints: list[list[str]] | str | None = None
    importance_type: Literal["gain", "weight", "cover", "total_gain", "total_cover"] | None = None
    device: str | None = None
    validate_parameters: bool | None = None
    enable_categorical: bool = False
    feature_types: list[str] | None = None
    feature_weights: list[float] | None = None
    max_cat_to_onehot: Count | None = None
    max_cat_threshold: Count | None = None
    multi_strategy: Literal["one_output_per_tree", "multi_output_tree"] | None = None
    eval_metric: str | list[str] | None = None

    @model_validator(mode="after")
    def _trees_bounded(self) -> XGBoostParams:
        trees = (self.n_estimators or 100) * (self.num_parallel_tree or 1)
        if trees > MAX_ROUNDS:
            msg = (
                f"n_estimators x num_parallel_tree is {trees:,} trees; "
                f"at most {MAX_ROUNDS:,} can be trained"
            )
            raise ValueError(msg)
        return self


class XGBoostModel(Model[XGBoostParams]):
    """``kind: xgboost`` — gradient-boosted trees."""

    Params = XGBoostParams
    unsupported_args: ClassVar[frozenset[str]] = frozenset(
        {"callbacks", "early_stopping_rounds"}  # need Python objects / an eval set at fit time
    )
    trusted_types: ClassVar[frozenset[str]] = frozenset(
        {"xgboost.sklearn.XGBClassifier", "xgboost.sklearn.XGBRegressor", "xgboost.core.Booster"}
    )
    fit_settings: ClassVar[frozenset[str]] = frozenset({"distributed", "external"})

    def estimator_class(self, task: Task) -> type[Any]:
        """``XGBClassifier`` for classification, ``XGBRegressor`` for regression."""
        import xgboost

        estimator: type[Any] = (
            xgboost.XGBClassifier if is_classification(task) else xgboost.XGBRegressor
        )

        return estimator


class _ForestParams(_Params):
    n_estimators: int = Field(default=100, ge=1, le=MAX_ROUNDS)
    max_depth: int | None = Field(default=None, ge=1, le=MAX_TREE_DEPTH)
    min_samples_split: Annotated[int, Field(ge=2, le=MAX_COUNT)] | Fraction = 2
    min_samples_leaf: Count | Annotated[float, Field(gt=0, lt=1)] = 1
    min_weight_fraction_leaf: float = Field(default=0.0, ge=0, le=0.5)
    max_leaf_nodes: int | None = Field(default=None, ge=2, le=MAX_COUNT)
    min_impurity_decrease: float = Field(default=0.0, ge=0)
    bootstrap: bool = True
    oob_score: bool = False
    n_jobs: Jobs | None = None
    random_state: Seed | None = None
    verbose: int = Field(default=0, ge=0)
    warm_start: bool = False
    ccp_alpha: float = Field(default=0.0, ge=0)
    max_samples: Count | Fraction | None = None
    monotonic_cst: list[int] | None = None


class RandomForestClassifierParams(_ForestParams):
    """``RandomForestClassifier`` arguments."""

    criterion: Literal["gini", "entropy", "log_loss"] = "gini"
    max_features: Literal["sqrt", "log2"] | Count | Fraction | None = "sqrt"
    class_weight: Literal["balanced", "balanced_subsample"] | dict[str, float] | None = None


class RandomForestRegressorParams(_ForestParams):
    """``RandomForestRegressor`` arguments."""

    criterion: Literal["squared_error", "absolute_error", "friedman_mse", "poisson"] = (
        "squared_error"
    )
    max_features: Literal["sqrt", "log2"] | Count | Fraction | None = 1.0


class RandomForestModel(Model[_ForestParams]):
    """``kind: random_forest`` — a random forest classifier or regressor."""

    Params = RandomForestClassifierParams
    trusted_types: ClassVar[frozenset[str]] = frozenset(
        {
            "sklearn.ensemble._forest.RandomForestClassifier",
            "sklearn.ensemble._forest.RandomForestRegressor",
            "sklearn.tree._classes.DecisionTreeClassifier",
            "sklearn.tree._classes.DecisionTreeRegressor",
            "sklearn.tree._tree.Tree",
        }
    )

    @classmethod
    def params_model(cls, task: Task | None = None) -> type[BaseModel]:
        """Classifier and regressor take different criteria and class weights."""
        if task is None or is_classification(task):
            return RandomForestClassifierParams
        return RandomForestRegressorParams

    def estimator_class(self, task: Task) -> type[Any]:
        """``RandomForestClassifier`` or ``RandomForestRegressor``."""
        from sklearn import ensemble

        estimator: type[Any] = (
            ensemble.RandomForestClassifier
            if is_classification(task)
            else ensemble.RandomForestRegressor
        )
        return estimator


class _HistParams(_Params):
    learning_rate: float = Field(default=0.1, gt=0)
    max_iter: int = Field(default=100, ge=1, le=MAX_ROUNDS)
    max_leaf_nodes: int | None = Field(default=31, ge=2, le=MAX_COUNT)
    max_depth: int | None = Field(default=None, ge=1, le=MAX_TREE_DEPTH)
    min_samples_leaf: Count = 20
    l2_regularization: float = Field(default=0.0, ge=0)
    max_features: float = Field(default=1.0, gt=0, le=1)
    max_bins: int = Field(default=255, ge=2, le=255)
    categorical_features: Literal["from_dtype"] | list[str] | list[int] | None = "from_dtype"
    monotonic_cst: list[int] | dict[str, int] | None = None
    interaction_cst: Literal["pairwise", "no_interactions"] | list[list[int]] | None = None
    warm_start: bool = False
    early_stopping: Literal["auto"] | bool = "auto"
    scoring: str | None = "loss"
    validation_fraction: Count | Annotated[float, Field(gt=0, lt=1)] | None = 0.1
    n_iter_no_change: int = Field(default=10, ge=1)
    tol: float = Field(default=1e-7, ge=0)
    verbose: int = Field(default=0, ge=0)
    random_state: Seed | None = None


class HistGradientBoostingClassifierParams(_HistParams):
    """``HistGradientBoostingClassifier`` arguments."""

    loss: Literal["log_loss"] = "log_loss"
    class_weight: ClassWeight = None


class HistGradientBoostingRegressorParams(_HistParams):
    """``HistGradientBoostingRegressor`` arguments."""

    loss: Literal["squared_error", "absolute_error", "gamma", "poisson", "quantile"] = (
        "squared_error"
    )
    quantile: float | None = Field(default=None, gt=0, lt=1)


class HistGradientBoostingModel(Model[_HistParams]):
    """``kind: hist_gradient_boosting`` — scikit-learn's histogram gradient boosting."""

    Params = HistGradientBoostingClassifierParams
    trusted_types: ClassVar[frozenset[str]] = frozenset(
        {
            f"sklearn.ensemble._hist_gradient_boosting.{name}"
            for name in (
                "gradient_boosting.HistGradientBoostingClassifier",
                "gradient_boosting.HistGradientBoostingRegressor",
                "binning._BinMapper",
                "predictor.TreePredictor",
            )
        }
        | {"sklearn.preprocessing._label.LabelEncoder"}
        | {
            f"sklearn._loss.link.{name}"
            for name in ("IdentityLink", "Interval", "LogLink", "LogitLink", "MultinomialLogit")
        }
        | {  # one loss per ``loss:`` choice, each with its Cython counterpart
            f"sklearn._loss.{module}.{prefix}{name}"
            for name in (
                "HalfSquaredError",
                "AbsoluteError",
                "HalfGammaLoss",
                "HalfPoissonLoss",
                "PinballLoss",
                "HalfBinomialLoss",
                "HalfMultinomialLoss",
            )
            for module, prefix in (("loss", ""), ("_loss", "Cy"))
        }
    )

    @classmethod
    def params_model(cls, task: Task | None = None) -> type[BaseModel]:
        """Classifier and regressor take different losses."""
        if task is None or is_classification(task):
            return HistGradientBoostingClassifierParams
        return HistGradientBoostingRegressorParams

    def estimator_class(self, task: Task) -> type[Any]:
        """``HistGradientBoostingClassifier`` or ``HistGradientBoostingRegressor``."""
        from sklearn import ensemble

        estimator: type[Any] = (
            ensemble.HistGradientBoostingClassifier
            if is_classification(task)
            else ensemble.HistGradientBoostingRegressor
        )
        return estimator


class LogisticRegressionParams(_Params):
    """``LogisticRegression`` arguments."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    # Deprecated by scikit-learn 1.8 in favour of l1_ratio; kept so older configs still validate.
    penalty: Literal["l1", "l2", "elasticnet"] | None = None
    C: float = Field(default=1.0, gt=0)
    l1_ratio: float = Field(default=0.0, ge=0, le=1)
    dual: bool = False
    tol: float = Field(default=1e-4, gt=0)
    fit_intercept: bool = True
    intercept_scaling: float = Field(default=1.0, gt=0)
    class_weight: ClassWeight = None
    random_state: Seed | None = None
    solver: Literal["lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga"] = "lbfgs"
    max_iter: int = Field(default=100, ge=1, le=MAX_ROUNDS)
    verbose: int = Field(default=0, ge=0)
    warm_start: bool = False
    n_jobs: Jobs | None = None


class LogisticRegressionModel(Model[LogisticRegressionParams]):
    """``kind: logistic_regression`` — a linear classifier (classification tasks only)."""

    Params = LogisticRegressionParams
    tasks: ClassVar[tuple[Task, ...]] = ("binary_classification", "multiclass_classification")
    trusted_types: ClassVar[frozenset[str]] = frozenset(
        {"sklearn.linear_model._logistic.LogisticRegression"}
    )

    def estimator_class(self, task: Task) -> type[Any]:
        """``LogisticRegression``."""
        del task
        from sklearn.linear_model import LogisticRegression

        estimator: type[Any] = LogisticRegression

        return estimator
