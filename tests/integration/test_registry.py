"""The model registry end to end: real git, real gto tags, real dvc cache, the real CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path  # noqa: TC003 - fixtures' annotations
from typing import Any

import pytest

from conveyor.bundle import Bundle
from conveyor.registry import champion, load_version, resolve
from tests.conftest import VENV_BIN, commit_all, conveyor_warm, dvc, sh
from tests.trained_pair import trained_pair

pytestmark = pytest.mark.slow
NAME = "diagnostics"


def _bless(root: Path, blessed: bool) -> None:
    """Stand in for a gate that failed: a blessing in its format, committed with the model."""
    check = {"metric": "roc_auc", "kind": "min", "required": 0.99, "passed": blessed}
    blessing = {
        "blessed": blessed,
        "model": NAME,
        "checks": [{**check, "observed": 0.995 if blessed else 0.93}],
        "champion": None,
        "metrics": {},
    }
    (root / "reports" / "blessing.json").write_text(json.dumps(blessing, indent=2) + "\n")


@pytest.fixture(scope="module")
def trained(reproduced_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three commits: model A blessed (HEAD~2) and model B blessed (HEAD~1), each by the real
    gate stage (the run's shared ``trained_pair``), then B with a failed blessing (HEAD)."""
    root = tmp_path_factory.mktemp("registry") / "project"
    shutil.copytree(trained_pair(reproduced_template, tmp_path_factory), root, symlinks=True)
    _bless(root, blessed=False)
    commit_all(root, "model B, gate failed")
    return root


