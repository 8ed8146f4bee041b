"""``validate`` on an executor: the partitions' evidence, merged, is the in-process report.

The dataset has a dozen row groups and a column for each way a merge could go wrong: a
violation in several partitions (counts add up, the sample is the first rows of the file, the
observed minimum is the file's), an int column with nulls in one partition only (float64 in
every partition, as a read of the whole file types it, so ``77`` is observed as ``77.0``), the
first distinct offending values spread over partitions, infinities of each sign in different
partitions, a duplicate across partitions (``unique``: checked on the driver), an order break
at a partition boundary (``time``: on the driver), and object columns (dates, booleans with
nulls: typed by the whole column, so checked on the driver). On a real Dask LocalCluster (two
single-threaded worker processes) and on the process pool, validation.json and the error are
byte-identical to an in-process run's, for every partition size.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from distributed import Client

from conveyor.executors.dask import ADDRESS_VARIABLE, DaskExecutor
from conveyor.executors.local import LocalExecutor
from conveyor.runtime.frames import read_frame
from conveyor.runtime.validation import validate_frame
from conveyor.runtime.validation._sharded import validate_parts
from conveyor.spec.schema import SchemaSpec
from tests.conftest import conveyor, conveyor_in_process
from tests.integration.test_monitor_executor import _task_prefixes

if TYPE_CHECKING:
    from pathlib import Path


pytestmark = pytest.mark.slow  # a Dask cluster; the last test starts 'conveyor run'

ROWS = 3000
NOW = datetime(2024, 6, 1, tzinfo=UTC)
SCHEMA = {
    "columns": {
        "id": {"dtype": "int", "unique": True},
        "age": {"dtype": "int", "min": 0, "max": 90},
        "visits": {"dtype": "number", "min": 0, "max": 50, "nullable": False},
        "colour": {"allowed": ["red", "green", "blue"], "max_null_fraction": 0.0001},
        "code": {"dtype": "str", "regex": r"[A-Z]{2}\d{3}", "severity": "warning"},
        "when": {"dtype": "datetime"},
        "born": {"dtype": "datetime"},
        "flag": {"allowed": [True], "nullable": False},
        "ghost": {"dtype": "float"},
    },
    "extra_columns": "warn",
    "rows": {"min": 10, "max": 2000},
    "time": {"column": "when", "monotonic": "increasing", "max_age_days": 20},
}


def _table() -> pa.Table:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "id": np.arange(ROWS),
            "age": rng.integers(0, 90, ROWS),
            "colour": rng.choice(["red", "green", "blue"], ROWS).astype(object),
            "code": [f"AB{n:03d}" for n in rng.integers(0, 1000, ROWS)],
            "ratio": rng.normal(size=ROWS),
            "when": pd.date_range("2024-01-01", periods=ROWS, freq="h"),
            "flag": np.ones(ROWS, dtype=bool),
        }
    )
    frame.loc[2900, "id"] = 10  # a duplicate across partitions
    frame.loc[[5, 1500, 2999], "age"] = [120, -1, 130]
    frame.loc[[50, 1200, 1201, 2700, 2701], "colour"] = ["mauve", "teal", None, "mauve", "pink"]
    frame.loc[[7, 8, 1800, 2500, 2501, 2502], "code"] = ["x1", "x1", "ab123", "Q", "R", "S"]
    frame.loc[[300, 2400], "ratio"] = [np.inf, -np.inf]
    frame.loc[[20, 2600], "ratio"] = np.nan
    frame.loc[1000, "when"] = pd.Timestamp("2023-01-01")  # out of order at a row group start
    frame.loc[[40, 2200], "flag"] = False
    table = pa.Table.from_pandas(frame, preserve_index=False)
    visits: list[int | None] = rng.integers(0, 50, ROWS).tolist()
    visits[100] = 77
    for row in range(2000, 2012):
        visits[row] = None  # nulls in one partition only: float64 in every one
    born = [datetime(1990, 1, 1).date()] * ROWS
    table = table.append_column("visits", pa.array(visits, pa.int64()))
    return table.append_column("born", pa.array(born, pa.date32()))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("validate")
    pq.write_table(_table(), root / "data.parquet", row_group_size=250)
    return root


def _local(root: Path, name: str = "data.parquet") -> Any:
    frame = read_frame(root, name, "validate")
    return validate_frame(frame, SchemaSpec.model_validate(SCHEMA), dataset=name, now=NOW)


def _sharded(session: Any, root: Path, part_rows: int, name: str = "data.parquet") -> Any:
    schema = SchemaSpec.model_validate(SCHEMA)
    whole = lambda: read_frame(root, name, "validate")  # noqa: E731
    return validate_parts(
        session, root / name, whole, schema, dataset=name, now=NOW, part_rows=part_rows
    )


def _written(report: Any, path: Path) -> tuple[bytes, str]:
    report.write(path)
    return path.read_bytes(), report.error("reports/validation.json").render()


def test_the_dataset_breaks_every_rule_the_merge_must_get_right(dataset: Path) -> None:
    report = _local(dataset).to_dict()
    failed = {(c["column"], c["check"]): c for c in report["checks"]}
    assert set(failed) == {
        ("id", "unique"),
        ("age", "min"),
        ("age", "max"),
        ("visits", "nullable"),
        ("visits", "max"),
        ("colour", "allowed"),
        ("colour", "max_null_fraction"),
        ("code", "regex"),
        ("born", "dtype"),
        ("flag", "allowed"),
        ("ghost", "present"),
        ("ratio", "finite"),
        (None, "extra_columns"),
        (None, "max_rows"),
        ("when", "monotonic"),
        ("when", "max_age_days"),
    }
    assert failed[("age", "max")]["failed_rows"] == 2
    assert failed[("age", "max")]["observed"] == 130
    assert failed[("visits", "max")]["observed"] == 77.0  # float64: nulls elsewhere
    assert [r["_row"] for r in failed[("visits", "nullable")]["sample"]] == list(range(2000, 2005))
    assert failed[("colour", "allowed")]["observed"] == ["mauve", "teal", "pink"]
    assert failed[("ratio", "finite")]["observed"] == ["inf", "-inf"]
    assert failed[("code", "regex")]["failed_rows"] == 6


def test_dask_partitions_give_the_in_process_report_and_error(
    dataset: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ADDRESS_VARIABLE, raising=False)
    here = _written(_local(dataset), dataset / "here.json")
    with DaskExecutor.from_config({"address": scheduler}).open(where="executor") as session:
        for part_rows in (1, 700, 10**9):  # 12 partitions, 4 (uneven), 1
            report = _sharded(session, dataset, part_rows)
            assert _written(report, dataset / f"dask{part_rows}.json") == here, part_rows
    with Client(scheduler) as client:  # the partitions were read on the cluster's workers
        prefixes = client.run_on_scheduler(_task_prefixes)
    assert "part_evidence" in prefixes


def test_the_process_pool_gives_the_in_process_report(dataset: Path) -> None:
    """Also for a file without null counts in its statistics: validated in process."""
    pq.write_table(_table(), dataset / "bare.parquet", row_group_size=250, write_statistics=False)
    here = _written(_local(dataset), dataset / "here.json")
    bare = _written(_local(dataset, "bare.parquet"), dataset / "bare-here.json")
    with LocalExecutor.from_config({"workers": 2}).open(where="executor") as session:
        assert _written(_sharded(session, dataset, 500), dataset / "pool.json") == here
        report = _sharded(session, dataset, 500, "bare.parquet")
        assert _written(report, dataset / "bare-pool.json") == bare


PATIENTS = """\
sources:
  patients:
    kind: csv
    params: {path: patients.csv}
