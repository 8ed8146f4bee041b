"""``conveyor score`` on the project's executor, through the console script.

``executor: local`` scores in the ``conveyor`` process as before; ``executor: dask`` shards the
input files across a real Dask LocalCluster (two single-threaded worker processes, the run's
``scheduler`` fixture in tests/conftest.py) and merges the parts. The output and the bad-rows
report are byte-identical either way, a bad row fails the same way, and a scheduler that does
not answer is a located error that writes nothing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml
from distributed import Client, WorkerPlugin

from conveyor.executors.dask import ADDRESS_VARIABLE
from tests.conftest import VENV_BIN, conveyor
from tests.integration.dask_faults import fragile_cluster, worker_plugin
from tests.unit.bundle.test_scoring import features, make_bundle

pytestmark = pytest.mark.slow  # each case starts 'conveyor score'

INPUTS = ("data/a.csv", "data/b.parquet", "data/c.parquet", "bad.csv")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("score") / "models" / "tiny")


@pytest.fixture
def work(bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """models/tiny, three good inputs (CSV + Parquet) and bad.csv with one bad row."""
    monkeypatch.delenv(ADDRESS_VARIABLE, raising=False)
    shutil.copytree(bundle, tmp_path / "models" / "tiny")
    (tmp_path / "data").mkdir()
    frame = features()
    frame.iloc[:200].to_csv(tmp_path / "data" / "a.csv", index=False)
    frame.iloc[200:400].to_parquet(tmp_path / "data" / "b.parquet", index=False)
    frame.iloc[400:].to_parquet(tmp_path / "data" / "c.parquet", index=False)
    bad = frame.iloc[:50].astype(object)
    bad.iloc[3, 0] = "abc"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    return tmp_path


def _executor(root: Path, kind: str, **params: Any) -> None:
    text = yaml.safe_dump({"executor": {"kind": kind, "params": params}}, sort_keys=False)
    (root / "params.yaml").write_text(text)


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def _score(root: Path, *extra: str, check: bool = True) -> Any:
    return conveyor(
        "score",
        "models/tiny",
        *INPUTS,
        "-o",
        "out/scored.parquet",
        "--chunk-rows",
        "64",
        "--bad-rows",
        "skip",
        "--report",
        "out/bad.json",
        *extra,
        cwd=root,
        check=check,
    )


def test_dask_and_local_outputs_are_byte_identical(work: Path, scheduler: str) -> None:
    _executor(work, "local")
    local = _score(work)
    local_out = (work / "out" / "scored.parquet").read_bytes()
    local_report = (work / "out" / "bad.json").read_bytes()
    shutil.rmtree(work / "out")

    _executor(work, "dask", address=scheduler)
    before = _files(work)
    sharded = _score(work)
    with Client(scheduler) as client:  # the files were scored on the cluster's workers
        assert "score_shard" in client.run_on_scheduler(_task_prefixes)
    assert (work / "out" / "scored.parquet").read_bytes() == local_out
    assert (work / "out" / "bad.json").read_bytes() == local_report
    assert _files(work) - before == {"out", "out/scored.parquet", "out/bad.json"}  # no parts left
    assert sharded.stdout.split(" in ")[0] == local.stdout.split(" in ")[0]  # rows and files

    table = pq.read_table(work / "out" / "scored.parquet")
    assert table.num_rows == 569 + 49
    assert table.column("_source_file").unique().to_pylist() == list(INPUTS)
    assert pq.ParquetFile(work / "out" / "scored.parquet").num_row_groups > len(INPUTS)


def test_dask_writes_the_parts_local_writes_into_a_folder(work: Path, scheduler: str) -> None:
    """``-o out/``: one part per input file, no merge; the same bytes on both executors."""
    args = ("score", "models/tiny", *INPUTS[:3], "-o", "out/", "--chunk-rows", "64")
    _executor(work, "local")
    local = conveyor(*args, cwd=work)
    local_parts = {p.name: p.read_bytes() for p in sorted((work / "out").iterdir())}
    shutil.rmtree(work / "out")
    _executor(work, "dask", address=scheduler)
    before = _files(work)
    sharded = conveyor(*args, cwd=work)
    assert {p.name: p.read_bytes() for p in sorted((work / "out").iterdir())} == local_parts
    assert list(local_parts) == [f"part-{i:05d}.parquet" for i in range(3)]
    assert _files(work) - before == {"out", *(f"out/{name}" for name in local_parts)}
    assert sharded.stdout.split(" in ")[0] == local.stdout.split(" in ")[0]
    assert sharded.stdout.rstrip().endswith("-> out")
    for index, name in enumerate(INPUTS[:3]):  # each part is its file's rows, in order
        table = pq.read_table(work / "out" / f"part-{index:05d}.parquet")
        assert table.column("_source_file").unique().to_pylist() == [name]
    # an existing folder is a folder output without the slash; one with other files is refused
    (work / "out" / "notes.txt").write_text("mine")
    refused = conveyor("score", "models/tiny", "data/a.csv", "-o", "out", cwd=work, check=False)
    assert refused.returncode == 2, refused.stderr
    assert "holds files that are not score parts: 'notes.txt'" in refused.stderr
    assert (work / "out" / "notes.txt").read_text() == "mine"


def test_a_bad_row_fails_on_dask_as_it_does_locally(work: Path, scheduler: str) -> None:
    args = ("score", "models/tiny", "data/a.csv", "bad.csv", "-o", "out.parquet")
    _executor(work, "local")
    local = conveyor(*args, cwd=work, check=False)
    _executor(work, "dask", address=scheduler)
    before = _files(work)
    sharded = conveyor(*args, cwd=work, check=False)
    assert sharded.returncode == local.returncode == 2
    assert sharded.stderr == local.stderr
    assert sharded.stderr.startswith("error: bad.csv: column 'mean radius': expected a number")
    assert _files(work) == before  # no output, no parts


def test_an_unreachable_scheduler_is_located_and_writes_nothing(work: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    _executor(work, "dask", address=address, connect_timeout=1)
    before = _files(work)
    done = _score(work, check=False)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    first, fix = done.stderr.splitlines()[:2]
    assert first.startswith(
        f"error: executor.params.address (params.yaml): cannot connect to the Dask scheduler "
        f"at '{address}' within 1s ("
    )
    assert fix == (
        "  fix: start the scheduler ('dask scheduler'), or set executor.params.address to null "
        "to start a local cluster; or run with executor=local"
    )
    assert _files(work) == before
    assert done.stdout == ""


def test_the_environment_names_the_scheduler_when_it_is_set(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    _executor(work, "dask", connect_timeout=1)
    monkeypatch.setenv(ADDRESS_VARIABLE, address)
    done = _score(work, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"error: {ADDRESS_VARIABLE} (environment): cannot connect to the Dask scheduler at "
        f"'{address}'"
    )
    assert not (work / "out").exists()


def test_a_typo_in_params_yaml_executor_is_located(work: Path) -> None:
    (work / "params.yaml").write_text("executor:\n  kind: dask\n  parms: {}\n")
    done = _score(work, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("error: executor.parms (params.yaml): invalid executor: ")
    assert not (work / "out").exists()


class _KillAfterFirstShard(WorkerPlugin):
    """Kills its worker as it starts a file once another file's part is done (marker file)."""

    name = "kill-after-first-shard"

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        del start, kwargs
        if not str(key).startswith("score_shard"):
            return
        if finish == "memory":
            Path(self.marker).touch()
        elif finish == "executing" and Path(self.marker).exists():
            os._exit(1)


