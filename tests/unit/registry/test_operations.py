"""register, promote and rollback in process, against real git and gto: the tags they leave.

Each test starts from a copy of one small repository whose commits hold what a trained project
commits (dvc.lock recording the bundle and the metrics, reports/metrics.json, the blessing),
hand-written: these tests are about the registry, the gate's own blessing is checked end to end
in tests/integration/test_promotion_blessing.py. Earlier registry events are plain
``git tag -a`` tags dated in the past, as GTO's grammar spells them. The oracle is git itself:
which tags exist, which commit each names, and what its message says.

GTO orders tags by their time in whole seconds, so a write waits out the second of the
model's last tag; ``test_a_write_waits_out_the_second_of_the_last_tag`` pins that wait with a
fixed clock, and every other test records the wait instead of sleeping it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import types
from pathlib import Path  # noqa: TC003 - fixtures' annotations
from typing import Any

import pytest

from conveyor.registry import RegistryError, operations
from conveyor.registry.operations import promote, register, rollback

PAST = 1_600_000_000  # tag times of the hand-made events (2020), before any write under test
CARD = "---\nmodel: m\n---\n\n# Model card: m\n"
FAILED = {
    "model": "m",
    "blessed": False,
    "checks": [
        {"metric": "roc_auc", "kind": "min", "required": 0.9, "observed": 0.81234, "passed": False},
        {"metric": "recall", "kind": "min", "required": 0.5, "observed": 0.75, "passed": True},
        {"metric": "f1", "kind": "min_delta", "required": 0.01, "observed": -0.02},
    ],
}
# commit -> reports/blessing.json at it (None: no file; a str: written as is)
BLESSINGS: dict[str, Any] = {
    "card": {"model": "m", "blessed": True},
    "good": {"blessed": True},  # a blessing that names no model blesses this one
    "good3": {"model": "m", "blessed": True},
    "missing": None,
    "other": {"model": "other", "blessed": True},
    "failed": FAILED,
    "no_checks": {"model": "m", "blessed": False},
    "text_true": {"model": "m", "blessed": "true"},
    "broken": "{not json",
    "head": {"model": "m", "blessed": True},
}
UNBLESSED = {
    "missing": "reports/blessing.json is missing or unreadable (run the gate stage and commit it)",
    "broken": "reports/blessing.json is missing or unreadable (run the gate stage and commit it)",
    "other": "the blessing is for model 'other'",
    "failed": "failed roc_auc min 0.9 (observed 0.8123); f1 min_delta 0.01 (observed -0.02)",
    "no_checks": "blessed is not true",
    "text_true": "blessed is not true",
}


def _git(root: Path, *args: str, at: int | None = None) -> str:
    env = {**os.environ}
    if at is not None:
        env["GIT_COMMITTER_DATE"] = f"@{PAST + at} +0000"
    done = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=False, env=env
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _commit(root: Path, label: str, n: int, *, model: bool = True) -> str:
    """One commit of a trained project: dvc.lock, metrics, blessing (and a card for 'card')."""
    reports = root / "reports"
    reports.mkdir(exist_ok=True)
    metrics = json.dumps({"roc_auc": 0.9 + n / 1000}).encode()
    (reports / "metrics.json").write_bytes(metrics)
    outs = [("reports/metrics.json", _md5(metrics))]
    if model:
        outs.append(("models/m", f"{n:032x}.dir"))
    card = reports / "model_card.md"
    card.unlink(missing_ok=True)
    if label == "card":
        card.write_text(CARD)
        outs.append(("reports/model_card.md", _md5(CARD.encode())))
    listed = "".join(f"    - path: {path}\n      md5: {md5}\n" for path, md5 in outs)
    (root / "dvc.lock").write_text(
        f"schema: '2.0'\nstages:\n  train:\n    cmd: x\n    outs:\n{listed}"
    )
    (root / "params.yaml").write_text(f"seed: {n}\n")
    (root / "dvc.yaml").write_text("stages: {}\n")
    blessing, path = BLESSINGS.get(label), reports / "blessing.json"
    path.unlink(missing_ok=True)
    if blessing is not None:
        path.write_text(blessing if isinstance(blessing, str) else json.dumps(blessing))
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", label)
    return _git(root, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("operations") / "project"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    commits = {"no_model": _commit(root, "no_model", 0, model=False)}
    for n, label in enumerate(BLESSINGS, start=1):
        commits[label] = _commit(root, label, n)
    return root, commits


@pytest.fixture
def repo(template: tuple[Path, dict[str, str]], tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(template[0], root, symlinks=True)
    return root


@pytest.fixture
def commits(template: tuple[Path, dict[str, str]]) -> dict[str, str]:
    return template[1]


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits for GTO's one-second resolution, recorded instead of slept."""
    import time

    slept: list[float] = []
    clock = types.SimpleNamespace(time=time.time, sleep=slept.append)
    monkeypatch.setattr(operations, "time", clock)
    return slept


