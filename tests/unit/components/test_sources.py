"""The built-in sources on real files in tmp_path: what they read, and how they refuse bad input."""

from __future__ import annotations

import sqlite3
import sys
from contextlib import closing
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from conveyor.components.sources import CsvSource, ParquetSource, StatsmodelsDatasetSource
from conveyor.components.sql import SqlSource, query_frames
from conveyor.components.synthetic import SyntheticDemandSource, SyntheticTableSource
from conveyor.errors import DataError, PluginError

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.plugins import Source


def _read(cls: type[Source[Any]], root: Path, **params: Any) -> pd.DataFrame:
    source: Source[Any] = cls.from_config(params)  # type: ignore[assignment]
    return source.read(root)


def _files(cls: type[Source[Any]], **params: Any) -> list[str]:
    source: Source[Any] = cls.from_config(params)  # type: ignore[assignment]
    return source.local_files()


def _people() -> pd.DataFrame:
    return pd.DataFrame({"age": [34, 51, 27], "income": [52.5, 31.0, 77.25], "city": list("abc")})


@pytest.fixture
def data(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


# --- csv ---------------------------------------------------------------------------------------


def test_csv_reads_requested_columns_in_order(tmp_path: Path, data: Path) -> None:
    (data / "people.csv").write_text("age,income,city\n34,n/a,Oslo\n51,31.0,Lima\n")
    frame = _read(
        CsvSource, tmp_path, path="data/people.csv", columns=["city", "income"], na_values=["n/a"]
    )
    assert list(frame.columns) == ["city", "income"]
    assert frame["income"].isna().tolist() == [True, False]


def test_csv_missing_file_suggests_a_close_name(tmp_path: Path, data: Path) -> None:
    (data / "people.csv").write_text("a\n1\n")
    with pytest.raises(
        DataError, match=r"csv source file 'data/peple\.csv' does not exist \(params\.path\)"
    ) as e:
        _read(CsvSource, tmp_path, path="data/peple.csv")
    assert e.value.fix is not None
    assert "did you mean 'people.csv'" in e.value.fix


def test_csv_refuses_a_binary_file(tmp_path: Path, data: Path) -> None:
    (data / "blob.csv").write_bytes(bytes(range(256)) * 8)
    with pytest.raises(DataError, match=r"'data/blob\.csv' is a binary file, not CSV text"):
        _read(CsvSource, tmp_path, path="data/blob.csv")


def test_csv_names_a_parquet_file_saved_as_csv(tmp_path: Path, data: Path) -> None:
    _people().to_parquet(data / "people.csv")
    with pytest.raises(DataError, match="is a Parquet file, not CSV") as e:
        _read(CsvSource, tmp_path, path="data/people.csv")
    assert e.value.fix == "use 'kind: parquet'"


def test_csv_wrong_encoding_says_which_to_set(tmp_path: Path, data: Path) -> None:
    (data / "cities.csv").write_bytes("name,city\nJosé,Málaga\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"is not utf-8 text \(byte 0xe9") as e:
        _read(CsvSource, tmp_path, path="data/cities.csv")
    assert e.value.fix is not None
    assert "params.encoding" in e.value.fix
    frame = _read(CsvSource, tmp_path, path="data/cities.csv", encoding="latin-1")
    assert frame["city"].tolist() == ["Málaga"]


def test_csv_ragged_rows_name_the_line(tmp_path: Path, data: Path) -> None:
    (data / "ragged.csv").write_text("a,b,c\n1,2,3\n4,5,6,7\n")
    with pytest.raises(DataError, match="Expected 3 fields in line 3, saw 4") as e:
        _read(CsvSource, tmp_path, path="data/ragged.csv")
    assert e.value.fix is not None
    assert "params.sep" in e.value.fix


def test_csv_empty_file(tmp_path: Path, data: Path) -> None:
    (data / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"'data/empty\.csv' is empty: it has no header line"):
        _read(CsvSource, tmp_path, path="data/empty.csv")


def test_csv_unknown_column_lists_the_file_columns(tmp_path: Path, data: Path) -> None:
    _people().to_csv(data / "people.csv", index=False)
    with pytest.raises(DataError, match=r"params\.columns names 'agee', which") as e:
        _read(CsvSource, tmp_path, path="data/people.csv", columns=["agee", "city"])
    assert e.value.fix == "did you mean 'age'? the file's columns are: age, income, city"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"path": "/etc/passwd"}, "is absolute"),
        ({"path": "../outside.csv"}, "leaves the project"),
        ({"path": "data/*.csv"}, "a csv source reads one file"),
        ({"path": "data/x.csv", "encoding": "utf9"}, "unknown encoding 'utf9'"),
        ({"path": "data/x.csv", "columns": ["a", "a"]}, r"listed more than once: \['a'\]"),
    ],
)
def test_csv_params_are_checked_at_compile_time(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CsvSource.Params.model_validate(params)


# --- parquet -----------------------------------------------------------------------------------


def test_parquet_glob_reads_files_in_name_order(tmp_path: Path, data: Path) -> None:
    (data / "sales").mkdir()
    pd.DataFrame({"day": [3, 4]}).to_parquet(data / "sales" / "b.parquet")
    pd.DataFrame({"day": [1, 2]}).to_parquet(data / "sales" / "a.parquet")
    frame = _read(ParquetSource, tmp_path, path="data/sales/*.parquet")
    assert frame["day"].tolist() == [1, 2, 3, 4]
    assert isinstance(frame.index, pd.RangeIndex)


def test_parquet_folder_reads_hive_partitions(tmp_path: Path, data: Path) -> None:
    frame = pd.DataFrame({"units": [1, 2, 3], "year": [2024, 2023, 2024]})
    frame.to_parquet(data / "sales", partition_cols=["year"], index=False)
    (data / "sales" / "_SUCCESS").write_text("")
    (data / "sales" / ".part.parquet.crc").write_text("checksum")
    read = _read(ParquetSource, tmp_path, path="data/sales")
    assert read.to_dict("list") == {"units": [2, 1, 3], "year": [2023, 2024, 2024]}


def test_parquet_files_missing_a_column_are_unified(tmp_path: Path, data: Path) -> None:
    pd.DataFrame({"a": [1], "b": ["x"]}).to_parquet(data / "1.parquet")
    pd.DataFrame({"a": [2], "c": [1.5]}).to_parquet(data / "2.parquet")
    frame = _read(ParquetSource, tmp_path, path="data")
    assert list(frame.columns) == ["a", "b", "c"]
    assert frame["b"].isna().tolist() == [False, True]


def test_parquet_stored_index_becomes_a_column(tmp_path: Path, data: Path) -> None:
    _people().set_index("city").to_parquet(data / "people.parquet")
    frame = _read(ParquetSource, tmp_path, path="data/people.parquet")
    assert list(frame.columns) == ["city", "age", "income"]


def test_parquet_columns_keep_the_requested_order(tmp_path: Path, data: Path) -> None:
    _people().to_parquet(data / "people.parquet")
    frame = _read(ParquetSource, tmp_path, path="data/people.parquet", columns=["city", "age"])
    assert list(frame.columns) == ["city", "age"]


def test_parquet_unknown_column_lists_the_columns(tmp_path: Path, data: Path) -> None:
    _people().to_parquet(data / "people.parquet")
    with pytest.raises(DataError, match=r"names 'town', which 'data/people\.parquet'") as e:
        _read(ParquetSource, tmp_path, path="data/people.parquet", columns=["town"])
    assert e.value.fix == "the file's columns are: age, income, city"


def test_parquet_glob_that_matches_nothing(tmp_path: Path, data: Path) -> None:
    with pytest.raises(DataError, match=r"glob 'data/\*\.parquet' \(params.path\) matches no file"):
        _read(ParquetSource, tmp_path, path="data/*.parquet")


def test_parquet_folder_without_parquet_files(tmp_path: Path, data: Path) -> None:
    (data / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match=r"folder 'data' .* holds no \.parq/\.parquet/\.pq files"):
        _read(ParquetSource, tmp_path, path="data")


def test_parquet_refuses_a_file_that_is_not_parquet(tmp_path: Path, data: Path) -> None:
    pd.DataFrame({"a": [1]}).to_parquet(data / "1.parquet")
    (data / "2.parquet").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"cannot read 'data/2\.parquet' as Parquet: .*magic bytes"):
        _read(ParquetSource, tmp_path, path="data")


