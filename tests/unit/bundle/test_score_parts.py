"""Scoring into a folder of parts (``score_files(parts=True)``, ``conveyor score -o out/``).

Each part is the bytes its input file alone would give, whichever executor wrote it; the folder
is swapped in whole, and a folder that holds anything but parts is never replaced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from conveyor.bundle import load_bundle
from conveyor.bundle.predictor import Predictor
from conveyor.bundle.scoring import score_files
from conveyor.errors import InputError
from conveyor.plugins.executor import InlineSession
from tests.unit.bundle.test_scoring import features, make_bundle

INPUTS = ["data/a.csv", "data/b.parquet", "data/c.parquet"]


@pytest.fixture(scope="module")
def predictor(tmp_path_factory: pytest.TempPathFactory) -> Predictor:
    return Predictor(load_bundle(make_bundle(tmp_path_factory.mktemp("bundle") / "tiny")))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    frame = features()
    (tmp_path / "data").mkdir()
    frame.iloc[:200].to_csv(tmp_path / "data" / "a.csv", index=False)
    frame.iloc[200:400].to_parquet(tmp_path / "data" / "b.parquet", index=False)
    frame.iloc[400:].to_parquet(tmp_path / "data" / "c.parquet", index=False)
    bad = frame.iloc[:20].astype(object)
    bad.iloc[3, 0] = "abc"
    bad.to_csv(tmp_path / "data" / "bad.csv", index=False)
    return tmp_path


def _parts(predictor: Predictor, root: Path, inputs: list[str], **options: Any) -> Any:
    return score_files(
        predictor, inputs, Path("out"), root=root, chunk_rows=64, parts=True, **options
    )


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_each_part_is_the_bytes_its_file_alone_gives(predictor: Predictor, data: Path) -> None:
    summary = _parts(predictor, data, INPUTS)
    assert summary.rows_in == 569
    assert summary.output == data / "out"
    parts = _contents(data / "out")
    assert list(parts) == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    for index, name in enumerate(INPUTS):
        alone = data / f"alone-{index}.parquet"
        score_files(predictor, [name], alone, root=data, chunk_rows=64)
        assert parts[f"part-{index:05d}.parquet"] == alone.read_bytes(), name
    assert sorted(p.name for p in data.iterdir()) == ["alone-0.parquet", "alone-1.parquet",
                                                      "alone-2.parquet", "data", "out"]  # fmt: skip


def test_the_process_pool_writes_the_parts_this_process_writes(
    predictor: Predictor, data: Path
) -> None:
    from conveyor.executors.local import LocalExecutor

    here = _contents(_parts(predictor, data, INPUTS).output)
    executor = LocalExecutor.from_config({"workers": 2})
    with executor.open(where="executor", source="test") as session:
        pooled = _parts(predictor, data, INPUTS, session=session)
    assert _contents(pooled.output) == here
    assert pooled.rows_in == 569


def test_a_previous_parts_folder_is_replaced_whole(predictor: Predictor, data: Path) -> None:
    _parts(predictor, data, INPUTS)
    _parts(predictor, data, ["data/c.parquet"])
    parts = _contents(data / "out")
    assert list(parts) == ["part-00000.parquet"]  # the old second and third parts are gone
    score_files(predictor, ["data/c.parquet"], data / "c.parquet", root=data, chunk_rows=64)
    assert parts["part-00000.parquet"] == (data / "c.parquet").read_bytes()


@pytest.mark.parametrize(
    "stranger", ["notes.txt", "part-00000.parquet.bak", "part-1.parquet", ".hidden"]
)
def test_a_folder_holding_anything_but_parts_is_not_replaced(
    predictor: Predictor, data: Path, stranger: str
) -> None:
    folder = data / "out"
    folder.mkdir()
    (folder / "part-00000.parquet").write_bytes(b"old part")
    (folder / stranger).write_text("the user's")
    with pytest.raises(InputError) as caught:
        _parts(predictor, data, INPUTS)
    assert f"holds files that are not score parts: '{stranger}'" in str(caught.value)
    assert caught.value.where == str(folder)
    assert _contents(folder) == {"part-00000.parquet": b"old part", stranger: b"the user's"}
    assert sorted(p.name for p in data.iterdir()) == ["data", "out"]  # no temporary left


@pytest.mark.parametrize("kind", ["file", "symlink"])
def test_a_path_that_is_not_a_folder_is_not_replaced(
    predictor: Predictor, data: Path, tmp_path_factory: pytest.TempPathFactory, kind: str
) -> None:
    target = data / "out"
    if kind == "file":
        target.write_text("a file")
    else:
        elsewhere = tmp_path_factory.mktemp("elsewhere")
        (elsewhere / "part-00000.parquet").write_bytes(b"outside")
        target.symlink_to(elsewhere)
    with pytest.raises(InputError, match="exists and is not a folder of parts"):
        _parts(predictor, data, INPUTS)
    if kind == "file":
        assert target.read_text() == "a file"
    else:
        assert target.is_symlink()
        assert (elsewhere / "part-00000.parquet").read_bytes() == b"outside"


def test_a_bad_row_leaves_the_previous_folder_as_it_was(predictor: Predictor, data: Path) -> None:
    _parts(predictor, data, INPUTS)
    before = _contents(data / "out")
    with pytest.raises(InputError, match="expected a number"):
        _parts(predictor, data, ["data/a.csv", "data/bad.csv"])
    assert _contents(data / "out") == before
    assert sorted(p.name for p in data.iterdir()) == ["data", "out"]  # no temporary left


def test_skip_reports_beside_the_folder(predictor: Predictor, data: Path) -> None:
    summary = _parts(predictor, data, ["data/a.csv", "data/bad.csv"], bad_rows="skip")
    assert summary.rows_skipped == 1
    assert summary.report == data / "out.bad_rows.json"
    assert summary.report.is_file()
    assert sorted(_contents(data / "out")) == ["part-00000.parquet", "part-00001.parquet"]


class _Noting(InlineSession):
    """This process as a session, noting the first bytes of every part a shard task wrote."""

    def __init__(self) -> None:
        self.magics: list[bytes] = []

    def submit(self, fn: Any, *args: Any, resources: Any = None) -> Any:
        future = super().submit(fn, *args, resources=resources)
        self.magics.append(args[0].part.read_bytes()[:6])
        return future


def test_one_output_merges_unencoded_parts_into_the_bytes_this_process_writes(
    predictor: Predictor, data: Path
) -> None:
    # A scratch part is Arrow IPC: the driver encodes the output's row groups once, instead of
    # decoding a worker's Parquet part and encoding it again; the bytes are the same.
    here = score_files(predictor, INPUTS, Path("here.parquet"), root=data, chunk_rows=64)
    session = _Noting()
    sharded = score_files(
        predictor, INPUTS, Path("sharded.parquet"), root=data, chunk_rows=64, session=session
    )
    assert session.magics == [b"ARROW1"] * 3
    assert sharded.output.read_bytes() == here.output.read_bytes()
    assert pq.ParquetFile(sharded.output).num_row_groups == 11  # 64-row chunks: 4 + 4 + 3
    assert sorted(p.name for p in data.iterdir()) == ["data", "here.parquet", "sharded.parquet"]
    parts = _parts(predictor, data, INPUTS, session=_Noting())  # a folder's parts are Parquet
    assert [p.read_bytes()[:4] for p in sorted(parts.output.iterdir())] == [b"PAR1"] * 3
