"""Deploy targets end to end on the default project: ``dvc repro`` ships the blessed model.

``deploy-rest`` writes a serving directory that ``conveyor serve`` answers from, ``deploy-batch``
writes the test split's predictions (equal to the Pipeline's own), ``deploy-container`` a docker
build context. Docker is not available here, so the build contexts are checked the way a
reviewer would: every instruction known, every COPY source present and not ignored, the base
image and every requirement pinned to what is installed. An unblessed model and a tampered
bundle are refused before anything is written.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import re
import shlex
import shutil
from importlib.metadata import distribution
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from conveyor.bundle import load_bundle, verify_manifest
from tests.conftest import conveyor, conveyor_in_process, dvc

if TYPE_CHECKING:
    from pathlib import Path

INSTRUCTIONS = {
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
    "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
}  # fmt: skip


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction; comments dropped, continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, arguments = line.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    assert not pending, "a continuation line runs off the end of the Dockerfile"
    return instructions


def ignored(path: str, dockerignore: str) -> bool:
    """Whether .dockerignore keeps ``path`` out of the build context (last match wins)."""
    result = False
    for line in dockerignore.splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        top = path.split("/")[0]
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(top, pattern):
            result = not negated
    return result


def check_build_context(context: Path) -> list[tuple[str, str]]:
    """Every property of a build context that ``docker build`` would rely on."""
    instructions = parse_dockerfile((context / "Dockerfile").read_text())
    assert instructions[0][0] == "FROM"
    unknown = [keyword for keyword, _ in instructions if keyword not in INSTRUCTIONS]
    assert unknown == []
    image = instructions[0][1]
    name, _, tag = image.rpartition("/")[2].partition(":")
    assert name == "python"
    assert re.fullmatch(r"\d+\.\d+\.\d+-slim", tag), image  # pinned to a patch release
    dockerignore = (
        (context / ".dockerignore").read_text() if (context / ".dockerignore").exists() else ""
    )
    for keyword, arguments in instructions:
        if keyword in {"COPY", "ADD"}:
            *sources, _ = [a for a in shlex.split(arguments) if not a.startswith("--")]
            for source in sources:
                assert (context / source).exists(), f"COPY {source}: not in the context"
                assert not ignored(source, dockerignore), f"COPY {source}: .dockerignore drops it"
        if keyword in {"CMD", "ENTRYPOINT"}:
            assert isinstance(json.loads(arguments), list)  # exec form: signals reach the server
    users = [arguments for keyword, arguments in instructions if keyword == "USER"]
    assert users, "the image runs as root"
    assert users[-1] not in {"root", "0"}
    healthcheck = next(arguments for keyword, arguments in instructions if keyword == "HEALTHCHECK")
    probe = json.loads(healthcheck.partition(" CMD ")[2])
    assert probe[:2] == ["python", "-c"]
    assert "/ping" in probe[2]
    return instructions


def check_requirements(context: Path) -> dict[str, str]:
    """Every requirement pinned with == to the version installed here."""
    pins = {}
    for line in (context / "requirements.txt").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"not pinned: {line}"
        assert re.fullmatch(r"[a-z0-9][a-z0-9.-]*", name), line
        assert distribution(name).version == version, line
        pins[name] = version
    for needed in ("conveyor-mlops", "fastapi", "uvicorn", "scikit-learn", "skops"):
        assert needed in pins
    assert {"xgboost", "xgboost-cpu"} & set(pins)  # the CPU wheel where it exists (pyproject)
    return pins


@pytest.fixture(scope="module")
def shipped(
    reproduced_template: Path, reproduced_stdout: str, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The default project after one ``dvc repro``: trained, blessed, deployed."""
    root = tmp_path_factory.mktemp("shipped") / "project"
    shutil.copytree(reproduced_template, root, symlinks=True)
    out = reproduced_stdout  # what that one ``dvc repro`` printed
    assert "deploy-rest: diagnostics -> deploy/rest/" in out
    assert "deploy-batch: scored" in out
    return root


