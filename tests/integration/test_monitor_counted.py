"""A batch above COUNT_ROWS on an executor: per-file counts, the in-process run's reports.

The threshold is lowered (``CONVEYOR_MONITOR_COUNT_ROWS``) so that a 5000-row prediction log of
five parts (one CSV) is counted into the reference grid. On a real Dask LocalCluster (two
single-threaded worker processes) each file is one ``count_file`` task that returns counts,
never values, and drift.json and drift.html are byte-identical to an in-process run's, which
counts the same files one after another; the same on the local process pool.
"""

from __future__ import annotations

import itertools
import json
import shutil
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from distributed import Client

from conveyor.executors.dask import ADDRESS_VARIABLE, DaskExecutor
from conveyor.executors.local import LocalExecutor
from conveyor.monitoring import COUNT_ROWS_VARIABLE, run_monitor
from conveyor.monitoring.drift import ColumnTest, DriftOptions
from conveyor.monitoring.profile import build_profile
from tests.integration.test_monitor_executor import _reports, _request

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow  # starts a Dask cluster's tasks and a process pool

LOG = "logs/big"


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
        frame.loc[frame.index[::7], "colour"] = "mauve"
        frame.loc[frame.index[::5], "big"] += 6.0  # out of the reference's range
        frame.loc[frame.index[::13], "big"] = -0.0  # signed zeros, in several files
    return frame


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A prediction log of five parts (one CSV) and two profiles; the threshold lowered."""
    monkeypatch.delenv(ADDRESS_VARIABLE, raising=False)
    monkeypatch.setenv(COUNT_ROWS_VARIABLE, "1000")
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
    for rows, name in ((3000, "grid.json"), (400, "sample.json")):
        frame = _frame(rows, seed=1)
        profile = build_profile(
            frame.drop(columns="_score"),
            kinds={"few": "numeric", "colour": "categorical"},
            prediction=frame["_score"].to_numpy(),
        )
        (tmp_path / name).write_text(profile.to_json())
    return tmp_path


OVERRIDES = DriftOptions(
    columns={"big": ColumnTest("ks"), "holes": ColumnTest("psi"), "few": ColumnTest("ztest")}
)
CASES = [("grid.json", None), ("sample.json", None), ("grid.json", OVERRIDES)]
"""The grid (Wasserstein, Jensen-Shannon), the sample (KS, chi-square), explicit methods."""


def test_dask_counts_each_file_and_writes_the_in_process_reports(
    work: Path, scheduler: str
) -> None:
    with DaskExecutor.from_config({"address": scheduler}).open(where="executor") as session:
        with Client(scheduler) as client:
            before = set(client.run_on_scheduler(_task_prefixes))
        for index, (reference, options) in enumerate(CASES):
            run_monitor(work, _request(work, reference, f"here{index}", options, LOG))
            here = _reports(work, f"here{index}")
            document = json.loads(here[0])
            assert document["rows"] == 5000
            assert document["prediction_drift"] is not None  # the logged score, counted
            checks = {issue["check"] for issue in document["quality"]}
            assert {"new_categories", "out_of_range"} <= checks
            run_monitor(
                work, _request(work, reference, f"dask{index}", options, LOG), session=session
            )
            assert _reports(work, f"dask{index}") == here, reference
    with Client(scheduler) as client:
        ran = set(client.run_on_scheduler(_task_prefixes)) - before
    assert "count_file" in ran  # one task per file returned counts ...
    assert "column_part" not in ran  # ... and no column's values were shipped
    assert "compare_counted" in ran  # the tests ran on a worker


def test_the_process_pool_writes_the_in_process_reports(work: Path) -> None:
    run_monitor(work, _request(work, "grid.json", "here", OVERRIDES, LOG))
    with LocalExecutor.from_config({"workers": 2}).open(where="executor") as session:
        run_monitor(work, _request(work, "grid.json", "pool", OVERRIDES, LOG), session=session)
    assert _reports(work, "pool") == _reports(work, "here")


def test_dask_reads_each_parquet_file_once(work: Path, scheduler: str) -> None:
    """All Parquet (rows in the footers): one task per file scans and counts it, none scans."""
    shutil.copytree(work / LOG, work / "logs" / "parquet")
    for csv in (work / "logs" / "parquet").rglob("*.csv"):
        pd.read_csv(csv).to_parquet(csv.with_suffix(".parquet"), index=False)
        csv.unlink()
    request = _request(work, "grid.json", "here", OVERRIDES, "logs/parquet")
    run_monitor(work, request)
    executor = DaskExecutor.from_config({"address": scheduler})
    with executor.open(where="executor") as session, Client(scheduler) as client:
        before = client.run_on_scheduler(_finished)
        request = _request(work, "grid.json", "dask", OVERRIDES, "logs/parquet")
        run_monitor(work, request, session=session)
        after = client.run_on_scheduler(_finished)
    assert _reports(work, "dask") == _reports(work, "here")
    ran = {name: n - before.get(name, 0) for name, n in after.items()}
    assert ran.get("count_file") == 5  # each file once ...
    assert not ran.get("scan_file")  # ... and only once
    assert not ran.get("column_part")


def _task_prefixes(dask_scheduler: Any) -> list[str]:
    return sorted(dask_scheduler.task_prefixes)


def _finished(dask_scheduler: Any) -> dict[str, int]:
    """How many tasks of each prefix have ever finished (reached memory) on the scheduler."""
    prefixes = dask_scheduler.task_prefixes.items()
    return {name: prefix.state_counts["memory"] for name, prefix in prefixes}


NEVER_IMPORTS_SCIPY = """\
import sys
from pathlib import Path
from conveyor.executors.local import LocalExecutor
from conveyor.monitoring import run_monitor
from conveyor.monitoring.drift import ColumnTest, DriftOptions
from conveyor.monitoring.profile import Profile
from conveyor.monitoring.request import MonitorRequest

