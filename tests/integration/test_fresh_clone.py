"""A fresh clone's ``dvc repro`` changes nothing: the committed dvc.lock is reproduced (issue 16).

What a CI job checks first: clone the repository, run the pipeline with an empty DVC cache, and
find ``git status`` clean. Every stage runs (nothing is cached), so every output -- the data,
the model bundle, the reports -- must come out byte for byte as committed. The root project and
each example are cloned from this repository's HEAD, so the test checks what was committed.
"""

from __future__ import annotations

from pathlib import Path  # noqa: TC003 - fixtures' annotations

import pytest

from tests.conftest import REPO, dvc, sh

pytestmark = pytest.mark.slow

PROJECTS = (
    ".",
    "examples/climate",
    "examples/healthcare-diagnostics",
    pytest.param(
        "examples/supply-chain-demand",
        # A known bug, open: inside the whole suite (2 of the last 3 CI runs; never alone) its
        # profile's predictions differ in the last bit, as when the model scores in other chunks.
        marks=pytest.mark.xfail(
            strict=False,
            reason="supply-chain profile.json differs in the last bit under the full suite "
            "(open bug, see the stop-33 note)",
        ),
    ),
)


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (REPO / ".git").exists():
        pytest.skip("the tests run outside a git checkout of conveyor: there is nothing to clone")
    root = tmp_path_factory.mktemp("fresh") / "conveyor"
    sh("git", "clone", "-q", "--no-hardlinks", REPO, root)
    return root


@pytest.mark.parametrize("where", PROJECTS)
def test_a_fresh_clone_reproduces_the_committed_lock(clone: Path, where: str) -> None:
    root = clone / where
    committed = (root / "dvc.lock").read_bytes()
    assert not (root / ".dvc" / "cache").exists()  # nothing to check out: every stage runs
    dvc("repro", "-q", cwd=root)
    assert sh("git", "status", "--porcelain", "--", ".", cwd=root).stdout == ""
    assert (root / "dvc.lock").read_bytes() == committed
    assert dvc("status", "-q", cwd=root, check=False).returncode == 0