@pytest.fixture
def repo(trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    shutil.copytree(trained, root, symlinks=True)
    monkeypatch.chdir(root)
    return root


def _registry(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return conveyor_warm("registry", *args, cwd=root, check=check)


def _json(root: Path, *args: str) -> Any:
    return json.loads(_registry(root, *args, "--json").stdout)


def _register_two(root: Path) -> None:
    _registry(root, "register", NAME, "--ref", "HEAD~2")
    _registry(root, "register", NAME, "--ref", "HEAD~1", "--bump", "minor")


@pytest.fixture(scope="module")
def registered_two(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``trained`` with A registered as v1.0.0 and B as v1.1.0 (once: tags are in .git)."""
    root = tmp_path_factory.mktemp("registered") / "project"
    shutil.copytree(trained, root, symlinks=True)
    _register_two(root)
    return root


@pytest.fixture
def registered(registered_two: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of ``registered_two``: what ``_register_two`` leaves in a copy of ``trained``."""
    root = tmp_path / "project"
    shutil.copytree(registered_two, root, symlinks=True)
    monkeypatch.chdir(root)
    return root


def test_register_promote_rollback_and_gto_agrees(registered: Path) -> None:
    repo = registered
    assert (
        "promoted diagnostics@v1.0.0 in 'prod'"
        in _registry(repo, "promote", NAME, "v1.0.0", "--to", "prod").stdout
    )
    _registry(repo, "promote", NAME, "v1.1.0", "--to", "prod")
    assert resolve(repo, f"{NAME}#prod").version == "v1.1.0"

    done = _registry(repo, "rollback", NAME, "--stage", "prod")
    assert "rolled back to diagnostics@v1.0.0 in 'prod'" in done.stdout
    assert resolve(repo, f"{NAME}#prod").version == "v1.0.0"
    again = _registry(repo, "rollback", NAME, "--stage", "prod", check=False)
    assert again.returncode == 1
    assert "nothing to roll back to: only 'v1.0.0' has held it" in again.stderr

    tags = sh("git", "tag", "-l", f"{NAME}*", cwd=repo).stdout.split()
    assert sorted(tags) == sorted(
        [f"{NAME}@v1.0.0", f"{NAME}@v1.1.0", *(f"{NAME}#prod#{n}" for n in (1, 2, 3))]
    )
    history = _json(repo, "history", NAME)
    assert [(e["action"], e["version"]) for e in history] == [
        ("register", "v1.0.0"),
        ("register", "v1.1.0"),
        ("promote", "v1.0.0"),
        ("promote", "v1.1.0"),
        ("rollback", "v1.0.0"),
    ]
    assert all(e["author"] == "conveyor-tests <tests@conveyor.invalid>" for e in history)

    listed = _json(repo, "list")
    assert listed == [
        {"name": NAME, "latest": "v1.1.0", "stages": {"prod": "v1.0.0"}, "problems": []}
    ]
    shown = json.loads(sh(VENV_BIN / "gto", "show", "--json", cwd=repo).stdout)
    assert shown[NAME]["version"] == listed[0]["latest"]
    assert shown[NAME]["stage"] == listed[0]["stages"]


def test_show_reports_lineage_per_version(registered: Path) -> None:
    repo = registered
    shown = _json(repo, "show", NAME)
    newest, oldest = shown["versions"]
    assert (newest["version"], oldest["version"]) == ("v1.1.0", "v1.0.0")
    assert newest["params"]["model"]["params"]["n_estimators"] == 30
    assert oldest["params"]["model"]["params"]["n_estimators"] == 40
    assert newest["model_md5"].endswith(".dir")
    assert newest["model_md5"] != oldest["model_md5"]
    assert (
        newest["outputs"]["data/split/train.parquet"]
        == oldest["outputs"]["data/split/train.parquet"]
    )
    assert set(newest["metrics"]) >= {"roc_auc", "accuracy"}
    assert newest["blessing"]["blessed"] is True
    assert "diagnostics@v1.1.0" in _registry(repo, "show", NAME).stdout


def test_register_refuses_uncommitted_or_registered_commits(repo: Path) -> None:
    _registry(repo, "register", NAME, "--version", "v2.0.0")
    twice = _registry(repo, "register", NAME, check=False)
    assert twice.returncode == 1
    assert "is already registered as 'diagnostics@v2.0.0'" in twice.stderr
    metrics = repo / "reports" / "metrics.json"
    metrics.write_text(metrics.read_text().replace("roc_auc", "roc_auc_edited"))
    dirty = _registry(repo, "register", NAME, "--ref", "HEAD", check=False)
    assert "uncommitted changes in reports/metrics.json" in dirty.stderr
    down = _registry(repo, "register", NAME, "--ref", "HEAD~1", "--version", "v1.0.0", check=False)
    assert "'v1.0.0' is not above the latest version 'v2.0.0'" in down.stderr


def test_promote_refuses_unblessed_and_records_force(repo: Path) -> None:
    _registry(repo, "register", NAME, "--ref", "HEAD~2")
    _registry(repo, "register", NAME)  # HEAD: its committed blessing failed
    refused = _registry(repo, "promote", NAME, "v1.0.1", "--to", "prod", check=False)
    assert refused.returncode == 1
    assert "'diagnostics@v1.0.1' is not blessed: failed roc_auc min 0.99 (observed 0.93)" in (
        refused.stderr
    )
    assert "--force" in refused.stderr
    assert sh("git", "tag", "-l", f"{NAME}#*", cwd=repo).stdout == ""

    forced = _registry(
        repo, "promote", NAME, "v1.0.1", "--to", "prod", "--force", "-m", "incident 7"
    )
    assert "forced past the gate" in forced.stderr
    message = sh("git", "tag", "-l", "--format=%(contents)", f"{NAME}#prod#1", cwd=repo).stdout
    assert "conveyor-forced: unblessed: failed roc_auc min 0.99" in message
    assert "conveyor-by: conveyor-tests <tests@conveyor.invalid>" in message
    (last,) = [e for e in _json(repo, "history", NAME) if e["action"] == "promote"]
    assert last["forced"].startswith("unblessed")
    assert last["note"] == "incident 7"


def test_champion_is_the_prod_version_with_its_metrics(repo: Path) -> None:
    assert champion(repo, NAME) is None
    _register_two(repo)
    _registry(repo, "promote", NAME, "v1.0.0", "--to", "prod")
    found = champion(repo, NAME)
    assert found is not None
    assert (found.version, found.stage) == ("v1.0.0", "prod")
    assert found.commit == sh("git", "rev-parse", "HEAD~2", cwd=repo).stdout.strip()
    assert 0.5 < found.metrics["roc_auc"] <= 1.0


def test_concurrent_promotions_to_one_stage_stay_consistent(registered: Path) -> None:
    repo = registered
    for round_ in range(3):
        stage = f"race{round_}"
        procs = [
            subprocess.Popen(
                [VENV_BIN / "conveyor", "registry", "promote", NAME, version, "--to", stage],
                cwd=repo,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for version in ("v1.0.0", "v1.1.0")
        ]
        outcomes = [(p.wait(timeout=120), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
        for proc in procs:
            proc.stdout.close()  # type: ignore[union-attr]
            proc.stderr.close()  # type: ignore[union-attr]
        assert all(code == 0 for code, _ in outcomes), outcomes
        events = [e for e in _json(repo, "history", NAME) if e["stage"] == stage]
        assert sorted(e["version"] for e in events) == ["v1.0.0", "v1.1.0"]
        assert events[0]["timestamp"] < events[1]["timestamp"]
        assert resolve(repo, f"{NAME}#{stage}").version == events[1]["version"]
    counters = [
        int(t.rsplit("#", 1)[1])
        for t in sh("git", "tag", "-l", f"{NAME}#*", cwd=repo).stdout.split()
    ]
    assert sorted(counters) == list(range(1, 7))
    shown = json.loads(sh(VENV_BIN / "gto", "show", "--json", cwd=repo).stdout)
    assert shown[NAME]["stage"] == _json(repo, "list")[0]["stages"]


def test_load_version_reads_the_cache_not_the_workspace(registered: Path, tmp_path: Path) -> None:
    repo = registered
    shutil.rmtree(repo / "models")  # the workspace model is not needed, and not touched
    bundle = load_version(repo, f"{NAME}@v1.0.0", tmp_path / "v1")
    assert isinstance(bundle, Bundle)
    assert bundle.path == tmp_path / "v1"
    assert hasattr(bundle.pipeline, "predict_proba")
    assert not (repo / "models").exists()
    assert "OK: diagnostics@v1.1.0" in _registry(repo, "verify", NAME).stdout


def test_dvc_artifacts_get_reads_the_stage_conveyor_assigned(
    registered: Path, tmp_path: Path
) -> None:
    repo = registered
    _registry(repo, "promote", NAME, "v1.0.0", "--to", "prod")
    dvc("artifacts", "get", ".", NAME, "--stage", "prod", "-o", str(tmp_path / "got"), cwd=repo)
    ours = load_version(repo, f"{NAME}#prod", tmp_path / "ours")
    manifest = "manifest.json"
    assert (tmp_path / "got" / manifest).read_bytes() == (ours.path / manifest).read_bytes()


def _cached_file(root: Path, version: str, relpath: str) -> Path:
    md5 = _json(root, "show", NAME)["versions"]
    model = next(v["model_md5"] for v in md5 if v["version"] == version)
    cache = root / ".dvc" / "cache" / "files" / "md5"
    listing = json.loads((cache / model[:2] / model[2:]).read_text())
    file_md5 = next(item["md5"] for item in listing if item["relpath"] == relpath)
    return cache / file_md5[:2] / file_md5[2:]


def test_tampered_or_missing_cache_is_refused(registered: Path) -> None:
    repo = registered
    cached = _cached_file(repo, "v1.0.0", "pipeline.skops")
    original = cached.read_bytes()
    cached.chmod(0o644)
    cached.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    tampered = _registry(repo, "verify", f"{NAME}@v1.0.0", check=False)
    assert tampered.returncode == 4
    assert "cached file 'pipeline.skops' does not match its md5" in tampered.stderr
    cached.unlink()
    missing = _registry(repo, "verify", f"{NAME}@v1.0.0", check=False)
    assert missing.returncode == 1
    assert "is not in the local DVC cache" in missing.stderr
    assert "dvc fetch --rev" in missing.stderr
