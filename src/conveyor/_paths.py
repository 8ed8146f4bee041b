"""The output paths that both the pipeline (``runtime``) and the registry read.

At the bottom of the layers so the registry, which sits below ``runtime``, need not repeat them;
``runtime.layout`` re-exports them with the rest of the stage paths.
"""

from __future__ import annotations

PARAMS_FILE = "params.yaml"
MODELS_DIR = "models"
REPORTS_DIR = "reports"
METRICS_FILE = f"{REPORTS_DIR}/metrics.json"
BLESSING_FILE = f"{REPORTS_DIR}/blessing.json"
PROFILE_FILE = f"{REPORTS_DIR}/profile.json"
"""The reference profile of the training data (in git, so each model version carries its own)."""
DRIFT_FILE = f"{REPORTS_DIR}/drift.json"
DRIFT_HTML = f"{REPORTS_DIR}/drift.html"


def model_dir(name: str) -> str:
    """The trained bundle of the model called ``name`` (the project name)."""
    return f"{MODELS_DIR}/{name}"


DEPLOY_DIR = "deploy"
PREDICTIONS_DIR = "data/predictions"


def deploy_path(target: str) -> str:
    """What the deploy target called ``target`` writes when it writes a directory."""
    return f"{DEPLOY_DIR}/{target}"


def predictions_path(target: str) -> str:
    """The predictions a batch deploy target writes."""
    return f"{PREDICTIONS_DIR}/{target}.parquet"


def predictions_report(target: str) -> str:
    """The summary of a batch deploy target's run (kept in git)."""
    return f"{REPORTS_DIR}/predictions-{target}.json"
