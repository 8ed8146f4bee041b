"""A sweep's plan and state: its trials, their names and status, kept across interruptions.

The state lives in ``.dvc/tmp/conveyor-sweeps/<prefix>.json`` (DVC's tmp dir, git-ignored) and is
rewritten atomically after every change, so Ctrl-C or a killed process loses nothing that
finished and ``conveyor sweep --resume`` knows exactly what is left::

    {"prefix": "sweep-3f2a", "optimizer": "grid", "target": "gate", "jobs": 2,
     "space": ["model.params.max_depth=2,4"], "trials": [
       {"name": "sweep-3f2a-1", "overrides": ["model.params.max_depth=2"], "status": "success",
        "structural": false, "error": null}, ...]}
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from conveyor import _atomic
from conveyor.errors import SweepError

if TYPE_CHECKING:
    from pathlib import Path

STATE_DIR = ".dvc/tmp/conveyor-sweeps"
Status = Literal["pending", "queued", "running", "success", "failed"]
FINISHED: tuple[Status, ...] = ("success", "failed")


@dataclass
class Trial:
    """One combination of overrides, run as the DVC experiment ``name``."""

    name: str
    overrides: list[str]
    status: Status = "pending"
    structural: bool = False
    """Its compiled dvc.yaml differs from the committed one (it is queued with its own)."""
    error: str | None = None
    number: int | None = None
    """The Optuna trial number, for trials asked from a study."""
    params: dict[str, Any] | None = None
    """The values Optuna suggested, by key (to rebuild the study on --resume)."""


@dataclass(frozen=True)
class TrialFiles:
    """What a trial's compile gave: its params.yaml, and its own dvc.yaml if structural.

    Not saved in the state: each run of the sweep compiles its trials again.
    """

    params_yaml: str
    dvc_yaml: str | None = None


@dataclass
class SweepState:
    """Everything needed to show, resume or apply a sweep."""

    prefix: str
    optimizer: str
    target: str
    jobs: int
    space: list[str]
    trials: list[Trial] = field(default_factory=list)
    budget: int = 0
    """Optuna: how many trials to run in all (grid: ``len(trials)``)."""
    primary: str | None = None
    higher_is_better: bool = True
    baseline: str | None = None
    """The commit the sweep started from: its experiments are derived from it."""

    def path(self, root: Path) -> Path:
        """Where this state is kept."""
        return state_path(root, self.prefix)

    def save(self, root: Path) -> None:
        """Write the state atomically."""
        _atomic.write_text(self.path(root), json.dumps(asdict(self), indent=2) + "\n")

    def trial(self, name: str) -> Trial:
        """The trial called ``name``."""
        return next(t for t in self.trials if t.name == name)

    def counts(self) -> dict[str, int]:
        """How many trials are in each status."""
        counts = dict.fromkeys(("pending", "queued", "running", "success", "failed"), 0)
        for trial in self.trials:
            counts[trial.status] += 1
        return counts

    def next_name(self) -> str:
        """The name for the next trial: ``<prefix>-<n>``, numbered from 1 as DVC's sweeps are."""
        return f"{self.prefix}-{len(self.trials) + 1}"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepState:
        """Rebuild a state from its JSON form."""
        trials = [Trial(**t) for t in data.pop("trials", [])]
        return cls(**data, trials=trials)


def new_prefix() -> str:
    """A fresh sweep prefix: ``sweep-<4 hex>``."""
    return f"sweep-{secrets.token_hex(2)}"


def state_path(root: Path, prefix: str) -> Path:
    """The state file of the sweep ``prefix``."""
    return root / STATE_DIR / f"{prefix}.json"


def load_state(root: Path, prefix: str | None) -> SweepState:
    """The state of sweep ``prefix``, or of the most recent sweep when ``prefix`` is None."""
    folder = root / STATE_DIR
    if prefix is None:
        found = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise SweepError(
                "no sweep has run in this project yet",
                where=f"{STATE_DIR}/",
                fix="start one: conveyor sweep key=a,b ...",
            )
        path = found[-1]
    else:
        path = state_path(root, prefix)
        if not path.is_file():
            known = ", ".join(sorted(p.stem for p in folder.glob("*.json"))) or "(none)"
            raise SweepError(
                f"no sweep named '{prefix}'", where="--name", fix=f"known sweeps: {known}"
            )
    try:
        return SweepState.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        raise SweepError(
            f"the sweep state is unreadable: {exc}",
            where=str(path),
            fix="delete the file; its finished experiments stay in 'dvc exp show'",
        ) from exc
