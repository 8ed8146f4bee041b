"""ingest over the memory budget: a Parquet source written a row group at a time, same bytes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conveyor.components.sources import ParquetSource
from conveyor.errors import DataError
from conveyor.runtime import frames as frames_module
from conveyor.runtime import outofcore
from conveyor.runtime.frames import write_frame
from conveyor.runtime.stages._ingest_stream import ingest_scan, streamable

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

GROUP = 700


@pytest.fixture(autouse=True)
def _small_row_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several row groups per output, so the regrouping of scanned batches is exercised."""
    monkeypatch.setattr(frames_module, "_ROW_GROUP", GROUP)
    monkeypatch.setattr(outofcore, "ROW_GROUP", GROUP)


def _rows(n: int, offset: int = 0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(n) + offset,
            "count": rng.integers(0, 50, n),
            "score": rng.normal(size=n),
            "city": rng.choice(["oslo", "lima", "pune"], n),
            "flag": rng.random(n) > 0.5,
            "when": pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC"),
            "note": [None if i % 5 else f"n{i}" for i in range(n)],
        }
    )


def _late_nulls(root: Path) -> dict[str, Any]:
    """Integer and boolean columns whose only null is far past the first row group."""
    table = pa.Table.from_pandas(_rows(3_500), preserve_index=False).replace_schema_metadata(None)
    count = table.column("count").to_pylist()
    count[3_200] = None
    flag = table.column("flag").to_pylist()
    flag[3_300] = None
    table = table.set_column(1, "count", pa.array(count, pa.int64()))
    table = table.set_column(4, "flag", pa.array(flag, pa.bool_()))
    pq.write_table(table, root / "late.parquet", row_group_size=500)
    return {"path": "late.parquet"}


def _nullable_dtypes(root: Path) -> dict[str, Any]:
    """pandas' nullable Int64 and boolean dtypes, which the file's pandas metadata restores."""
    rows = _rows(2_000).astype({"count": "Int64", "flag": "boolean"})
    rows.loc[1_900, ["count", "flag"]] = pd.NA
    rows.to_parquet(root / "nullable.parquet", row_group_size=300)
    return {"path": "nullable.parquet"}


def _many_files(root: Path) -> dict[str, Any]:
    """A folder of files in name order, one lacking a column (null there)."""
    (root / "parts").mkdir()
    for k in range(3):
        rows = _rows(1_300, offset=k * 1_300, seed=k)
        (rows.drop(columns=["note"]) if k == 1 else rows).to_parquet(
            root / "parts" / f"part-{k}.parquet"
        )
    return {"path": "parts"}


def _some_columns(root: Path) -> dict[str, Any]:
    _many_files(root)
    return {"path": "parts/*.parquet", "columns": ["score", "note", "id"]}


def _date_index(root: Path) -> dict[str, Any]:
    """A stored pandas index, which becomes the first column."""
    _rows(2_100).set_index("when").to_parquet(root / "indexed.parquet")
    return {"path": "indexed.parquet"}


def _hive(root: Path) -> dict[str, Any]:
    """Hive partitions: the partition field is a column."""
    for region in ("east", "west"):
        folder = root / "sales" / f"region={region}"
        folder.mkdir(parents=True)
        _rows(1_000).to_parquet(folder / "data.parquet")
    return {"path": "sales"}


def _categories(root: Path) -> dict[str, Any]:
    """Categorical columns whose categories differ by file, in their own orders, with nulls."""
    (root / "shops").mkdir()
    rng = np.random.default_rng(5)
    for index, kinds in enumerate([["z", "b"], ["c", "a", "z"], ["q"]]):
        rows = _rows(900, offset=900 * index, seed=index)
        rows["kind"] = pd.Categorical(rng.choice(kinds, 900), categories=kinds)
        rows.loc[rows.index[::50], "kind"] = None
        sizes = ["s", "m", "l"][: index + 1]
        rows["size"] = pd.Categorical(rng.choice(sizes, 900), categories=sizes, ordered=True)
        rows.to_parquet(root / "shops" / f"{index}.parquet", row_group_size=300)
    return {"path": "shops"}


