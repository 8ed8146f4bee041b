"""Precise invalidation: a model param reruns train and what follows it, nothing upstream.

Every leaf key, edited for real and checked against both DVC and the compiler's readers, is in
test_invalidation_oracle.py.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from conveyor.compiler import compile_files
from tests.conftest import dvc

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow


def test_a_model_param_reruns_train_and_downstream_only(reproduced_project: Path) -> None:
    project = reproduced_project
    pipeline = compile_files(project, ["model.params.max_depth=2"]).pipeline
    compile_files(project, ["model.params.max_depth=2"]).write(project)
    ran = set(re.findall(r"Running stage '([\w-]+)'", dvc("repro", cwd=project).stdout))
    assert ran == {"train", "evaluate", "gate", "card", "profile", "deploy-rest", "deploy-batch"}
    assert ran == pipeline.downstream(pipeline.readers("model.params.max_depth"))
