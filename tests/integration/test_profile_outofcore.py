"""``conveyor run profile`` under a memory budget: the profile ``dvc repro`` wrote, same bytes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from conveyor.runtime.outofcore import BUDGET_VARIABLE
from tests.conftest import conveyor

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.slow
def test_profile_over_the_budget_writes_the_in_memory_profile(
    reproduced_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = reproduced_project / "reports" / "profile.json"
    expected = profile.read_bytes()  # written in memory by the template's dvc repro
    monkeypatch.setenv(BUDGET_VARIABLE, "lots")
    bad = conveyor("run", "profile", cwd=reproduced_project, check=False)
    assert bad.returncode == 2
    assert f"environment variable {BUDGET_VARIABLE}: 'lots' is not a memory size" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert profile.read_bytes() == expected  # untouched
    monkeypatch.setenv(BUDGET_VARIABLE, "1kB")  # far below the split
    profile.unlink()
    over = conveyor("run", "profile", cwd=reproduced_project)
    assert over.stdout.rstrip().endswith(
        "-> reports/profile.json (out of core, a column at a time)"
    )
    assert profile.read_bytes() == expected
    assert [p.name for p in profile.parent.iterdir() if p.name.startswith(".")] == []
