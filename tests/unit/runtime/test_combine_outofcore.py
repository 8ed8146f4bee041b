"""combine over the memory budget: DuckDB's joins write the bytes that pandas' merge writes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from conveyor.errors import DataError, UsageError
from conveyor.runtime import frames as frames_module
from conveyor.runtime import outofcore
from conveyor.runtime.frames import write_frame
from conveyor.runtime.stages._combine_duckdb import combine_files
from conveyor.runtime.stages.combine import combine_frames
from conveyor.spec import CombineSpec

if TYPE_CHECKING:
    from pathlib import Path

TINY = 1  # bytes: every input is over it


def _sources(root: Path, rows: int = 3_000) -> dict[str, Path]:
    """Three sources with shuffled, partly missing, partly null keys and a clashing column."""
    rng = np.random.default_rng(7)
    visits = pd.DataFrame(
        {
            "patient": rng.permutation(rows),
            "ward": rng.choice(["a", "b", "c", "zz", None], rows),
            "age": rng.integers(18, 90, rows),
            "score": rng.normal(size=rows),
            "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, rows), "D"),
            "label": rng.integers(0, 2, rows),
        }
    )
    wards = pd.DataFrame(
        {
            "ward": ["c", "a", "q", "b", None],
            "beds": [30, 10, 99, 20, 5],
            "score": [0.3, 0.1, 0.9, 0.2, 0.0],  # clashes: becomes score_wards
            "open": [True, False, True, True, False],
        }
    )
    notes = pd.DataFrame(
        {
            "patient": rng.permutation(rows + 500)[: rows // 2],
            "note": [f"n{i}" for i in range(rows // 2)],
            "severity": rng.integers(0, 5, rows // 2),
        }
    )
    paths = {}
    for name, frame in (("visits", visits), ("wards", wards), ("notes", notes)):
        write_frame(root, f"{name}.parquet", frame)
        paths[name] = root / f"{name}.parquet"
    return paths


def _in_memory(root: Path, paths: dict[str, Path], combine: CombineSpec) -> Path:
    frames = {name: frames_module.read_frame(root, p.name, "combine") for name, p in paths.items()}
    write_frame(root, "memory.parquet", combine_frames(frames, combine))
    return root / "memory.parquet"


@pytest.fixture(autouse=True)
def _small_row_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several row groups per file, so the rewrite's regrouping is exercised."""
    monkeypatch.setattr(frames_module, "_ROW_GROUP", 700)
    monkeypatch.setattr(outofcore, "ROW_GROUP", 700)


@pytest.mark.parametrize("first", ["inner", "left", "right", "outer"])
@pytest.mark.parametrize("second", ["left", "outer"])
def test_duckdb_joins_write_the_bytes_pandas_merge_writes(
    tmp_path: Path, first: str, second: str
) -> None:
    paths = _sources(tmp_path)
    combine = CombineSpec(
        base="visits",
        join=[
            {"source": "wards", "keys": "ward", "how": first},
            {"source": "notes", "keys": ["patient"], "how": second},
        ],
    )
    memory = _in_memory(tmp_path, paths, combine)
    out = tmp_path / "duck.parquet"
    rows = combine_files(paths, combine, out, budget=TINY)
    expected = pq.read_table(memory)
    assert rows == expected.num_rows
    assert pq.read_table(out).equals(expected)
    assert out.read_bytes() == memory.read_bytes()
    again = tmp_path / "again.parquet"
    combine_files(paths, combine, again, budget=TINY)
    assert again.read_bytes() == out.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_an_integer_column_that_the_join_leaves_empty_becomes_float_as_in_pandas(
    tmp_path: Path,
) -> None:
    paths = _sources(tmp_path)
    combine = CombineSpec(base="visits", join=[{"source": "notes", "keys": "patient"}])
    out = tmp_path / "duck.parquet"
    combine_files(paths, combine, out, budget=TINY)
    schema = pq.read_schema(out)
    assert str(schema.field("severity").type) == "double"  # half the patients have no note
    assert str(schema.field("age").type) == "int64"


def test_a_key_missing_or_repeated_is_the_in_memory_error(tmp_path: Path) -> None:
    paths = _sources(tmp_path)
    missing = CombineSpec(base="visits", join=[{"source": "wards", "keys": "patient"}])
    with pytest.raises(DataError, match=r"join key \['patient'\] is not in source 'wards'"):
        combine_files(paths, missing, tmp_path / "out.parquet", budget=TINY)
    repeated = CombineSpec(base="wards", join=[{"source": "visits", "keys": "ward"}])
    with pytest.raises(DataError, match=r"key \['ward'\] is not unique in source 'visits'"):
        combine_files(paths, repeated, tmp_path / "out.parquet", budget=TINY)
    assert not (tmp_path / "out.parquet").exists()


def test_no_rows_left_is_an_error_and_leaves_no_output(tmp_path: Path) -> None:
    paths = _sources(tmp_path)
    write_frame(tmp_path, "wards.parquet", pd.DataFrame({"ward": ["x"], "beds": [1]}))
    combine = CombineSpec(base="visits", join=[{"source": "wards", "keys": "ward", "how": "inner"}])
    with pytest.raises(DataError, match="gave no rows"):
        combine_files(paths, combine, tmp_path / "out.parquet", budget=TINY)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "notes.parquet",
        "visits.parquet",
        "wards.parquet",
    ]


def test_a_killed_runs_spill_folder_is_removed_by_the_next_run(tmp_path: Path) -> None:
    paths = _sources(tmp_path)
    leftover = tmp_path / ".duck.parquet.999999999.abcdefgh.tmp"  # no such pid
    (leftover / "duckdb").mkdir(parents=True)
    (leftover / "sorted.parquet").write_bytes(b"half")
    combine = CombineSpec(base="visits", join=[{"source": "wards", "keys": "ward"}])
    combine_files(paths, combine, tmp_path / "duck.parquet", budget=TINY)
    assert not leftover.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    ("text", "size"), [("4GiB", 4 * 2**30), ("500MB", 500 * 10**6), ("1e9", 10**9), ("12", 12)]
)
def test_the_budget_reads_sizes(monkeypatch: pytest.MonkeyPatch, text: str, size: int) -> None:
    monkeypatch.setenv(outofcore.BUDGET_VARIABLE, text)
    assert outofcore.memory_budget() == size


@pytest.mark.parametrize("text", ["4 gigs", "-1GB", "0", "GiB", "1.5.2MB"])
def test_a_bad_budget_is_a_located_error(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv(outofcore.BUDGET_VARIABLE, text)
    with pytest.raises(UsageError, match="is not a memory size") as caught:
        outofcore.memory_budget()
    assert outofcore.BUDGET_VARIABLE in caught.value.render()
    assert "8GiB" in caught.value.render()


def test_unset_budget_keeps_every_stage_in_memory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    paths = _sources(tmp_path)
    monkeypatch.delenv(outofcore.BUDGET_VARIABLE, raising=False)
    assert outofcore.over_budget(paths.values()) is None
    monkeypatch.setenv(outofcore.BUDGET_VARIABLE, "1TB")
    assert outofcore.over_budget(paths.values()) is None
    monkeypatch.setenv(outofcore.BUDGET_VARIABLE, "1kB")
    assert outofcore.over_budget(paths.values()) == 1000
