"""ingest over the memory budget: the generators streamed a block at a time, same bytes.

The in-memory path draws each kind of value for the whole table at once; the stream draws a
block of days (``synthetic_demand``) or of 65,536 rows (``synthetic_table``) at a time from
copies of the generator placed where each column's draws start. Row groups of 700 rows end
inside the blocks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from conveyor.components import _synthetic_table
from conveyor.components.synthetic import SyntheticDemandSource, SyntheticTableSource
from conveyor.plugins.base import FrameScan
from conveyor.runtime import frames as frames_module
from conveyor.runtime import outofcore
from conveyor.runtime.frames import write_frame
from conveyor.runtime.stages._ingest_stream import ingest_frames

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.plugins.base import Source

GROUP = 700


@pytest.fixture(autouse=True)
def _small_row_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames_module, "_ROW_GROUP", GROUP)
    monkeypatch.setattr(outofcore, "ROW_GROUP", GROUP)


DEMAND: dict[str, dict[str, Any]] = {
    "defaults": {},
    "drift: a shift and a new store": {
        "stores": 3,
        "products": 7,
        "days": 200,
        "seed": 5,
        "shift_from": "2022-04-01",
        "shift_factor": 1.4,
        "new_store_from": "2022-03-15",
    },
    "more rows a day than a row group": {"stores": 2, "products": 400, "days": 9, "seed": 2},
    "a leap year, several years": {"stores": 1, "products": 3, "start": "2023-11-01", "days": 900},
}
TABLE: dict[str, dict[str, Any]] = {
    "defaults": {},
    "three blocks, nulls": {"rows": 150_001, "numeric": 6, "categorical": 3, "null_fraction": 0.1},
    "two categories": {"rows": 70_000, "numeric": 2, "categorical": 2, "categories": 2},
    "int16 codes": {"rows": 70_000, "numeric": 1, "categorical": 3, "categories": 300, "seed": 9},
    "128 categories, nulls": {
        "rows": 66_000,
        "numeric": 0,
        "categorical": 2,
        "categories": 128,
        "null_fraction": 0.3,
    },
    "numeric only": {"rows": 70_001, "numeric": 7, "categorical": 0, "seed": 3},
}


def _in_memory(root: Path, source: Source[Any]) -> bytes:
    frame = source.read(root)
    frame.columns = [str(c) for c in frame.columns]
    write_frame(root, "memory.parquet", frame)
    return (root / "memory.parquet").read_bytes()


def _streamed(root: Path, source: Source[Any]) -> bytes:
    scan = source.scan(root)
    assert isinstance(scan, FrameScan)
    rows = ingest_frames(scan, root / "streamed.parquet")
    assert rows == pq.ParquetFile(root / "memory.parquet").metadata.num_rows
    assert pq.ParquetFile(root / "streamed.parquet").num_row_groups == -(-rows // GROUP)
    return (root / "streamed.parquet").read_bytes()


@pytest.mark.parametrize("case", list(DEMAND))
def test_demand_streamed_writes_the_in_memory_bytes(tmp_path: Path, case: str) -> None:
    source = SyntheticDemandSource.from_config(DEMAND[case])
    expected = _in_memory(tmp_path, source)
    assert _streamed(tmp_path, source) == expected


@pytest.mark.parametrize("case", list(TABLE))
def test_table_streamed_writes_the_in_memory_bytes(tmp_path: Path, case: str) -> None:
    source = SyntheticTableSource.from_config(TABLE[case])
    expected = _in_memory(tmp_path, source)
    assert _streamed(tmp_path, source) == expected


def test_the_sizes_are_the_rows_in_memory() -> None:
    table = SyntheticTableSource.from_config({"rows": 1000, "numeric": 3, "categorical": 2})
    scan = table.scan(None)  # type: ignore[arg-type]
    assert scan.size == 1000 * (3 * 8 + 2 * 1 + 8)
    demand = SyntheticDemandSource.from_config({"stores": 2, "products": 3, "days": 10})
    assert demand.scan(None).size == 60 * (6 * 8 + 2 * 12)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("categories", "dtype"),
    [(2, np.int8), (12, np.int8), (127, np.int8), (128, np.int16), (10_000, np.int16)],
)
def test_codes_drawn_in_pieces_are_numpy_s_single_draw(categories: int, dtype: Any) -> None:
    expected = np.random.default_rng(11).integers(0, categories, 20_000, dtype=dtype)
    then = np.random.default_rng(11)
    then.integers(0, categories, 20_000, dtype=dtype)
    rng = np.random.default_rng(11)
    codes = _synthetic_table._Codes(rng, categories, dtype)
    got = np.concatenate([codes.take(n) for n in (0, 1, 3, 4_096, 5, 15_895)])
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, expected)
    assert rng.random() == then.random()  # the generator stands where numpy's call left it