def test_parquet_files_with_clashing_types(tmp_path: Path, data: Path) -> None:
    pd.DataFrame({"a": [1]}).to_parquet(data / "1.parquet")
    pd.DataFrame({"a": ["one"]}).to_parquet(data / "2.parquet")
    with pytest.raises(
        DataError, match=r"cannot combine the files of 'data'.*Field a has incompat"
    ):
        _read(ParquetSource, tmp_path, path="data")


def test_parquet_missing_file(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"parquet source file 'x\.parquet' does not exist \(params\.path\)"
    ):
        _read(ParquetSource, tmp_path, path="x.parquet")


@pytest.mark.parametrize(
    ("path", "dependency"),
    [
        ("data/sales.parquet", "data/sales.parquet"),
        ("./data/sales/", "data/sales"),
        ("data/sales/*.parquet", "data/sales"),
        ("data/sales/year=*/*.parquet", "data/sales"),
        ("data/sales/**/*.parquet", "data/sales"),
    ],
)
def test_parquet_local_files_are_what_dvc_tracks(path: str, dependency: str) -> None:
    assert _files(ParquetSource, path=path) == [dependency]


def test_parquet_glob_needs_a_fixed_folder() -> None:
    with pytest.raises(ValidationError, match="starts with a wildcard; put the files in a folder"):
        ParquetSource.Params.model_validate({"path": "*.parquet"})


