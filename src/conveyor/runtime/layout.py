"""Where each stage reads and writes, relative to the project root.

One place, so the compiler's deps/outs and the runtime's reads/writes cannot drift apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor._paths import (
    BLESSING_FILE,
    DEPLOY_DIR,
    DRIFT_FILE,
    DRIFT_HTML,
    METRICS_FILE,
    MODEL_CARD_FILE,
    MODEL_CARD_HTML,
    MODELS_DIR,
    PARAMS_FILE,
    PREDICTIONS_DIR,
    PROFILE_FILE,
    REPORTS_DIR,
    deploy_path,
    model_dir,
    predictions_path,
    predictions_report,
)

if TYPE_CHECKING:
    from conveyor.spec import DataSpec

RAW_DIR = "data/raw"
COMBINED_FILE = "data/combined.parquet"
SPLIT_DIR = "data/split"
VALIDATION_FILE = f"{REPORTS_DIR}/validation.json"


def raw_path(source: str) -> str:
    """The ingested rows of one source."""
    return f"{RAW_DIR}/{source}.parquet"


def dataset_path(data: DataSpec) -> str:
    """The one table that validate and split read: the only source's rows, or the combination."""
    if data.combine is None:
        (source,) = data.sources  # the spec requires 'combine' for several sources
        return raw_path(source)
    return COMBINED_FILE


def split_path(part: str) -> str:
    """One split: ``train``, ``valid`` or ``test``."""
    return f"{SPLIT_DIR}/{part}.parquet"


__all__ = [
    "BLESSING_FILE",
    "COMBINED_FILE",
    "DEPLOY_DIR",
    "DRIFT_FILE",
    "DRIFT_HTML",
    "METRICS_FILE",
    "MODELS_DIR",
    "MODEL_CARD_FILE",
    "MODEL_CARD_HTML",
    "PARAMS_FILE",
    "PREDICTIONS_DIR",
    "PROFILE_FILE",
    "RAW_DIR",
    "REPORTS_DIR",
    "SPLIT_DIR",
    "VALIDATION_FILE",
    "dataset_path",
    "deploy_path",
    "model_dir",
    "predictions_path",
    "predictions_report",
    "raw_path",
    "split_path",
]
