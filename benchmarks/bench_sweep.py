"""8 tracked experiments, one run, every ratio against a baseline measured in the same run.

Setup, in a temporary copy of the project: ``git init``, ``dvc init`` with the repo's
``.dvc/config`` (hydra composition on), ``dvc repro gate`` and a commit, so every trial finds
ingest/validate/split done and runs train, evaluate and gate. Each sweep is

    conveyor sweep model.params.max_depth=2,4,6,8 model.params.learning_rate=0.1,0.2 -j N

until its 8 experiments are finished (the command waits). No point of the grid is the
committed model (``max_depth: 4``, ``learning_rate: 0.05``): that trial's stages would all be
up to date in dvc.lock and it would run nothing, so the sweep would time 7 trials, not 8
(``set_up`` refuses such a grid). Before each run every experiment,
queue entry and sweep state is removed, the idle DVC queue workers are waited out, and the
run-cache (``.dvc/cache/runs``) is emptied: otherwise a trial whose params an earlier run already
trained restores ``train`` instead of running it.

Runs (labels), and the ratios reported:

- ``bare cold``: the 8 trials without any sweep machinery, in the workspace: write the trial's
  values into params.yaml, ``dvc repro gate`` (train, evaluate and gate run; each stage a cold
  ``conveyor run`` process). ``bare warm``: the same under ``conveyor warm`` (one stage server
  for the 8 repros, as a sweep has one).
- ``-j 1``, ``-j 2``: ``conveyor sweep`` on DVC's local queue (its trial stages fork from the
  sweep's stage server). Speedup = -j 1 / -j 2 (goal >= 1.7). Overhead per trial =
  (-j 1 - bare) / 8, as a share of a bare trial, against both bare baselines (goal <= 25%).
- ``-j 1 cold``: ``-j 1`` with ``CONVEYOR_COLD=1`` (no stage server): what warm stages save.
- ``dask -j 2`` (and ``dask -j 2 cold``): ``executor: dask``, a LocalCluster of 2 workers that
  the sweep starts (threads of its process: docs/sweeps.md), each trial a task in its own
  clone; ratio to ``-j 2`` (goal <= 1.1).
  ``dask -j 2 running``: the same on a LocalCluster of 2 worker processes already up
  (``DASK_SCHEDULER_ADDRESS``), as someone with a cluster runs a sweep, whose workers keep
  their imports and fork servers from one sweep to the next (goal <= 1.1 too). Each such run
  starts its cluster and warms it with one untimed sweep first, and stops it after: an idle
  cluster's heartbeats (a few % of a core) would otherwise run beside every other label.

Besides wall times, each run records the machine's busy cores (from /proc/stat; other users of
the machine count too), the load average, whether a DVC queue worker died (kombu's
filesystem broker can crash a worker with a JSONDecodeError; the rest then run on fewer workers),
and how many trials were collected again because two workers fetched at once (their first
fetch failed: ``conveyor.experiments._collect``).

    .venv/bin/python benchmarks/bench_sweep.py [--only LABEL ...] [--driver conveyor|dvc]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from _dask import running_cluster
from _timing import (
    REPO,
    VENV_BIN,
    Command,
    bench_env,
    project_copy,
    run_checked,
    write_result,
)

NAME = "bench_sweep"
GOAL_SPEEDUP = 1.7
TRIALS = 8
DEPTHS = (2, 4, 6, 8)
RATES = (0.1, 0.2)
SWEEP = [
    f"model.params.max_depth={','.join(map(str, DEPTHS))}",
    f"model.params.learning_rate={','.join(map(str, RATES))}",
]
TARGET = "gate"
STAGES = ("train", "evaluate", "gate")
POLL_SECONDS = 2.0
WORKER_EXIT_TIMEOUT = 60.0
GOAL_OVERHEAD = 0.25
GOAL_DASK = 1.1
RUNNING_ADDRESS = "BENCH_DASK_ADDRESS"
"""Where the running cluster's scheduler is, for the ``dask -j 2 running`` runs only."""
LABELS = (
    "bare cold",
    "bare warm",
    "-j 1",
    "-j 2",
    "dask -j 2",
    "dask -j 2 running",
    "-j 1 cold",
    "dask -j 2 cold",
)
BUSY_LOAD = 2.5
"""A 1-minute load average above this (a -j 2 sweep alone makes ~2) means others ran too."""
_TASK_LINE = re.compile(
    r"^\[(?P<stamp>[\d-]+ [\d:,]+): INFO/MainProcess\] Task \S*run_exp\[\S+\] "
    r"(?P<event>received|succeeded)(?: in (?P<seconds>[\d.]+)s)?"
)
BARE_TRIALS = """\
import itertools
import subprocess

import yaml

original = open("params.yaml").read()
depths, rates = {depths}, {rates}
try:
    for depth, rate in itertools.product(depths, rates):
        params = yaml.safe_load(original)
        params["model"]["params"].update(max_depth=depth, learning_rate=rate)
        open("params.yaml", "w").write(yaml.safe_dump(params, sort_keys=False))
        subprocess.run(["dvc", "repro", "{target}"], check=True, capture_output=True)
finally:
    open("params.yaml", "w").write(original)
"""


