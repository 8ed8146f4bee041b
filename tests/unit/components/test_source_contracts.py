"""The SourceContract suite for the sources added after the first release (sql, statsmodels,
synthetic generators) and the parquet source's glob and folder modes."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import TYPE_CHECKING, Any, ClassVar

import duckdb
import pandas as pd
import pytest

from conveyor.components import sources, sql, synthetic
from conveyor.testing import SourceContract

if TYPE_CHECKING:
    from pathlib import Path


def _sales() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "store": ["S01", "S02", "S01", "S02", "S03"],
            "units": [3, 5, None, 2, 8],
            "year": [2023, 2023, 2024, 2024, 2024],
        }
    )


def _write_partitions(folder: Path) -> None:
    """``folder/year=2023/part.parquet`` ... plus the ``_SUCCESS`` marker Spark leaves."""
    _sales().to_parquet(folder, partition_cols=["year"], index=False)
    (folder / "_SUCCESS").write_text("")


class TestStatsmodelsDataset(SourceContract):
    component = sources.StatsmodelsDatasetSource
    name = "statsmodels_dataset"
    params: ClassVar[dict[str, Any]] = {"name": "co2"}


class TestStatsmodelsMacrodata(TestStatsmodelsDataset):
    params: ClassVar[dict[str, Any]] = {"name": "macrodata"}


class TestParquetGlob(SourceContract):
    component = sources.ParquetSource
    name = "parquet"
    params: ClassVar[dict[str, Any]] = {"path": "data/sales/*.parquet", "columns": ["units"]}

    @pytest.fixture
    def root(self, tmp_path: Path) -> Path:
        (tmp_path / "data" / "sales").mkdir(parents=True)
        for year, rows in _sales().groupby("year"):
            rows.to_parquet(tmp_path / "data" / "sales" / f"{year}.parquet", index=False)
        return tmp_path


class TestParquetFolder(SourceContract):
    component = sources.ParquetSource
    name = "parquet"
    params: ClassVar[dict[str, Any]] = {"path": "data/sales"}

    @pytest.fixture
    def root(self, tmp_path: Path) -> Path:
        _write_partitions(tmp_path / "data" / "sales")
        return tmp_path


class TestSqlOverFiles(SourceContract):
    component = sql.SqlSource
    name = "sql"
    params: ClassVar[dict[str, Any]] = {
        "query": "SELECT s.store, s.units, c.city FROM sales s JOIN stores c USING (store)",
        "tables": {"sales": "data/sales", "stores": "data/stores.csv"},
    }

    @pytest.fixture
    def root(self, tmp_path: Path) -> Path:
        _write_partitions(tmp_path / "data" / "sales")
        stores = pd.DataFrame({"store": ["S01", "S02"], "city": ["Oslo", "Lima"]})
        stores.to_csv(tmp_path / "data" / "stores.csv", index=False)
        return tmp_path


class TestSqlDuckdbDatabase(SourceContract):
    component = sql.SqlSource
    name = "sql"
    params: ClassVar[dict[str, Any]] = {
        "query": "SELECT store, sum(units) AS units FROM sales GROUP BY store",
        "database": "data/shop.duckdb",
    }

    @pytest.fixture
    def root(self, tmp_path: Path) -> Path:
        (tmp_path / "data").mkdir()
        with duckdb.connect(str(tmp_path / "data" / "shop.duckdb")) as connection:
            connection.register("frame", _sales())
            connection.execute("CREATE TABLE sales AS SELECT * FROM frame")
        return tmp_path


class TestSqlSqliteDatabase(SourceContract):
    component = sql.SqlSource
    name = "sql"
    params: ClassVar[dict[str, Any]] = {
        "query": "SELECT store, units FROM sales WHERE units IS NOT NULL",
        "database": "data/shop.sqlite",
    }

    @pytest.fixture
    def root(self, tmp_path: Path) -> Path:
        (tmp_path / "data").mkdir()
        with closing(sqlite3.connect(tmp_path / "data" / "shop.sqlite")) as connection:
            _sales().to_sql("sales", connection, index=False)
        return tmp_path


class TestSyntheticDemand(SourceContract):
    component = synthetic.SyntheticDemandSource
    name = "synthetic_demand"
    params: ClassVar[dict[str, Any]] = {"stores": 2, "products": 3, "days": 60}


class TestSyntheticDemandDrift(TestSyntheticDemand):
    params: ClassVar[dict[str, Any]] = {
        "stores": 2,
        "products": 2,
        "start": "2023-01-01",
        "days": 40,
        "seed": 3,
        "shift_from": "2023-01-20",
        "shift_factor": 1.5,
        "new_store_from": "2023-01-25",
    }


class TestSyntheticTable(SourceContract):
    component = synthetic.SyntheticTableSource
    name = "synthetic_table"
    params: ClassVar[dict[str, Any]] = {
        "rows": 500,
        "numeric": 4,
        "categorical": 3,
        "null_fraction": 0.1,
        "target": "label",
    }
