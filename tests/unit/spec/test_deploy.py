"""``deploy:``: targets selected as a Hydra list, checked at compile time, compiled into stages
that depend on the blessing.

Everything goes through the real compose + validation path (``load_project``) on a copy of the
default project's conf/, so the messages are the ones ``conveyor compile`` prints.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest
from pydantic import ValidationError

from conveyor.compiler import compile_project
from conveyor.config import load_project
from conveyor.errors import OverrideError, SpecError
from conveyor.spec import ProjectSpec
from tests.conftest import REPO

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of the default project's conf/ (nothing else is needed to load it)."""
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))


def _problems(root: Path, overrides: tuple[str, ...] = ()) -> list[tuple[str, str, str | None]]:
    with pytest.raises(SpecError, match=r"deploy|problems in the configuration") as caught:
        load_project(root, overrides)
    return [(p.where, p.what, p.fix) for p in caught.value.problems]


def test_the_default_project_deploys_rest_and_batch(root: Path) -> None:
    spec = load_project(root).spec
    assert list(spec.deploy) == ["rest", "batch"]
    assert spec.deploy["rest"].kind == "rest"
    assert spec.deploy["batch"].params["input"] == "data/split/test.parquet"


@pytest.mark.parametrize(
    ("override", "targets"),
    [
        ("deploy=[rest]", ["rest"]),
        ("deploy=rest", ["rest"]),
        ("deploy=[]", []),
        ("deploy=[rest,batch,container]", ["rest", "batch", "container"]),
    ],
)
def test_targets_are_chosen_as_a_list(root: Path, override: str, targets: list[str]) -> None:
    project = load_project(root, [override])
    assert list(project.spec.deploy) == targets
    stages = [p.name for p in compile_project(project).stages if p.name.startswith("deploy-")]
    assert stages == [f"deploy-{t}" for t in targets]


def test_each_target_is_traced_to_its_own_file(root: Path) -> None:
    provenance = load_project(root, ["deploy=[batch,container]"]).provenance
    assert str(provenance.origin("deploy.batch.params.input")) == "conf/deploy/batch.yaml:6"
    assert provenance.file("deploy.container.kind") == "conf/deploy/container.yaml"


def test_an_unknown_option_in_the_list_names_the_options(root: Path) -> None:
    with pytest.raises(
        OverrideError, match=r"config group 'deploy' has no option 'rets'"
    ) as caught:
        load_project(root, ["deploy=[rets]"])
    assert (
        caught.value.fix
        == "did you mean 'rest'? available options in 'deploy': batch, container, rest"
    )


def test_a_single_option_group_still_refuses_a_list(root: Path) -> None:
    with pytest.raises(
        OverrideError, match=r"config group 'model' takes one option name, not '\[xgboost,"
    ):
        load_project(root, ["model=[xgboost,random_forest]"])


def test_an_unknown_target_kind_suggests_the_closest(root: Path) -> None:
    _edit(root / "conf/deploy/rest.yaml", "kind: rest", "kind: rets")
    assert _problems(root) == [
        (
            "deploy.rest.kind (conf/deploy/rest.yaml)",
            "unknown target 'rets'",
            "did you mean 'rest'? available: batch, container, rest",
        )
    ]


def test_target_params_are_checked_at_compile_time(root: Path) -> None:
    _edit(root / "conf/deploy/rest.yaml", "port: 8080", "prot: 8080\n    base_image: python")
    _edit(root / "conf/deploy/batch.yaml", "chunk_rows: 65536", "chunk_rows: 0")
    _edit(root / "conf/deploy/batch.yaml", "input: data/split/test.parquet", "input: ../x.csv")
    problems = {where: (what, fix) for where, what, fix in _problems(root)}
    assert problems["deploy.rest.params.prot (conf/deploy/rest.yaml)"] == (
        "unknown parameter 'prot'",
        "did you mean 'port'? valid parameters: base_image, canary, canary_share, "
        "canary_sticky, host, log_dir, log_rotate_rows, log_rotate_seconds, max_body_bytes, "
        "port, shadow, unknown_categories",
    )
    what, _ = problems["deploy.rest.params.base_image (conf/deploy/rest.yaml)"]
    assert what.startswith("base image 'python' is not pinned; name a version tag such as")
    assert problems["deploy.batch.params.chunk_rows (conf/deploy/batch.yaml)"] == (
        "got 0: input should be greater than or equal to 1",
        "set 'chunk_rows' to an integer >= 1",
    )
    what, _ = problems["deploy.batch.params.input (conf/deploy/batch.yaml)"]
    assert (
        what == "'../x.csv' leaves the project; batch targets score files inside the project only"
    )