# --- sql ---------------------------------------------------------------------------------------


@pytest.fixture
def shop(tmp_path: Path, data: Path) -> Path:
    """A project with a DuckDB database, a SQLite database, a csv file and parquet files."""
    sales = pd.DataFrame({"store": ["S1", "S2", "S1"], "units": [3, 5, 4]})
    with duckdb.connect(str(data / "shop.duckdb")) as connection:
        connection.register("frame", sales)
        connection.execute("CREATE TABLE sales AS SELECT * FROM frame")
    with closing(sqlite3.connect(data / "shop.sqlite")) as connection:
        sales.to_sql("sales", connection, index=False)
    pd.DataFrame({"store": ["S1", "S2"], "city": ["Oslo", "Lima"]}).to_csv(
        data / "stores.csv", index=False
    )
    (data / "sales").mkdir()
    sales.iloc[:2].to_parquet(data / "sales" / "01.parquet")
    sales.iloc[2:].to_parquet(data / "sales" / "02.parquet")
    return tmp_path


def test_sql_joins_declared_tables(shop: Path) -> None:
    frame = _read(
        SqlSource,
        shop,
        query="SELECT city, sum(units) AS units FROM sales JOIN stores USING (store) "
        "GROUP BY city ORDER BY city",
        tables={"sales": "data/sales/*.parquet", "stores": "data/stores.csv"},
    )
    assert frame.to_dict("list") == {"city": ["Lima", "Oslo"], "units": [5, 7]}


def test_sql_reads_a_duckdb_database_read_only(shop: Path) -> None:
    frame = _read(SqlSource, shop, query="SELECT * FROM sales", database="data/shop.duckdb")
    assert frame["units"].tolist() == [3, 5, 4]
    with pytest.raises(DataError, match="attached in read-only mode"):
        _read(
            SqlSource,
            shop,
            query="CREATE TABLE copy AS FROM sales; SELECT * FROM copy",
            database="data/shop.duckdb",
        )


def test_sql_joins_a_duckdb_database_with_files(shop: Path) -> None:
    frame = _read(
        SqlSource,
        shop,
        query="SELECT DISTINCT city FROM sales JOIN stores USING (store) ORDER BY city",
        database="data/shop.duckdb",
        tables={"stores": "data/stores.csv"},
    )
    assert frame["city"].tolist() == ["Lima", "Oslo"]


def test_sql_reads_a_sqlite_database(shop: Path) -> None:
    frame = _read(
        SqlSource, shop, query="SELECT sum(units) AS total FROM sales", database="data/shop.sqlite"
    )
    assert frame["total"].tolist() == [12]


def test_sql_sqlite_query_must_return_rows(shop: Path) -> None:
    with pytest.raises(DataError, match="the query returns no rows: it is not a SELECT"):
        _read(SqlSource, shop, query="-- nothing to see", database="data/shop.sqlite")


def test_sql_sqlite_error_quotes_sqlite_and_lists_tables(shop: Path) -> None:
    with pytest.raises(DataError, match="failed in SQLite: no such table: sale") as e:
        _read(SqlSource, shop, query="SELECT * FROM sale", database="data/shop.sqlite")
    assert e.value.fix == "correct params.query (SQLite dialect); its tables are: sales"


def test_sql_syntax_error_quotes_the_engine(shop: Path) -> None:
    with pytest.raises(DataError, match='syntax error at or near "SELEC"') as e:
        _read(SqlSource, shop, query="SELEC 1", tables={"stores": "data/stores.csv"})
    assert e.value.fix == "correct the query; the tables it can use are: stores"