@dataclass
class Run:
    """One measured run and what the machine did meanwhile."""

    label: str
    seconds: float
    busy_cores: float | None
    load_before: float
    load_after: float
    worker_crashes: int = 0
    collects_repeated: int = 0
    phases: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "seconds": round(self.seconds, 2),
            "busy_cores": None if self.busy_cores is None else round(self.busy_cores, 2),
            "load_before": round(self.load_before, 2),
            "load_after": round(self.load_after, 2),
            "worker_crashes": self.worker_crashes,
            "collects_repeated": self.collects_repeated,
            "phases_s": {k: round(v, 2) for k, v in self.phases.items()},
            "notes": self.notes,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="interleaved rounds (10+ min each)")
    parser.add_argument("--only", nargs="+", choices=LABELS, default=list(LABELS), metavar="LABEL")
    parser.add_argument(
        "--driver",
        choices=("conveyor", "dvc"),
        default="conveyor",
        help="run the sweep with 'conveyor sweep' or with the raw dvc queue commands",
    )
    parser.add_argument(
        "--n-jobs-1",
        action="store_true",
        help="also time -j 2 with model.params.n_jobs=1 (one xgboost thread per trial)",
    )
    args = parser.parse_args()
    if not (REPO / ".dvc" / "config").is_file():
        sys.exit(f"{REPO} has no .dvc/config: run this from a conveyor project with DVC set up")

    env = bench_env()
    runs: dict[str, list[Run]] = {label: [] for label in args.only}
    if args.n_jobs_1:
        runs["-j 2, n_jobs=1"] = []
    with project_copy("sweep", ".dvcignore") as project:
        print(f"{NAME}: setting up {project} (git init, dvc init, dvc repro {TARGET}, commit)")
        set_up(project, env)
        for round_ in range(args.repeats):
            order = list(runs) if round_ % 2 == 0 else list(runs)[::-1]
            for label in order:
                run = run_timed(project, env, label, args.driver, f"r{round_}")
                runs[label].append(run)
                crashed = f", {run.worker_crashes} worker crash(es)" if run.worker_crashes else ""
                phases = "  ".join(f"{k} {v:.1f}s" for k, v in run.phases.items())
                print(
                    f"  round {round_ + 1}/{args.repeats} {label:<15} {run.seconds:7.1f}s"
                    f"  busy cores {fmt(run.busy_cores)}  load {run.load_before:.1f}"
                    f"->{run.load_after:.1f}{crashed}"
                )
                if phases:
                    print(f"    {phases}")
    report(runs, args)
    return 0


