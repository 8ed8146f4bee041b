"""ingest over the memory budget: a CSV source written a row group at a time, same bytes.

pandas' C parser infers a CSV's types per internal chunk (131,072 rows at 5 to 7 columns),
then merges them. Most tests shrink its chunks the way pandas' own tests do
(``DEFAULT_BUFFER_HEURISTIC``: 1,024 rows at 5 columns, fewer when wider), and put the value
that changes a column's type past the first chunk; row groups end inside chunks. One test
reads a 9 MB file with pandas' own chunks, which pandas reads on threads in memory.
"""

from __future__ import annotations

import json
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pandas._libs import parsers

from conveyor.components import _csv_stream
from conveyor.components.sources import CsvSource
from conveyor.errors import DataError
from conveyor.plugins.base import FrameScan
from conveyor.runtime import frames as frames_module
from conveyor.runtime import outofcore
from conveyor.runtime.frames import write_frame
from conveyor.runtime.stages._ingest_stream import ingest_frames

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

ROWS = 5_000
GROUP = 700
LATE = 4_000  # past the first chunk (at most 1,024 rows here)


@pytest.fixture(autouse=True)
def _small_row_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Row groups that end inside the parser's chunks, so the regrouping is exercised."""
    monkeypatch.setattr(frames_module, "_ROW_GROUP", GROUP)
    monkeypatch.setattr(outofcore, "ROW_GROUP", GROUP)


@pytest.fixture
def _small_parser_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The C parser converts 2**13 // columns rows at a time (rounded down to a power of 2)."""
    monkeypatch.setattr(parsers, "DEFAULT_BUFFER_HEURISTIC", 2**13)