SCIPY = ("scipy.stats", "scipy.spatial")  # KS, z and chi-square; Jensen-Shannon

if __name__ == "__main__":
    assert not set(SCIPY) & set(sys.modules), "imported before the run: the test proves nothing"
    root = Path(sys.argv[1])
    reference = Profile.from_json((root / "grid.json").read_text(), where="grid.json")
    options = DriftOptions(columns={"big": ColumnTest("ks"), "few": ColumnTest("ztest")})
    request = MonitorRequest(current=("logs/big",), reference=reference, predictor=None,
                             out_dir=root / "pool", options=options, reference_name="grid.json")
    with LocalExecutor.from_config({"workers": 2}).open(where="executor") as session:
        run_monitor(root, request, session=session)
    print(sorted(set(SCIPY) & set(sys.modules)))
"""


def test_on_an_executor_the_drift_tests_run_on_a_worker_not_here(work: Path) -> None:
    # The driver only waits for the tasks: importing scipy for the tests took CPU the workers
    # count with (about 0.3-0.6 s on 2 cores). A worker of a running cluster keeps it imported.
    import subprocess
    import sys

    script = work / "never_imports.py"
    script.write_text(NEVER_IMPORTS_SCIPY)
    done = subprocess.run(
        [sys.executable, str(script), str(work)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    options = DriftOptions(columns={"big": ColumnTest("ks"), "few": ColumnTest("ztest")})
    run_monitor(work, _request(work, "grid.json", "here", options, LOG))
    assert _reports(work, "pool") == _reports(work, "here")


@pytest.mark.parametrize(("name", "test"), [("t.counts", "FromCounts"), ("t.values", "ValuesOnly")])
def test_a_plugin_drift_test_runs_in_this_process_beside_an_executor(
    work: Path, name: str, test: str
) -> None:
    """A plugin's test may be missing on the workers, or need values: it is run here."""
    from tests.unit.monitoring import test_grid

    plugins = test_grid._plugins(name, getattr(test_grid, test))
    options = DriftOptions(columns={"big": ColumnTest(name)})
    run_monitor(work, _request(work, "grid.json", "here", options, LOG), plugins=plugins)
    with LocalExecutor.from_config({"workers": 2}).open(where="executor") as session:
        test_grid._Seen.samples.clear()
        request = _request(work, "grid.json", "pool", options, LOG)
        run_monitor(work, request, plugins=plugins, session=session)
    (sample,) = test_grid._Seen.samples  # seen by this process: the test ran here
    assert (sample.current is None) is (name == "t.counts")  # counts, or the values in full
    assert _reports(work, "pool") == _reports(work, "here")


def test_a_test_of_the_wrong_kind_is_refused_where_configured_when_tested_on_a_worker(
    work: Path,
) -> None:
    """The worker's refusal comes back as the in-process run's: the error, its place, its fix."""
    from conveyor.errors import SpecError

    options = DriftOptions(columns={"colour": ColumnTest("ks")})  # colour is categorical
    with pytest.raises(SpecError) as here:
        run_monitor(work, _request(work, "grid.json", "here", options, LOG))
    pool = LocalExecutor.from_config({"workers": 2})
    with pool.open(where="executor") as session, pytest.raises(SpecError) as there:
        run_monitor(work, _request(work, "grid.json", "pool", options, LOG), session=session)
    assert there.value.where == here.value.where == "monitor.drift.columns.colour"
    assert there.value.render() == here.value.render()
    assert not (work / "pool").exists()  # nothing written