def set_up(project: Path, env: dict[str, str]) -> None:
    """Make the copy a committed git + DVC repo whose pipeline has run up to the target."""
    model = yaml.safe_load((project / "params.yaml").read_text("utf-8"))["model"]["params"]
    committed = (model.get("max_depth"), model.get("learning_rate"))
    if committed in itertools.product(DEPTHS, RATES):
        sys.exit(
            f"the grid holds the committed model (max_depth, learning_rate) = {committed}: that "
            f"trial would run nothing; change DEPTHS or RATES so all {TRIALS} trials train"
        )
    run_checked(["git", "init", "-q"], project, env)
    run_checked([str(VENV_BIN / "dvc"), "init", "-q"], project, env)
    shutil.copy2(REPO / ".dvc" / "config", project / ".dvc" / "config")
    run_checked([str(VENV_BIN / "dvc"), "repro", "-q", TARGET], project, env)
    commit(project, env, "project at its repro'd state")


def commit(project: Path, env: dict[str, str], message: str) -> None:
    """Commit everything in ``project`` (a throwaway repo: the identity is fixed)."""
    run_checked(["git", "add", "-A"], project, env)
    identity = ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    run_checked(["git", *identity, "commit", "-q", "-m", message], project, env)


def run_timed(project: Path, env: dict[str, str], label: str, driver: str, tag: str) -> Run:
    """:func:`run_one`; a ``running`` label on a cluster started and warmed for it (the module)."""
    if not label.endswith(" running"):
        return run_one(project, env, label, driver, tag)
    with running_cluster(project, env) as address:
        env = {**env, RUNNING_ADDRESS: address}
        run_one(project, env, label, driver, f"{tag}w")  # untimed: the workers' first sweep
        return run_one(project, env, label, driver, tag)


def run_one(project: Path, env: dict[str, str], label: str, driver: str, tag: str) -> Run:
    """Reset the project, then time one run of ``label`` (see the module's docstring)."""
    killed = reset(project, env)
    env = {k: v for k, v in env.items() if k not in ("CONVEYOR_WARM_SOCKET", "CONVEYOR_COLD")}
    address = env.pop(RUNNING_ADDRESS, None)
    env.pop("DASK_SCHEDULER_ADDRESS", None)  # dask: a LocalCluster the sweep starts ...
    if label.endswith(" running") and address is not None:
        env["DASK_SCHEDULER_ADDRESS"] = address  # ... or the one running since the setup
    if label.endswith(" cold"):
        env["CONVEYOR_COLD"] = "1"
    dask = label.startswith("dask")
    if dask:
        use_executor(project, env, "dask")
    if label.startswith("bare"):
        (project / "bare_trials.py").write_text(
            BARE_TRIALS.format(target=TARGET, depths=list(DEPTHS), rates=list(RATES)), "utf-8"
        )
        bare = [sys.executable, "bare_trials.py"]
        warm = [str(VENV_BIN / "conveyor"), "warm"] if label == "bare warm" else []
        command = Command(label, [*warm, *bare])
    else:
        jobs = 2 if "-j 2" in label else 1
        fixed = ["model.params.n_jobs=1"] if "n_jobs=1" in label else []
        name = f"{tag}-{'d' if dask else ''}j{jobs}{'c' if 'cold' in label else ''}"
        command = sweep_command(driver, name, jobs, fixed)
    load_before = os.getloadavg()[0]
    busy_before = cpu_busy()
    wall_start = time.time()
    start = time.perf_counter()
    if command.argv[0] == "dvc-queue":
        run_raw_queue(project, env, command)
    else:
        run_checked(command.argv, project, env)
    seconds = time.perf_counter() - start
    busy = busy_cores(busy_before, cpu_busy(), seconds)
    run = Run(label, seconds, busy, load_before, os.getloadavg()[0])
    if killed:
        run.notes.append(f"{killed} queue worker(s) of the run before did not exit; killed")
    if label.startswith("bare"):
        (project / "bare_trials.py").unlink()
        restore_workspace(project, env)
    else:
        run.worker_crashes = worker_crashes(project)
        run.collects_repeated = collects_repeated(project)
        if not dask:
            run.phases = queue_phases(project, wall_start, wall_start + seconds)
        finished = experiment_names(project, env)
        if len(finished) != TRIALS:
            run.notes.append(f"{len(finished)} experiments in 'dvc exp ls', not {TRIALS}")
    if dask:
        use_executor(project, env, "local")
    return run


