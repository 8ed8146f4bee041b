"""Track one run of ``train`` or ``evaluate``: send it, or queue it and warn; never fail.

``conveyor run`` calls :func:`track_stage` after the stage's outputs are complete. A server
that is down, slow, refusing or not configured costs one warning line and an entry in
``.conveyor/outbox/mlflow/`` (the record and copies of its files; no URL, no credential), which
``conveyor export mlflow`` sends later. Nothing here writes to an output DVC or git tracks.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from conveyor import _git, _outbox
from conveyor.errors import GitError
from conveyor.tracking._record import BUNDLE_TAG, TAG, Record, run_metrics, run_params

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from conveyor.spec import ProjectSpec, TrackingSpec

BOX = "mlflow"
"""The outbox folder of unsent tracking runs."""
TRACKED = ("train", "evaluate")
EXPORT_HINT = "conveyor export mlflow"
_DVC_EXP = (("DVC_EXP_NAME", "dvc_exp"), ("DVC_EXP_BASELINE_REV", "dvc_baseline"))


def track_stage(
    root: Path,
    spec: ProjectSpec,
    params: dict[str, Any],
    stage: str,
    *,
    files: Sequence[str] = (),
    model: str | None = None,
) -> list[str]:
    """Send the run of ``stage`` to ``spec.tracking``; the warnings (empty when it was sent)."""
    from conveyor.bundle.trust import declared_types

    record = Record(
        stage=stage,
        experiment=experiment_name(spec),
        run_name=f"{stage} {os.environ['DVC_EXP_NAME']}" if "DVC_EXP_NAME" in os.environ else stage,
        params=run_params(params),
        tags=_tags(root, spec.project.name),
        files=[f for f in files if (root / f).is_file()],
        model=model,
        trusted_types=sorted(declared_types(params, root)) if model else [],
    )
    bundle = model or _bundle_dir(spec)
    manifest = root / bundle / "manifest.json"
    if manifest.is_file():
        from conveyor.bundle import sha256_file

        record.tags[BUNDLE_TAG] = sha256_file(manifest)
    if stage == "evaluate":
        metrics_file = next((f for f in record.files if f.endswith("metrics.json")), None)
        if metrics_file is not None:
            import json

            try:
                record.metrics = run_metrics(json.loads((root / metrics_file).read_text()))
            except (OSError, ValueError):
                record.metrics = {}
    return deliver(root, record, root, spec.tracking)


def deliver(root: Path, record: Record, base: Path, tracking: TrackingSpec) -> list[str]:
    """Send ``record`` (files under ``base``), or queue it; the warnings."""
    reason, _ = send_or_reason(record, base, tracking)
    if reason is None:
        return []
    attached = [*record.files, *([record.model] if record.model else [])]
    root = outbox_root(root)
    try:
        path = _outbox.write(
            root,
            f"{record.stage}",
            record.to_json(),
            box=BOX,
            files={name: base / name for name in attached},
        )
    except OSError as exc:
        return [
            f"mlflow tracking: the {record.stage} run was not sent ({reason}) and is lost: {exc}"
        ]
    shown = _outbox.shown(root, path)
    return [
        f"mlflow tracking: the {record.stage} run was not sent ({reason}); "
        f"queued in {shown} (send it later: {EXPORT_HINT})"
    ]


def send_or_reason(record: Record, base: Path, tracking: TrackingSpec) -> tuple[str | None, bool]:
    """Log ``record``: (None, whether it was new), else (why not, False).

    The reason is one line and holds no secret (the host only, never the URI's path or query).
    """
    uri = tracking_uri(tracking)
    if uri is None:
        return "no tracking.uri in conf/ and MLFLOW_TRACKING_URI is not set", False
    where = _host(uri)
    down = _unreachable(uri, tracking.timeout)
    if down is not None:
        return f"{where} is unreachable: {down}", False
    try:
        from conveyor.tracking._client import send

        new = send(record, base, uri, tracking.timeout)
    except ImportError as exc:
        return f"mlflow is not installed ({exc.name}); pip install 'conveyor-mlops[mlflow]'", False
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        return f"{where} refused it: {type(exc).__name__}: {first}", False
    return None, new


def outbox_root(root: Path) -> Path:
    """Where runs wait: the repo a DVC queue runs a trial for (``DVC_ROOT``), else ``root``.

    A queued sweep trial runs in a temporary copy of the repo that DVC deletes afterwards;
    its unsent run must wait in the user's repo, where ``conveyor export mlflow`` looks.
    """
    from pathlib import Path

    parent = os.environ.get("DVC_ROOT")
    return Path(parent) if parent and (Path(parent) / ".dvc").is_dir() else root


def tracking_uri(tracking: TrackingSpec) -> str | None:
    """``tracking.uri``, else ``MLFLOW_TRACKING_URI``; None when neither is set."""
    from conveyor.spec.tracking import TRACKING_URI_ENV

    return tracking.uri or os.environ.get(TRACKING_URI_ENV) or None


def experiment_name(spec: ProjectSpec) -> str:
    """``tracking.experiment``, else the project's name."""
    return spec.tracking.experiment or spec.project.name


def _bundle_dir(spec: ProjectSpec) -> str:
    from conveyor._paths import model_dir

    return model_dir(spec.project.name)


def _tags(root: Path, project: str) -> dict[str, str]:
    tags = {f"{TAG}.project": project}
    try:
        commit = _git.resolve_commit(root, "HEAD")
        if commit is not None:
            tags[f"{TAG}.commit"] = commit
            dirty = _git.git(root, "status", "--porcelain", "--untracked-files=no", check=False)
            tags[f"{TAG}.dirty"] = "true" if dirty.out.strip() else "false"
    except GitError:
        pass
    for variable, name in _DVC_EXP:
        if os.environ.get(variable):
            tags[f"{TAG}.{name}"] = os.environ[variable]
    return tags


def _host(uri: str) -> str:
    """Where ``uri`` points, without credentials or path."""
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    return (parts.hostname and f"{parts.hostname}{f':{parts.port}' if parts.port else ''}") or (
        parts.scheme or "the tracking URI"
    )


def _unreachable(uri: str, timeout: float) -> str | None:
    """Why an http(s) server does not answer ``/health`` (None when it does or is no server)."""
    import urllib.error
    import urllib.request

    if not uri.startswith(("http://", "https://")):
        return None
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=min(timeout, 5)):  # noqa: S310 - http(s) checked above
            return None
    except urllib.error.HTTPError:
        return None  # it answers; the send tells what it thinks
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return str(getattr(reason, "strerror", None) or reason)
