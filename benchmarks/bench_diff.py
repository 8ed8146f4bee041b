"""``conveyor diff`` between two commits vs ``conveyor compile --check`` of the same project.

Goals: the default project diffs in <= 3 s (median), a generated 200-stage project in <= 10 s.
The baseline, ``compile --check``, composes and compiles one side; a diff composes, compiles
and compares two (one of them materialised from git), so about 2x the baseline is the floor.

Each project is a temporary git repo with two commits: BASE, then HEAD with the default
project's model (max_depth) and gate (roc_auc min) edited and recompiled; the diff runs
``conveyor diff HEAD~1 HEAD --format json``.

    .venv/bin/python benchmarks/bench_diff.py [--repeats 7] [--stages 200]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _timing import (
    REPO,
    VENV_BIN,
    Command,
    bench_env,
    compare,
    measure,
    project_copy,
    run_checked,
    verdict,
    write_result,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

NAME = "bench_diff"
GOAL_DEFAULT_S = 3.0
GOAL_LARGE_S = 10.0
FIXED_STAGES = 5
"""Stages of the generated project besides ingest: combine, split, train, evaluate, profile
(no schema, so no validate; no gates or deploy targets, so no gate or deploy stages)."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--stages", type=int, default=200, help="stages of the large project")
    args = parser.parse_args()
    env = bench_env()
    result: dict[str, Any] = {"repeats": args.repeats}
    with project_copy("diff") as project:
        _two_commits(project, env, _edit_model_and_gate)
        result["default"] = _time(project, env, args.repeats, GOAL_DEFAULT_S, "default project")
    with _large_project(args.stages - FIXED_STAGES) as project:
        _two_commits(project, env, _edit_one_source)
        stages = run_checked([str(VENV_BIN / "conveyor"), "compile"], project, env)
        print(f"large project: {stages.strip()}")
        result["large"] = _time(project, env, args.repeats, GOAL_LARGE_S, "large project")
        result["large"]["stages"] = args.stages
    write_result(NAME, result)
    return 0


def _time(project: Path, env: dict[str, str], repeats: int, goal: float, what: str) -> Any:
    conveyor = str(VENV_BIN / "conveyor")
    diff = Command(
        "conveyor diff HEAD~1 HEAD", [conveyor, "diff", "HEAD~1", "HEAD", "--format", "json"]
    )
    check = Command("conveyor compile --check", [conveyor, "compile", "--check"])
    print(f"\n{NAME} ({what}): {repeats} interleaved rounds in {project}")
    summary = compare(*measure([diff, check], cwd=project, env=env, repeats=repeats))
    met = verdict(f"{what}: median of conveyor diff", summary["candidate"]["median_s"], goal, "s")
    return {"goal": f"median(conveyor diff) <= {goal} s", "goal_met": met, **summary}


def _two_commits(project: Path, env: dict[str, str], edit: Any) -> None:
    def git(*args: str) -> None:
        identity = ["-c", "user.name=bench", "-c", "user.email=bench@conveyor.invalid"]
        run_checked(["git", *identity, *args], project, env)

    git("init", "-q", "-b", "main")
    run_checked([str(VENV_BIN / "conveyor"), "compile"], project, env)
    git("add", "-A")
    git("commit", "-qm", "BASE")
    edit(project)
    run_checked([str(VENV_BIN / "conveyor"), "compile"], project, env)
    git("add", "-A")
    git("commit", "-qm", "HEAD")


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    if old not in text:
        raise SystemExit(f"{path}: {old!r} not found; update bench_diff.py")
    path.write_text(text.replace(old, new), encoding="utf-8")


def _edit_model_and_gate(project: Path) -> None:
    _replace(project / "conf/model/xgboost.yaml", "max_depth: 4", "max_depth: 6")
    _replace(
        project / "conf/evaluate/classification.yaml", "roc_auc: {min: 0.95", "roc_auc: {min: 0.97"
    )


def _edit_one_source(project: Path) -> None:
    _replace(project / "conf/data/generated.yaml", "seed: 7}", "seed: 8}")


@contextlib.contextmanager
def _large_project(sources: int) -> Iterator[Path]:
    """The default conf/ with ``sources`` synthetic_table sources combined by one SQL query."""
    root = Path(tempfile.mkdtemp(prefix="conveyor-bench-diff-large-"))
    try:
        shutil.copytree(REPO / "conf", root / "conf")
        lines = ["sources:"]
        for index in range(sources):
            seed = 7 if index == 0 else index + 100
            lines += [
                f"  s{index:03d}:",
                "    kind: synthetic_table",
                f"    params: {{rows: 100, numeric: 3, categorical: 1, seed: {seed}}}",
            ]
        lines += [
            "combine:",
            "  sql: SELECT * FROM s000",
            "target: target",
            "split:",
            "  strategy: stratified",
        ]
        (root / "conf/data/generated.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        _replace(root / "conf/config.yaml", "data: breast_cancer", "data: generated")
        _replace(root / "conf/config.yaml", "deploy: [rest, batch]", "deploy: []")
        (root / "conf/evaluate/plain.yaml").write_text("metrics: [roc_auc, accuracy]\n")
        _replace(root / "conf/config.yaml", "evaluate: classification", "evaluate: plain")
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