CASES: dict[str, Callable[[Path], dict[str, Any]]] = {
    "late nulls": _late_nulls,
    "nullable dtypes": _nullable_dtypes,
    "many files": _many_files,
    "some columns": _some_columns,
    "date index": _date_index,
    "hive partitions": _hive,
    "categories": _categories,
}


def _in_memory(root: Path, source: ParquetSource) -> bytes:
    """What the stage writes in memory: read(), then write_frame."""
    frame = source.read(root)
    frame.columns = [str(c) for c in frame.columns]
    write_frame(root, "memory.parquet", frame)
    return (root / "memory.parquet").read_bytes()


@pytest.mark.parametrize("case", list(CASES))
def test_streamed_ingest_writes_the_in_memory_bytes(tmp_path: Path, case: str) -> None:
    source = ParquetSource.from_config(CASES[case](tmp_path))
    assert isinstance(source, ParquetSource)
    expected = _in_memory(tmp_path, source)
    scan = source.scan(tmp_path)
    assert streamable(scan) is None
    rows = ingest_scan(scan, tmp_path / "streamed.parquet")
    assert rows == len(pd.read_parquet(tmp_path / "memory.parquet"))
    assert (tmp_path / "streamed.parquet").read_bytes() == expected
    assert pq.ParquetFile(tmp_path / "streamed.parquet").num_row_groups > 2


def test_the_dtypes_come_from_the_whole_data_not_the_first_row_group(tmp_path: Path) -> None:
    source = ParquetSource.from_config(_late_nulls(tmp_path))
    ingest_scan(source.scan(tmp_path), tmp_path / "streamed.parquet")
    schema = pq.read_schema(tmp_path / "streamed.parquet")
    assert schema.field("count").type == pa.float64()  # as pandas makes int with a null
    assert '"numpy_type": "object"' in schema.metadata[b"pandas"].decode()  # the flag column


def test_the_scan_measures_the_uncompressed_rows(tmp_path: Path) -> None:
    source = ParquetSource.from_config(_many_files(tmp_path))
    files = sorted((tmp_path / "parts").iterdir())
    assert source.scan(tmp_path).size == outofcore.parquet_bytes(files)


def test_the_categories_are_the_whole_tables(tmp_path: Path) -> None:
    source = ParquetSource.from_config(_categories(tmp_path))
    ingest_scan(source.scan(tmp_path), tmp_path / "streamed.parquet")
    kinds = pd.read_parquet(tmp_path / "streamed.parquet")["kind"]
    assert list(kinds.cat.categories) == ["z", "b", "c", "a", "q"]  # first seen, not sorted
    assert pq.ParquetFile(tmp_path / "streamed.parquet").num_row_groups == 4


def test_a_named_row_index_is_not_streamed(tmp_path: Path) -> None:
    """pandas restores a stored named RangeIndex only over the whole table."""
    _rows(50).rename_axis("row").to_parquet(tmp_path / "x.parquet")
    source = ParquetSource.from_config({"path": "x.parquet"})
    assert streamable(source.scan(tmp_path)) == "the files store a named row index ('row')"


def test_a_file_damaged_past_the_first_rows_fails_with_nothing_written(tmp_path: Path) -> None:
    _many_files(tmp_path)
    damaged = tmp_path / "parts" / "part-2.parquet"
    data = bytearray(damaged.read_bytes())
    data[4:260] = bytes(range(256))  # the first page of the last file, past rows already read
    damaged.write_bytes(bytes(data))
    source = ParquetSource.from_config({"path": "parts"})
    with pytest.raises(DataError) as in_memory:
        source.read(tmp_path)
    with pytest.raises(DataError) as streamed:
        ingest_scan(source.scan(tmp_path), tmp_path / "streamed.parquet")
    assert streamed.value.where == in_memory.value.where == "data.sources"
    assert streamed.value.what.startswith("cannot read 'parts': ")
    assert "damaged" in (streamed.value.fix or "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parts"]  # no output, no temporary


def test_a_source_without_rows_is_an_error_with_nothing_written(tmp_path: Path) -> None:
    _rows(0).to_parquet(tmp_path / "empty.parquet")
    source = ParquetSource.from_config({"path": "empty.parquet"})
    with pytest.raises(DataError, match="the source produced no rows"):
        ingest_scan(source.scan(tmp_path), tmp_path / "streamed.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.parquet"]
