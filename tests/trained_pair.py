"""Two trained, committed models of the default project, built once per test run.

tests/integration/test_registry.py and tests/security/test_registry_tags.py both need model A
(the reproduced template) and model B (30 trees instead of 40), each blessed by the real gate
stage. One ``dvc repro`` of B serves both: xdist workers share the build under a lock, as
tests/conftest.py's ``reproduced_template``; each module copies it before adding commits or tags.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

from filelock import FileLock

from tests.conftest import commit_all, conveyor_in_process, dvc

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def trained_pair(reproduced_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git + DVC project: model A committed (HEAD~1), model B committed (HEAD), each with the
    blessing its own ``dvc repro`` gate wrote. Shared by the whole run: ``copytree`` it first."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # this run's directory, above every worker's own
    shared = base / "trained_pair"
    root, done = shared / "project", shared / "done"  # done is written last: the build is whole
    with FileLock(f"{shared}.lock"):
        if not done.exists():
            shutil.rmtree(shared, ignore_errors=True)  # a build that failed in another worker
            shutil.copytree(reproduced_template, root, symlinks=True)  # as ``dvc repro`` left it
            commit_all(root, "model A")
            xgb = root / "conf" / "model" / "xgboost.yaml"
            xgb.write_text(xgb.read_text().replace("n_estimators: 40", "n_estimators: 30"))
            conveyor_in_process("compile", cwd=root)
            dvc("repro", "-q", cwd=root)
            commit_all(root, "model B")
            done.write_text("")
    return root
