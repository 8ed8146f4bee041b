"""Where each stage reads and writes, relative to the project root.

One place, so the compiler's deps/outs and the runtime's reads/writes cannot drift apart.
"""

from __future__ import annotations

PARAMS_FILE = "params.yaml"
RAW_DIR = "data/raw"
SPLIT_DIR = "data/split"
MODELS_DIR = "models"
REPORTS_DIR = "reports"
METRICS_FILE = f"{REPORTS_DIR}/metrics.json"


def raw_path(source: str) -> str:
    """The ingested rows of one source."""
    return f"{RAW_DIR}/{source}.parquet"


def split_path(part: str) -> str:
    """One split: ``train``, ``valid`` or ``test``."""
    return f"{SPLIT_DIR}/{part}.parquet"


def model_dir(name: str) -> str:
    """The trained bundle of the model called ``name`` (the project name)."""
    return f"{MODELS_DIR}/{name}"
