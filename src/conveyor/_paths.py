"""Output paths that the pipeline and the registry share; the one project-containment check.

``real_path_outside`` is where every reader of project files (sources, today) asks whether a
path, once its symlinks are followed, is still inside the project. The module sits at the
bottom of the layers so the registry, which sits below ``runtime``, need not repeat the output
paths; ``runtime.layout`` re-exports them with the rest of the stage paths.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

PARAMS_FILE = "params.yaml"
MODELS_DIR = "models"
REPORTS_DIR = "reports"
METRICS_FILE = f"{REPORTS_DIR}/metrics.json"
BLESSING_FILE = f"{REPORTS_DIR}/blessing.json"
PROFILE_FILE = f"{REPORTS_DIR}/profile.json"
"""The reference profile of the training data (in git, so each model version carries its own)."""
DRIFT_FILE = f"{REPORTS_DIR}/drift.json"
DRIFT_HTML = f"{REPORTS_DIR}/drift.html"
MODEL_CARD_FILE = f"{REPORTS_DIR}/model_card.md"
"""The model card (the ``card`` stage); a registered version records its md5."""
MODEL_CARD_HTML = f"{REPORTS_DIR}/model_card.html"


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


def real_path_outside(root: Path, path: Path | str) -> str | None:
    """Where ``path`` really is when that is outside ``root``; None when it stays inside.

    Every symlink on the way is followed (``os.path.realpath``), so a link that points inside
    the project is fine and one that points anywhere else is caught, whether it is the file
    itself, a folder above it, or a link to a link. A path that does not exist is judged by
    where it would be.
    """
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    inside = real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)
    return None if inside else real


def link_out_of(root: Path, relative: str) -> tuple[str, str] | None:
    """The first path at or below ``relative`` that leads out of ``root``, and where it leads.

    ``relative`` is a file or a folder inside the project; below a folder, every symlink (to a
    file or a folder) is checked without being entered, in name order. None when nothing leads
    out.
    """
    start = os.path.join(root, relative)
    if (real := real_path_outside(root, start)) is not None:
        return relative, real
    if not os.path.isdir(start):
        return None
    for folder, dirs, files in os.walk(start):
        dirs.sort()
        for name in sorted([*dirs, *files]):
            path = os.path.join(folder, name)
            if os.path.islink(path) and (real := real_path_outside(root, path)) is not None:
                return os.path.relpath(path, root).replace(os.sep, "/"), real
    return None
