"""A fresh clone's ``dvc repro`` changes nothing: the committed dvc.lock is reproduced (issue 16).

What a CI job checks first: clone the repository, run the pipeline with an empty DVC cache, and
find ``git status`` clean. Every stage runs (``-f``: with nothing cached, a stage whose outputs
git holds would otherwise be skipped when its inputs match), so every output -- the data, the
model bundle, the reports -- must come out byte for byte as committed. The root project and
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
    "examples/supply-chain-demand",
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
    assert not (root / ".dvc" / "cache").exists()  # nothing to check out
    dvc("repro", "-f", "-q", cwd=root)
    assert sh("git", "status", "--porcelain", "--", ".", cwd=root).stdout == ""
    assert (root / "dvc.lock").read_bytes() == committed
    assert dvc("status", "-q", cwd=root, check=False).returncode == 0