def use_executor(project: Path, env: dict[str, str], kind: str) -> None:
    """Switch conf/'s executor (not a stage param: nothing reruns), compile and commit."""
    config = project / "conf" / "config.yaml"
    other = "local" if kind == "dask" else "dask"
    config.write_text(config.read_text().replace(f"executor: {other}", f"executor: {kind}"))
    run_checked([str(VENV_BIN / "conveyor"), "compile"], project, env)
    commit(project, env, f"executor: {kind}")


def sweep_command(driver: str, name: str, jobs: int, fixed: list[str]) -> Command:
    """The command line of one sweep (raw dvc: a marker the runner expands)."""
    if driver == "conveyor":
        argv = [str(VENV_BIN / "conveyor"), "sweep", *SWEEP, *fixed, "-j", str(jobs)]
        return Command(f"conveyor sweep -j {jobs}", [*argv, "--name", name, "--json"])
    return Command(f"dvc queue -j {jobs}", ["dvc-queue", name, str(jobs), *fixed])


def run_raw_queue(project: Path, env: dict[str, str], command: Command) -> None:
    """Queue the grid with one ``dvc exp run --queue``, start N workers, poll until done."""
    name, jobs, *fixed = command.argv[1:]
    dvc = str(VENV_BIN / "dvc")
    overrides = [arg for override in [*SWEEP, *fixed] for arg in ("-S", override)]
    run_checked([dvc, "exp", "run", "--queue", "-n", name, *overrides, TARGET], project, env)
    run_checked([dvc, "queue", "start", "-j", jobs], project, env)
    while True:
        time.sleep(POLL_SECONDS)
        status = run_checked([dvc, "queue", "status"], project, env)
        if "Queued" not in status and "Running" not in status:
            break
    if status.count("Success") != TRIALS:
        raise SystemExit(f"dvc queue finished with failures:\n{status}")


def reset(project: Path, env: dict[str, str]) -> int:
    """Remove experiments, queue entries, sweep state and the run-cache; let workers exit.

    Returns how many workers had to be killed (:func:`wait_for_workers`).
    """
    dvc = str(VENV_BIN / "dvc")
    killed = wait_for_workers(project)
    run_checked([dvc, "queue", "remove", "--all", "-q"], project, env)
    run_checked([dvc, "exp", "remove", "-A", "-q"], project, env)
    shutil.rmtree(project / ".dvc" / "cache" / "runs", ignore_errors=True)
    shutil.rmtree(project / ".dvc" / "tmp" / "conveyor-sweeps", ignore_errors=True)
    for log in (project / ".dvc" / "tmp" / "exps" / "celery").glob("dvc-exp-worker-*.out"):
        log.unlink()
    return killed


def wait_for_workers(project: Path) -> int:
    """Wait until DVC's queue workers (idle ones exit by themselves after ~10 s) are gone.

    One still alive after ``WORKER_EXIT_TIMEOUT`` is killed, with its process group (a worker
    and the daemon that started it); how many were is returned, and the next run notes it.
    """
    deadline = time.monotonic() + WORKER_EXIT_TIMEOUT
    celery = project / ".dvc" / "tmp" / "exps" / "celery"
    while True:
        infos = [json.loads(p.read_text()) for p in celery.glob("dvc-exp-worker-*.json")]
        left = [i["pid"] for i in infos if i.get("returncode") is None and alive(i["pid"])]
        if not left:
            return 0
        if time.monotonic() >= deadline:
            break
        time.sleep(1.0)
    for pid in left:  # the worker, and the daemon that started it: their group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(os.getpgid(pid), signal.SIGTERM)
    time.sleep(2.0)
    print(f"  killed {len(left)} DVC queue worker(s) still alive after {WORKER_EXIT_TIMEOUT} s")
    return len(left)


