"""Every built-in component passes the conveyor.testing suite that plugins pass."""

from __future__ import annotations

from importlib.metadata import distribution
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from conveyor.components import metrics, models, sources, transforms
from conveyor.plugins import GROUPS
from conveyor.testing import (
    ComponentContract,
    MetricContract,
    ModelContract,
    SourceContract,
    TransformContract,
)

if TYPE_CHECKING:
    from pathlib import Path

# --- models: small params keep each fit well under a second ----------------------------------


class TestXGBoost(ModelContract):
    component = models.XGBoostModel
    name = "xgboost"
    params: ClassVar[dict[str, Any]] = {"n_estimators": 5, "max_depth": 2, "n_jobs": 1}


class TestRandomForest(ModelContract):
    component = models.RandomForestModel
    name = "random_forest"
    params: ClassVar[dict[str, Any]] = {"n_estimators": 5, "max_depth": 3, "n_jobs": 1}


class TestLogisticRegression(ModelContract):
    component = models.LogisticRegressionModel
    name = "logistic_regression"
    params: ClassVar[dict[str, Any]] = {"C": 0.5, "max_iter": 500}


class TestHistGradientBoosting(ModelContract):
    component = models.HistGradientBoostingModel
    name = "hist_gradient_boosting"
    params: ClassVar[dict[str, Any]] = {"max_iter": 10}


# --- sources -----------------------------------------------------------------------------------


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [34, 51, 27, 45, 62],
            "income": [52.5, np.nan, 31.0, 77.25, 40.0],
            "city": ["Oslo", "Lima", "Pune", "Oslo", "Kyiv"],
            "churned": [0, 1, 0, 1, 1],
        }
    )


class TestSklearnDataset(SourceContract):
    component = sources.SklearnDatasetSource
    name = "sklearn_dataset"
    params: ClassVar[dict[str, Any]] = {"name": "iris", "target": "species"}


class TestCsv(SourceContract):
    component = sources.CsvSource
    name = "csv"
    params: ClassVar[dict[str, Any]] = {"path": "data/customers.csv", "na_values": ["n/a"]}

    @pytest.fixture
    def root(self, tmp_path: Path) -> Path:
        (tmp_path / "data").mkdir()
        _table().to_csv(tmp_path / "data" / "customers.csv", index=False, na_rep="n/a")
        return tmp_path


class TestParquet(SourceContract):
    component = sources.ParquetSource
    name = "parquet"
    params: ClassVar[dict[str, Any]] = {"path": "data/customers.parquet"}

    @pytest.fixture
    def root(self, tmp_path: Path) -> Path:
        (tmp_path / "data").mkdir()
        _table().to_parquet(tmp_path / "data" / "customers.parquet", index=False)
        return tmp_path


class TestParquetColumns(TestParquet):
    params: ClassVar[dict[str, Any]] = {"path": "data/customers.parquet", "columns": ["age"]}


# --- transforms --------------------------------------------------------------------------------


class TestImpute(TransformContract):
    component = transforms.Impute
    name = "impute"
    params: ClassVar[dict[str, Any]] = {"strategy": "mean", "add_indicator": True}

    @pytest.fixture
    def frame(self) -> pd.DataFrame:
        return _table()[["age", "income"]]


class TestStandardScale(TransformContract):
    component = transforms.StandardScale
    name = "standard_scaler"


class TestOneHot(TransformContract):
    component = transforms.OneHot
    name = "one_hot"
    params: ClassVar[dict[str, Any]] = {"drop": "if_binary"}

    @pytest.fixture
    def frame(self) -> pd.DataFrame:
        return _table()[["city"]]


# --- metrics -----------------------------------------------------------------------------------


class TestAccuracy(MetricContract):
    component = metrics.Accuracy
    name = "accuracy"


class TestBalancedAccuracy(MetricContract):
    component = metrics.BalancedAccuracy
    name = "balanced_accuracy"


class TestF1(MetricContract):
    component = metrics.F1
    name = "f1"


class TestPrecision(MetricContract):
    component = metrics.Precision
    name = "precision"


class TestRecall(MetricContract):
    component = metrics.Recall
    name = "recall"


class TestRocAuc(MetricContract):
    component = metrics.RocAuc
    name = "roc_auc"


class TestPrAuc(MetricContract):
    component = metrics.PrAuc
    name = "pr_auc"


class TestLogLoss(MetricContract):
    component = metrics.LogLoss
    name = "log_loss"


class TestBrier(MetricContract):
    component = metrics.Brier
    name = "brier"


class TestRmse(MetricContract):
    component = metrics.Rmse
    name = "rmse"


class TestMae(MetricContract):
    component = metrics.Mae
    name = "mae"


class TestMape(MetricContract):
    component = metrics.Mape
    name = "mape"


class TestR2(MetricContract):
    component = metrics.R2
    name = "r2"


# --- coverage ----------------------------------------------------------------------------------


def test_every_builtin_component_runs_its_suite() -> None:
    """A new entry point in pyproject.toml needs a suite here or in a sibling file."""
    from tests.unit.components import (
        test_drift_contracts,
        test_source_contracts,
        test_target_contracts,
        test_transform_contracts,
    )
    from tests.unit.executors import test_contracts as test_executor_contracts

    suites = [
        *globals().values(),
        *vars(test_source_contracts).values(),
        *vars(test_transform_contracts).values(),
        *vars(test_target_contracts).values(),
        *vars(test_drift_contracts).values(),
        *vars(test_executor_contracts).values(),
    ]
    registered = {
        (ep.group, ep.name)
        for ep in distribution("conveyor-mlops").entry_points
        if ep.group in GROUPS.values()
    }
    covered = {
        (GROUPS[suite.kind], suite.name)
        for suite in suites
        if isinstance(suite, type)
        and issubclass(suite, ComponentContract)
        and suite.__name__.startswith("Test")
    }
    assert sorted(registered - covered) == []
