"""The reference profile over the memory budget: a column, or a chunk of rows, at a time.

The split and the folder of parts of ``test_profile_executor`` (every kind of entry a profile
keeps), written with small row groups, profiled with small scoring chunks and read parts that
do not line up with them, so that chunks cross parts and files. ``Profile.to_json`` must be
the in-memory bytes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conveyor.bundle import load_bundle
from conveyor.errors import DataError
from conveyor.monitoring import _batch, _scores, _streamed, profile_data
from conveyor.monitoring.monitor import model_predictor
from conveyor.plugins.executor import InlineSession
from tests.integration.test_profile_executor import _check_live, _frame, work

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.bundle.predictor import Predictor

__all__ = ["work"]  # the module fixture, shared


@pytest.fixture(autouse=True)
def _small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scoring chunks of 700 rows, read parts of 300: chunks cross parts (and files)."""
    monkeypatch.setattr(_scores, "CHUNK_ROWS", 700)
    monkeypatch.setattr(_batch, "PART_ROWS", 300)


@pytest.fixture(scope="module")
def predictor(work: Path) -> Predictor:
    found = model_predictor(load_bundle(work / "model"))
    assert found is not None
    return found


@pytest.fixture(scope="module")
def split(work: Path) -> str:
    """The split again, in row groups of 250 rows; and a folder of it in three files."""
    table = pq.read_table(work / "train.parquet")
    pq.write_table(table, work / "grouped.parquet", row_group_size=250)
    (work / "thirds").mkdir()
    for index, start in enumerate((0, 1100, 2500)):
        stop = (1100, 2500, table.num_rows)[index]
        pq.write_table(table.slice(start, stop - start), work / "thirds" / f"{index}.parquet")
    return "grouped.parquet"


def _both(work: Path, paths: list[str], model: Predictor | None) -> tuple[str, str]:
    def one(stream: bool) -> str:
        found = profile_data(work, paths, predictor=model, exclude=["label"], stream=stream)
        return found.to_json()

    return one(False), one(True)


def test_the_streamed_profile_of_a_split_is_the_in_memory_bytes(
    work: Path, split: str, predictor: Predictor
) -> None:
    here, streamed = _both(work, [split], predictor)
    assert streamed == here
    _check_live(here, _both(work, ["parts"], None)[0])


def test_chunks_that_cross_files_score_as_the_whole_table(
    work: Path, split: str, predictor: Predictor
) -> None:
    here, streamed = _both(work, ["thirds"], predictor)
    assert streamed == here
    assert json.loads(here)["prediction"]["count"] == 4000
    assert streamed == _both(work, [split], predictor)[0]  # the same rows as the split


def test_parquet_parts_without_a_model_profile_the_in_memory_bytes(work: Path) -> None:
    folder = work / "pq_parts"
    folder.mkdir(exist_ok=True)
    for index in range(3):
        rows = _frame(400 + 300 * index, seed=20 + index)
        rows.to_parquet(folder / f"part-{index}.parquet", index=False, row_group_size=128)
    here, streamed = _both(work, ["pq_parts"], None)
    assert streamed == here
    assert json.loads(here)["columns"]["flag"]["kind"] == "categorical"


def test_one_column_or_one_chunk_is_read_at_a_time(
    work: Path, split: str, predictor: Predictor, monkeypatch: pytest.MonkeyPatch
) -> None:
    scored: list[int] = []
    read: list[list[str]] = []
    score, whole = _scores.score_table, _batch._read

    def score_spy(model: Predictor, table: pa.Table) -> _scores.Scores:
        scored.append(table.num_rows)
        return score(model, table)

    def read_spy(file: Path, display: str, columns: list[str], where: str) -> pa.Table:
        read.append(columns)
        return whole(file, display, columns, where)

    monkeypatch.setattr(_scores, "score_table", score_spy)
    monkeypatch.setattr(_batch, "_read", read_spy)
    monkeypatch.setattr(_batch, "read_batch", None)  # the whole table: never
    profile_data(work, [split], predictor=predictor, exclude=["label"], stream=True)
    assert scored == [700] * 5 + [500]  # never the whole split
    assert read == [[name] for name in ["big", "few", "holes", "zeros", "colour"]]


def test_on_an_executor_the_model_scores_a_chunk_at_a_time_too(
    work: Path, split: str, predictor: Predictor, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = profile_data(work, [split], predictor=predictor, exclude=["label"]).to_json()
    monkeypatch.setattr(_batch, "read_batch", None)  # the whole table: never
    found = profile_data(
        work, [split], predictor=predictor, exclude=["label"], session=InlineSession()
    )
    assert found.to_json() == here


def test_a_csv_is_profiled_whole_since_its_types_come_from_all_of_it(work: Path) -> None:
    assert not _streamed.can_stream([work / "parts" / "part-2.csv", work / "train.parquet"])
    here, streamed = _both(work, ["parts"], None)
    assert streamed == here


def test_a_column_that_is_not_numeric_is_the_in_memory_error(
    work: Path, predictor: Predictor
) -> None:
    table = pq.read_table(work / "train.parquet")
    big = table.column("big").cast(pa.string()).to_pylist()
    big[3_900] = "n/a"  # far past the first part
    table = table.set_column(table.schema.get_field_index("big"), "big", pa.array(big))
    pq.write_table(table, work / "texty.parquet", row_group_size=250)
    errors = []
    for stream in (False, True):
        with pytest.raises(DataError) as caught:
            profile_data(
                work, ["texty.parquet"], predictor=predictor, exclude=["label"], stream=stream
            )
        errors.append(caught.value.render())
    assert errors[0] == errors[1]
    assert "column 'big' of 'texty.parquet' is not numeric" in errors[0]
    assert np.isfinite(float(big[0]))