def test_sql_unknown_table_lists_the_tables(shop: Path) -> None:
    with pytest.raises(DataError, match="Table with name shops does not exist") as e:
        _read(SqlSource, shop, query="SELECT * FROM shops", tables={"stores": "data/stores.csv"})
    assert e.value.fix == "correct the query; the tables it can use are: stores"


def test_sql_unknown_column(shop: Path) -> None:
    with pytest.raises(DataError, match='Referenced column "town" not found'):
        _read(
            SqlSource, shop, query="SELECT town FROM stores", tables={"stores": "data/stores.csv"}
        )


def test_sql_cannot_read_undeclared_files(shop: Path) -> None:
    with pytest.raises(DataError, match="the query reads or writes a file it may not") as e:
        _read(SqlSource, shop, query="SELECT * FROM 'data/stores.csv'")
    assert e.value.fix is not None
    assert "declare every file the query reads under params.tables" in e.value.fix


@pytest.mark.parametrize(
    ("query", "last"),
    [
        ("CREATE TEMP VIEW v AS SELECT 1", "CREATE"),
        ("SELECT 1; CREATE TEMP TABLE t AS SELECT 1", "CREATE"),
    ],
)
def test_sql_must_end_with_a_select(shop: Path, query: str, last: str) -> None:
    with pytest.raises(DataError, match=f"the query ends with {last} statement, which returns no"):
        _read(SqlSource, shop, query=query)


def test_sql_database_that_is_not_a_database(shop: Path) -> None:
    with pytest.raises(DataError, match="is neither a DuckDB nor a SQLite database"):
        _read(SqlSource, shop, query="SELECT 1", database="data/stores.csv")


def test_sql_missing_table_file_names_its_key(shop: Path) -> None:
    with pytest.raises(
        DataError, match=r"'data/store\.csv' does not exist \(params\.tables\.stores\)"
    ):
        _read(SqlSource, shop, query="SELECT 1", tables={"stores": "data/store.csv"})


def test_sql_local_files_are_database_and_table_folders() -> None:
    files = _files(
        SqlSource,
        query="SELECT 1",
        database="data/shop.duckdb",
        tables={"s": "data/sales/*.parquet", "t": "data/stores.csv", "u": "data/sales/x.parquet"},
    )
    assert files == ["data/sales", "data/sales/x.parquet", "data/shop.duckdb", "data/stores.csv"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"database": "db.sqlite", "tables": {"t": "t.csv"}}, "SQLite database cannot be joined"),
        ({"tables": {"my-table": "t.csv"}}, "'my-table' is not a plain SQL identifier"),
        ({"tables": {"t": "t.json"}}, r"'t.json' is not a \.csv or \.parquet file"),
        ({"database": "data/*.duckdb"}, "this parameter takes one file"),
        ({"database": "../shop.duckdb"}, "leaves the project"),
    ],
)
def test_sql_params_are_checked_at_compile_time(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SqlSource.Params.model_validate({"query": "SELECT 1", **params})


def test_query_frames_joins_and_aggregates() -> None:
    frames = {
        "sales": pd.DataFrame({"store": ["S1", "S2", "S1"], "units": [3, 5, 4]}),
        "stores": pd.DataFrame({"store": ["S1", "S2"], "city": ["Oslo", "Lima"]}),
    }
    frame = query_frames(
        "SELECT city, count(*) AS days, max(units) AS best FROM sales JOIN stores USING (store) "
        "GROUP BY city ORDER BY city",
        frames,
        where="data.combine.query",
    )
    assert frame.to_dict("list") == {"city": ["Lima", "Oslo"], "days": [1, 2], "best": [5, 4]}


def test_query_frames_error_names_where() -> None:
    frames = {"sales": pd.DataFrame({"units": [1]})}
    with pytest.raises(DataError, match=r"^data\.combine\.query: the SQL query failed") as e:
        query_frames("SELECT * FROM stores", frames, where="data.combine.query")
    assert e.value.fix == "correct the query; the tables it can use are: sales"
    assert "pg_" not in str(e.value)


def test_query_frames_cannot_read_files(tmp_path: Path) -> None:
    _people().to_csv(tmp_path / "people.csv", index=False)
    query = f"SELECT * FROM '{tmp_path / 'people.csv'}'"  # noqa: S608 - a test path
    with pytest.raises(DataError, match="the query reads or writes a file it may not"):
        query_frames(query, {}, where="data.combine.query")


# --- statsmodels datasets ----------------------------------------------------------------------


def test_co2_has_a_weekly_date_column_and_keeps_missing_weeks(tmp_path: Path) -> None:
    frame = _read(StatsmodelsDatasetSource, tmp_path, name="co2")
    assert list(frame.columns) == ["date", "co2"]
    assert pd.api.types.is_datetime64_any_dtype(frame["date"])
    assert frame["date"].is_monotonic_increasing
    assert frame["date"].diff().dropna().eq(pd.Timedelta(days=7)).all()
    assert frame["date"].iloc[0].year == 1958
    assert frame["date"].iloc[-1].year == 2001
    assert frame["co2"].isna().sum() > 0


@pytest.mark.parametrize("name", ["elnino", "macrodata", "nile", "sunspots"])
def test_statsmodels_series_have_a_sorted_date_column(tmp_path: Path, name: str) -> None:
    frame = _read(StatsmodelsDatasetSource, tmp_path, name=name)
    assert frame.columns[0] == "date"
    assert pd.api.types.is_datetime64_any_dtype(frame["date"])
    assert frame["date"].is_monotonic_increasing
    assert frame["date"].is_unique
    assert all(isinstance(c, str) and c == c.lower() for c in frame.columns)
    assert frame.shape[1] >= 2


def test_statsmodels_missing_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "statsmodels", None)  # what an uninstalled package looks like
    with pytest.raises(PluginError, match="needs statsmodels, which is not installed") as e:
        _read(StatsmodelsDatasetSource, tmp_path, name="co2")
    assert e.value.fix == "pip install 'conveyor-mlops[examples]'"