@pytest.mark.parametrize("image", ["python", "python:latest", "registry.local:5000/python"])
def test_a_floating_base_image_is_refused(root: Path, image: str) -> None:
    (where, what, _), *_ = _problems(root, (f"+deploy.rest.params.base_image={image}",))
    assert where == "deploy.rest.params.base_image (override '+deploy.rest.params.base_image=" + (
        f"{image}')"
    )
    assert what.startswith(f"base image '{image}' is not pinned")


def test_deploying_without_gates_is_refused(root: Path) -> None:
    problems = _problems(root, ("~evaluate.gates",))
    assert len(problems) == 1
    where, what, _ = problems[0]
    assert where == "deploy (conf/deploy/rest.yaml)"
    assert what.startswith("deploy targets ship only a blessed model, but evaluate.gates is empty")
    assert "add thresholds under evaluate.gates" in what
    assert "'deploy=[]'" in what
    # without targets the same project is fine
    assert load_project(root, ["~evaluate.gates", "deploy=[]"]).spec.deploy == {}


def test_target_names_become_stage_names_so_they_stay_plain() -> None:
    base = load_project(REPO).spec.model_dump(by_alias=True)
    base["deploy"] = {"My-Api": {"kind": "rest"}}
    with pytest.raises(ValidationError, match=r"deploy\.My-Api\.\[key\]"):
        ProjectSpec.model_validate(base)


def test_deploy_stages_depend_on_the_bundle_and_the_blessing(root: Path) -> None:
    pipeline = compile_project(load_project(root, ["deploy=[rest,batch,container]"]))
    names = [s.name for s in pipeline.stages]
    assert names[-6:] == [
        "gate",
        "card",
        "profile",
        "deploy-rest",
        "deploy-batch",
        "deploy-container",
    ]
    rest = pipeline.stage("deploy-rest")
    assert rest.cmd == "conveyor run deploy-rest"
    assert rest.deps == ("models/diagnostics", "reports/blessing.json")
    assert rest.params == ("deploy.rest", "project.name")
    assert rest.outs == ("deploy/rest",)
    batch = pipeline.stage("deploy-batch")
    assert batch.deps == ("models/diagnostics", "reports/blessing.json", "data/split/test.parquet")
    assert batch.params == ("deploy.batch", "project.name")
    assert batch.outs == ("data/predictions/batch.parquet",)
    assert batch.reports == ("reports/predictions-batch.json",)
    assert pipeline.stage("deploy-container").outs == ("deploy/container",)
    # only the target's own entry: changing the rest port reruns deploy-rest alone
    assert pipeline.readers("deploy.rest.params.port") == {"deploy-rest"}


def test_a_glob_input_depends_on_its_folder(root: Path) -> None:
    (root / "incoming").mkdir()
    project = load_project(root, ["deploy=[batch]", "deploy.batch.params.input=incoming/*.csv"])
    batch = compile_project(project).stage("deploy-batch")
    assert batch.deps[-1] == "incoming"


def test_a_missing_batch_input_fails_compile(root: Path) -> None:
    from conveyor.errors import CompileError

    project = load_project(root, ["deploy=[batch]", "deploy.batch.params.input=data/new.csv"])
    with pytest.raises(CompileError, match=r"depends on 'data/new.csv', which no stage writes"):
        compile_project(project)