@pytest.fixture
def ident(repo: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The repository's own git identity, which every tag must record as its author."""
    for var in ("GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var, raising=False)
    _git(repo, "config", "user.name", "Repo Owner")
    _git(repo, "config", "user.email", "owner@repo.invalid")
    return "Repo Owner <owner@repo.invalid>"


def _tag(root: Path, tag: str, commit: str, message: str, at: int) -> None:
    _git(root, "tag", "-a", tag, commit, "-m", message, at=at)


def _registered(root: Path, version: str, commit: str, at: int) -> None:
    """A version tag as conveyor writes it."""
    message = (
        f"register m {version} (commit {commit[:7]})\n\n"
        f"conveyor-action: register\nconveyor-commit: {commit}"
    )
    _tag(root, f"m@{version}", commit, message, at)


def _promoted(root: Path, stage: str, counter: int, version: str, at: int) -> None:
    """A stage tag as conveyor writes it, recording the version, its commit and tag object."""
    commit, obj = _points(root, f"m@{version}"), _git(root, "rev-parse", f"m@{version}")
    message = (
        f"promote m {version} to {stage}\n\nconveyor-action: promote\n"
        f"conveyor-version: {version}\nconveyor-commit: {commit}\nconveyor-version-tag: {obj}"
    )
    _tag(root, f"m#{stage}#{counter}", commit, message, at)


def _points(root: Path, tag: str) -> str:
    return _git(root, "rev-parse", f"{tag}^{{commit}}")


def _message(root: Path, tag: str) -> str:
    return _git(root, "for-each-ref", "--format=%(contents)", f"refs/tags/{tag}")


def _tags(root: Path) -> list[str]:
    return sorted(_git(root, "tag", "-l").split())


def _refused(call: Any, *args: Any, **kwargs: Any) -> RegistryError:
    with pytest.raises(RegistryError) as caught:
        call(*args, **kwargs)
    return caught.value


# -- register ------------------------------------------------------------------------------


def test_register_tags_the_commit_and_records_it_with_the_card(
    repo: Path, commits: dict[str, str], ident: str
) -> None:
    commit = commits["card"]
    entry = register(repo, "m", ref=commit)
    assert _tags(repo) == ["m@v1.0.0"]
    assert _points(repo, "m@v1.0.0") == commit
    card = f"reports/model_card.md md5:{_md5(CARD.encode())}"
    assert _message(repo, "m@v1.0.0") == (
        f"register m v1.0.0 (commit {commit[:7]})\n\nconveyor-action: register\n"
        f"conveyor-commit: {commit}\nconveyor-by: {ident}\nconveyor-card: {card}"
    )
    assert (entry.tag, entry.action, entry.version, entry.stage) == (
        "m@v1.0.0",
        "register",
        "v1.0.0",
        None,
    )
    assert (entry.commit, entry.author, entry.name) == (commit, ident, "m")


def test_register_next_version_bumps_the_latest_and_omits_an_empty_card(
    repo: Path, commits: dict[str, str], ident: str
) -> None:
    _registered(repo, "v1.0.0", commits["card"], at=1)
    entry = register(repo, "m", ref=commits["good"])
    assert entry.tag == "m@v1.0.1"
    assert _points(repo, "m@v1.0.1") == commits["good"]
    assert _message(repo, "m@v1.0.1") == (
        f"register m v1.0.1 (commit {commits['good'][:7]})\n\nconveyor-action: register\n"
        f"conveyor-commit: {commits['good']}\nconveyor-by: {ident}"
    )


@pytest.mark.parametrize(
    ("bump", "version", "made"),
    [
        ("minor", None, "v1.3.0"),
        ("major", None, "v2.0.0"),
        ("patch", None, "v1.2.4"),
        (None, "v1.2.10", "v1.2.10"),
        (None, "v3.0.0-rc.1", "v3.0.0-rc.1"),
    ],
)
def test_register_bumps_or_takes_the_version_given(
    repo: Path, commits: dict[str, str], bump: Any, version: str | None, made: str
) -> None:
    _registered(repo, "v1.2.3", commits["card"], at=1)
    entry = register(repo, "m", ref=commits["good"], bump=bump, version=version)
    assert entry.tag == f"m@{made}"
    assert _tags(repo) == sorted(["m@v1.2.3", f"m@{made}"])
    assert _points(repo, f"m@{made}") == commits["good"]


@pytest.mark.parametrize("bump", [None, "minor", "major"])
def test_the_first_version_is_v1_0_0_whatever_the_bump(
    repo: Path, commits: dict[str, str], bump: Any
) -> None:
    assert register(repo, "m", ref=commits["good"], bump=bump).tag == "m@v1.0.0"


def test_register_refuses_a_version_and_a_bump_together(
    repo: Path, commits: dict[str, str]
) -> None:
    error = _refused(register, repo, "m", version="v2.0.0", bump="minor", ref=commits["good"])
    assert (error.what, error.where) == ("give --version or --bump, not both", "m")
    assert _tags(repo) == []


def test_register_refuses_a_version_already_taken_even_after_deregistering(
    repo: Path, commits: dict[str, str]
) -> None:
    _registered(repo, "v1.0.0", commits["card"], at=1)
    error = _refused(register, repo, "m", version="v1.0.0", ref=commits["good"])
    assert error.what == "'m@v1.0.0' is already registered"
    assert error.fix == "pick a new version (latest is v1.0.0) or use --bump"
    _tag(repo, "m@v1.0.0!", commits["card"], "deregister", at=2)
    error = _refused(register, repo, "m", version="v1.0.0", ref=commits["good"])
    assert error.what == "'m@v1.0.0' is already registered"
    assert error.fix == "pick a new version (latest is None) or use --bump"
    assert _tags(repo) == ["m@v1.0.0", "m@v1.0.0!"]


def test_register_refuses_a_version_whose_tag_carries_a_counter(
    repo: Path, commits: dict[str, str]
) -> None:
    """GTO's grammar allows ``name@vX.Y.Z#N``: the version is taken all the same."""
    _tag(repo, "m@v1.0.0#1", commits["card"], "register", at=1)
    error = _refused(register, repo, "m", version="v1.0.0", ref=commits["good"])
    assert error.what == "'m@v1.0.0' is already registered"
    assert _tags(repo) == ["m@v1.0.0#1"]


@pytest.mark.parametrize("version", ["v0.9.0", "v1.0.0-rc.1"])
def test_register_refuses_a_version_below_the_latest(
    repo: Path, commits: dict[str, str], version: str
) -> None:
    _registered(repo, "v1.0.0", commits["card"], at=1)
    error = _refused(register, repo, "m", version=version, ref=commits["good"])
    assert (error.what, error.where) == (
        f"'{version}' is not above the latest version 'v1.0.0'",
        "m",
    )
    assert error.fix == "versions only go up: try 'v1.0.1' or --bump minor"
    assert _tags(repo) == ["m@v1.0.0"]


def test_register_refuses_a_commit_already_registered(repo: Path, commits: dict[str, str]) -> None:
    _registered(repo, "v1.0.0", commits["card"], at=1)
    error = _refused(register, repo, "m", ref=commits["card"])
    assert error.what == f"commit {commits['card'][:7]} is already registered as 'm@v1.0.0'"
    assert error.fix == "commit a new model first (each version is one commit), or promote 'v1.0.0'"
    assert _tags(repo) == ["m@v1.0.0"]


def test_register_refuses_a_commit_without_the_model(repo: Path, commits: dict[str, str]) -> None:
    error = _refused(register, repo, "m", ref=commits["no_model"])
    assert "has no trained 'models/m' in dvc.lock" in error.what
    assert error.where == "m"
    assert _tags(repo) == []


def test_register_refuses_a_commit_whose_card_is_not_the_locked_one(
    repo: Path, commits: dict[str, str]
) -> None:
    (repo / "reports" / "model_card.md").write_text(CARD + "edited\n")
    lock = repo / "dvc.lock"
    md5 = _md5(CARD.encode())
    lock.write_text(
        lock.read_text()
        + f"  card:\n    cmd: c\n    outs:\n    - path: reports/model_card.md\n      md5: {md5}\n"
    )
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "edited card")
    error = _refused(register, repo, "m")
    assert "is not the one dvc.lock records" in error.what
    assert error.where == "m"
    assert _tags(repo) == []


def test_register_refuses_an_invalid_model_name(repo: Path) -> None:
    error = _refused(register, repo, "-m")
    assert error.what == "'-m' is not a valid model name"
    assert _tags(repo) == []


TRACKED = [
    "dvc.lock",
    "dvc.yaml",
    "params.yaml",
    "reports/metrics.json",
    "reports/blessing.json",
    "reports/model_card.md",
    "reports/model_card.html",
]


@pytest.mark.parametrize("path", TRACKED)
def test_register_head_refuses_uncommitted_changes_to_what_describes_the_model(
    repo: Path, commits: dict[str, str], path: str
) -> None:
    file = repo / path
    file.write_text((file.read_text() if file.exists() else "") + "\n")  # edited or untracked
    error = _refused(register, repo, "m")
    assert (error.what, error.where) == (
        f"uncommitted changes in {path}: the version would not describe the model in the work tree",
        "m",
    )
    assert error.fix == "commit them ('git add dvc.lock reports && git commit'), then register"
    assert _tags(repo) == []
    # another commit than HEAD is what git holds, whatever the work tree says
    assert register(repo, "m", ref=commits["good"]).tag == "m@v1.0.0"


def test_register_names_every_uncommitted_file_and_ignores_the_others(repo: Path) -> None:
    for path in ("params.yaml", "dvc.lock", "README.md"):
        (repo / path).write_text("edited\n")
    error = _refused(register, repo, "m", ref="HEAD")
    assert error.what.startswith("uncommitted changes in dvc.lock, params.yaml: ")
    (repo / "dvc.lock").unlink()
    _git(repo, "checkout", "-q", "--", "dvc.lock", "params.yaml")
    assert register(repo, "m").tag == "m@v1.0.0"  # README.md does not describe the model
    assert _points(repo, "m@v1.0.0") == _git(repo, "rev-parse", "HEAD")


def test_register_refuses_the_commit_a_moved_version_tag_was_registered_at(
    repo: Path, commits: dict[str, str]
) -> None:
    """m@v1.0.0 records 'card' but now names 'good': re-registering 'card' would hide that."""
    message = f"register m v1.0.0\n\nconveyor-commit: {commits['card']}"
    _tag(repo, "m@v1.0.0", commits["good"], message, at=1)
    error = _refused(register, repo, "m", ref=commits["card"])
    assert error.where == "m@v1.0.0"
    assert error.what.startswith(f"tag moved: it points at commit {commits['good'][:7]}")
    assert _tags(repo) == ["m@v1.0.0"]
    # any other commit registers as usual
    assert register(repo, "m", ref=commits["good3"]).tag == "m@v1.0.1"


def test_register_ignores_a_moved_stage_tag_recording_the_commit(
    repo: Path, commits: dict[str, str]
) -> None:
    """Only a moved *version* tag blocks re-registering its commit."""
    _registered(repo, "v1.0.0", commits["good"], at=1)
    message = (
        f"promote m v1.0.0 to prod\n\nconveyor-version: v1.0.0\nconveyor-commit: {commits['card']}"
    )
    _tag(repo, "m#prod#1", commits["good"], message, at=2)
    assert register(repo, "m", ref=commits["card"]).tag == "m@v1.0.1"


def test_register_reports_what_gto_refuses(repo: Path, commits: dict[str, str]) -> None:
    """GTO allows a deregistered commit only its old version back."""
    _registered(repo, "v1.0.0", commits["good"], at=1)
    _tag(repo, "m@v1.0.0!", commits["good"], "deregister", at=2)
    error = _refused(register, repo, "m", version="v2.0.0", ref=commits["good"])
    assert error.what.startswith("gto refused: ")
    assert "v1.0.0" in error.what
    assert (error.where, error.fix) == ("m", "see 'gto history' for the current state")
    assert "m@v2.0.0" not in _tags(repo)


# -- promote -------------------------------------------------------------------------------


def test_promote_tags_the_versions_commit_and_records_the_version(
    repo: Path, commits: dict[str, str], ident: str
) -> None:
    _registered(repo, "v1.0.0", commits["card"], at=1)
    _tag(repo, "m#staging#1", commits["card"], "promote m v1.0.0 to staging", at=2)
    obj = _git(repo, "rev-parse", "m@v1.0.0")
    entry = promote(repo, "m", "v1.0.0", "prod", reason="passed review")
    assert _tags(repo) == ["m#prod#2", "m#staging#1", "m@v1.0.0"]
    assert _points(repo, "m#prod#2") == commits["card"]
    assert _message(repo, "m#prod#2") == (
        f"promote m v1.0.0 to prod\n\nconveyor-action: promote\nconveyor-version: v1.0.0\n"
        f"conveyor-commit: {commits['card']}\nconveyor-version-tag: {obj}\n"
        f"conveyor-by: {ident}\nconveyor-reason: passed review"
    )
    assert (entry.tag, entry.action, entry.version, entry.stage, entry.forced, entry.note) == (
        "m#prod#2",
        "promote",
        "v1.0.0",
        "prod",
        None,
        "passed review",
    )
    assert (entry.commit, entry.author) == (commits["card"], ident)


def test_promote_takes_build_metadata_and_a_blessing_naming_no_model(
    repo: Path, commits: dict[str, str]
) -> None:
    _registered(repo, "v1.0.0", commits["good"], at=1)
    entry = promote(repo, "m", "v1.0.0+build.7", "prod", force=True)
    assert (entry.tag, entry.version) == ("m#prod#1", "v1.0.0")
    message = _message(repo, "m#prod#1")
    assert message.startswith("promote m v1.0.0 to prod\n\n")
    assert "conveyor-forced" not in message  # blessed: force changes nothing
    assert "conveyor-reason" not in message
    assert entry.forced is None


@pytest.mark.parametrize("label", sorted(UNBLESSED))
def test_promote_refuses_a_version_its_commit_does_not_bless(
    repo: Path, commits: dict[str, str], label: str
) -> None:
    commit = commits[label]
    _registered(repo, "v1.0.0", commit, at=1)
    error = _refused(promote, repo, "m", "v1.0.0", "prod")
    assert error.what == f"'m@v1.0.0' is not blessed: {UNBLESSED[label]}"
    assert error.where == f"reports/blessing.json at commit {commit[:7]}"
    assert error.fix == (
        "register a model that passes the gate, or promote with --force "
        "(recorded in the tag and in history)"
    )
    assert _tags(repo) == ["m@v1.0.0"]


@pytest.mark.parametrize("label", ["missing", "other"])
def test_a_forced_promotion_records_why_the_version_is_unblessed(
    repo: Path, commits: dict[str, str], label: str, ident: str
) -> None:
    _registered(repo, "v1.0.0", commits[label], at=1)
    obj = _git(repo, "rev-parse", "m@v1.0.0")
    entry = promote(repo, "m", "v1.0.0", "prod", force=True)
    assert _message(repo, "m#prod#1") == (
        f"promote m v1.0.0 to prod\n\nconveyor-action: promote\nconveyor-version: v1.0.0\n"
        f"conveyor-commit: {commits[label]}\nconveyor-version-tag: {obj}\n"
        f"conveyor-forced: unblessed: {UNBLESSED[label]}\nconveyor-by: {ident}"
    )
    assert entry.forced == f"unblessed: {UNBLESSED[label]}"


def test_promote_checks_names_and_the_version(repo: Path, commits: dict[str, str]) -> None:
    _registered(repo, "v1.0.0", commits["good"], at=1)
    assert _refused(promote, repo, "-m", "v1.0.0", "prod").what == "'-m' is not a valid model name"
    error = _refused(promote, repo, "m", "v1.0.0", "prod!")
    assert error.what == "'prod!' is not a valid stage name"
    error = _refused(promote, repo, "m", "1.0.0", "prod")
    assert (error.what, error.where) == ("'1.0.0' is not a version", "VERSION")
    error = _refused(promote, repo, "m", "v9.9.9", "prod")
    assert error.what == "model 'm' has no registered version 'v9.9.9'"
    assert _tags(repo) == ["m@v1.0.0"]


def test_promote_refuses_a_version_that_holds_the_stage(
    repo: Path, commits: dict[str, str]
) -> None:
    _registered(repo, "v1.0.0", commits["good"], at=1)
    _promoted(repo, "prod", 1, "v1.0.0", at=2)
    error = _refused(promote, repo, "m", "v1.0.0", "prod")
    assert error.what == "'m@v1.0.0' already holds stage 'prod'"
    assert error.fix == "nothing to do; 'conveyor registry show m' lists the stages"
    assert _tags(repo) == ["m#prod#1", "m@v1.0.0"]


def _recreate(root: Path, version: str, commit: str, at: int) -> None:
    """Delete a version tag and make it again at the same commit: a new tag object."""
    _git(root, "tag", "-d", f"m@{version}")
    _registered(root, version, commit, at=at)


def test_promote_records_a_recreated_version_tag_again(repo: Path, commits: dict[str, str]) -> None:
    _registered(repo, "v1.0.0", commits["good"], at=1)
    _promoted(repo, "prod", 1, "v1.0.0", at=2)
    _recreate(repo, "v1.0.0", commits["good"], at=3)
    new_object = _git(repo, "rev-parse", "m@v1.0.0")
    entry = promote(repo, "m", "v1.0.0", "prod")
    assert entry.tag == "m#prod#2"
    assert f"conveyor-version-tag: {new_object}" in _message(repo, "m#prod#2")


def test_a_recreated_tag_of_another_version_or_stage_does_not_allow_a_repeat(
    repo: Path, commits: dict[str, str]
) -> None:
    _registered(repo, "v1.0.0", commits["good"], at=1)
    _registered(repo, "v1.0.1", commits["good3"], at=2)
    _promoted(repo, "prod", 1, "v1.0.0", at=3)
    _promoted(repo, "staging", 2, "v1.0.1", at=4)
    _promoted(repo, "dev", 3, "v1.0.1", at=5)
    _recreate(repo, "v1.0.0", commits["good"], at=6)
    error = _refused(promote, repo, "m", "v1.0.1", "staging")
    assert error.what == "'m@v1.0.1' already holds stage 'staging'"
    _promoted(repo, "dev", 4, "v1.0.0", at=7)  # v1.0.0 (re-created) takes dev from v1.0.1
    _recreate(repo, "v1.0.0", commits["good"], at=8)
    # dev's re-created tag concerns v1.0.0 through dev only
    assert _refused(promote, repo, "m", "v1.0.1", "staging").what.endswith("'staging'")
    assert promote(repo, "m", "v1.0.0", "dev").tag == "m#dev#5"


def test_a_recreated_tag_reported_for_another_stage_does_not_allow_a_repeat(
    repo: Path, commits: dict[str, str]
) -> None:
    """v1.0.0 holds prod and dev; only dev's tag predates the re-created version tag."""
    _registered(repo, "v1.0.0", commits["good"], at=1)
    _promoted(repo, "prod", 1, "v1.0.0", at=2)
    _promoted(repo, "dev", 2, "v1.0.0", at=3)
    _recreate(repo, "v1.0.0", commits["good"], at=4)
    _promoted(repo, "prod", 3, "v1.0.0", at=5)  # prod records the tag as it is now
    error = _refused(promote, repo, "m", "v1.0.0", "prod")
    assert error.what == "'m@v1.0.0' already holds stage 'prod'"
    assert promote(repo, "m", "v1.0.0", "dev").tag == "m#dev#4"


def test_promote_refuses_a_moved_version_tag(repo: Path, commits: dict[str, str]) -> None:
    message = f"register m v1.0.0\n\nconveyor-commit: {commits['card']}"
    _tag(repo, "m@v1.0.0", commits["good"], message, at=1)
    error = _refused(promote, repo, "m", "v1.0.0", "prod", force=True)
    assert error.where == "m@v1.0.0"
    assert error.what.startswith("tag moved: ")
    assert _tags(repo) == ["m@v1.0.0"]


def test_promote_gives_back_a_stage_its_version_held_before(
    repo: Path, commits: dict[str, str]
) -> None:
    """GTO refuses this without its force flag; conveyor has checked what matters."""
    _registered(repo, "v1.0.0", commits["good"], at=1)
    _registered(repo, "v1.0.1", commits["good3"], at=2)
    _promoted(repo, "prod", 1, "v1.0.0", at=3)
    _promoted(repo, "prod", 2, "v1.0.1", at=4)
    _promoted(repo, "staging", 3, "v1.0.1", at=5)
    # another model's prod tag, dated after anything this test makes: not m's newest
    _tag(repo, "other@v1.0.0", commits["good3"], "register", at=10**9)
    _tag(repo, "other#prod#1", commits["good3"], "promote", at=10**9)
    entry = promote(repo, "m", "v1.0.0", "prod")
    assert (entry.tag, entry.version) == ("m#prod#4", "v1.0.0")
    assert _points(repo, "m#prod#4") == commits["good"]


def test_promote_reports_what_gto_refuses(repo: Path, commits: dict[str, str]) -> None:
    """A GTO config that allows only some stages: GTO's refusal, where, and the fix."""
    _registered(repo, "v1.0.0", commits["good"], at=1)
    (repo / ".gto").write_text("stages: [prod]\n")
    error = _refused(promote, repo, "m", "v1.0.0", "staging")
    assert error.what.startswith("gto refused: ")
    assert "Allowed stages are" in error.what
    assert (error.where, error.fix) == ("m#staging", "see 'gto history' for the current state")
    assert _tags(repo) == ["m@v1.0.0"]


# -- rollback ------------------------------------------------------------------------------


def _two_promotions(root: Path, commits: dict[str, str]) -> None:
    _registered(root, "v1.0.0", commits["good"], at=1)
    _registered(root, "v1.0.1", commits["good3"], at=2)
    _promoted(root, "prod", 1, "v1.0.0", at=3)
    _promoted(root, "prod", 2, "v1.0.1", at=4)
    _promoted(root, "staging", 3, "v1.0.1", at=5)


def test_rollback_gives_the_stage_back_to_the_version_before(
    repo: Path, commits: dict[str, str], ident: str
) -> None:
    _two_promotions(repo, commits)
    obj = _git(repo, "rev-parse", "m@v1.0.0")
    entry = rollback(repo, "m", "prod", reason="latency")
    assert _points(repo, "m#prod#4") == commits["good"]
    assert _message(repo, "m#prod#4") == (
        "rollback m prod from v1.0.1 to v1.0.0\n\nconveyor-action: rollback\n"
        f"conveyor-version: v1.0.0\nconveyor-commit: {commits['good']}\n"
        f"conveyor-version-tag: {obj}\nconveyor-rollback-from: v1.0.1\n"
        f"conveyor-by: {ident}\nconveyor-reason: latency"
    )
    assert (entry.tag, entry.action, entry.version, entry.stage, entry.note) == (
        "m#prod#4",
        "rollback",
        "v1.0.0",
        "prod",
        "from v1.0.1; latency",
    )
    assert "conveyor-reason" not in _message(repo, "m#prod#2")


def test_rollback_without_a_reason_records_none(repo: Path, commits: dict[str, str]) -> None:
    _two_promotions(repo, commits)
    entry = rollback(repo, "m", "prod")
    assert entry.note == "from v1.0.1"
    assert "conveyor-reason" not in _message(repo, "m#prod#4")


def test_rollback_refuses_with_nothing_to_go_back_to(repo: Path, commits: dict[str, str]) -> None:
    _two_promotions(repo, commits)
    error = _refused(rollback, repo, "m", "staging")
    assert (error.what, error.where) == (
        "nothing to roll back to: only 'v1.0.1' has held it",
        "m#staging",
    )
    assert _refused(rollback, repo, "-m", "prod").what == "'-m' is not a valid model name"
    assert _refused(rollback, repo, "m", "prod!").what == "'prod!' is not a valid stage name"
    assert len(_tags(repo)) == 5


def test_rollback_refuses_to_a_moved_version_tag(repo: Path, commits: dict[str, str]) -> None:
    _two_promotions(repo, commits)
    _git(repo, "tag", "-d", "m@v1.0.0")
    message = f"register m v1.0.0\n\nconveyor-commit: {commits['good']}"
    _tag(repo, "m@v1.0.0", commits["card"], message, at=6)
    error = _refused(rollback, repo, "m", "prod")
    assert (error.where, error.what[:11]) == ("m@v1.0.0", "tag moved: ")
    assert len(_tags(repo)) == 5


# -- the lock and the clock ----------------------------------------------------------------


def test_a_write_waits_for_the_registry_lock_then_gives_up(
    repo: Path, commits: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from filelock import FileLock

    _two_promotions(repo, commits)
    monkeypatch.setattr(operations, "LOCK_TIMEOUT_S", 0.25)
    path = (repo / ".git" / "conveyor-registry.lock").resolve()
    with FileLock(path):
        for call, args in [
            (register, (repo, "m")),
            (promote, (repo, "m", "v1.0.1", "dev")),
            (rollback, (repo, "m", "prod")),
        ]:
            error = _refused(call, *args)
            assert error.what == f"another registry command has held '{path}' for over 0.25 s"
            assert error.fix == "wait for it to finish; if none is running, delete the lock file"
    assert len(_tags(repo)) == 5


@pytest.mark.parametrize(("after", "wait"), [(0.25, [0.75]), (1.0, []), (3.5, [])])
def test_a_write_waits_out_the_second_of_the_last_tag(
    repo: Path,
    commits: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    after: float,
    wait: list[float],
) -> None:
    """GTO orders tags by time in whole seconds: a write never shares its last tag's second."""
    _registered(repo, "v1.0.0", commits["good"], at=0)
    _tag(repo, "other@v1.0.0", commits["good3"], "another model's tag, later", at=9)
    slept: list[float] = []
    clock = types.SimpleNamespace(time=lambda: PAST + after, sleep=slept.append)
    monkeypatch.setattr(operations, "time", clock)
    promote(repo, "m", "v1.0.0", "prod")
    assert slept == wait


def test_the_first_write_of_a_model_waits_for_nothing(
    repo: Path, commits: dict[str, str], waits: list[float]
) -> None:
    _tag(repo, "other@v1.0.0", commits["good3"], "another model's tag", at=0)
    register(repo, "m", ref=commits["good"])
    assert waits == []


def test_a_message_without_trailers_is_its_headline() -> None:
    assert operations._message("register m v1.0.0", {"conveyor-card": ""}) == "register m v1.0.0"
