"""Continuous training: monitor a batch -> policy -> retrain -> gate -> promote, and record it.

``conveyor ct`` (:func:`run_ct`) acts on what :mod:`conveyor.monitoring` finds: it runs
``dvc exp run``, commits, registers and promotes, so it sits above ``runtime`` and the
registry, and monitoring below them stays statistics and reports. Each run returns one frozen
:class:`CtDecision`; its ``to_dict()`` is the line in ``ct/decisions.jsonl``. The project-level
``conveyor monitor`` request (:func:`project_request`) is built here too, for the same reason:
it reads params.yaml and resolves model references. Names load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor._lazy import lazy_getattr

if TYPE_CHECKING:
    from conveyor.ct._inputs import DECISIONS_FILE, Settings, read_decisions
    from conveyor.ct.decision import CtDecision
    from conveyor.ct.monitor import MonitorArgs, project_request
    from conveyor.ct.policy import Decision, Signals, decide
    from conveyor.ct.run import CtResult, run_ct

# name -> submodule of conveyor.ct that defines it
_HOMES = {
    "DECISIONS_FILE": "_inputs",
    "CtDecision": "decision",
    "CtResult": "run",
    "Decision": "policy",
    "MonitorArgs": "monitor",
    "Settings": "_inputs",
    "Signals": "policy",
    "decide": "policy",
    "project_request": "monitor",
    "read_decisions": "_inputs",
    "run_ct": "run",
}


__getattr__ = lazy_getattr("conveyor.ct", _HOMES)


__all__ = [
    "DECISIONS_FILE",
    "CtDecision",
    "CtResult",
    "Decision",
    "MonitorArgs",
    "Settings",
    "Signals",
    "decide",
    "project_request",
    "read_decisions",
    "run_ct",
]
