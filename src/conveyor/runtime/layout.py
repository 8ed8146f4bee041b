"""Where each stage reads and writes, relative to the project root.

One place, so the compiler's deps/outs and the runtime's reads/writes cannot drift apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conveyor.spec import DataSpec

PARAMS_FILE = "params.yaml"
RAW_DIR = "data/raw"
COMBINED_FILE = "data/combined.parquet"
SPLIT_DIR = "data/split"
MODELS_DIR = "models"
REPORTS_DIR = "reports"
METRICS_FILE = f"{REPORTS_DIR}/metrics.json"
VALIDATION_FILE = f"{REPORTS_DIR}/validation.json"
BLESSING_FILE = f"{REPORTS_DIR}/blessing.json"


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


def model_dir(name: str) -> str:
    """The trained bundle of the model called ``name`` (the project name)."""
    return f"{MODELS_DIR}/{name}"
