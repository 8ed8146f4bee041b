"""A forked DVC command with what it inherited frozen vs not: its CPU and page faults.

A sweep's queue worker runs each trial's ``dvc exp exec-run`` in a fork of itself, and an
executor's fork server each ``dvc exp run``; the child first calls
``conveyor.experiments._forked_trial.keep_inherited_objects_shared`` (``gc.freeze``) so that
its garbage collections do not write into, and so copy, the pages of the objects it inherited.

Here the parent is such a worker: it imports what a queue worker imports before its first
trial (``_queue_worker.PRELOAD`` and ``_forked_trial.PRELOAD``), then, in a git + DVC copy of
the project's pipeline, forks children that each run DVC's ``main(["status"])`` (collecting
and checking the pipeline, as every trial's DVC does) with output to /dev/null, in rounds
whose order alternates: with the call (the candidate) and without it (the baseline). Each
child's CPU time and minor page faults come from ``os.wait4``.

    .venv/bin/python benchmarks/bench_fork_freeze.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from typing import Any

from _timing import VENV_BIN, bench_env, project_copy, write_result

NAME = "bench_fork_freeze"
COMMAND = ["status"]


def forked_dvc(freeze: bool) -> tuple[float, int]:
    """CPU seconds and minor page faults of one forked ``dvc status``."""
    from conveyor.experiments._forked_trial import keep_inherited_objects_shared

    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            if freeze:
                keep_inherited_objects_shared()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            from dvc.cli import main

            code = int(main(list(COMMAND)) or 0)
        finally:
            os._exit(code)
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"dvc {' '.join(COMMAND)} failed in the fork (exit status {status})")
    return usage.ru_utime + usage.ru_stime, usage.ru_minflt


def side(label: str, cpu: list[float], faults: list[int]) -> dict[str, Any]:
    return {
        "label": label,
        "cpu_s": [round(c, 4) for c in cpu],
        "minor_faults": faults,
        "cpu_median_s": round(statistics.median(cpu), 4),
        "minor_faults_median": statistics.median(faults),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    env = bench_env()
    os.environ.update(env)
    from conveyor.experiments import _forked_trial, _queue_worker

    _forked_trial.preload((*_queue_worker.PRELOAD, *_forked_trial.PRELOAD))
    import gc

    inherited = len(gc.get_objects())
    runs: dict[bool, tuple[list[float], list[int]]] = {True: ([], []), False: ([], [])}
    with project_copy("fork-freeze") as project:
        for argv in (["git", "init", "-q"], [str(VENV_BIN / "dvc"), "init", "-q"]):
            subprocess.run(argv, cwd=project, env=env, check=True)
        subprocess.run(["git", "add", "-A"], cwd=project, env=env, check=True)
        subprocess.run(["git", "commit", "-qm", "bench"], cwd=project, env=env, check=True)
        os.chdir(project)
        forked_dvc(False)  # warm-up: the page cache, DVC's own caches on disk
        for round_ in range(args.rounds):
            for freeze in (True, False) if round_ % 2 == 0 else (False, True):
                cpu, faults = forked_dvc(freeze)
                runs[freeze][0].append(cpu)
                runs[freeze][1].append(faults)
        os.chdir("/")
    frozen, unfrozen = side("frozen", *runs[True]), side("not frozen", *runs[False])
    per_round = [f / u for f, u in zip(runs[True][0], runs[False][0], strict=True)]
    ratios = {
        "cpu_frozen_over_not": round(frozen["cpu_median_s"] / unfrozen["cpu_median_s"], 3),
        "cpu_per_round_median": round(statistics.median(per_round), 3),
        "minor_faults_frozen_over_not": round(
            frozen["minor_faults_median"] / unfrozen["minor_faults_median"], 3
        ),
    }
    for run in (frozen, unfrozen):
        print(
            f"{run['label']:<11} cpu median {run['cpu_median_s']:.3f} s  "
            f"minor faults median {run['minor_faults_median']}"
        )
    for name, value in ratios.items():
        print(f"{name}: {value}")
    write_result(
        NAME,
        {
            "command": f"dvc {' '.join(COMMAND)}, forked from a process that imported what a "
            "queue worker imports",
            "inherited_objects": inherited,
            "rounds": args.rounds,
            "frozen": frozen,
            "not_frozen": unfrozen,
            "ratios": ratios,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
