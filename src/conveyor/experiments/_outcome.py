"""A trial's outcome from one read of DVC's state: its experiment ref and its queue entry.

What counts, in order:

- **An experiment ref** is a success, whatever the queue says: DVC writes the ref when the
  trial's results are committed, and lists the trial as done only later.
- **A failed entry** is a failure, with the entry's log as the error.
- **Neither a ref nor an entry, or a done entry without a ref,** is final only when it lasts
  :data:`ABSENT_READS` reads in a row. DVC's queue status gathers the queued entries and the
  running ones one after the other: an entry moving between them can be in neither for one
  read. A done entry whose ref has not come is a collect that failed
  (``conveyor.experiments._collect`` retries it in the workers; the logs say why when it gives
  up).
- **A queued or running entry** is what the trial is doing, and starts the count of absent
  reads again.

:func:`settle` is the rule alone, so that it is tested without DVC; ``queue.wait`` reads DVC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from conveyor.experiments.plan import Trial

ABSENT_READS = 3
"""Queue reads in a row without a ref or a live entry before a trial is failed."""
MISSING = "missing"
"""What :func:`settle` is told when DVC's queue has no entry for the trial."""


def settle(
    trial: Trial,
    listed: str,
    has_ref: bool,
    absent: dict[str, int],
    log: Callable[[], str | None],
) -> bool:
    """Update ``trial`` from one read of DVC's state; whether its status or error changed.

    ``listed`` is its queue entry's status (:data:`MISSING` without one), ``has_ref`` whether
    its experiment ref exists, ``absent`` the reads in a row each trial went without either
    (kept by the caller across reads), ``log`` reads the entry's log for a failure's error.
    """
    if has_ref:
        absent.pop(trial.name, None)
        trial.status, trial.error = "success", None
        return True
    if listed == "failed":
        absent.pop(trial.name, None)
        trial.status, trial.error = "failed", log() or "failed (no log)"
        return True
    if listed in ("success", MISSING):
        absent[trial.name] = absent.get(trial.name, 0) + 1
        if absent[trial.name] < ABSENT_READS:
            return False
        trial.status, trial.error = "failed", unresolved_error(listed)
        return True
    absent.pop(trial.name, None)
    if listed in ("queued", "running") and trial.status != listed:
        trial.status = "queued" if listed == "queued" else "running"
        return True
    return False


def unresolved_error(listed: str) -> str:
    """The error of a trial without an experiment ref that DVC's queue lists as ``listed``."""
    if listed == "success":
        return (
            "DVC's queue lists it as done, but its experiment never reached the repository: "
            "the queue workers' logs (.dvc/tmp/exps/celery/dvc-exp-worker-*.out) say why; "
            "'conveyor sweep --resume' runs it again"
        )
    return "left the DVC queue without a result; 'conveyor sweep --resume' runs it again"
