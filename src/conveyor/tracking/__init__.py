"""Experiment tracking: ``train``/``evaluate`` runs and past commits, sent to MLflow.

``tracking: {kind: mlflow}`` (conf/tracking/) makes :func:`track_stage` log each run of the
two stages after ``conveyor run`` finishes it; :func:`export_mlflow` (``conveyor export
mlflow``) sends what a down server left queued, and back-fills commits, experiments and
registry versions. MLflow is imported only while sending, so ``--help`` and ``compile`` never
load it; none of this is a stage param or writes a tracked output (docs/tracking.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor._lazy import lazy_getattr

if TYPE_CHECKING:
    from conveyor.tracking.export import Exported, export_mlflow
    from conveyor.tracking.stage import TRACKED, track_stage

_HOMES = {
    "TRACKED": "stage",
    "Exported": "export",
    "export_mlflow": "export",
    "track_stage": "stage",
}

__getattr__ = lazy_getattr("conveyor.tracking", _HOMES)

__all__ = ["TRACKED", "Exported", "export_mlflow", "track_stage"]