# --- synthetic_demand --------------------------------------------------------------------------


def _demand(tmp_path: Path, **params: Any) -> pd.DataFrame:
    return _read(SyntheticDemandSource, tmp_path, **params)


def test_demand_shape_columns_and_order(tmp_path: Path) -> None:
    frame = _demand(tmp_path, stores=3, products=4, days=30, start="2023-03-01")
    assert len(frame) == 3 * 4 * 30
    assert frame.dtypes.astype(str).to_dict() == {
        "date": "datetime64[us]",
        "store": "str",
        "product": "str",
        "price": "float64",
        "promo": "int64",
        "holiday": "int64",
        "temperature": "float64",
        "units_sold": "int64",
    }
    assert frame["store"].unique().tolist() == ["S01", "S02", "S03"]
    assert frame["product"].unique().tolist() == ["P01", "P02", "P03", "P04"]
    assert frame["date"].iloc[0] == pd.Timestamp("2023-03-01")
    ordered = frame.sort_values(["date", "store", "product"], ignore_index=True)
    pd.testing.assert_frame_equal(frame, ordered)
    assert (frame["units_sold"] >= 0).all()
    assert frame[["promo", "holiday"]].isin([0, 1]).all().all()


def test_demand_is_deterministic_by_seed(tmp_path: Path) -> None:
    pd.testing.assert_frame_equal(_demand(tmp_path, days=20), _demand(tmp_path, days=20))
    assert not _demand(tmp_path, days=20).equals(_demand(tmp_path, days=20, seed=1))


def test_demand_has_weekly_seasonality_and_promo_uplift(tmp_path: Path) -> None:
    frame = _demand(tmp_path)
    by_weekday = frame.groupby(frame["date"].dt.day_of_week)["units_sold"].mean()
    assert by_weekday[5] > 1.3 * by_weekday[1]  # Saturday against Tuesday
    by_promo = frame.groupby(["product", "promo"])["units_sold"].mean().unstack()
    assert (by_promo[1] > 1.15 * by_promo[0]).all()


def test_demand_holidays_include_easter_and_christmas(tmp_path: Path) -> None:
    frame = _demand(tmp_path, stores=1, products=1, start="2024-01-01", days=366)
    holidays = frame.loc[frame["holiday"] == 1, "date"].dt.strftime("%m-%d").tolist()
    assert holidays == ["01-01", "03-29", "04-01", "05-01", "12-24", "12-25", "12-26", "12-31"]


