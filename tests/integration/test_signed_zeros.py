"""Signed zeros: -0.0 and 0.0 are equal to a sort, not to JSON; every path writes +0.0.

``np.sort`` is not stable, so where a column holds both zeros the one that lands on a given
position depends on the input's order: one sort of the whole column (in process) and a sort
of each file's values merged later (an executor) can put different zeros at the minimum or at
a quantile, and drift.json or a profile would then read ``-0.0`` on one and ``0.0`` on the
other. The column here is half zeros of both signs, spread over three files; the reference
starts above zero, so the plot's lowest edge is the batch's zero itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conveyor.executors.dask import ADDRESS_VARIABLE
from conveyor.executors.local import LocalExecutor
from conveyor.monitoring._columns import sorted_numeric
from conveyor.monitoring._sharded import scan_batch
from conveyor.monitoring._stats import Side
from conveyor.monitoring.profile import build_profile

if TYPE_CHECKING:
    from pathlib import Path

ROWS = 3000


def _zeros(rows: int, seed: int) -> np.ndarray:
    """Half the values zero, each zero's sign at random, the rest in (0, 1)."""
    rng = np.random.default_rng(seed)
    zeros = np.where(rng.random(rows) < 0.5, -0.0, 0.0)
    return np.where(rng.random(rows) < 0.5, zeros, rng.random(rows))


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(ADDRESS_VARIABLE, raising=False)
    for index in range(3):
        folder = tmp_path / "logs"
        folder.mkdir(exist_ok=True)
        frame = pd.DataFrame({"x": _zeros(ROWS, seed=index)})
        frame.to_parquet(folder / f"part-{index}.parquet", index=False)
    return tmp_path


def test_the_process_pool_reads_the_in_process_zeros(work: Path) -> None:
    """The merged column of three files on workers has the bytes of one in-process sort."""
    files = sorted((work / "logs").glob("*.parquet"))
    whole = pa.concat_tables([pq.read_table(file) for file in files]).column("x")
    here = Side.of(whole, "numeric", "x")
    with LocalExecutor.from_config({"workers": 2}).open(where="executor") as session:
        batch = scan_batch(session, work, files, required=["x"], numeric=["x"], where="batch")
        pool = batch.side("x", "numeric")
    assert here.ordered is not None
    assert pool.ordered is not None
    assert pool.ordered.tobytes() == here.ordered.tobytes()
    assert (here.count, here.nulls) == (pool.count, pool.nulls) == (3 * ROWS, 0)


def test_sorted_values_hold_only_positive_zeros() -> None:
    values = np.concatenate([_zeros(ROWS, seed) for seed in range(3)])
    for array in (pa.chunked_array([values]), pa.chunked_array([values[::-1].copy()])):
        ordered, nulls = sorted_numeric(array, where="x")
        assert nulls == 0
        assert not np.signbit(ordered).any()
        assert np.array_equal(ordered, np.sort(values))


def test_a_profile_reads_positive_zeros_whatever_the_order() -> None:
    values = _zeros(ROWS, seed=4)
    texts = {
        build_profile(pd.DataFrame({"x": order}), kinds={"x": "numeric"}).to_json()
        for order in (values, values[::-1].copy(), np.sort(values))
    }
    assert len(texts) == 1
    assert "-0.0" not in texts.pop()
