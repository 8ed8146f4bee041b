"""A counted batch reads each of its files once: its scan and its counts come from one read.

Every read of a file's values goes through pyarrow (``ParquetFile.read`` / ``iter_batches`` /
``read_row_group(s)``, ``pyarrow.csv.read_csv``, the batches of ``open_csv``); the tests wrap
those real calls, which still read, and count them per file (a Parquet footer or a CSV header
read for the column names is not a read of values). The reports must be the bytes of the
two-pass path (a scan, then every file counted again), which the same spy sees reading each
file twice, so the count can fail.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from conveyor.monitoring import COUNT_ROWS_VARIABLE, MonitorRequest, _counted, run_monitor
from conveyor.plugins.executor import InlineSession
from tests.unit.monitoring.test_grid import PARTS, _frame, _profile

READS = ("read", "iter_batches", "read_row_group", "read_row_groups")


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Reads of values, by file name, through the real readers."""
    found: Counter[str] = Counter()
    init = pq.ParquetFile.__init__

    def opened(self: pq.ParquetFile, source: Any, *args: Any, **kwargs: Any) -> None:
        init(self, source, *args, **kwargs)
        self._spied = Path(source).name if isinstance(source, str | Path) else repr(source)

    def spy(name: str) -> Any:
        real = getattr(pq.ParquetFile, name)

        def reading(self: pq.ParquetFile, *args: Any, **kwargs: Any) -> Any:
            found[self._spied] += 1
            return real(self, *args, **kwargs)

        return reading

    monkeypatch.setattr(pq.ParquetFile, "__init__", opened)
    for name in READS:
        monkeypatch.setattr(pq.ParquetFile, name, spy(name))
    read_csv, open_csv = pcsv.read_csv, pcsv.open_csv

    def whole(file: Any, *args: Any, **kwargs: Any) -> Any:
        found[Path(file).name] += 1
        return read_csv(file, *args, **kwargs)

    def streamed(file: Any, *args: Any, **kwargs: Any) -> _Stream:
        return _Stream(open_csv(file, *args, **kwargs), Path(file).name, found)

    monkeypatch.setattr(pcsv, "read_csv", whole)
    monkeypatch.setattr(pcsv, "open_csv", streamed)
    return found


class _Stream:
    """A CSV stream whose batches count as a read (its schema alone, the header, does not)."""

    def __init__(self, reader: Any, name: str, found: Counter[str]) -> None:
        self.reader, self.name, self.found = reader, name, found

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.reader.close()

    @property
    def schema(self) -> Any:
        return self.reader.schema

    def __iter__(self) -> Any:
        self.found[self.name] += 1
        return iter(self.reader)


def _log(root: Path, *, scores: bool = False) -> list[str]:
    """Four Parquet parts and a CSV (5000 rows); ``scores``: part 1's as int64, 3's float32."""
    current = _frame(5000, seed=2, shift=0.3)
    names = []
    for index, (start, stop) in enumerate(zip(PARTS, [*PARTS[1:], 5000], strict=True)):
        part = current.iloc[start:stop].copy()
        if scores and index == 1:
            part["_score"] = (part["_score"] * 10).round().astype("int64")
        if scores and index == 3:
            part["_score"] = part["_score"].astype(np.float32)
        name = f"part-{index}.csv" if index == 2 else f"part-{index}.parquet"
        if index == 2:
            part.to_csv(root / name, index=False)
        else:
            part.to_parquet(root / name, index=False)
        names.append(name)
    return names


def _run(root: Path, out: str, **kwargs: Any) -> bytes:
    request = MonitorRequest(
        current=("part-*",), reference=_profile(3000), predictor=None, out_dir=root / out
    )
    run_monitor(root, request, **kwargs)
    return (root / out / "drift.json").read_bytes() + (root / out / "drift.html").read_bytes()


def _two_passes(root: Path, out: str, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The batch scanned, then every file counted again (as before the one pass)."""
    with monkeypatch.context() as patch:
        patch.setattr(_counted, "one_pass", lambda *args, **kwargs: False)
        return _run(root, out, session=InlineSession())


def test_each_file_of_a_counted_batch_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reads: Counter[str]
) -> None:
    names = _log(tmp_path)
    monkeypatch.setenv(COUNT_ROWS_VARIABLE, "4000")  # the Parquet footers alone are over it
    once = _run(tmp_path, "once")
    assert reads == dict.fromkeys(names, 1)
    reads.clear()
    assert _two_passes(tmp_path, "twice", monkeypatch) == once
    assert reads == dict.fromkeys(names, 2)  # the spy sees a second read


def test_a_file_whose_type_is_not_the_batchs_is_counted_again_cast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reads: Counter[str]
) -> None:
    """An int64 score among float64 ones is counted again as float64; a float32 one is not.

    Nor is the CSV, whose text is ``string`` where pandas' Parquet parts hold ``large_string``.
    """
    names = _log(tmp_path, scores=True)
    monkeypatch.setenv(COUNT_ROWS_VARIABLE, "4000")
    once = _run(tmp_path, "once")
    assert reads == {name: 2 if name == "part-1.parquet" else 1 for name in names}
    assert _two_passes(tmp_path, "twice", monkeypatch) == once
