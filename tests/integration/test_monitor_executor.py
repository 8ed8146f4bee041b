"""Monitoring a prediction log on an executor: equal reports, and nothing written on a fault.

The log is a folder of Parquet parts (and one CSV), as serving writes it, with every kind of
column a profile holds: a large numeric one (the reference's quantile grid: Wasserstein), a
few-valued one (counts), one with nulls, a categorical one with a new category, and the logged
score. On a real Dask LocalCluster (two single-threaded worker processes) and on the local
process pool, each file is read on a worker and the parts merged; drift.json and drift.html
are byte-identical to the in-process run's, whichever test ``auto`` picks (a small reference
keeps its sample: KS, chi-square, z-test). A worker that dies on every try of a column fails
the command with a located error, and the previous reports are left as they were.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from distributed import Client
from distributed.diagnostics.plugin import WorkerPlugin

from conveyor.executors.dask import ADDRESS_VARIABLE, DaskExecutor
from conveyor.executors.local import LocalExecutor
from conveyor.monitoring import MonitorRequest, run_monitor
from conveyor.monitoring.drift import ColumnTest, DriftOptions
from conveyor.monitoring.profile import Profile, build_profile
from tests.conftest import conveyor
from tests.integration.dask_faults import fragile_cluster, worker_plugin

pytestmark = pytest.mark.slow  # starts 'conveyor monitor' and a Dask cluster

LOG = "logs/tiny"
REPO = Path(__file__).resolve().parents[2]


def _frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "big": rng.normal(shift, 1.0, rows),
            "few": rng.integers(0, 4, rows).astype("int64"),
            "holes": np.where(rng.random(rows) < 0.1 + shift / 4, np.nan, rng.random(rows)),
            "colour": rng.choice(["red", "green", "blue"], rows),
            "_score": rng.beta(2 + shift, 2, rows),
        }
    )
    if shift:
        frame.loc[frame.index[::7], "colour"] = "mauve"  # a category the reference never saw
    return frame


def _profile(rows: int) -> Profile:
    frame = _frame(rows, seed=1)
    return build_profile(
        frame.drop(columns="_score"),
        kinds={"few": "numeric", "colour": "categorical"},
        prediction=frame["_score"].to_numpy(),
    )


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A prediction log of five parts over three days (one CSV), and two reference profiles."""
    monkeypatch.delenv(ADDRESS_VARIABLE, raising=False)
    current = _frame(5000, seed=2, shift=0.3)
    bounds = [0, 700, 1500, 2600, 3900, 5000]
    for index, (start, stop) in enumerate(itertools.pairwise(bounds)):
        folder = tmp_path / LOG / f"date=2024-01-0{1 + index // 2}"
        folder.mkdir(parents=True, exist_ok=True)
        part = current.iloc[start:stop]
        if index == 3:
            part.to_csv(folder / f"part-{index}.csv", index=False)
        else:
            part.to_parquet(folder / f"part-{index}.parquet", index=False)
    (tmp_path / "grid.json").write_text(_profile(3000).to_json())  # > 1000 rows: the grid
    (tmp_path / "sample.json").write_text(_profile(400).to_json())  # <= 1000: the values
    return tmp_path


def _request(
    root: Path, reference: str, out: str, options: DriftOptions | None, log: str = LOG
) -> Any:
    text = (root / reference).read_text()
    return MonitorRequest(
        current=(log,),
        reference=Profile.from_json(text, where=reference),
        predictor=None,
        out_dir=root / out,
        options=options,
        reference_name=reference,
    )


def _reports(root: Path, out: str) -> tuple[bytes, bytes]:
    return (root / out / "drift.json").read_bytes(), (root / out / "drift.html").read_bytes()


PSI_HERE = DriftOptions(columns={"big": ColumnTest("psi"), "holes": ColumnTest("ks")})


CASES = [("grid.json", None), ("sample.json", None), ("grid.json", PSI_HERE)]
"""The grid (auto: Wasserstein, Jensen-Shannon), the sample (KS, chi-square, z), overrides."""


def test_dask_writes_the_in_process_reports(work: Path, scheduler: str) -> None:
    with DaskExecutor.from_config({"address": scheduler}).open(where="executor") as session:
        for index, (reference, options) in enumerate(CASES):
            run_monitor(work, _request(work, reference, f"here{index}", options))
            here = _reports(work, f"here{index}")
            document = json.loads(here[0])
            assert document["rows"] == 5000
            assert document["prediction_drift"] is not None  # the logged score was compared
            assert document["quality_issues"] >= 1  # 'mauve' is new
            assert len(document["inputs"]["current"]) == 5
            request = _request(work, reference, f"dask{index}", options)
            run_monitor(work, request, session=session)
            assert _reports(work, f"dask{index}") == here, reference
    with Client(scheduler) as client:  # the files were read on the cluster's workers
        prefixes = client.run_on_scheduler(_task_prefixes)
    assert {"scan_file", "column_part"} <= set(prefixes)


def test_the_process_pool_writes_the_in_process_reports(work: Path) -> None:
    run_monitor(work, _request(work, "grid.json", "here", None))
    with LocalExecutor.from_config({"workers": 2}).open(where="executor") as session:
        run_monitor(work, _request(work, "grid.json", "pool", None), session=session)
    assert _reports(work, "pool") == _reports(work, "here")


def _executor(root: Path, kind: str, **params: Any) -> None:
    """The repository's own params.yaml, on executor ``kind``."""
    document = yaml.safe_load((REPO / "params.yaml").read_text())
    document["executor"] = {"kind": kind, "params": params}
    (root / "params.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


def _monitor(root: Path, out: str, *, check: bool = True) -> Any:
    args = ("monitor", LOG, "--reference", "grid.json", "--no-model", "-o", out, "--json")
    return conveyor(*args, cwd=root, check=check)


def test_conveyor_monitor_reads_the_log_on_the_projects_executor(
    work: Path, scheduler: str
) -> None:
    _executor(work, "local")
    local = _monitor(work, "local")
    _executor(work, "dask", address=scheduler)
    sharded = _monitor(work, "dask")
    assert sharded.stdout == local.stdout
    assert _reports(work, "dask") == _reports(work, "local")


class _KillColumnTasks(WorkerPlugin):
    """Kills its worker process as soon as it starts reading a column's part."""

    name = "kill-column-tasks"

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        del start, kwargs
        if finish == "executing" and str(key).startswith("column_part"):
            os._exit(1)


def test_a_worker_killed_mid_monitor_fails_it_and_writes_nothing(work: Path) -> None:
    # its own cluster, where the first death of a task's worker fails the task (no retries)
    with fragile_cluster() as (cluster, client):
        _executor(work, "dask", address=cluster.scheduler_address)
        _monitor(work, "out")  # the previous reports, which a failed run must leave alone
        before = _reports(work, "out")
        files = {p.relative_to(work).as_posix() for p in work.rglob("*")}
        with worker_plugin(client, _KillColumnTasks()):
            done = _monitor(work, "out", check=False)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    first, fix = done.stderr.splitlines()[:2]
    assert first.startswith(
        "error: executor (params.yaml): Dask workers kept dying while running 'column_part'"
    )
    assert fix.startswith("  fix: give each worker more memory")
    assert done.stdout == ""
    assert _reports(work, "out") == before
    assert {p.relative_to(work).as_posix() for p in work.rglob("*")} == files  # no temp files


def _task_prefixes(dask_scheduler: Any) -> list[str]:
    return sorted(dask_scheduler.task_prefixes)
