"""``conveyor sweep``: a thin adapter over :mod:`conveyor.experiments`."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.cli._args import positive_int

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator


def sweep_command(args: argparse.Namespace) -> int:
    """Run, resume, show or apply a sweep; exit 1 when any trial failed."""
    from conveyor.experiments import leaderboard
    from conveyor.experiments._progress import Progress
    from conveyor.experiments.apply import apply_experiment
    from conveyor.experiments.plan import load_state
    from conveyor.experiments.queue import poll_seconds
    from conveyor.experiments.sweep import SweepRequest, resume_sweep, start_sweep

    root = Path.cwd()
    if args.apply is not None:
        applied = apply_experiment(root, args.apply, sweep=args.name, echo=_err)
        _out(f"applied '{applied.name}': {' '.join(applied.overrides)}")
        _out(f"  changed: {', '.join(applied.changed) or '(conf/ already had these values)'}")
        _out("  review with 'git diff', then commit")
        return 0
    if args.show:
        state = load_state(root, args.name)
    else:
        poll_seconds()  # a bad CONVEYOR_SWEEP_POLL is refused before the sweep starts anything
        jobs = args.jobs or (load_state(root, args.name).jobs if args.resume else 1)
        with Progress() as progress, warm_trials(jobs):
            if args.resume:
                state = resume_sweep(root, args.name, args.jobs, progress)
            else:
                request = SweepRequest(
                    tuple(args.overrides),
                    jobs=args.jobs or 1,
                    optimizer=args.optimizer,
                    trials=args.trials,
                    space=args.space,
                    target=args.target,
                    name=args.name,
                )
                state = start_sweep(root, request, progress)
    board = leaderboard.build(root, state)
    if args.json:
        _out(json.dumps(board.to_dict(), indent=2))
    else:
        from rich.console import Console

        Console(width=None if sys.stdout.isatty() else 200).print(leaderboard.render(board))
        if board.best is not None and not args.show:
            _out(f"best: {board.best.name}; apply it with: conveyor sweep --apply best")
    return 1 if any(r.status == "failed" for r in board.rows) and not args.show else 0


@contextlib.contextmanager
def warm_trials(jobs: int) -> Iterator[None]:
    """Every trial stage of the sweep forks from one stage server (conveyor.cli.warm).

    The server lives as long as the sweep; its socket goes into this process's environment, so
    the DVC queue workers that ``dvc queue start`` launches, the ``dvc exp run`` they start and a
    local Dask cluster's workers all inherit it. A server that already answers (the sweep runs
    under ``conveyor warm``) is reused. Queue workers idle for up to a minute after the sweep,
    keeping a socket path that no longer exists: their ``conveyor run`` then finds nobody there
    and runs cold, as without a server (tests/integration/test_sweep.py). The sweep does not wait
    for the server's imports: it checks, compiles and queues meanwhile, and a stage that comes
    first waits for them (one that comes before the server listens, a few milliseconds after
    it starts, runs cold). The server imports under the thread limits of ``jobs`` parallel
    trials, which every trial's stages carry: no stage resizes a thread pool.
    """
    from conveyor.cli.warm import COLD_ENV, SOCKET_ENV, stage_server
    from conveyor.experiments.queue import thread_limits

    inherited = os.environ.get(SOCKET_ENV)
    if os.environ.get(COLD_ENV) == "1" or (inherited and _answers(inherited)):
        yield
        return
    with stage_server(wait=False, threads=thread_limits(jobs)) as environment:
        os.environ[SOCKET_ENV] = environment[SOCKET_ENV]
        try:
            yield
        finally:
            if inherited is None:
                os.environ.pop(SOCKET_ENV, None)
            else:
                os.environ[SOCKET_ENV] = inherited


def _answers(path: str) -> bool:
    """Whether a stage server listens at ``path``."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


def _out(line: str) -> None:
    sys.stdout.write(f"{line}\n")


def _err(line: str) -> None:
    sys.stderr.write(f"{line}\n")
    sys.stderr.flush()


def add_sweep_parser(commands: Any) -> None:  # noqa: ANN401 - argparse's private subparser type
    """``conveyor sweep [OVERRIDES...] [-j N] [--optimizer grid|optuna] ...``."""
    text = "Sweep hyperparameters as DVC experiments (grid or Optuna), in parallel, and rank them."
    parser = commands.add_parser(
        "sweep",
        help=text,
        description=f"{text} OVERRIDES use Hydra's sweep syntax: key=a,b,c, key=range(2,8), "
        "key=choice(a,b), group=glob(*), key=interval(0.01,0.3), key=tag(log,interval(...)). "
        "Each trial is a DVC experiment named PREFIX-N (see 'dvc exp show'), run to --target. "
        "Exit status: 0 when every trial succeeded, 1 when any failed, 130 on Ctrl-C "
        "(finished trials are kept; --resume runs the rest). Docs: docs/sweeps.md.",
    )
    parser.set_defaults(handler=sweep_command)
    parser.add_argument("overrides", nargs="*", metavar="OVERRIDE", help="swept Hydra overrides")
    parser.add_argument(
        "-j", "--jobs", type=positive_int, default=None, metavar="N", help="parallel trials (1)"
    )
    parser.add_argument("--optimizer", choices=("grid", "optuna"), help="default: grid")
    parser.add_argument("--trials", type=positive_int, metavar="N", help="optuna: trials to run")
    parser.add_argument("--space", metavar="NAME", help="search space from conf/sweep/NAME.yaml")
    parser.add_argument(
        "--target", default="gate", metavar="STAGE", help="run each trial up to STAGE (gate)"
    )
    parser.add_argument(
        "--name", metavar="PREFIX", help="sweep name (default sweep-<id>; latest for --show)"
    )
    actions = parser.add_mutually_exclusive_group()
    actions.add_argument("--show", action="store_true", help="print a sweep's leaderboard")
    actions.add_argument(
        "--apply",
        metavar="best|EXP",
        help="apply the winner (or experiment EXP) to conf/, recompile and check out its outputs",
    )
    actions.add_argument("--resume", action="store_true", help="run what a sweep left unfinished")
    parser.add_argument("--json", action="store_true", help="print the leaderboard as JSON")
