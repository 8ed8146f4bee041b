"""Queueing a sweep's 8 trials, with DVC's data-source commit skipped where there is none vs not.

Before it stashes each queued trial, DVC commits the target's data sources (``dvc add``-ed or
imported files), collecting the whole pipeline again to find them
(``BaseStashQueue._stash_commit_deps``). A sweep's ``TrialQueue`` looks once per dvc.yaml and
skips DVC's commit when there are none (``_commit_data_sources_if_any``, the candidate); the
baseline is the same ``TrialQueue`` leaving DVC's commit in place before every trial.

In bench_sweep's project (a copy of this one, ``dvc repro gate`` run and committed; it has no
data sources), each round queues bench_sweep's 8 trials (params.yaml with the trial's values)
one way, then the other, in alternating order, on a ``TrialQueue`` opened beforehand (DVC's
import and ``Repo`` are not timed); the queue is emptied between (``dvc queue remove --all``).
Wall and CPU time (``time.process_time``) of the 8 ``put`` calls.

    .venv/bin/python benchmarks/bench_enqueue.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import TYPE_CHECKING, Any

from _timing import VENV_BIN, bench_env, project_copy, run_checked, write_result
from bench_sweep import DEPTHS, RATES, TARGET, set_up

if TYPE_CHECKING:
    from pathlib import Path

NAME = "bench_enqueue"


def trial_params(project: Path) -> list[str]:
    """params.yaml for each of bench_sweep's 8 trials (its grid's values written in)."""
    text = (project / "params.yaml").read_text(encoding="utf-8")
    for key in ("max_depth", "learning_rate"):
        if f"\n    {key}: " not in text:
            raise SystemExit(f"params.yaml has no model.params.{key} line to set")
    trials = []
    for depth in DEPTHS:
        for rate in RATES:
            lines = []
            for line in text.splitlines(keepends=True):
                if line.startswith("    max_depth: "):
                    line = f"    max_depth: {depth}\n"
                elif line.startswith("    learning_rate: "):
                    line = f"    learning_rate: {rate}\n"
                lines.append(line)
            trials.append("".join(lines))
    return trials


def queue_all(project: Path, trials: list[str], skip: bool, tag: str) -> tuple[float, float]:
    """Wall and CPU seconds to queue ``trials``; DVC's commit skipped where none if ``skip``."""
    from conveyor.experiments._enqueue import TrialQueue

    with TrialQueue(project, TARGET) as queue:
        repo = queue._open()
        if not skip:  # the baseline: DVC's own commit before every trial

            def dvcs_own(repo: Any, dvc_yaml: str | None) -> None:
                repo.experiments.celery_queue.__dict__.pop("_stash_commit_deps", None)

            queue._commit_data_sources_if_any = dvcs_own  # type: ignore[method-assign]
        repo.experiments.celery_queue  # noqa: B018 - built before the clock starts
        wall, cpu = time.perf_counter(), time.process_time()
        for number, params in enumerate(trials, start=1):
            queue.put(f"{tag}-{number}", params)
        return time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    env = bench_env()
    dvc = str(VENV_BIN / "dvc")
    sides: dict[bool, dict[str, list[float]]] = {
        True: {"wall_s": [], "cpu_s": []},
        False: {"wall_s": [], "cpu_s": []},
    }
    with project_copy("enqueue", ".dvcignore") as project:
        print(f"{NAME}: setting up {project} (git init, dvc init, dvc repro {TARGET}, commit)")
        set_up(project, env)
        trials = trial_params(project)
        queue_all(project, trials[:1], True, "warm")  # DVC's first imports and caches
        run_checked([dvc, "queue", "remove", "--all", "-q"], project, env)
        for round_ in range(args.rounds):
            for skip in (True, False) if round_ % 2 == 0 else (False, True):
                wall, cpu = queue_all(project, trials, skip, f"r{round_}{'s' if skip else 'd'}")
                run_checked([dvc, "queue", "remove", "--all", "-q"], project, env)
                sides[skip]["wall_s"].append(round(wall, 4))
                sides[skip]["cpu_s"].append(round(cpu, 4))
                print(
                    f"  round {round_ + 1} {'skipped' if skip else 'DVC commits'}: "
                    f"{wall:.2f} s wall, {cpu:.2f} s CPU"
                )
    medians = {
        skip: {k: round(statistics.median(v), 3) for k, v in side.items()}
        for skip, side in sides.items()
    }
    ratios = {
        "cpu_skipped_over_dvc": round(medians[True]["cpu_s"] / medians[False]["cpu_s"], 3),
        "wall_skipped_over_dvc": round(medians[True]["wall_s"] / medians[False]["wall_s"], 3),
    }
    for skip, label in ((True, "skipped where none"), (False, "DVC commits each")):
        print(
            f"{label:<19} {medians[skip]['wall_s']:.3f} s wall, {medians[skip]['cpu_s']:.3f} s CPU"
        )
    for name, value in ratios.items():
        print(f"{name}: {value}")
    write_result(
        NAME,
        {
            "trials": len(trials),
            "rounds": args.rounds,
            "skipped_where_none": {**sides[True], "median": medians[True]},
            "dvc_commits_each": {**sides[False], "median": medians[False]},
            "ratios": ratios,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
