"""The DeployTargetContract suite on the built-in targets: ``rest``, ``batch``, ``container``.

Each run check trains a tiny bundle per task and runs the target in a tmp project; the
container target builds conveyor's wheel (about 2 s a build), so it runs on one task only: its
task-dependent part is ``rest``'s, which runs on all three.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from conveyor.components import targets
from conveyor.testing import DeployTargetContract

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd


class TestRestTarget(DeployTargetContract):
    component = targets.RestTarget
    name = "rest"
    params: ClassVar[dict[str, Any]] = {"port": 9000, "log_dir": "logs"}


class TestBatchTarget(DeployTargetContract):
    component = targets.BatchTarget
    name = "batch"
    params: ClassVar[dict[str, Any]] = {"input": "data/rows.parquet", "chunk_rows": 16}


class TestBatchTargetGlob(TestBatchTarget):
    """A glob of CSV files: the dependency is the glob's folder, ``data/parts``."""

    params: ClassVar[dict[str, Any]] = {"input": "data/parts/*.csv", "keep_columns": ["segment"]}

    def populate(self, root: Path, rows: pd.DataFrame) -> None:
        (root / "data" / "parts").mkdir(parents=True)
        rows.iloc[:25].to_csv(root / "data" / "parts" / "a.csv", index=False)
        rows.iloc[25:].to_csv(root / "data" / "parts" / "b.csv", index=False)


class TestContainerTarget(DeployTargetContract):
    component = targets.ContainerTarget
    name = "container"
    run_tasks = ("binary_classification",)
