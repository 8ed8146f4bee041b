"""Where the scoring chunks of a streamed batch fall: the in-memory run's, across files.

``score_table`` scores the whole batch in chunks of ``CHUNK_ROWS`` rows; streamed, the task of
a file scores the chunks that start in it and reads the first rows of the next files for its
last one. Real Parquet and CSV files, scanned as ``run_monitor`` scans them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from conveyor.monitoring import _scores, _scoretask, _sharded
from conveyor.plugins.executor import InlineSession

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def _batch(tmp_path: Path, sizes: list[int]) -> _sharded.ShardedBatch:
    files = []
    for index, rows in enumerate(sizes):
        frame = pd.DataFrame({"x": [float(i) for i in range(rows)], "id": range(rows)})
        path = tmp_path / f"part-{index}.{'csv' if index == 2 else 'parquet'}"
        if index == 2:
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
        files.append(path)
    return _sharded.scan_batch(
        InlineSession(), tmp_path, files, required=["x"], optional=["id"], where="batch"
    )


def test_each_chunk_is_scored_once_by_the_file_it_starts_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_scores, "CHUNK_ROWS", 700)
    batch = _batch(tmp_path, [700, 800, 0, 1100, 300, 1400])  # part-2 (CSV) is empty
    assert batch.file_rows == (700, 800, 0, 1100, 300, 1400)
    found = _scoretask.tasks(batch, [], ["x"], "id", None, "numeric")
    shape = [
        (task.scan.path.name, task.skip, [(h.path.name, h.rows) for h in task.heads])
        for task in found
    ]
    assert shape == [
        ("part-0.parquet", 0, []),  # chunk 0-700
        ("part-1.parquet", 0, [("part-3.parquet", 600)]),  # 700-1400, 1400-2100 (not the empty)
        ("part-3.parquet", 600, [("part-4.parquet", 200)]),  # 2100-2800
        ("part-4.parquet", 200, [("part-5.parquet", 600)]),  # 2800-3500
        ("part-5.parquet", 600, []),  # 3500-4200, 4200-4300 (the batch's end)
    ]
    assert found[0].scoring.names == ["x", "id"]
    assert {task.chunk for task in found} == {700}
    # every row is scored once: the tasks' rows add up to the batch's
    rows = dict(zip([p.name for p in batch.files], batch.file_rows, strict=True))
    scored = sum(rows[t.scan.path.name] - t.skip + sum(h.rows for h in t.heads) for t in found)
    assert scored == batch.rows == 4300


def test_a_file_without_a_chunk_start_has_no_task_when_nothing_is_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_scores, "CHUNK_ROWS", 1000)
    batch = _batch(tmp_path, [300, 300, 300, 300])
    found = _scoretask.tasks(batch, [], ["x"], None, None, "numeric")
    shape = [
        (task.scan.path.name, task.skip, [(h.path.name, h.rows) for h in task.heads])
        for task in found
    ]
    assert shape == [
        (
            "part-0.parquet",
            0,
            [("part-1.parquet", 300), ("part-2.csv", 300), ("part-3.parquet", 100)],
        ),
        ("part-3.parquet", 100, []),  # 1000-1200: the batch's end, not the chunk's
    ]
    assert found[0].scoring.names == ["x"]  # no label or id kept