def test_demand_shift_changes_only_rows_from_its_date(tmp_path: Path) -> None:
    base = _demand(tmp_path, days=120, start="2023-01-01")
    shifted = _demand(
        tmp_path, days=120, start="2023-01-01", shift_from="2023-03-01", shift_factor=2
    )
    before = base["date"] < "2023-03-01"
    pd.testing.assert_frame_equal(base[before], shifted[before])
    ratio = shifted.loc[~before, "units_sold"].sum() / base.loc[~before, "units_sold"].sum()
    assert 1.8 < ratio < 2.2


def test_demand_new_store_opens_on_its_date(tmp_path: Path) -> None:
    base = _demand(tmp_path, stores=2, days=60, start="2023-01-01")
    grown = _demand(tmp_path, stores=2, days=60, start="2023-01-01", new_store_from="2023-02-01")
    new = grown[grown["store"] == "S03"]
    assert new["date"].min() == pd.Timestamp("2023-02-01")
    assert len(new) == 5 * 29  # 1 February to 1 March
    old = grown[grown["store"] != "S03"].reset_index(drop=True)
    pd.testing.assert_frame_equal(old, base)


def test_demand_shift_factor_needs_a_date() -> None:
    with pytest.raises(ValidationError, match="shift_factor has no effect without shift_from"):
        SyntheticDemandSource.Params.model_validate({"shift_factor": 1.5})


def test_demand_boosting_with_lags_beats_the_mean(tmp_path: Path) -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    frame = _demand(tmp_path, days=400)
    series = frame.groupby(["store", "product"])["units_sold"]
    frame["lag_7"] = series.shift(7)
    frame["mean_28"] = series.transform(lambda s: s.shift(7).rolling(28).mean())
    frame["weekday"] = frame["date"].dt.day_of_week
    frame = frame.dropna()
    features = ["lag_7", "mean_28", "weekday", "promo", "holiday", "price", "temperature"]
    test = frame["date"] > frame["date"].max() - pd.Timedelta(days=90)
    train, held_out = frame[~test], frame[test]
    model = HistGradientBoostingRegressor(max_iter=50, random_state=0)
    with threadpool_limits(1):  # OpenMP threads crawl on a busy machine; one is plenty here
        model.fit(train[features], train["units_sold"])
        predicted = model.predict(held_out[features])
    model_error = np.abs(predicted - held_out["units_sold"]).mean()
    mean_error = np.abs(train["units_sold"].mean() - held_out["units_sold"]).mean()
    assert model_error < 0.75 * mean_error


# --- synthetic_table ---------------------------------------------------------------------------


def test_table_shape_and_dtypes(tmp_path: Path) -> None:
    frame = _read(SyntheticTableSource, tmp_path, rows=1000, numeric=3, categorical=2, categories=5)
    assert list(frame.columns) == ["num_00", "num_01", "num_02", "cat_00", "cat_01", "target"]
    assert frame.dtypes.astype(str).tolist() == ["float64"] * 3 + ["category"] * 2 + ["int64"]
    assert frame["cat_00"].cat.categories.tolist() == ["L00", "L01", "L02", "L03", "L04"]
    assert set(frame["target"]) == {0, 1}
    assert not frame.isna().any().any()


def test_table_is_deterministic_by_seed(tmp_path: Path) -> None:
    first = _read(SyntheticTableSource, tmp_path, rows=200)
    pd.testing.assert_frame_equal(first, _read(SyntheticTableSource, tmp_path, rows=200))
    assert not first.equals(_read(SyntheticTableSource, tmp_path, rows=200, seed=1))


def test_table_nulls_in_features_only(tmp_path: Path) -> None:
    frame = _read(SyntheticTableSource, tmp_path, rows=20_000, null_fraction=0.1)
    features = frame.drop(columns="target")
    assert 0.09 < features.isna().to_numpy().mean() < 0.11
    assert frame["target"].notna().all()


def test_table_target_depends_on_the_features(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from threadpoolctl import threadpool_limits

    frame = _read(SyntheticTableSource, tmp_path, rows=3000, categorical=0)
    with threadpool_limits(1):
        model = LogisticRegression(max_iter=1000).fit(frame.drop(columns="target"), frame["target"])
    scores = model.predict_proba(frame.drop(columns="target"))[:, 1]
    assert roc_auc_score(frame["target"], scores) > 0.75


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"target": "num_03"}, "target 'num_03' is also the name of a feature column"),
        ({"numeric": 0, "categorical": 0}, "needs at least one feature"),
        ({"null_fraction": 1.0}, "less than 1"),
    ],
)
def test_table_params_are_checked(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SyntheticTableSource.Params.model_validate(params)
