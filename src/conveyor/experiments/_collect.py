"""A finished trial's experiment reaches the repository, or its worker's log says why.

When a trial ends, DVC's queue worker fetches its experiment ref from the trial's temporary copy
into the user's repository (``BaseStashQueue.collect_git``, through ``fetch_exps``). The fetch
is libgit2's, which takes ``.git/shallow.lock`` in the repository for every fetch: when two
workers collect at once (``-j 2``), one fetch fails with "failed to create locked file
'.git/shallow.lock': File exists", and DVC's ``fetch_exps`` passes over the error. The trial was
then a success in ``dvc queue status`` with no experiment (one trial of 8 in 2 of about 35
``-j 2`` sweeps of bench_sweep's project here; upstream: treeverse/dvc#10673), and the sweep
reported it failed after waiting three queue reads for it.

:func:`collect_surely` makes the workers a sweep starts check, after DVC's collect, that each
result ref of the trial's copy is in the repository at the copy's commit, and collect again
until it is (a busy lock is held for milliseconds). A ref still missing after
:data:`PATIENCE` seconds is an error DVC writes to the worker's log ("Failed to collect
experiment"), not silence.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from conveyor.errors import SweepError

if TYPE_CHECKING:
    from collections.abc import Callable

RETRY_SECONDS = 0.05
"""How soon a collect whose refs did not arrive is tried again."""
PATIENCE = 60.0
"""Seconds of collecting again before the trial's results are given up on."""

_log = logging.getLogger("conveyor.sweep")


def collect_surely() -> None:
    """DVC's ``BaseStashQueue.collect_git`` in this process: :func:`until_collected` of it."""
    from dvc.repo.experiments.queue.base import BaseStashQueue

    collect = BaseStashQueue.collect_git
    BaseStashQueue.collect_git = staticmethod(until_collected(collect))


def until_collected(
    collect: Callable[[Any, Any, Any], dict[str, str]],
    *,
    patience: float = PATIENCE,
    every: float = RETRY_SECONDS,
) -> Callable[[Any, Any, Any], dict[str, str]]:
    """``collect`` (``collect_git(exp, executor, exec_result)``), repeated until nothing is missing.

    Missing: a result ref of the executor's copy (those DVC fetches) that the repository does
    not have at the same commit (:func:`uncollected`). A SweepError naming them after
    ``patience`` seconds.
    """

    def collected(exp: Any, executor: Any, exec_result: Any) -> dict[str, str]:  # noqa: ANN401
        deadline = time.monotonic() + patience
        attempts = 1
        results = collect(exp, executor, exec_result)
        while missing := uncollected(exp.scm, executor):
            if time.monotonic() >= deadline:
                raise SweepError(
                    f"{', '.join(missing)} did not reach the repository from "
                    f"{executor.root_dir} in {attempts} fetches over {patience:g} s",
                    where=str(exp.scm.root_dir),
                    fix="if a git lock file (.git/shallow.lock, or the ref's own .lock) is left "
                    "from a killed git process, remove it; then 'conveyor sweep --resume' runs "
                    "the trial again",
                )
            if attempts == 1:  # once: the worker's log is no place for a line every 0.05 s
                _log.warning("collecting again: %s not in the repository yet", ", ".join(missing))
            time.sleep(every)
            attempts += 1
            results = collect(exp, executor, exec_result)
        return results

    return collected


def uncollected(scm: Any, executor: Any) -> list[str]:  # noqa: ANN401 - scmrepo Git, executor
    """The result refs of ``executor``'s copy that ``scm``'s repository lacks or has elsewhere."""
    from dvc.repo.experiments.queue.utils import get_remote_executor_refs
    from scmrepo.git import Git

    refs = get_remote_executor_refs(scm, executor.git_url)
    source = Git(executor.root_dir)
    try:
        return [ref for ref in refs if scm.get_ref(ref) != source.get_ref(ref)]
    finally:
        source.close()  # type: ignore[no-untyped-call]
