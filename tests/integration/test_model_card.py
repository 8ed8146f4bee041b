"""The model card through the CLI: a located error for a bad ``card:`` key; on a reproduced
project, editing ``card:`` reruns the card stage alone, and ``registry register`` / ``show``
attach and display the card."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
import yaml

from tests.conftest import commit_all, conveyor, conveyor_in_process, dvc

if TYPE_CHECKING:
    from pathlib import Path

HOSTILE = "Screening <script>alert(1)</script> | only"


def _set_card(root: Path, card: dict[str, object]) -> None:
    """Replace ``card:`` in conf/config.yaml (its comments go; the config stays the same)."""
    config = root / "conf" / "config.yaml"
    data = yaml.safe_load(config.read_text())
    data["card"] = card
    config.write_text(yaml.safe_dump(data, sort_keys=False))


def test_a_typo_in_card_is_a_located_error(project: Path) -> None:
    _set_card(project, {"intended_uses": "screening"})
    done = conveyor_in_process("compile", cwd=project, check=False)
    assert done.returncode == 2
    assert "card.intended_uses (conf/config.yaml): unknown key 'intended_uses'" in done.stderr
    assert "did you mean 'intended_use'?" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_card_stage_register_and_show(reproduced_project: Path) -> None:
    root = reproduced_project
    card = root / "reports" / "model_card.md"
    assert card.is_file()
    assert (root / "reports" / "model_card.html").is_file()
    commit_all(root, "reproduced")

    _set_card(root, {"intended_use": HOSTILE})
    conveyor_in_process("compile", cwd=root)
    out = dvc("repro", cwd=root).stdout
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert ran == {"card"}  # card: is read by the card stage only
    markdown = card.read_text()
    assert "Screening \\<script\\>alert(1)\\</script\\> \\| only" in markdown
    html = (root / "reports" / "model_card.html").read_text()
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    commit_all(root, "card text")

    # a card that is not the one dvc.lock records is refused
    card.write_text(markdown.replace("Screening", "Diagnosis"))
    commit_all(root, "edited card")
    refused = conveyor("registry", "register", "diagnostics", cwd=root, check=False)
    assert refused.returncode == 1
    assert "reports/model_card.md at commit" in refused.stderr
    assert "is not the one dvc.lock records" in refused.stderr

    head = conveyor("registry", "register", "diagnostics", "--ref", "HEAD~1", cwd=root)
    assert "registered diagnostics@v1.0.0" in head.stdout
    shown = conveyor("registry", "show", "diagnostics", cwd=root).stdout
    assert "reports/model_card.md at commit" in shown
    assert "as registered" in shown
    assert "reports/model_card.html" in shown
    assert "roc_auc 0." in shown
    data = json.loads(conveyor("registry", "show", "diagnostics", "--json", cwd=root).stdout)
    (version,) = data["versions"]
    recorded = version["card"]
    assert recorded["status"] == "as registered"
    assert recorded["md5"] == version["outputs"]["reports/model_card.md"]
    assert recorded["summary"]["model"] == "diagnostics"
    assert recorded["summary"]["blessed"] is True
