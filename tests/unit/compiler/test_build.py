"""compile_project and check_invariants, fast: the default project against its committed
dvc.yaml, and each invariant's refusal word for word on hand-built pipelines."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest
import yaml

from conveyor.compiler import compile_project
from conveyor.compiler.build import _present, _stage, check_invariants
from conveyor.compiler.ir import Pipeline, Stage
from conveyor.config import load_project
from conveyor.errors import CompileError
from conveyor.runtime.plan import StagePlan
from tests.conftest import REPO

if TYPE_CHECKING:
    from pathlib import Path

BLESSING = "reports/blessing.json"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of the default project's conf/ (nothing else is needed to compile it)."""
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    return tmp_path


def test_the_default_project_compiles_to_the_committed_dvc_yaml(root: Path) -> None:
    # dvc.yaml is committed and `conveyor compile --check` keeps it current in CI
    committed = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))
    assert compile_project(load_project(root)).to_dict() == committed
    assert committed["artifacts"] == {
        "diagnostics": {
            "path": "models/diagnostics",
            "type": "model",
            "desc": "the binary classification pipeline (features + model) as a verified "
            "conveyor bundle",
        }
    }


@pytest.mark.parametrize("example", ["climate", "supply-chain-demand"])
def test_each_example_compiles_to_its_committed_dvc_yaml(example: str, tmp_path: Path) -> None:
    """climate runs a ``_target_`` (sklearn's Ridge), whose code is looked for under the project;
    supply-chain-demand reads data/stores.csv, which no stage writes: it must be on disk there."""
    source = REPO / "examples" / example
    for folder in ("conf", "data"):
        shutil.copytree(source / folder, tmp_path / folder)
    committed = yaml.safe_load((source / "dvc.yaml").read_text(encoding="utf-8"))
    assert compile_project(load_project(tmp_path)).to_dict() == committed


def test_a_stage_dvc_must_always_rerun_says_so() -> None:
    """A source DVC cannot track (a PostgreSQL snapshot with ``refresh: always``)."""
    always = _stage(StagePlan("ingest-orders", "d", (), always_changed=True), [], {}, "local")
    usual = _stage(StagePlan("ingest-orders", "d", ()), [], {}, "local")
    assert (always.always_changed, usual.always_changed) == (True, False)
    assert always.to_dict()["always_changed"] is True
    assert "always_changed" not in usual.to_dict()


def test_the_project_s_own_code_is_a_dependency_once() -> None:
    plan = StagePlan("train", "d", (), deps=("data/split", "mymodels.py"))
    stage = _stage(plan, ["mymodels.py", "shared_pkg"], {}, "local")
    assert stage.deps == ("data/split", "mymodels.py", "shared_pkg")


def test_stages_that_run_on_the_executor_say_which(root: Path) -> None:
    stages = {s.name: s for s in compile_project(load_project(root, ["executor=dask"])).stages}
    assert stages["validate"].meta == (("executor", "dask"),)
    assert stages["profile"].meta == (("executor", "dask"),)
    assert stages["ingest-breast_cancer"].meta == ()
    assert all(s.cmd == f"conveyor run {name}" for name, s in stages.items())


def test_a_key_left_to_its_default_is_not_a_dvc_param(root: Path) -> None:
    stages = {s.name: s for s in compile_project(load_project(root)).stages}
    assert stages["split"].params == ("data.split", "data.target", "seed")


@pytest.mark.parametrize(
    ("key", "present"),
    [("a", True), ("a.b", True), ("a.b.c", False), ("a.c", False), ("x", False), ("a.n", True)],
)
def test_present_follows_the_dotted_path(key: str, present: bool) -> None:
    assert _present({"a": {"b": 1, "n": None}}, key) is present


def _error(stages: list[Stage], root: Path) -> CompileError:
    with pytest.raises(CompileError) as caught:
        check_invariants(Pipeline(tuple(stages)), root)
    return caught.value


@pytest.mark.parametrize("name", ["package-rest", "deploy-batch", "packager"])
def test_a_stage_shipping_a_model_must_depend_on_the_blessing(name: str, tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    error = _error([Stage(name, "ship", "x", deps=("models",))], tmp_path)
    assert (error.what, error.where, error.fix) == (
        f"stage '{name}' ships a model but does not depend on {BLESSING}",
        f"stages.{name}.deps",
        f"add evaluate.gates (so a gate stage blesses the model) and make the stage depend on "
        f"{BLESSING}",
    )
    (tmp_path / "reports").mkdir()
    (tmp_path / BLESSING).write_text("{}")
    check_invariants(Pipeline((Stage(name, "ship", "x", deps=("models", BLESSING)),)), tmp_path)
    check_invariants(Pipeline((Stage("ship-it", "d", "x", deps=("models",)),)), tmp_path)


@pytest.mark.parametrize(("first", "second"), [("data/x", "data/x"), ("data", "data/x")])
def test_two_stages_writing_one_path_are_refused(first: str, second: str, tmp_path: Path) -> None:
    error = _error(
        [Stage("a", "d", "x", outs=(first,)), Stage("b", "d", "x", outs=(second,))], tmp_path
    )
    assert (error.what, error.where, error.fix) == (
        f"stages 'a' and 'b' both write '{second}'",
        "dvc.yaml",
        "give each output a distinct path",
    )


def test_a_dependency_written_later_is_a_cycle(tmp_path: Path) -> None:
    stages = [Stage("a", "d", "x", deps=("data/x/part",)), Stage("b", "d", "x", outs=("data/x",))]
    error = _error(stages, tmp_path)
    assert (error.what, error.where, error.fix) == (
        "stage 'a' depends on 'data/x/part', written by the later stage 'b' (a cycle)",
        "dvc.yaml",
        "reorder the stages so every input is produced first",
    )


def test_a_dependency_nobody_writes_must_be_on_disk_or_tracked(tmp_path: Path) -> None:
    stages = [
        Stage("a", "d", "x", outs=("data/x",), metrics=("m.json",)),
        Stage("b", "d", "x", deps=("data/x/part", "m.json", "raw.csv", "ref.parquet")),
    ]
    error = _error(stages, tmp_path)
    assert (error.what, error.where, error.fix) == (
        "stage 'b' depends on 'raw.csv', which no stage writes and which is neither on disk "
        "nor tracked by DVC",
        "stages.b.deps",
        "create 'raw.csv', or fetch it with 'dvc pull', or fix the path in conf/",
    )
    (tmp_path / "raw.csv").write_text("a\n")
    (tmp_path / "ref.parquet.dvc").write_text("outs: []\n")
    check_invariants(Pipeline(tuple(stages)), tmp_path)
