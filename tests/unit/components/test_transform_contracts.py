"""The transforms added with issue 3 pass the same conveyor.testing suite as plugins."""

from __future__ import annotations

from importlib.metadata import distribution
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from conveyor.components import transforms
from conveyor.testing import ComponentContract, TransformContract
from tests.unit.components import test_contracts


def _sales() -> pd.DataFrame:
    """Two stores, five days each, shuffled, with a non-default index."""
    frame = pd.DataFrame(
        {
            "day": [1, 2, 3, 4, 5] * 2,
            "store": ["oslo"] * 5 + ["lima"] * 5,
            "sales": [10.0, 12.0, np.nan, 15.0, 11.0, 100.0, 90.0, 95.0, 120.0, 110.0],
            "price": [1.0, 1.1, 1.2, 1.3, 1.4, 2.0, 2.1, 2.2, 2.3, 2.4],
        },
        index=range(100, 110),
    )
    return frame.sample(frac=1.0, random_state=0)


def _customers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "city": ["Oslo", "Lima", None, "Oslo", "Pune", "Lima", "Oslo", "Pune"] * 3,
            "plan": ["basic", "pro", "pro", "basic", "basic", "pro", "team", "basic"] * 3,
        },
        index=range(200, 224),
    )


class TestImputeCategorical(TransformContract):
    component = transforms.Impute
    name = "impute"
    params: ClassVar[dict[str, Any]] = {"strategy": "most_frequent"}

    @pytest.fixture
    def frame(self) -> pd.DataFrame:
        return _customers()


class TestMinMaxScale(TransformContract):
    component = transforms.MinMaxScale
    name = "minmax_scaler"
    params: ClassVar[dict[str, Any]] = {"feature_range": [-1, 1], "clip": True}


class TestRobustScale(TransformContract):
    component = transforms.RobustScale
    name = "robust_scaler"
    params: ClassVar[dict[str, Any]] = {"quantile_range": [10, 90]}


class TestOrdinal(TransformContract):
    component = transforms.Ordinal
    name = "ordinal"
    params: ClassVar[dict[str, Any]] = {"unknown_value": "nan"}

    @pytest.fixture
    def frame(self) -> pd.DataFrame:
        return _customers()


class TestTargetEncoding(TransformContract):
    component = transforms.TargetEncoding
    name = "target_encoding"
    params: ClassVar[dict[str, Any]] = {"cv": 3}

    @pytest.fixture
    def frame(self) -> pd.DataFrame:
        return _customers().fillna("missing")

    @pytest.fixture
    def target(self) -> np.ndarray:
        return np.arange(24) % 2


class TestDatetimeParts(TransformContract):
    component = transforms.DatetimeParts
    name = "datetime_parts"
    params: ClassVar[dict[str, Any]] = {"parts": ["year", "dayofyear", "hour", "is_weekend"]}

    @pytest.fixture
    def frame(self) -> pd.DataFrame:
        dates = pd.date_range("2024-02-27 10:00", periods=6, freq="17h")
        return pd.DataFrame(
            {"ordered": dates, "shipped": dates.strftime("%Y-%m-%d")}, index=range(50, 56)
        )


class TestLag(TransformContract):
    component = transforms.Lag
    name = "lag"
    params: ClassVar[dict[str, Any]] = {"time": "day", "group_by": ["store"], "lags": [1, 3]}

    @pytest.fixture
    def frame(self) -> pd.DataFrame:
        return _sales()


class TestRolling(TransformContract):
    component = transforms.Rolling
    name = "rolling"
    params: ClassVar[dict[str, Any]] = {
        "time": "day",
        "group_by": ["store"],
        "windows": [2, 3],
        "aggs": ["mean", "std"],
    }

    @pytest.fixture
    def frame(self) -> pd.DataFrame:
        return _sales()


class TestTextStats(TransformContract):
    component = transforms.TextStats
    name = "text_stats"
    params: ClassVar[dict[str, Any]] = {"stats": ["length", "words", "digits", "uppercase"]}

    @pytest.fixture
    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"review": ["Great value", "ARRIVED late, 2 days", None, "ok"]}, index=[7, 3, 5, 1]
        )


class TestExpression(TransformContract):
    component = transforms.Expression
    name = "expression"
    params: ClassVar[dict[str, Any]] = {"columns_out": {"ratio": "a / b", "log_c": "log(abs(c))"}}


class TestDrop(TransformContract):
    component = transforms.Drop
    name = "drop"


def test_every_builtin_transform_runs_its_suite() -> None:
    """Each ``conveyor.transforms`` entry point has a suite here or in test_contracts.py."""
    registered = {
        ep.name
        for ep in distribution("conveyor-mlops").entry_points
        if ep.group == "conveyor.transforms"
    }
    suites = [*vars(test_contracts).values(), *globals().values()]
    covered = {
        suite.name
        for suite in suites
        if isinstance(suite, type)
        and issubclass(suite, ComponentContract)
        and suite.__name__.startswith("Test")
        and suite.kind == "transform"
    }
    assert sorted(registered - covered) == []