target: label
split: {strategy: stratified, test_size: 0.3}
schema:
  columns:
    age: {dtype: int, min: 0, max: 120, nullable: false}
    label: {dtype: int, allowed: [0, 1]}
"""


def test_the_validate_stage_on_dask_writes_the_local_report_and_error(
    project: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ADDRESS_VARIABLE, raising=False)
    rows = pd.DataFrame({"age": np.arange(60) + 20, "label": np.arange(60) % 2})
    rows.loc[17, "age"] = 430
    rows.loc[40, "label"] = 3
    rows.to_csv(project / "patients.csv", index=False)
    (project / "conf" / "data" / "patients.yaml").write_text(PATIENTS)
    base = ("compile", "data=patients", "features=none", "deploy=[]")
    conveyor_in_process(*base, cwd=project)
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    assert stages["validate"]["meta"] == {"executor": "local"}
    conveyor("run", "ingest-patients", cwd=project)
    local = conveyor("run", "validate", cwd=project, check=False)
    report = (project / "reports" / "validation.json").read_bytes()
    assert local.returncode == 1
    assert "'age' max: expected <= 120, observed 430 in 1 row (row 17)" in local.stderr
    conveyor_in_process(*base, "executor=dask", f"executor.params.address={scheduler}", cwd=project)
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    assert stages["validate"]["meta"] == {"executor": "dask"}
    (project / "reports" / "validation.json").unlink()
    sharded = conveyor("run", "validate", cwd=project, check=False)
    assert (sharded.returncode, sharded.stdout, sharded.stderr) == (
        local.returncode,
        local.stdout,
        local.stderr,
    )
    assert (project / "reports" / "validation.json").read_bytes() == report
    assert json.loads(report)["errors"] == 2  # the max and the label