@pytest.mark.parametrize("output", ["out/scored.parquet", "out/parts/"])
def test_a_worker_killed_mid_score_leaves_the_previous_output(
    work: Path, output: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Parts already merged into the output's temporary never reach ``output``."""
    args = ("score", "models/tiny", *INPUTS[:3], "-o", output, "--chunk-rows", "64")
    # This test's own (not work.parent, which every test of this process shares: a marker left
    # by the first parameter made the second's worker die before any part was done).
    marker = tmp_path_factory.mktemp("kill") / "first-part-done"
    with fragile_cluster() as (cluster, client):
        _executor(work, "dask", address=cluster.scheduler_address)
        conveyor(*args, cwd=work)  # the previous output, which a failed run must leave alone
        before = {p.relative_to(work).as_posix(): p.read_bytes() for p in work.rglob("*.parquet")}
        files = _files(work)
        with worker_plugin(client, _KillAfterFirstShard(str(marker))):
            done = conveyor(*args, cwd=work, check=False)
    assert marker.exists()  # a part was done before the kill
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(
        "error: executor (params.yaml): Dask workers kept dying while running 'score_shard'"
    )
    assert done.stdout == ""
    after = {p.relative_to(work).as_posix(): p.read_bytes() for p in work.rglob("*.parquet")}
    assert after == before
    assert _files(work) == files  # no part, no temporary


class _HoldShards(WorkerPlugin):
    """Holds every file's task at its start until ``release`` exists (at most 60 s)."""

    name = "hold-shards"

    def __init__(self, release: str) -> None:
        self.release = release

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        del start, kwargs
        if finish == "executing" and str(key).startswith("score_shard"):
            deadline = time.monotonic() + 60
            while not Path(self.release).exists() and time.monotonic() < deadline:
                time.sleep(0.05)


def test_a_killed_driver_s_parts_are_removed_by_the_next_run(
    work: Path, scheduler: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """SIGKILL of ``conveyor score`` mid-run leaves its hidden temporaries; the next run in that
    folder removes them (conveyor's temporaries carry the writer's pid) and leaves only its
    output."""
    args = ("score", "models/tiny", *INPUTS[:3], "-o", "out/scored.parquet")
    _executor(work, "dask", address=scheduler)
    release = tmp_path_factory.mktemp("release") / "release"  # not shared with other tests
    with Client(scheduler) as client, worker_plugin(client, _HoldShards(str(release))):
        driver = subprocess.Popen([str(VENV_BIN / "conveyor"), *args], cwd=work)
        try:
            deadline = time.monotonic() + 90
            while not _hidden(work / "out") and time.monotonic() < deadline:
                assert driver.poll() is None, "the run ended before it could be killed"
                time.sleep(0.05)
            time.sleep(0.5)  # into the held tasks
        finally:
            driver.kill()
            driver.wait()
            release.touch()
    left = _hidden(work / "out")
    assert any(name.endswith(".tmp") for name in left), left  # the kill left temporaries
    assert not (work / "out" / "scored.parquet").exists()
    conveyor(*args, cwd=work)
    assert sorted(p.name for p in (work / "out").iterdir()) == ["scored.parquet"]


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".*")) if folder.is_dir() else []


def _task_prefixes(dask_scheduler: Any) -> list[str]:
    return sorted(dask_scheduler.task_prefixes)


def test_the_process_pool_scores_what_this_process_scores(work: Path) -> None:
    """Sharded on the ``local`` executor's pool (the model shared once per worker through
    its initializer, by plain pickle) is byte-identical to scoring in this process."""
    from conveyor.bundle import load_bundle
    from conveyor.bundle.predictor import Predictor
    from conveyor.bundle.scoring import score_files
    from conveyor.executors.local import LocalExecutor

    predictor = Predictor(load_bundle(work / "models" / "tiny"))
    inputs = [i for i in INPUTS if i != "bad.csv"]
    here = score_files(predictor, inputs, work / "here.parquet", chunk_rows=64, root=work)
    executor = LocalExecutor.from_config({"workers": 2})
    with executor.open(where="executor", source="test") as session:
        pooled = score_files(
            predictor, inputs, work / "pool.parquet", chunk_rows=64, root=work, session=session
        )
    assert pooled.rows_in == here.rows_in == 569
    assert (work / "pool.parquet").read_bytes() == (work / "here.parquet").read_bytes()