def alive(pid: int) -> bool:
    """Whether a process with this id exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def restore_workspace(project: Path, env: dict[str, str]) -> None:
    """Put back the committed params.yaml, reports and model after the bare baseline."""
    run_checked(["git", "checkout", "--", "."], project, env)
    # Only the outputs of what ran: a whole-pipeline checkout fails on the deploy stages.
    for stage in STAGES:
        run_checked([str(VENV_BIN / "dvc"), "checkout", "--force", "-q", stage], project, env)


def worker_crashes(project: Path) -> int:
    """Queue workers that died of an unrecoverable error during the last run."""
    return _worker_log_count(project, "Unrecoverable error")


def collects_repeated(project: Path) -> int:
    """Trials of the last run whose first collect did not bring their experiment ref (two
    workers fetching at once: ``conveyor.experiments._collect``), collected again."""
    return _worker_log_count(project, "collecting again")


def _worker_log_count(project: Path, text: str) -> int:
    logs = (project / ".dvc" / "tmp" / "exps" / "celery").glob("dvc-exp-worker-*.out")
    return sum(log.read_text(errors="replace").count(text) for log in logs)


def queue_phases(project: Path, start: float, end: float) -> dict[str, float]:
    """Split a sweep's wall time by the workers' task log lines (timestamps to the ms).

    ``before_first_trial``: checks, compiles, queueing, worker start; ``trials``: first task
    received to last task done; ``after_last_trial``: the leaderboard; ``mean_trial``: one
    task's own duration as the worker reports it.
    """
    received: list[float] = []
    done: list[float] = []
    durations: list[float] = []
    for log in (project / ".dvc" / "tmp" / "exps" / "celery").glob("dvc-exp-worker-*.out"):
        for line in log.read_text(errors="replace").splitlines():
            if match := _TASK_LINE.match(line):
                stamp = datetime.strptime(match["stamp"], "%Y-%m-%d %H:%M:%S,%f").timestamp()
                (received if match["event"] == "received" else done).append(stamp)
                if match["seconds"]:
                    durations.append(float(match["seconds"]))
    if not received or not done:
        return {}
    return {
        "before_first_trial": min(received) - start,
        "trials": max(done) - min(received),
        "after_last_trial": end - max(done),
        "mean_trial": statistics.mean(durations) if durations else 0.0,
    }


def experiment_names(project: Path, env: dict[str, str]) -> list[str]:
    """Names of the experiments DVC has (``dvc exp ls --name-only``)."""
    output = run_checked([str(VENV_BIN / "dvc"), "exp", "ls", "--name-only"], project, env)
    return [line for line in output.split() if line and not line.endswith(":")]


def cpu_busy() -> float | None:
    """Seconds of busy CPU (all cores) since boot, from /proc/stat; None off Linux."""
    try:
        fields = Path("/proc/stat").read_text(encoding="ascii").split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    ticks = [int(f) for f in fields]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def busy_cores(before: float | None, after: float | None, seconds: float) -> float | None:
    """Average number of busy cores over a run."""
    if before is None or after is None:
        return None
    return (after - before) / seconds


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def report(runs: dict[str, list[Run]], args: argparse.Namespace) -> None:
    """Print each ratio against its baseline and the verdicts; write the result file."""
    median = {label: statistics.median(r.seconds for r in rs) for label, rs in runs.items() if rs}
    per_trial = {label: seconds / TRIALS for label, seconds in median.items()}
    print()
    for label, seconds in median.items():
        print(f"{label:<15} {seconds:7.1f}s  ({per_trial[label]:.1f}s per trial)")
    ratios: dict[str, float] = {}
    goals: dict[str, bool] = {}

    def ratio(name: str, top: str, bottom: str) -> None:
        if top in median and bottom in median:
            ratios[name] = round(median[top] / median[bottom], 3)

    ratio("speedup_j2_over_j1", "-j 1", "-j 2")
    ratio("dask_j2_over_local_j2", "dask -j 2", "-j 2")
    ratio("dask_running_j2_over_local_j2", "dask -j 2 running", "-j 2")
    ratio("cold_over_warm_sweep_j1", "-j 1 cold", "-j 1")
    ratio("cold_over_warm_dask_j2", "dask -j 2 cold", "dask -j 2")
    ratio("bare_cold_over_bare_warm", "bare cold", "bare warm")
    for sweep in ("-j 1", "-j 1 cold"):
        for bare in ("bare cold", "bare warm"):
            if sweep in median and bare in median:
                overhead = (per_trial[sweep] - per_trial[bare]) / per_trial[bare]
                key = f"overhead_{sweep}_vs_{bare}".replace(" ", "_").replace("-", "")
                ratios[key] = round(overhead, 3)
                extra = per_trial[sweep] - per_trial[bare]
                print(
                    f"overhead per trial, sweep {sweep} vs {bare}: "
                    f"{extra:.1f}s = {100 * overhead:.0f}% of a bare trial"
                )
    if "speedup_j2_over_j1" in ratios:
        goals["speedup >= 1.7"] = ratios["speedup_j2_over_j1"] >= GOAL_SPEEDUP
    for bare in ("bare_cold", "bare_warm"):
        if (key := f"overhead_j_1_vs_{bare}") in ratios:
            goals[f"overhead vs {bare} <= 25%"] = ratios[key] <= GOAL_OVERHEAD
    if "dask_j2_over_local_j2" in ratios:
        goals["dask -j 2 within 1.1x of -j 2"] = ratios["dask_j2_over_local_j2"] <= GOAL_DASK
    if "dask_running_j2_over_local_j2" in ratios:
        ratio_running = ratios["dask_running_j2_over_local_j2"]
        goals["dask -j 2, running cluster, within 1.1x of -j 2"] = ratio_running <= GOAL_DASK
    for name, value in ratios.items():
        print(f"{name}: {value}")
    crashes = sum(r.worker_crashes for rs in runs.values() for r in rs)
    if crashes:
        print(f"DVC queue workers that died during the runs: {crashes}")
    repeated = sum(r.collects_repeated for rs in runs.values() for r in rs)
    print(f"trials collected again (their first fetch failed): {repeated}")
    loads = [x for rs in runs.values() for r in rs for x in (r.load_before, r.load_after)]
    busiest, calmest = max(loads), min(loads)
    loaded = calmest > BUSY_LOAD
    print(f"load average (1 min) during the runs: {calmest:.1f} to {busiest:.1f}")
    if loaded:
        print(
            f"WARNING: load average stayed above {BUSY_LOAD} on {os.cpu_count()} cores: other "
            "processes shared the machine; every number here is from a loaded machine"
        )
    for goal, met in goals.items():
        print(f"GOAL {'MET' if met else 'MISSED'}: {goal}")
    write_result(
        NAME,
        {
            "goals": goals,
            "goal_met": all(goals.values()) if goals else False,
            "driver": args.driver,
            "sweep": SWEEP,
            "target": TARGET,
            "trials": TRIALS,
            "repeats": args.repeats,
            "ratios": ratios,
            "median_s": {label: round(v, 2) for label, v in median.items()},
            "per_trial_s": {label: round(v, 2) for label, v in per_trial.items()},
            "bare_baseline": f"the {TRIALS} trials in the workspace: params.yaml edited, then "
            f"'dvc repro {TARGET}' (runs {', '.join(STAGES)}); 'bare warm' under 'conveyor warm'",
            "worker_crashes": crashes,
            "collects_repeated": repeated,
            "load_average_min": round(calmest, 2),
            "load_average_max": round(busiest, 2),
            "loaded_machine": loaded,
            "runs": {label: [r.to_dict() for r in rs] for label, rs in runs.items()},
        },
    )


if __name__ == "__main__":
    sys.exit(main())
