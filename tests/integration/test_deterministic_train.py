"""Retraining on the same data and params gives the same bundle, byte for byte, for every model.

Real git + DVC: ``dvc repro train``, then ``conveyor run train`` and ``dvc repro -f train``
must leave every file of ``models/diagnostics/`` and ``dvc.lock`` exactly as they were.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

import pytest

from tests.conftest import conveyor, conveyor_in_process, dvc

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow

MODELS = {  # each built-in model, small enough to fit in about a second; threads where taken
    "xgboost": ["model.params.n_jobs=2"],  # n_estimators 40 (the template's conf)
    "random_forest": ["model.params.n_estimators=30", "model.params.n_jobs=2"],
    "hist_gradient_boosting": ["model.params.max_iter=30"],
    "logistic_regression": [],
}


def md5s(bundle: Path) -> dict[str, str]:
    return {
        p.relative_to(bundle).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()  # noqa: S324
        for p in sorted(bundle.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("model", sorted(MODELS))
def test_retraining_gives_identical_bundle_and_lock(reproduced_project: Path, model: str) -> None:
    project = reproduced_project  # the split is reproduced already: train runs on it
    conveyor_in_process("compile", f"model={model}", *MODELS[model], cwd=project)
    dvc("repro", "train", cwd=project)
    bundle = project / "models" / "diagnostics"
    first = md5s(bundle)
    assert set(first) == {"pipeline.skops", "schema.json", "metadata.json", "manifest.json"}
    lock = (project / "dvc.lock").read_text()

    conveyor("run", "train", cwd=project)
    assert md5s(bundle) == first
    # DVC sees the retrained model as the one it recorded: nothing to reproduce.
    assert json.loads(dvc("status", "train", "--json", cwd=project).stdout) == {}

    dvc("repro", "-f", "train", cwd=project)
    assert md5s(bundle) == first
    assert (project / "dvc.lock").read_text() == lock
