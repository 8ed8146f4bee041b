"""``conveyor init``: scaffold a project that compiles, runs, and is reviewed in CI.

The files come from ``templates/project/`` in this package and, for the chosen task, from
``templates/tasks/<task>/`` (its data, evaluate, model and monitor options; see ``_tasks.py``),
copied as they are except for tokens (``__NAME__``, ``__VERSION__``, and the task's, such as
``__MODEL__``) and one naming rule: a path part ``dot-x`` becomes ``.x``, so the wheel ships
``.github/`` and ``.gitignore`` without hidden files of its own.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor import _atomic
from conveyor.errors import InitError
from conveyor.scaffold import _tasks, _vcs
from conveyor.spec._base import NAME_PATTERN

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["InitResult", "init_project", "scaffold_files"]

GENERATED = ("dvc.yaml", "params.yaml")
"""What the first compile writes: never overwritten, so a directory holding one is refused."""
DVC_FILES = (".dvc/config", ".dvc/.gitignore", ".dvcignore")
VSCODE_SETTINGS = ".vscode/settings.json"
_DOT_PREFIX = "dot-"
_SHOWN_ENTRIES = 5


@dataclass(frozen=True)
class InitResult:
    """What ``init_project`` did, for the CLI to report."""

    root: Path
    name: str
    written: tuple[str, ...]
    """Files written (relative, POSIX), including the compiled and editor-schema files."""
    kept: tuple[str, ...]
    """Scaffold files that existed already and were left as they were (``--force``)."""
    git_created: bool
    dvc_created: bool
    stages: int
    commit: str | None
    """Short hash of the first commit, or None when the files were only staged."""
    uncommitted_reason: str | None
    """Why there is no commit (no git identity, a repository with history), and what to do."""
    notes: tuple[str, ...] = ()
    """Things to do by hand, e.g. move the CI files of a project below the git root."""


def init_project(
    target: Path,
    *,
    name: str | None = None,
    force: bool = False,
    task: str | None = None,
    model: str | None = None,
) -> InitResult:
    """Scaffold a conveyor project in ``target``: conf/, CI, hooks, git, DVC, a first compile.

    Args:
        target: The project directory; created if missing. It must be empty (a bare ``.git``
            is fine) unless ``force``.
        name: ``project.name`` (also the model's name); by default derived from the directory.
        force: Add the scaffold to a non-empty directory, writing only the files that are
            missing and never overwriting one.
        task: ``project.task`` (default ``binary_classification``): picks the bundled dataset,
            the metrics and gates, the models offered and the monitoring defaults.
        model: The model the defaults list picks, one of the task's scaffold models (default:
            the task's first).

    Returns:
        What was written, kept, initialised and committed.

    Raises:
        InitError: The directory is a file, not empty (without ``force``), already a conveyor
            project, holds a dvc.yaml/params.yaml, or git/DVC cannot be set up; or ``task``
            or ``model`` is not one the scaffold offers.
    """
    from conveyor.compiler import compile_files

    root = Path(os.path.abspath(target))  # normalised, as messages print it
    _tasks.choose(task, model)  # refuse an unknown task or model before touching the disk
    check_target(root, force=force)
    project_name = _project_name(root, name)
    _vcs.require_git(root)
    root.mkdir(parents=True, exist_ok=True)
    files = scaffold_files(project_name, task=task, model=model)
    written, kept = _write_missing(root, files)
    git_created, unborn = _vcs.ensure_git(root)
    dvc_created = _vcs.ensure_dvc(root)
    compiled = compile_files(root)
    compiled.write(root)
    written += [*GENERATED, *_write_editor_settings(root, kept)]
    # DVC staged its own files before Hydra was switched on in .dvc/config: stage that too.
    _vcs.stage(root, [*written, *(f for f in DVC_FILES if (root / f).exists())])
    commit, reason = _first_commit(root, project_name, unborn=unborn)
    return InitResult(
        root=root,
        name=project_name,
        written=tuple(written),
        kept=tuple(kept),
        git_created=git_created,
        dvc_created=dvc_created,
        stages=len(compiled.pipeline.stages),
        commit=commit,
        uncommitted_reason=reason,
        notes=_subdir_notes(root),
    )


def check_target(root: Path, *, force: bool) -> None:
    """Refuse a directory that init would damage or that is a project already."""
    if root.exists() and not root.is_dir():
        raise InitError(
            "exists and is not a directory",
            where=str(root),
            fix="choose a new or empty directory: conveyor init DIR",
        )
    if (root / "conf" / "config.yaml").exists():
        raise InitError(
            "already a conveyor project (conf/config.yaml exists)",
            where=str(root),
            fix="edit conf/ and run 'conveyor compile'; to start afresh, init a new directory",
        )
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in _entries(root))
    if entries and not force:
        shown = ", ".join(entries[:_SHOWN_ENTRIES])
        more = len(entries) - _SHOWN_ENTRIES
        listing = f"{shown} and {more} more" if more > 0 else shown
        raise InitError(
            f"directory is not empty ({listing})",
            where=str(root),
            fix="choose a new or empty directory, or pass --force to add only the missing "
            "scaffold files (--force never overwrites a file)",
        )
    if clash := [name for name in GENERATED if (root / name).exists()]:
        raise InitError(
            f"{' and '.join(clash)} already exist; conveyor generates them from conf/",
            where=str(root),
            fix=f"move {' and '.join(clash)} out of the way (conveyor init never overwrites "
            "a file), then run conveyor init again",
        )


def _entries(root: Path) -> list[Path]:
    """What the directory holds besides a git repository (an empty clone counts as empty)."""
    if not root.is_dir():
        return []
    return [entry for entry in root.iterdir() if entry.name != ".git"]


def _project_name(root: Path, name: str | None) -> str:
    if name is not None:
        if not re.fullmatch(NAME_PATTERN, name):
            raise InitError(
                f"project name '{name}' is not a valid name",
                where="--name",
                fix="use lower-case letters, digits and underscores, starting with a letter "
                "(e.g. 'churn_model')",
            )
        return name
    derived = re.sub(r"[^a-z0-9]+", "_", root.name.lower())
    derived = re.sub(r"^[^a-z]+", "", derived).rstrip("_")
    return derived or "project"


def scaffold_files(
    name: str, *, task: str | None = None, model: str | None = None
) -> dict[str, str]:
    """Every scaffold file (relative POSIX path -> text) for project ``name``, sorted by path.

    Raises:
        InitError: ``task`` or ``model`` is not one the scaffold offers.
    """
    from importlib.metadata import version

    chosen, model_name = _tasks.choose(task, model)
    tokens = {
        "__NAME__": name,
        "__VERSION__": version("conveyor-mlops"),
        **chosen.tokens(model_name),
    }
    templates = resources.files("conveyor.scaffold") / "templates"
    walked = _walk(templates / "project") + _walk(templates / "tasks" / chosen.task)
    files: dict[str, str] = {}
    for relative, template in walked:
        text = template.read_text(encoding="utf-8")
        for token, value in tokens.items():
            text = text.replace(token, value)
        files[relative] = text
    return dict(sorted(files.items()))


def _walk(folder: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    found: list[tuple[str, Traversable]] = []
    for entry in folder.iterdir():
        if entry.name == "__pycache__":
            continue
        name = entry.name
        if name.startswith(_DOT_PREFIX):
            name = "." + name.removeprefix(_DOT_PREFIX)
        if entry.is_dir():
            found += _walk(entry, f"{prefix}{name}/")
        else:
            found.append((f"{prefix}{name}", entry))
    return found


def _write_missing(root: Path, files: dict[str, str]) -> tuple[list[str], list[str]]:
    """Write each file that does not exist yet; return (written, kept)."""
    written: list[str] = []
    kept: list[str] = []
    for relative, text in files.items():
        path = root / relative
        if path.exists():
            kept.append(relative)
            continue
        _atomic.write_text(path, text)
        written.append(relative)
    return written, kept


def _write_editor_settings(root: Path, kept: list[str]) -> list[str]:
    """JSON schemas of conf/ for editors, and VS Code settings that point its YAML extension there.

    The schemas are generated (like dvc.yaml) and always written; ``.vscode/settings.json`` is
    the user's file, so an existing one is kept and the setting is left to them.
    """
    from conveyor.config.schema import write_schemas

    mapping = write_schemas(root)
    written = sorted(mapping)
    settings = root / VSCODE_SETTINGS
    if settings.exists():
        kept.append(VSCODE_SETTINGS)
        return written
    text = json.dumps({"yaml.schemas": mapping}, indent=2, sort_keys=True) + "\n"
    _atomic.write_text(settings, text)
    return [*written, VSCODE_SETTINGS]


def _subdir_notes(root: Path) -> tuple[str, ...]:
    """GitHub and pre-commit read their files at the repository root only."""
    toplevel = _vcs.git_toplevel(root)
    if toplevel is None or toplevel == root.resolve():
        return ()
    sub = root.resolve().relative_to(toplevel).as_posix()
    return (
        f"the git repository's root is {toplevel}: GitHub runs workflows and pre-commit reads "
        f"its config only there; move .github/workflows/conveyor.yml there (add "
        f"'defaults: {{run: {{working-directory: {sub}}}}}' to its job) and merge "
        f".pre-commit-config.yaml into the root's (with entry: "
        f"'bash -c \"cd {sub} && conveyor compile --check\"' and "
        f"files: '^{sub}/(conf/|dvc\\.yaml$|params\\.yaml$)')",
    )


def _first_commit(root: Path, name: str, *, unborn: bool) -> tuple[str | None, str | None]:
    """Commit the scaffold in a repository with no commits yet, if git knows who the user is."""
    message = f"Scaffold the conveyor project '{name}'"
    if not unborn:
        return None, "the repository already has commits: review with 'git status', then commit"
    if problem := _vcs.git_identity_problem(root):
        return None, (
            f"{problem}: set 'git config --global user.name \"Your Name\"' and "
            f"'git config --global user.email you@example.com', then git commit -m \"{message}\""
        )
    return _vcs.commit(root, message), None
