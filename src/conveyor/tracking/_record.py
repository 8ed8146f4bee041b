"""What one tracked run sends: a plain JSON record, built from a stage run or a commit.

A record holds params (the flattened model/features params and the project facts), metrics
(every finite number of ``reports/metrics.json``), tags (stage, commit, bundle), the files to
upload as artifacts and the bundle to log as a model, named relative to a folder of files.
It holds no URL and no credential, so it can wait in ``.conveyor/outbox/mlflow/`` as it is.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

FORMAT = 1
PARAM_SECTIONS = ("project.name", "project.task", "seed", "data.target", "features", "model")
"""What a run's params are: what shapes the model (not where tracking or the executor is)."""
TAG = "conveyor"
"""Every tag conveyor sets starts with ``conveyor.``."""
RECORD_TAG = f"{TAG}.record"
"""``conveyor.record.<stage>``: the record a run holds, so sending it again finds the run."""
BUNDLE_TAG = f"{TAG}.bundle"
"""sha256 of the bundle's manifest: ``evaluate`` logs into the run that trained its bundle."""
REV_TAG = f"{TAG}.rev"
"""The commit an export back-filled; ``conveyor export mlflow`` skips commits already sent."""
_MAX_PARAM = 6000  # MLflow's limit on a param value


@dataclass
class Registration:
    """A registry version of the record's model, and the stages (MLflow aliases) it holds."""

    name: str
    version: str
    stages: list[str] = field(default_factory=list)


@dataclass
class Record:
    """One run to send; ``files`` and ``model`` are relative to the folder sent with it."""

    stage: str
    experiment: str
    run_name: str
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    model: str | None = None
    trusted_types: list[str] = field(default_factory=list)
    registrations: list[Registration] = field(default_factory=list)
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Names the record in the run's tags: a resend finds the run it made."""

    @property
    def join(self) -> dict[str, str]:
        """Tags of an earlier run to log into (the one that trained this bundle), if any."""
        bundle = self.tags.get(BUNDLE_TAG)
        return {BUNDLE_TAG: bundle} if bundle and self.stage != "train" else {}

    def to_json(self) -> dict[str, Any]:
        """The outbox document."""
        return {"format": FORMAT, "kind": "mlflow", **asdict(self)}

    @classmethod
    def from_json(cls, document: Any) -> Record:  # noqa: ANN401 - JSON as read
        """Read an outbox document back; ValueError when it is not one."""
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError(f"not a tracking outbox file of format {FORMAT}")
        fields = {k: v for k, v in document.items() if k not in ("format", "kind")}
        registrations = [Registration(**r) for r in fields.pop("registrations", [])]
        try:
            return cls(**fields, registrations=registrations)
        except TypeError as exc:
            raise ValueError(f"not a tracking record: {exc}") from exc


def run_params(params: dict[str, Any]) -> dict[str, str]:
    """The flattened :data:`PARAM_SECTIONS` of a params.yaml, as MLflow param strings."""
    flat: dict[str, str] = {}
    for key in PARAM_SECTIONS:
        node: Any = params
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            _flatten(key, node, flat)
    return flat


def _flatten(prefix: str, node: Any, out: dict[str, str]) -> None:  # noqa: ANN401 - YAML
    if isinstance(node, dict) and node:
        for key in sorted(node, key=str):
            _flatten(f"{prefix}.{key}", node[key], out)
    elif isinstance(node, list) and node and any(isinstance(v, dict | list) for v in node):
        for index, value in enumerate(node):
            _flatten(f"{prefix}.{index}", value, out)
    else:
        text = node if isinstance(node, str) else json.dumps(node, sort_keys=True, default=str)
        out[prefix] = text[:_MAX_PARAM]


def run_metrics(metrics: Any) -> dict[str, float]:  # noqa: ANN401 - metrics.json as read
    """Every finite number in ``metrics`` (nested keys joined by dots; no booleans)."""
    out: dict[str, float] = {}

    def walk(prefix: str, node: Any) -> None:  # noqa: ANN401
        if isinstance(node, dict):
            for key in sorted(node, key=str):
                walk(f"{prefix}.{key}" if prefix else str(key), node[key])
        elif isinstance(node, int | float) and not isinstance(node, bool) and math.isfinite(node):
            out[prefix] = float(node)

    walk("", metrics)
    return out
