"""Queue trials in DVC's experiment queue from this process, with the files the sweep compiled.

``dvc exp run --queue -n NAME -S key=value ... TARGET`` costs a DVC start-up, and with DVC's
hydra composition on, one Hydra compose of conf/ per trial (0.15-0.25 s each): an 8-trial grid
took 2.6 s to queue, and no trial could start before the last was stashed. The sweep has
composed every trial already (``_trials.validate``, one compose per choice of config groups),
and the params.yaml it gets is the text DVC's compose writes (:mod:`conveyor.config.compose`).
So a trial is queued here through DVC's API as ``dvc exp run --queue --no-hydra -n NAME
TARGET`` queues it with that params.yaml (and the trial's own dvc.yaml, if its structure
differs) in the workspace: the stash commit holds the same files and the same repro arguments
as the command's (DVC's own parser gives them), one trial at a time, about 0.06 s each once
DVC is loaded, so a worker can take the first while the others are queued.

While a worker sets a trial up it holds DVC's lock on the queue's stash, and DVC refuses to
queue meanwhile: the trial is queued again until it is let go, for :data:`LOCK_PATIENCE` at most.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from conveyor import _atomic
from conveyor._environ import variables_set
from conveyor._retry import retrying
from conveyor.compiler import DVC_YAML, PARAMS_YAML
from conveyor.errors import SweepError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

LOCK_PATIENCE = 60.0
"""Seconds to keep queueing a trial while a worker holds DVC's stash lock (it holds it for a
fraction of a second each time it sets a trial up)."""
LOCK_RETRY_SECONDS = 0.05
"""How often queueing tries again (DVC's own retries wait a second)."""
NO_INLINE_GC = {"GIT_AUTO_GC": "0"}
"""Set while DVC stashes a trial. It commits through dulwich, which runs git's automatic gc
inline once the repository holds ``gc.auto`` (6700) loose objects: the stash commit that
crosses it first repacked the whole repository, while the workers waited for their trials
(1.4-3.4 s each time; 6 of 45 sweeps of bench_sweep's project in a row). Git runs the same gc
detached after its own commands, so the repository still gets it, from the user's next
``git commit``, ``merge`` or ``fetch``."""


class TrialQueue:
    """DVC's experiment queue of the project at ``root``, opened once for many trials."""

    def __init__(self, root: Path, target: str) -> None:
        self.root = root
        self.target = target
        self._repo: Any = None
        self._kwargs: dict[str, Any] | None = None
        self._has_data_sources: dict[str | None, bool] = {}

    def __enter__(self) -> TrialQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._repo is not None:
            self._repo.close()
            self._repo = None

    def put(self, name: str, params_yaml: str, dvc_yaml: str | None = None) -> None:
        """Queue trial ``name`` with these files in the workspace while DVC stashes it.

        Raises a SweepError naming the trial if DVC refuses it, or if the stash lock is held
        longer than :data:`LOCK_PATIENCE`; nothing is queued then.
        """
        from dvc.exceptions import DvcException
        from dvc.lock import LockError

        stash = retrying(self._stash, LockError, patience=LOCK_PATIENCE, every=LOCK_RETRY_SECONDS)
        try:
            stash(name, params_yaml, dvc_yaml)
        except DvcException as exc:  # LockError too, once the patience is spent
            raise _refused(f"queueing trial '{name}'", exc) from exc

    def _stash(self, name: str, params_yaml: str, dvc_yaml: str | None) -> None:
        # DVC reads targets and files relative to the working directory, as in its CLI
        with (
            contextlib.chdir(self.root),
            variables_set(NO_INLINE_GC),
            _written(self.root, params_yaml, dvc_yaml),
        ):
            repo = self._open()
            self._commit_data_sources_if_any(repo, dvc_yaml)
            repo.experiments.run(**self._arguments(name))

    def _open(self) -> Any:  # noqa: ANN401 - dvc.repo.Repo, imported only when queueing
        if self._repo is None:
            from dvc.repo import Repo

            self._repo = Repo(str(self.root))
        return self._repo

    def _commit_data_sources_if_any(self, repo: Any, dvc_yaml: str | None) -> None:  # noqa: ANN401
        """Let DVC commit the target's data sources before the stash only if it has some.

        DVC's ``_stash_commit_deps`` commits the data sources (files ``dvc add``-ed or imported)
        the target depends on before each trial's stash, collecting the pipeline again to find
        them: more than half of a trial's queueing (benchmarks/bench_enqueue.py). Which there
        are depends on the pipeline alone, so it is looked up once per dvc.yaml (``dvc_yaml``,
        None: the committed one), the same way; without any there is nothing to commit. A
        target DVC cannot find is refused here.
        """
        if dvc_yaml not in self._has_data_sources:
            found = repo.stage.collect_granular(self.target, with_deps=True)
            self._has_data_sources[dvc_yaml] = any(info.stage.is_data_source for info in found)
        stash_queue = repo.experiments.celery_queue
        if self._has_data_sources[dvc_yaml]:
            stash_queue.__dict__.pop("_stash_commit_deps", None)  # DVC's own
        else:
            stash_queue._stash_commit_deps = _no_data_sources

    def _arguments(self, name: str) -> dict[str, Any]:
        """What ``dvc exp run --queue --no-hydra -n NAME TARGET`` passes to ``experiments.run``."""
        if self._kwargs is None:
            from types import SimpleNamespace

            from dvc.cli.parser import get_main_parser
            from dvc.commands.repro import CmdRepro

            argv = ["exp", "run", "--queue", "--no-hydra", "-n", name, self.target]
            args = get_main_parser().parse_args(argv)
            common = CmdRepro._common_kwargs.fget(SimpleNamespace(args=args))
            self._kwargs = {
                "queue": True,
                "run_all": args.run_all,
                "jobs": args.jobs,
                "params": args.set_param,
                "tmp_dir": args.tmp_dir,
                "copy_paths": args.copy_paths,
                "message": args.message,
                "no_hydra": args.no_hydra,
                **common,
            }
        return {**self._kwargs, "name": name}


def _no_data_sources(*_args: object, **_kwargs: object) -> None:
    """DVC's ``BaseStashQueue._stash_commit_deps`` for a target without data sources."""


@contextlib.contextmanager
def _written(root: Path, params_yaml: str, dvc_yaml: str | None) -> Iterator[None]:
    """The trial's files in the workspace for the block; the committed text put back after."""
    wanted = {PARAMS_YAML: params_yaml}
    if dvc_yaml is not None:
        wanted[DVC_YAML] = dvc_yaml
    kept: dict[str, str] = {}
    try:
        for name, text in wanted.items():
            path = root / name
            committed = path.read_text(encoding="utf-8")
            if committed != text:
                kept[name] = committed
                _atomic.write_text(path, text)
        yield
    finally:
        for name, text in kept.items():
            _atomic.write_text(root / name, text)


def _refused(what: str, exc: Exception) -> SweepError:
    shown = "\n    ".join(line for line in str(exc).splitlines() if line.strip())
    return SweepError(
        f"{what} failed: {type(exc).__name__}: {shown}",
        where="conveyor sweep",
        fix="fix the cause above; finished trials are kept: conveyor sweep --resume",
    )
