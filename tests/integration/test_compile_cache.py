"""The compile cache answers only when a full compile would write the same files and warnings.

Each case runs ``conveyor compile`` in a fresh interpreter and reports whether Hydra was
imported (a miss composes, a hit does not), so "hit" is observed, not assumed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from tests.conftest import commit_all, sh

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow  # ~30 fresh compiles

_REPORT = """\
import json, sys
from conveyor.cli.main import main
try:
    main(["compile", *sys.argv[1:]])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "composed": "hydra" in sys.modules}))
"""


def compile_in(root: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _REPORT, *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {**report, "stdout": done.stdout, "stderr": done.stderr}


def test_an_unchanged_project_is_answered_without_composing(project: Path) -> None:
    first = compile_in(project, "--no-cache")
    second = compile_in(project)
    third = compile_in(project)
    assert (first["code"], second["code"], third["code"]) == (0, 0, 0)
    assert first["composed"] is True
    assert third["composed"] is False
    assert "up to date (10 stages)" in str(third["stdout"])


def test_an_edited_conf_value_or_override_is_compiled_again(project: Path) -> None:
    compile_in(project)
    assert compile_in(project)["composed"] is False
    xgb = project / "conf" / "model" / "xgboost.yaml"
    xgb.write_text(xgb.read_text().replace("max_depth: 4", "max_depth: 5"))
    edited = compile_in(project)
    assert edited["composed"] is True
    assert "max_depth: 5" in (project / "params.yaml").read_text()
    overridden = compile_in(project, "model.params.max_depth=3")
    assert overridden["composed"] is True
    assert "max_depth: 3" in (project / "params.yaml").read_text()
    back = compile_in(project)
    assert back["composed"] is True  # the cache keeps one result: the last one
    assert "max_depth: 5" in (project / "params.yaml").read_text()


def test_generated_files_edited_by_hand_are_rewritten_on_a_hit(project: Path) -> None:
    compile_in(project)
    expected = (project / "dvc.yaml").read_text()
    (project / "dvc.yaml").write_text("stages: {}\n")
    hit = compile_in(project)
    assert hit["composed"] is False
    assert "wrote dvc.yaml" in str(hit["stdout"])
    assert (project / "dvc.yaml").read_text() == expected


def test_a_resolver_in_conf_is_never_cached(project: Path) -> None:
    config = project / "conf" / "config.yaml"
    named = "name: ${oc.env:CONVEYOR_TEST_NAME,diagnostics}"
    config.write_text(config.read_text().replace("name: diagnostics", named))
    assert compile_in(project, env={"CONVEYOR_TEST_NAME": "first"})["code"] == 0
    again = compile_in(project, env={"CONVEYOR_TEST_NAME": "second"})
    assert (again["code"], again["composed"]) == (0, True)
    assert "name: second" in (project / "params.yaml").read_text()


def test_a_corrupt_cache_is_ignored(project: Path) -> None:
    compile_in(project)
    (project / ".conveyor" / "compile" / "cache.json").write_text('{"format": 1, "key": [')
    done = compile_in(project)
    assert (done["code"], done["composed"]) == (0, True)


def test_a_missing_dependency_is_reported_not_answered_from_the_cache(project: Path) -> None:
    source = project / "data" / "raw.csv"
    source.parent.mkdir(exist_ok=True)
    source.write_text("a,target\n1,0\n2,1\n")
    _use_csv_source(project)
    assert compile_in(project)["code"] == 0
    assert compile_in(project)["composed"] is False
    source.unlink()
    done = compile_in(project)
    assert done["code"] == 1, done["stderr"]  # CompileError's exit code
    assert "depends on 'data/raw.csv', which no stage writes" in str(done["stderr"])


def test_a_source_that_now_leaves_the_project_is_refused(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text("a,target\n1,0\n2,1\n")
    source = project / "data" / "raw.csv"
    source.parent.mkdir(exist_ok=True)
    source.write_text(outside.read_text())
    _use_csv_source(project)
    assert compile_in(project)["code"] == 0
    source.unlink()
    source.symlink_to(outside)
    done = compile_in(project)
    assert done["code"] == 2, done["stderr"]
    assert "outside the project" in str(done["stderr"])


def test_untracked_source_warnings_are_recomputed_on_a_hit(project: Path) -> None:
    source = project / "data" / "raw.csv"
    source.parent.mkdir(exist_ok=True)
    source.write_text("a,target\n1,0\n2,1\n")
    _use_csv_source(project)
    assert "tracked by neither git nor DVC" in str(compile_in(project)["stderr"])
    commit_all(project, "track the source in git")
    hit = compile_in(project)
    assert hit["composed"] is False
    assert "tracked by neither" not in str(hit["stderr"])
    sh("git", "rm", "-q", "--cached", "data/raw.csv", cwd=project)
    again = compile_in(project)
    assert again["composed"] is False
    assert "tracked by neither git nor DVC" in str(again["stderr"])


def test_local_code_the_pipeline_runs_invalidates_the_cache(project: Path) -> None:
    (project / "local_models.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n\n\n"
        "class Tuned(LogisticRegression):\n    pass\n"
    )
    (project / "conf" / "model" / "local.yaml").write_text(
        "_target_: local_models.Tuned\nparams:\n  max_iter: 500\n"
    )
    config = project / "conf" / "config.yaml"
    config.write_text(config.read_text().replace("model: xgboost", "model: local"))
    first = compile_in(project)
    assert first["code"] == 0, first["stderr"]
    assert "local_models.py" in (project / "dvc.yaml").read_text()
    assert compile_in(project)["composed"] is False
    (project / "local_models.py").write_text(
        (project / "local_models.py").read_text() + "\n# tuned\n"
    )
    assert compile_in(project)["composed"] is True


def test_a_new_installed_distribution_invalidates_the_cache(project: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    compile_in(project, env={"PYTHONPATH": str(site)})
    assert compile_in(project, env={"PYTHONPATH": str(site)})["composed"] is False
    (site / "example_plugin-1.0.dist-info").mkdir()
    assert compile_in(project, env={"PYTHONPATH": str(site)})["composed"] is True


def _use_csv_source(project: Path) -> None:
    (project / "conf" / "data" / "local.yaml").write_text(
        "sources:\n  raw:\n    kind: csv\n    params: {path: data/raw.csv}\n"
        "target: target\nsplit:\n  strategy: random\n  test_size: 0.5\n"
    )
    config = project / "conf" / "config.yaml"
    config.write_text(config.read_text().replace("data: breast_cancer", "data: local"))


def test_a_cache_folder_that_leads_out_of_the_project_is_left_alone(
    project: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(project / ".conveyor", ignore_errors=True)  # the template's own cache
    (project / ".conveyor").symlink_to(elsewhere)  # as a cloned repository could commit it
    first = compile_in(project)
    second = compile_in(project)
    assert (first["code"], second["code"]) == (0, 0), first["stderr"]
    assert second["composed"] is True  # never answered from outside the project
    assert list(elsewhere.rglob("*")) == []  # and nothing written there


def test_a_cache_that_cannot_be_written_still_compiles(project: Path) -> None:
    shutil.rmtree(project / ".conveyor", ignore_errors=True)  # the template's own cache
    (project / ".conveyor").write_text("not a folder\n")
    done = compile_in(project)
    assert (done["code"], done["composed"]) == (0, True), done["stderr"]
    assert "Traceback" not in str(done["stderr"])
    assert (project / "dvc.yaml").is_file()
