"""`conveyor init`: the scaffold compiles and runs; its CI and hook call real commands."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from typing import TYPE_CHECKING

import jsonschema
import pytest
import yaml

from conveyor.cli.main import build_parser
from tests.conftest import VENV_BIN, conveyor, conveyor_in_process, dvc, sh

if TYPE_CHECKING:
    from pathlib import Path

WORKFLOW = ".github/workflows/conveyor.yml"
# A command at the start of a line, after `then`, or inside `$( ... )`; up to the next shell
# operator. Words like "conveyor-review" or "DVC" in echoed text do not match.
COMMAND = re.compile(r"(?:^|\$\(|\bthen\s+)\s*(conveyor|dvc)\s+([^;&|>)\n]*)")


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `conveyor init` per module, as a user runs it; tests copy it before changing it."""
    root = tmp_path_factory.mktemp("init") / "breast-cancer 2"
    done = conveyor("init", str(root), cwd=root.parent)
    assert "Next steps:" in done.stdout
    return root


@pytest.fixture
def copy(scaffolded: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(scaffolded, root, symlinks=True)
    return root


def test_init_writes_compiles_and_commits_the_project(scaffolded: Path) -> None:
    for relative in (
        "conf/config.yaml",
        "conf/model/logistic_regression.yaml",
        "dvc.yaml",
        "params.yaml",
        ".gitignore",
        "README.md",
        "requirements.txt",
        WORKFLOW,
        ".pre-commit-config.yaml",
        ".vscode/extensions.json",
    ):
        assert (scaffolded / relative).is_file(), relative
    params = yaml.safe_load((scaffolded / "params.yaml").read_text())
    assert params["project"]["name"] == "breast_cancer_2"  # derived from the directory
    assert "conveyor-mlops>=0.1.0" in (scaffolded / "requirements.txt").read_text()
    assert dvc("config", "hydra.enabled", cwd=scaffolded).stdout.strip().lower() == "true"
    assert "match conf/" in conveyor_in_process("compile", "--check", cwd=scaffolded).stdout
    log = sh("git", "log", "--format=%s", cwd=scaffolded).stdout.splitlines()
    assert log == ["Scaffold the conveyor project 'breast_cancer_2'"]
    assert sh("git", "status", "--porcelain", cwd=scaffolded).stdout == ""


@pytest.mark.slow
def test_the_scaffold_runs_end_to_end_and_passes_its_gates(copy: Path) -> None:
    dvc("repro", cwd=copy)
    assert json.loads(dvc("status", "--json", cwd=copy).stdout) == {}
    blessing = json.loads((copy / "reports" / "blessing.json").read_text())
    assert blessing["blessed"] is True
    assert (copy / "deploy" / "rest" / "serve.json").is_file()


def test_editor_settings_point_vscode_at_the_schemas(scaffolded: Path) -> None:
    extensions = json.loads((scaffolded / ".vscode" / "extensions.json").read_text())
    assert extensions == {"recommendations": ["redhat.vscode-yaml"]}
    mapping = json.loads((scaffolded / ".vscode" / "settings.json").read_text())["yaml.schemas"]
    assert any("conf/model/*.yaml" in globs for globs in mapping.values())
    for schema_path, globs in mapping.items():
        schema = json.loads((scaffolded / schema_path).read_text())
        validator = jsonschema.validators.validator_for(schema)(schema)
        files = [path for glob in globs for path in sorted(scaffolded.glob(glob))]
        assert files, globs
        for path in files:  # the scaffold's own conf/ is valid to the editor too
            errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
            assert errors == [], path


def _steps(workflow: dict[str, object]) -> list[dict[str, object]]:
    jobs = workflow["jobs"]
    assert isinstance(jobs, dict)
    return [step for job in jobs.values() for step in job["steps"]]


def test_workflow_triggers_on_pull_requests_with_write_access_to_comments(
    scaffolded: Path,
) -> None:
    workflow = yaml.safe_load((scaffolded / WORKFLOW).read_text())
    triggers = workflow[True]  # YAML 1.1 reads the bare key `on` as a boolean
    assert set(triggers) == {"pull_request", "workflow_dispatch"}
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}
    steps = _steps(workflow)
    uses = {str(step["uses"]).split("@")[0]: step for step in steps if "uses" in step}
    assert set(uses) == {"actions/checkout", "actions/setup-python"}
    assert all(re.fullmatch(r"[\w/-]+@[0-9a-f]{40}", str(s["uses"])) for s in uses.values())
    assert uses["actions/checkout"]["with"] == {"fetch-depth": 0, "persist-credentials": False}
    assert uses["actions/setup-python"]["with"]["python-version"] == "3.11"
    runs = "\n".join(str(step["run"]) for step in steps if "run" in step)
    assert "pip install -r requirements.txt" in runs
    assert "conveyor compile --check" in runs
    assert "dvc repro" in runs
    assert re.search(r"conveyor diff \S+ --format markdown", runs)


