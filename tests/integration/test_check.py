"""`conveyor compile --check`: the committed files are what conf/ generates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.conftest import conveyor_in_process

if TYPE_CHECKING:
    from pathlib import Path


def test_check_passes_on_a_fresh_compile_without_data(project: Path) -> None:
    assert not (project / "data").exists()  # --check needs no data
    done = conveyor_in_process("compile", "--check", cwd=project)
    assert "match conf/" in done.stdout


def test_check_fails_on_hand_edited_dvc_yaml(project: Path) -> None:
    dvc_yaml = project / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text().replace("- seed\n", "", 1))
    done = conveyor_in_process("compile", "--check", cwd=project, check=False)
    assert done.returncode == 1
    assert "--- dvc.yaml (committed)" in done.stdout
    assert "+    - seed" in done.stdout
    assert "run 'conveyor compile'" in done.stderr


def test_check_fails_on_edited_conf_and_compile_fixes_it(project: Path) -> None:
    conf = project / "conf" / "model" / "xgboost.yaml"
    conf.write_text(conf.read_text().replace("max_depth: 4", "max_depth: 5"))
    done = conveyor_in_process("compile", "--check", cwd=project, check=False)
    assert done.returncode == 1
    assert "-    max_depth: 4" in done.stdout
    assert "+    max_depth: 5" in done.stdout
    conveyor_in_process("compile", cwd=project)
    assert conveyor_in_process("compile", "--check", cwd=project).returncode == 0


def test_check_ignores_overrides_given_to_compile(project: Path) -> None:
    conveyor_in_process("compile", "model.params.max_depth=9", cwd=project)
    done = conveyor_in_process("compile", "--check", cwd=project, check=False)
    assert done.returncode == 1
    assert "+    max_depth: 4" in done.stdout
    refused = conveyor_in_process("compile", "--check", "seed=1", cwd=project, check=False)
    assert refused.returncode == 2
    assert "drop the overrides" in refused.stderr


def test_yaml_whitespace_and_comments_change_nothing(project: Path) -> None:
    conf = project / "conf" / "model" / "xgboost.yaml"
    conf.write_text("# a comment\n\n" + conf.read_text().replace(": ", ":   "))
    assert conveyor_in_process("compile", "--check", cwd=project).returncode == 0


def test_compile_twice_is_byte_identical(project: Path) -> None:
    before = {n: (project / n).read_bytes() for n in ("dvc.yaml", "params.yaml")}
    done = conveyor_in_process("compile", cwd=project)
    assert "up to date" in done.stdout
    assert {n: (project / n).read_bytes() for n in ("dvc.yaml", "params.yaml")} == before
