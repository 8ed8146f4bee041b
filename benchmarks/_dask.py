"""Shared benchmark helper: a Dask LocalCluster that is up before the timed runs start."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

CLUSTER = """\
import sys, time
from distributed import LocalCluster
if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        print(cluster.scheduler_address, flush=True)
        time.sleep(86400)
"""


@contextmanager
def running_cluster(cwd: Path, env: dict[str, str]) -> Iterator[str]:
    """A LocalCluster of 2 single-thread worker processes in ``cwd``; yields its address.

    Started in its own process: a cluster in the benchmark's would raise the peak RSS every
    later child reports (``ru_maxrss`` starts at the parent's). Its script lives in a temporary
    folder, not in ``cwd`` (a project whose files the benchmark commits).
    """
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as folder:
        script = Path(folder) / "cluster.py"
        script.write_text(CLUSTER, encoding="utf-8")
        proc = subprocess.Popen(
            [sys.executable, str(script)], cwd=cwd, env=env, stdout=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout is not None
            address = proc.stdout.readline().strip()
            if not address:
                raise RuntimeError("the benchmark's LocalCluster did not start")
            yield address
        finally:
            proc.terminate()
            proc.wait(timeout=60)
