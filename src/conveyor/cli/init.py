"""``conveyor init``: a thin adapter over :func:`conveyor.scaffold.init.init_project`."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

    from conveyor.scaffold.init import InitResult


def _out(text: str = "") -> None:
    sys.stdout.write(f"{text}\n")


def init_command(args: argparse.Namespace) -> int:
    """Scaffold the project, then say what was done and what to do next."""
    from conveyor.scaffold.init import init_project

    result = init_project(
        Path(args.directory),
        name=args.name,
        force=args.force,
        task=args.task,
        model=args.model,
    )
    _report(result, Path(args.directory))
    return 0


def _report(result: InitResult, directory: Path) -> None:
    done = [f"wrote {len(result.written)} files"]
    if result.git_created:
        done.append("git init")
    if result.dvc_created:
        done.append("dvc init")
    done.append(f"compiled {result.stages} stages")
    where = result.root if os.fspath(directory) == "." else directory
    _out(f"Created conveyor project '{result.name}' in {where}: {', '.join(done)}")
    if result.kept:
        _out(f"kept as they were (--force never overwrites): {', '.join(result.kept)}")
    if result.commit:
        _out(f"committed {result.commit} (review it with: git show --stat)")
    else:
        _out(f"staged, not committed: {result.uncommitted_reason}")
    for note in result.notes:
        _out(f"note: {note}")
    here = Path.cwd().resolve() == result.root.resolve()
    steps = [] if here else [f"cd {shlex.quote(os.fspath(directory))}"]
    steps += [
        "dvc repro          # run the pipeline end to end (about half a minute)",
        "dvc metrics show   # the model's scores; reports/blessing.json: the gate's verdict",
        "edit conf/, then: conveyor compile && conveyor diff   # what changed, what reruns",
        "pip install pre-commit && pre-commit install   # check conf/ vs dvc.yaml on commit",
        "git remote add origin URL && git push -u origin HEAD   # PRs run the CI workflow",
    ]
    _out()
    _out("Next steps:")
    for number, step in enumerate(steps, 1):
        _out(f"  {number}. {step}")


def add_init_parser(commands: Any) -> None:  # noqa: ANN401 - argparse's private subparser type
    """``conveyor init [DIR] [--task TASK] [--model MODEL] [--name NAME] [--force]``."""
    from conveyor.scaffold._tasks import DEFAULT_TASK, TEMPLATES

    text = "Scaffold a new project: conf/ with a working example, git, DVC, CI and hooks."
    parser = commands.add_parser(
        "init",
        help=text,
        description=f"{text} Writes conf/ (a working project of --task on data bundled with "
        "scikit-learn: breast cancer, wine or diabetes), requirements.txt, .gitignore, a "
        "README, a GitHub Actions workflow that "
        "reviews every pull request with 'conveyor diff', a pre-commit hook running "
        "'conveyor compile --check', and editor schemas for conf/; runs git init, dvc init "
        "with Hydra composition on, and a first compile; commits if git knows who you are.",
    )
    parser.set_defaults(handler=init_command)
    parser.add_argument(
        "directory", nargs="?", default=".", metavar="DIR", help="where (default: here)"
    )
    models = "; ".join(f"{t.task}: {', '.join(t.models)}" for t in TEMPLATES.values())
    parser.add_argument(
        "--task",
        choices=list(TEMPLATES),
        default=None,
        help=f"project.task (default: {DEFAULT_TASK}); binary_classification scaffolds "
        "breast cancer, multiclass_classification wine, regression diabetes, each with its "
        "metrics, gates and monitoring defaults",
    )
    parser.add_argument(
        "--model",
        default=None,
        help=f"the model the defaults list picks (default: the task's first): {models}",
    )
    parser.add_argument(
        "--name", help="project.name, also the model's name (default: from DIR's name)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="add the scaffold to a non-empty DIR: write only missing files, overwrite none",
    )