@pytest.fixture
def project(shipped: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the shipped project; the test runs inside it."""
    root = tmp_path / "project"
    shutil.copytree(shipped, root, symlinks=True)
    monkeypatch.chdir(root)
    return root


def _files(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}


def _refuse(blessing: Path) -> None:
    document = json.loads(blessing.read_text())
    document["blessed"] = False
    document["checks"][0].update(passed=False, observed=0.5)
    blessing.write_text(json.dumps(document))


@pytest.mark.slow
def test_repro_ships_the_blessed_model(project: Path) -> None:
    assert json.loads(dvc("status", "--json", cwd=project).stdout) == {}

    rest = project / "deploy" / "rest"
    assert sorted(p.name for p in rest.iterdir()) == [
        "Dockerfile", "bundle", "requirements.txt", "serve.json"
    ]  # fmt: skip
    verify_manifest(rest / "bundle")
    assert _files(rest / "bundle") == _files(project / "models" / "diagnostics")
    serve = json.loads((rest / "serve.json").read_text())
    assert serve == {  # no host: 'conveyor serve deploy/rest' listens on loopback
        "port": 8080,
        "max_body_bytes": 10485760,
        "unknown_categories": "error",
        "log_dir": None,
        "log_rotate_rows": 10000,
        "log_rotate_seconds": 60.0,
    }
    instructions = check_build_context(rest)
    assert ("EXPOSE", "8080") in instructions
    cmd = '["conveyor", "serve", "/app", "--config", "/app/serve.json", "--host", "0.0.0.0"]'
    assert ("CMD", cmd) in instructions  # the image asks for all interfaces itself
    assert check_requirements(rest)["conveyor-mlops"] == distribution("conveyor-mlops").version

    # the batch target: the Pipeline's own probabilities for every test row
    test = pd.read_parquet(project / "data" / "split" / "test.parquet")
    predictions = pd.read_parquet(project / "data" / "predictions" / "batch.parquet")
    bundle = load_bundle(project / "models" / "diagnostics")
    target = bundle.schema["target"]
    expected = bundle.pipeline.predict_proba(test.drop(columns=[target]))
    assert len(predictions) == len(test)
    assert predictions["_row"].tolist() == list(range(len(test)))
    np.testing.assert_allclose(predictions[["proba_0", "proba_1"]].to_numpy(), expected, atol=1e-6)
    assert predictions["prediction"].tolist() == expected.argmax(axis=1).tolist()
    assert predictions[target].tolist() == test[target].tolist()  # kept columns
    summary = json.loads((project / "reports" / "predictions-batch.json").read_text())
    assert summary["rows_in"] == summary["rows_scored"] == len(test)
    assert summary["rows_skipped"] == 0
    assert summary["output"] == "data/predictions/batch.parquet"

    # conveyor serve answers from the deployed directory with its serve.json
    _serves(rest, test.drop(columns=[target]).head(3), expected[:3].argmax(axis=1).tolist())

    # a changed port reruns deploy-rest alone
    rest_conf = project / "conf" / "deploy" / "rest.yaml"
    rest_conf.write_text(rest_conf.read_text().replace("port: 8080", "port: 9000"))
    conveyor_in_process("compile", cwd=project)
    out = dvc("repro", cwd=project).stdout
    assert "Running stage 'deploy-rest'" in out
    assert "Running stage 'deploy-batch'" not in out
    assert ("EXPOSE", "9000") in check_build_context(rest)


def _serves(deployed: Path, rows: pd.DataFrame, labels: list[int]) -> None:
    import httpx

    from conveyor.bundle.predictor import Predictor
    from conveyor.serving.app import create_app
    from conveyor.serving.config import load_serve_config
    from conveyor.serving.server import open_model

    opened = open_model(str(deployed), root=deployed)
    assert opened.config_file is not None
    config = load_serve_config(opened.config_file)
    app = create_app(Predictor(opened.bundle), config=config)
    body = {"dataframe_split": {"columns": list(rows.columns), "data": rows.to_numpy().tolist()}}

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post("/invocations", json=body)

    response = asyncio.run(call())
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": labels}


@pytest.mark.slow
def test_unblessed_or_tampered_models_are_not_shipped(project: Path) -> None:
    rest = project / "deploy" / "rest"
    before = _files(rest)
    blessing = project / "reports" / "blessing.json"
    blessed = blessing.read_text()
    _refuse(blessing)
    refused = conveyor("run", "deploy-rest", cwd=project, check=False)
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert "error: stage 'deploy-rest': the model is not blessed; failed checks: roc_auc" in (
        refused.stderr
    )
    assert "fix: train a model that passes evaluate.gates" in refused.stderr
    assert _files(rest) == before  # nothing written

    predictions = project / "data" / "predictions" / "batch.parquet"
    scored = predictions.read_bytes()
    refused = conveyor("run", "deploy-batch", cwd=project, check=False)
    assert refused.returncode == 1
    assert "stage 'deploy-batch': the model is not blessed" in refused.stderr
    assert predictions.read_bytes() == scored

    blessing.write_text(blessed)
    schema = project / "models" / "diagnostics" / "schema.json"
    schema.write_text(schema.read_text().replace('"nullable": false', '"nullable": true', 1))
    tampered = conveyor("run", "deploy-rest", cwd=project, check=False)
    assert tampered.returncode == 4
    assert "'schema.json' does not match its sha256" in tampered.stderr
    assert "Traceback" not in tampered.stderr
    assert _files(rest) == before


@pytest.mark.slow
def test_container_is_a_complete_build_context(project: Path) -> None:
    conveyor_in_process("compile", "deploy=[rest,batch,container]", cwd=project)
    out = dvc("repro", "deploy-container", cwd=project).stdout
    context = project / "deploy" / "container"
    assert "deploy-container: diagnostics -> deploy/container/" in out
    names = sorted(p.name for p in context.iterdir())
    assert names == [
        ".dockerignore",
        "Dockerfile",
        "bundle",
        "requirements.txt",
        "serve.json",
        "wheels",
    ]
    verify_manifest(context / "bundle")
    version = distribution("conveyor-mlops").version
    (wheel,) = (context / "wheels").iterdir()
    assert wheel.name == f"conveyor_mlops-{version}-py3-none-any.whl"
    instructions = check_build_context(context)
    runs = [arguments for keyword, arguments in instructions if keyword == "RUN"]
    # conveyor comes from the shipped wheel, never from an index, and before the requirements
    assert runs[0] == (
        "pip install --no-cache-dir --no-deps --no-index --find-links /app/wheels "
        f"conveyor-mlops=={version}"
    )
    assert runs[1] == "pip install --no-cache-dir --find-links /app/wheels -r /app/requirements.txt"
    assert check_requirements(context)["conveyor-mlops"] == version
    assert ignored("tests/x.py", (context / ".dockerignore").read_text())
    # only this target ran
    assert json.loads(dvc("status", "--json", cwd=project).stdout) == {}