def test_workflow_passes_zizmors_offline_audit(scaffolded: Path) -> None:
    # zizmor (the GitHub Actions security auditor) with its default persona and every offline
    # audit; exit 0 means no finding at any severity. Without `--offline` it would also look
    # up the pinned SHAs on GitHub, which the suite cannot reach.
    done = subprocess.run(
        [str(VENV_BIN / "zizmor"), "--offline", "--no-progress", str(scaffolded / WORKFLOW)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout


def _commands(script: str) -> list[tuple[str, list[str]]]:
    """Every `conveyor ...`/`dvc ...` call of a shell script, its variables given values."""
    script = script.replace('"$BASE"', "origin/main")
    found = []
    for line in script.splitlines():
        for match in COMMAND.finditer(line):
            found.append((match.group(1), shlex.split(match.group(2))))
    return found


@pytest.mark.slow
def test_every_command_the_workflow_and_hook_run_exists(scaffolded: Path) -> None:
    workflow = yaml.safe_load((scaffolded / WORKFLOW).read_text())
    scripts = [str(step["run"]) for step in _steps(workflow) if "run" in step]
    hooks = yaml.safe_load((scaffolded / ".pre-commit-config.yaml").read_text())
    scripts += [hook["entry"] for repo in hooks["repos"] for hook in repo["hooks"]]
    commands = [command for script in scripts for command in _commands(script)]
    verbs = {(tool, args[0]) for tool, args in commands}
    assert {("conveyor", "compile"), ("conveyor", "diff"), ("dvc", "repro")} <= verbs
    parser = build_parser()
    for tool, args in commands:
        if tool == "conveyor":
            try:
                parser.parse_args(args)  # the verb and every option exist
            except SystemExit:
                pytest.fail(f"`conveyor {shlex.join(args)}` does not parse")
        else:
            words = [a for a in args if not a.startswith("-")]
            usage = dvc(*words, "--help", cwd=scaffolded).stdout
            for option in (a for a in args if a.startswith("--")):
                assert option in usage, f"dvc {' '.join(words)} has no {option}"


def test_pre_commit_hook_passes_then_catches_a_stale_compile(copy: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache")}
    pre_commit = str(VENV_BIN / "pre-commit")

    def run(*args: str) -> tuple[int, str]:
        done = subprocess.run(
            [pre_commit, *args], cwd=copy, env=env, capture_output=True, text=True, check=False
        )
        return done.returncode, done.stdout + done.stderr

    assert run("validate-config")[0] == 0
    code, output = run("run", "--all-files")
    assert code == 0, output
    assert "dvc.yaml and params.yaml match conf/" in output
    model = copy / "conf" / "model" / "logistic_regression.yaml"
    model.write_text(model.read_text().replace("C: 1.0", "C: 0.5"))
    code, output = run("run", "--all-files")
    assert code == 1
    assert "+    C: 0.5" in output


def test_init_refuses_a_non_empty_directory_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    done = conveyor("init", cwd=tmp_path, check=False)
    assert done.returncode == 1
    assert "directory is not empty (notes.txt)" in done.stderr
    assert "--force" in done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_init_twice_is_refused(copy: Path) -> None:
    done = conveyor("init", "--force", cwd=copy, check=False)
    assert done.returncode == 1
    assert "already a conveyor project (conf/config.yaml exists)" in done.stderr


def test_force_adds_only_the_missing_files(tmp_path: Path) -> None:
    root = tmp_path / "clone"
    root.mkdir()
    sh("git", "init", "-q", cwd=root)
    (root / "README.md").write_text("# ours\n")
    gitignore = root / ".gitignore"
    gitignore.write_text("secrets/\n")
    done = conveyor("init", "--force", "--name", "churn", cwd=root)
    assert "kept as they were (--force never overwrites): .gitignore, README.md" in done.stdout
    assert (root / "README.md").read_text() == "# ours\n"
    assert gitignore.read_text() == "secrets/\n"
    assert (root / WORKFLOW).is_file()
    assert yaml.safe_load((root / "params.yaml").read_text())["project"]["name"] == "churn"
    # Only what init wrote is committed; the user's own files are theirs to add.
    status = sh("git", "status", "--porcelain", cwd=root).stdout.splitlines()
    assert sorted(status) == ["?? .gitignore", "?? README.md"]


def test_an_empty_git_repository_counts_as_empty(tmp_path: Path) -> None:
    sh("git", "init", "-q", cwd=tmp_path)
    done = conveyor("init", "--name", "fresh", cwd=tmp_path)
    assert "committed" in done.stdout
    assert "cd " not in done.stdout  # already there


def test_force_never_overwrites_a_dvc_yaml(tmp_path: Path) -> None:
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    done = conveyor("init", "--force", cwd=tmp_path, check=False)
    assert done.returncode == 1
    assert "dvc.yaml already exist" in done.stderr
    assert (tmp_path / "dvc.yaml").read_text() == "stages: {}\n"
    assert not (tmp_path / "conf").exists()


def test_without_a_git_identity_the_files_are_staged_not_committed(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_")) and key != "EMAIL"
    }
    env |= {"HOME": str(tmp_path / "home"), "GIT_CONFIG_NOSYSTEM": "1"}

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in args], cwd=tmp_path, env=env, capture_output=True, text=True
        )

    if run("git", "var", "GIT_COMMITTER_IDENT").returncode == 0:
        pytest.skip("git makes up an identity on this machine (its hostname has a domain)")
    done = run(VENV_BIN / "conveyor", "init", "project")
    assert done.returncode == 0, done.stderr
    assert "staged, not committed" in done.stdout
    assert "git config --global user.email" in done.stdout
    staged = sh("git", "diff", "--cached", "--name-only", cwd=tmp_path / "project").stdout.split()
    assert {"conf/config.yaml", "dvc.yaml", ".dvc/config", WORKFLOW} <= set(staged)


def test_inside_a_larger_repository_it_stages_and_says_where_ci_files_belong(
    tmp_path: Path,
) -> None:
    sh("git", "init", "-q", cwd=tmp_path)
    (tmp_path / "app.py").write_text("")
    sh("git", "add", "app.py", cwd=tmp_path)
    sh("git", "commit", "-qm", "app", cwd=tmp_path)
    done = conveyor("init", "ml/churn", cwd=tmp_path)
    assert "staged, not committed: the repository already has commits" in done.stdout
    assert "working-directory: ml/churn" in done.stdout
    assert (tmp_path / "ml" / "churn" / ".dvc" / "config").is_file()  # dvc init --subdir
    assert not (tmp_path / ".dvc").exists()
    conveyor_in_process("compile", "--check", cwd=tmp_path / "ml" / "churn")
