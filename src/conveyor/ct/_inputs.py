"""What ``conveyor ct`` reads: its settings (params.yaml), the batch, and the decision log."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor._paths import PARAMS_FILE
from conveyor.errors import ContinuousTrainingError

if TYPE_CHECKING:
    from conveyor.spec.monitor import MonitorSpec

CT_DIR = "ct"
DECISIONS_FILE = f"{CT_DIR}/decisions.jsonl"
WHERE = "conveyor ct"


@dataclass(frozen=True)
class Settings:
    """What ct reads from params.yaml."""

    name: str
    stage: str
    monitor: MonitorSpec
    target: str | None
    metric: str | None

    @classmethod
    def read(cls, root: Path) -> Settings:
        """Parse params.yaml (what ``conveyor compile`` wrote from conf/)."""
        import yaml
        from pydantic import ValidationError

        from conveyor.errors import SpecError
        from conveyor.spec.facts import ProjectFacts
        from conveyor.spec.monitor import MonitorSpec

        path = root / PARAMS_FILE
        try:
            params = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            facts = ProjectFacts.from_params(params)
        except (OSError, yaml.YAMLError, SpecError) as exc:
            raise ContinuousTrainingError(
                f"cannot read the project from {PARAMS_FILE}: {exc}",
                where=WHERE,
                fix="run conveyor ct in a project root, after 'conveyor compile'",
            ) from exc
        evaluate = params.get("evaluate") or {}
        if not evaluate.get("gates"):
            raise ContinuousTrainingError(
                "evaluate.gates is empty, so a retrained model cannot be compared with the "
                "champion",
                where=f"evaluate.gates ({PARAMS_FILE})",
                fix=_gate_fix(facts.primary_metric),
            )
        try:
            monitor = MonitorSpec.model_validate(params.get("monitor") or {})
        except ValidationError as exc:
            raise ContinuousTrainingError(
                f"monitor is invalid: {exc.errors()[0]['msg']}",
                where=f"monitor ({PARAMS_FILE})",
                fix="fix conf/monitor/ and run 'conveyor compile'",
            ) from exc
        return cls(
            name=facts.name,
            stage=facts.champion_stage,
            monitor=monitor,
            target=facts.target,
            metric=monitor.performance.metric or facts.primary_metric,
        )


def _gate_fix(metric: str) -> str:
    """Suggest the champion gate in the primary metric's own direction (max_decrease/increase)."""
    from conveyor.errors import UnknownComponentError
    from conveyor.runtime.facts import higher_is_better

    try:
        key = "max_decrease" if higher_is_better(metric, where="evaluate.metrics") else None
    except UnknownComponentError:
        key = "max_decrease (max_increase for a lower-is-better metric)"
    key = key or "max_increase"
    return (
        "add a gate that compares the challenger with the champion (docs/registry.md), e.g. "
        f"gates: {{{metric}: {{{key}: 0.0}}}} (how much worse than the champion it may be), "
        "then 'conveyor compile'"
    )


def pick_batch(root: Path, settings: Settings, batch: str | None) -> Path:
    """``batch``, or the newest file (by name) that ``monitor.current`` names."""
    from conveyor.monitoring import batch_files

    if batch is not None:
        path = Path(batch) if Path(batch).is_absolute() else root / batch
        if not path.is_file():
            raise ContinuousTrainingError(
                f"batch '{batch}' is not a file", where="--batch", fix="name one batch file"
            )
        return path
    current = settings.monitor.current
    if current is None:
        raise ContinuousTrainingError(
            "no batch to decide on: monitor.current is not set",
            where=f"monitor.current ({PARAMS_FILE})",
            fix="set monitor.current to the batches' glob (data/batches/*.parquet) or pass --batch",
        )
    files = batch_files(root, [current], where="monitor.current")
    return max(files, key=lambda f: (f.name, str(f)))  # the newest, by its dated name


def relative(root: Path, file: Path) -> str:
    """``file`` relative to ``root`` as POSIX, or as given when it lies outside."""
    try:
        return file.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(file)


def sha256(file: Path) -> str:
    """The hex sha256 of ``file``'s bytes: what identifies a batch in the log."""
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def read_decisions(root: Path) -> list[dict[str, Any]]:
    """Every record of ``ct/decisions.jsonl``, oldest first."""
    path = root / DECISIONS_FILE
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError as exc:
            raise ContinuousTrainingError(
                f"line {number} is not JSON: {exc}",
                where=DECISIONS_FILE,
                fix="restore the file from git ('git checkout -- ct/decisions.jsonl')",
            ) from exc
    return records


def decided(root: Path, digest: str) -> dict[str, Any] | None:
    """The latest record of the batch with sha256 ``digest``, if it was decided."""
    return next(
        (r for r in reversed(read_decisions(root)) if r.get("batch", {}).get("sha256") == digest),
        None,
    )


def append(root: Path, record: dict[str, Any]) -> None:
    """Append ``record`` to the decision log as one JSON line."""
    path = root / DECISIONS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True, allow_nan=False) + "\n")