def _rows(n: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """Text cells (as a CSV holds them): ints, floats, a category, booleans."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(n).astype(str),
            "count": rng.integers(0, 50, n).astype(str),
            "score": rng.normal(size=n).round(6).astype(str),
            "city": rng.choice(["oslo", "lima", "pune"], n),
            "flag": np.where(rng.random(n) > 0.5, "True", "False"),
        },
        dtype=object,
    )


def _write(root: Path, rows: pd.DataFrame, **params: Any) -> dict[str, Any]:
    rows.to_csv(root / "data.csv", index=False, sep=params.get("sep", ","))
    return {"path": "data.csv", **params}


def _late_int_null(root: Path) -> dict[str, Any]:
    """An integer column whose one null is in the second chunk: float64 in the whole."""
    rows = _rows()
    rows.loc[LATE, "count"] = ""
    return _write(root, rows)


def _late_float(root: Path) -> dict[str, Any]:
    """An integer column with one float in the last chunk: float64 in the whole."""
    rows = _rows()
    rows.loc[ROWS - 1, "count"] = "2.5"
    return _write(root, rows)


def _bool_late_null(root: Path) -> dict[str, Any]:
    """A boolean column whose one null is in the second chunk: object in the whole."""
    rows = _rows()
    rows.loc[LATE, "flag"] = ""
    return _write(root, rows)


def _text(root: Path) -> dict[str, Any]:
    """Text columns: many distinct values, and a few."""
    rows = _rows()
    rng = np.random.default_rng(1)
    rows["key"] = [f"{v:032x}" for v in rng.integers(0, 2**62, ROWS)]
    rows["word"] = rng.choice(["a", "bb", "ccc", "dddd"], ROWS)
    return _write(root, rows)


def _empty_column(root: Path) -> dict[str, Any]:
    """A column with no value at all (float64 NaN)."""
    rows = _rows()
    rows["nothing"] = ""
    return _write(root, rows)


def _text_with_an_empty_chunk(root: Path) -> dict[str, Any]:
    """A text column empty for a whole chunk (float64 there): str in the whole, as one chunk."""
    rows = _rows()
    rows["tag"] = [f"t{i % 7}" for i in range(ROWS)]
    rows.loc[1_000:4_500, "tag"] = ""
    return _write(root, rows)


def _quoted_newlines(root: Path) -> dict[str, Any]:
    """Quoted fields holding newlines, quotes and separators."""
    rows = _rows()
    rows["note"] = ""
    rows.loc[::97, "note"] = 'line one\nline "two", three'
    return _write(root, rows)


def _some_columns(root: Path) -> dict[str, Any]:
    params = _late_int_null(root)
    return {**params, "columns": ["score", "count", "city"]}


def _options(root: Path) -> dict[str, Any]:
    """Another separator and encoding, and a token that means null."""
    rows = _rows()
    rows["city"] = np.where(np.arange(ROWS) % 2, "tromsø", "são paulo")
    rows.loc[LATE, "count"] = "n/a"
    rows.to_csv(root / "data.csv", index=False, sep=";", encoding="latin-1")
    return {"path": "data.csv", "sep": ";", "encoding": "latin-1", "na_values": ["n/a"]}


def _implicit_index(root: Path) -> dict[str, Any]:
    """Rows with one field more than the header: pandas makes the first field the index."""
    rows = _rows()
    rows.loc[LATE, "count"] = ""
    rows.to_csv(root / "data.csv", index=True, index_label=False)
    return {"path": "data.csv"}


def _wide(root: Path) -> dict[str, Any]:
    """40 columns: chunks of 128 rows."""
    rng = np.random.default_rng(2)
    rows = pd.DataFrame({f"c{k}": rng.integers(0, 9, ROWS).astype(str) for k in range(40)})
    rows.loc[LATE, "c39"] = ""
    rows.loc[1_000, "c7"] = "0.5"
    return _write(root, rows)


CASES: dict[str, Callable[[Path], dict[str, Any]]] = {
    "late int null": _late_int_null,
    "late float": _late_float,
    "bool late null": _bool_late_null,
    "text": _text,
    "empty column": _empty_column,
    "text with an empty chunk": _text_with_an_empty_chunk,
    "quoted newlines": _quoted_newlines,
    "some columns": _some_columns,
    "sep, encoding, na_values": _options,
    "implicit index": _implicit_index,
    "wide": _wide,
}


def _source(params: dict[str, Any]) -> CsvSource:
    source = CsvSource.from_config(params)
    assert isinstance(source, CsvSource)
    return source


def _scan(source: CsvSource, root: Path) -> FrameScan:
    scan = source.scan(root)
    assert isinstance(scan, FrameScan)
    return scan


def _read(source: CsvSource, root: Path) -> pd.DataFrame:
    with warnings.catch_warnings():  # a bool column with a null: "mixed types" (bool, object)
        warnings.simplefilter("ignore", pd.errors.DtypeWarning)
        return source.read(root)


def _in_memory(root: Path, source: CsvSource) -> bytes:
    """What the stage writes in memory: read(), then write_frame."""
    frame = _read(source, root)
    frame.columns = [str(c) for c in frame.columns]
    write_frame(root, "memory.parquet", frame)
    return (root / "memory.parquet").read_bytes()


@pytest.mark.usefixtures("_small_parser_chunks")
@pytest.mark.parametrize("case", list(CASES))
def test_streamed_ingest_writes_the_in_memory_bytes(tmp_path: Path, case: str) -> None:
    source = _source(CASES[case](tmp_path))
    expected = _in_memory(tmp_path, source)
    scan = _scan(source, tmp_path)
    assert scan.size == (tmp_path / "data.csv").stat().st_size
    rows = ingest_frames(scan, tmp_path / "streamed.parquet")
    assert rows == pq.ParquetFile(tmp_path / "memory.parquet").metadata.num_rows == ROWS
    assert (tmp_path / "streamed.parquet").read_bytes() == expected
    assert pq.ParquetFile(tmp_path / "streamed.parquet").num_row_groups == -(-ROWS // GROUP)


@pytest.mark.parametrize("heuristic", [None, 2**13])
def test_a_big_file_pandas_reads_on_threads_streams_to_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, heuristic: int | None
) -> None:
    """Over 5 MB, so pandas reads it on threads in memory (in chunks of about 4 MB), while the
    stream reads the parser's chunks (131,072 rows at 6 columns, or 1,024); text of many
    distinct values, whose Parquet pages end where the Arrow chunks make them: read and the
    stream both give each text column one chunk."""
    if heuristic is not None:
        monkeypatch.setattr(parsers, "DEFAULT_BUFFER_HEURISTIC", heuristic)
    monkeypatch.setattr(frames_module, "_ROW_GROUP", 100_000)
    monkeypatch.setattr(outofcore, "ROW_GROUP", 100_000)
    n = 200_000
    rows = _rows(n)
    rng = np.random.default_rng(1)
    rows["key"] = [f"{v:032x}" for v in rng.integers(0, 2**62, n)]
    rows.loc[150_000, "count"] = ""  # int and float chunks: pandas' threads merge them too
    source = _source(_write(tmp_path, rows))
    assert (tmp_path / "data.csv").stat().st_size > 5 * 2**20
    expected = _in_memory(tmp_path, source)
    ingest_frames(_scan(source, tmp_path), tmp_path / "streamed.parquet")
    assert (tmp_path / "streamed.parquet").read_bytes() == expected
    assert pq.ParquetFile(tmp_path / "streamed.parquet").num_row_groups == 2


@pytest.mark.usefixtures("_small_parser_chunks")
def test_the_dtypes_come_from_the_whole_file_not_the_first_chunk(tmp_path: Path) -> None:
    rows = _rows()
    rows.loc[LATE, ["count", "flag"]] = ""
    rows["tag"] = "t"
    rows.loc[1_000:4_500, "tag"] = ""
    _write(tmp_path, rows)
    ingest_frames(_scan(_source({"path": "data.csv"}), tmp_path), tmp_path / "out.parquet")
    schema = pq.read_schema(tmp_path / "out.parquet")
    assert schema.field("count").type == pa.float64()  # an int column with a null
    assert schema.field("tag").type in (pa.large_string(), pa.string())
    columns = {c["name"]: c for c in json.loads(schema.metadata[b"pandas"])["columns"]}
    assert columns["flag"]["numpy_type"] == "object"  # a bool column with a null
    assert columns["id"]["numpy_type"] == "int64"
    first = pq.ParquetFile(tmp_path / "out.parquet").read_row_group(0).to_pandas()
    assert first["count"].dtype == np.float64  # no null in the first group, float all the same


@pytest.mark.usefixtures("_small_parser_chunks")
def test_frames_are_read_s_rows_in_read_s_dtypes(tmp_path: Path) -> None:
    source = _source(_text_with_an_empty_chunk(tmp_path))
    frames = _scan(source, tmp_path).chunks(2_000)
    assert not isinstance(frames, str)
    got = list(frames)
    assert [len(f) for f in got] == [2_000, 2_000, 1_000]
    pd.testing.assert_frame_equal(pd.concat(got, ignore_index=True), _read(source, tmp_path))
    assert str(got[1]["tag"].dtype) == "str"  # all empty there; text in the whole


@pytest.mark.usefixtures("_small_parser_chunks")
def test_a_column_of_numbers_and_text_is_read_whole_and_says_why(tmp_path: Path) -> None:
    """pandas keeps such a column as Python ints beside strs; a stream cannot promise that."""
    rows = _rows()
    rows.loc[LATE, "count"] = "many"
    source = _source(_write(tmp_path, rows))
    reason = _scan(source, tmp_path).chunks(GROUP)
    assert reason == (
        "column 'count' holds number and text in different parts of the file, which pandas "
        "keeps as Python objects of several types"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


@pytest.mark.parametrize(("heuristic", "columns", "step"), [(None, 5, 131_072), (2**13, 40, 128)])
def test_the_parser_rows_are_the_chunks_pandas_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, heuristic: int | None, columns: int, step: int
) -> None:
    """One text value among integers: pandas keeps its whole chunk as text, and only that."""
    if heuristic is not None:
        monkeypatch.setattr(parsers, "DEFAULT_BUFFER_HEURISTIC", heuristic)
    n = step * 2 + 10
    rows = pd.DataFrame({f"c{k}": np.arange(n) % 10 for k in range(columns)}, dtype=object)
    rows.loc[step + 3, "c0"] = "x"
    rows.to_csv(tmp_path / "data.csv", index=False)
    with pd.read_csv(tmp_path / "data.csv", iterator=True) as reader:
        assert _csv_stream.parser_rows(reader) == step
    with pytest.warns(pd.errors.DtypeWarning, match="have mixed types"):
        whole = pd.read_csv(tmp_path / "data.csv")["c0"]
    text = [i for i, value in enumerate(whole) if isinstance(value, str)]
    assert text == list(range(step, 2 * step))


def _damaged_row(root: Path) -> str:
    rows = _rows()
    rows.loc[LATE, "city"] = "oslo,extra"  # quoted by to_csv: made bare below
    _write(root, rows)
    text = (root / "data.csv").read_text().replace('"oslo,extra"', "oslo,extra")
    (root / "data.csv").write_text(text)
    return f"cannot parse 'data.csv' as CSV: Expected 5 fields in line {LATE + 2}, saw 6"


def _unclosed_quote(root: Path) -> str:
    rows = _rows()
    rows.loc[:3_000:50, "city"] = "two\nlines"  # quoted records that span lines before it
    _write(root, rows)
    lines = (root / "data.csv").read_text().splitlines(keepends=True)
    at = len(lines) - 500  # a record after them
    lines[at] = lines[at].replace(",True", ',"True').replace(",False", ',"False')
    (root / "data.csv").write_text("".join(lines))
    return f"'data.csv' line {at + 1}: a quoted field opens here and is never closed"


@pytest.mark.usefixtures("_small_parser_chunks")
@pytest.mark.parametrize("damage", [_damaged_row, _unclosed_quote])
def test_a_damaged_file_fails_as_in_memory_with_nothing_written(
    tmp_path: Path, damage: Callable[[Path], str]
) -> None:
    expected = damage(tmp_path)
    source = _source({"path": "data.csv"})
    with pytest.raises(DataError) as in_memory:
        source.read(tmp_path)
    with pytest.raises(DataError) as streamed:
        ingest_frames(_scan(source, tmp_path), tmp_path / "streamed.parquet")
    assert streamed.value.what == in_memory.value.what
    assert streamed.value.what.startswith(expected)
    assert streamed.value.where == in_memory.value.where == "data.sources"
    assert streamed.value.fix == in_memory.value.fix
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]  # no output, no temporary


def test_a_file_of_a_header_alone_is_an_error_with_nothing_written(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b\n")
    source = _source({"path": "data.csv"})
    assert source.read(tmp_path).empty  # the stage refuses it: no rows
    with pytest.raises(DataError, match="the source produced no rows"):
        ingest_frames(_scan(source, tmp_path), tmp_path / "streamed.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]
