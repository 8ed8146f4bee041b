"""A counted file is counted a read at a time: the same counts as the whole file, never held.

``_counted.count_file`` counts each part ``_batch.read_parts`` yields (``PART_ROWS`` rows) and
adds the parts up (``_grid.combine``). The file here spans three parts, and each part holds
something the others do not (values the reference never had, a new category, nulls), so a
combine that keeps one part's, drops the cap on new values, or loses the order categories
were first seen in gives other numbers than counting the file whole, as it was counted before.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from conveyor.monitoring import _batch, _counted, _grid
from conveyor.plugins.executor import InlineSession
from tests.unit.monitoring.test_grid import _profile

if TYPE_CHECKING:
    from pathlib import Path


ROWS = 3 * _batch.PART_ROWS - 1000
"""Three reads: two full parts and most of a third."""
NUMERIC = ("big", "few", "holes")


def _frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "big": rng.normal(0.0, 1.0, rows),
            "few": rng.integers(0, 4, rows).astype("float64"),
            "holes": np.where(rng.random(rows) < 0.1, np.nan, rng.random(rows)),
            "colour": rng.choice(["red", "green", "blue"], rows),
            "_score": rng.beta(2, 2, rows),
        }
    )


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    """One Parquet file of three parts, each with values the reference and the others lack."""
    frame = _frame(ROWS, seed=2)
    size = _batch.PART_ROWS
    first, second, third = slice(0, size), slice(size, 2 * size), slice(2 * size, ROWS)
    few = frame["few"].to_numpy().copy()
    few[first][:10] = np.arange(20, 30)  # the last part's new values are the smallest
    few[second][:10] = np.arange(10, 20)
    few[third][:6] = np.arange(4, 10)
    frame["few"] = few
    frame.loc[frame.index[third][:5], "colour"] = "mauve"  # first seen in the last part
    frame.loc[frame.index[second][:50], "big"] = np.nan
    frame.loc[frame.index[third][-3:], "big"] = [-40.0, 40.0, 1e6]  # outside the reference
    path = tmp_path / "batch.parquet"
    frame.to_parquet(path, index=False)
    return path


def test_a_file_read_in_parts_counts_as_the_whole_file(big_file: Path) -> None:
    reference = _profile(3000)
    _, counts = _counted.scan_counting(
        InlineSession(), big_file.parent, [big_file], reference, ["big", "few", "holes", "colour"],
        optional={"_score", "_prediction"}, numeric=NUMERIC, where="batch",
    )  # fmt: skip
    table = pq.read_table(big_file)
    assert table.num_rows > 2 * _batch.PART_ROWS  # three reads of the file
    [found] = counts.files
    assert found.scan.rows == ROWS
    by_name = {}
    for column, part in zip(counts.columns, found.parts, strict=True):
        if column.name not in table.column_names:  # _prediction: in no read
            assert part is None
            continue
        whole = _grid.count(table.column(column.name), column)  # as count_file counted before
        assert part is not None
        by_name[column.name, column.as_scores] = part
        assert part.nulls == whole.nulls, column.name
        if column.kind != "numeric":
            assert list((part.counts or {}).items()) == list((whole.counts or {}).items())
            continue
        np.testing.assert_array_equal(part.bins, whole.bins)
        if whole.values is None:
            assert part.values is None, column.name
        else:
            np.testing.assert_array_equal(part.values, whole.values)
        assert (part.below, part.above, part.extra) == (whole.below, whole.above, whole.extra)
        assert (part.minimum, part.maximum) == (whole.minimum, whole.maximum), column.name
        assert part.total == pytest.approx(whole.total, rel=1e-12), column.name
    # the checks above can fail: each part alone differs from the whole file
    assert by_name["few", False].extra == (4.0, 5.0, 6.0, 7.0, 8.0, 9.0)
    assert list(by_name["colour", False].counts or {})[-1] == "mauve"
    assert by_name["big", False].nulls == 50
    assert by_name["big", False].minimum <= -40.0
    assert by_name["big", False].maximum == 1e6


def test_combine_of_one_part_is_that_part_and_of_none_is_refused() -> None:
    part = _grid.Part(3, bins=np.array([1, 2], dtype=np.int64), minimum=0.5, maximum=0.7)
    assert _grid.combine([part]) is part
    with pytest.raises(IndexError):
        _grid.combine([])


def test_counting_a_file_never_holds_it_whole(tmp_path: Path) -> None:
    """Arrow's peak allocation while counting stays under half the file's decoded size.

    A fresh interpreter, so that the memory pool's peak is this count's alone; the file has a
    row group per part, so that reading it holds one part's column chunks at a time. Counting
    the parts only after reading them all (as before) holds all 8 at once and fails this.
    """
    frame = _frame(8 * _batch.PART_ROWS, seed=3)
    path = tmp_path / "batch.parquet"
    frame.to_parquet(path, index=False, row_group_size=_batch.PART_ROWS)
    decoded = pq.read_table(path).nbytes
    script = textwrap.dedent(
        f"""
        import json
        from pathlib import Path

        import pyarrow as pa

        from conveyor.monitoring import _counted
        from conveyor.monitoring.profile import Profile
        from conveyor.plugins.executor import InlineSession

        profile = Path({str(tmp_path / "profile.json")!r})
        reference = Profile.from_json(profile.read_text(), str(profile))
        pool = pa.default_memory_pool()
        before = pool.max_memory()
        path = Path({str(path)!r})
        _counted.scan_counting(
            InlineSession(), path.parent, [path], reference, ["big", "few", "holes", "colour"],
            optional={{"_score"}}, numeric={list(NUMERIC)!r}, where="batch",
        )
        print(json.dumps({{"before": before, "peak": pool.max_memory()}}))
        """
    )
    (tmp_path / "profile.json").write_text(_profile(3000).to_json(), "utf-8")
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout)
    assert measured["before"] < decoded / 10
    assert measured["peak"] < decoded / 2, (measured, decoded)
