"""What the handlers read of the served model, built once per model and swapped whole.

A server that follows a registry stage (:mod:`conveyor.serving.follow`) builds a new
:class:`ServedModel` for each verified version and swaps it in with one reference assignment;
a request in flight finishes on the one it took.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor.serving import mlflow, oip
from conveyor.serving.body import Limits

if TYPE_CHECKING:
    from conveyor.bundle.predictor import Predictor
    from conveyor.serving.config import ServeConfig


@dataclass(frozen=True)
class ServedModel:
    """What the handlers read of the served model: swapped as one reference, read once a request."""

    predictor: Predictor
    limits: Limits
    mlflow_limits: Limits
    version: dict[str, Any]
    version_body: bytes
    metadata: bytes

    @classmethod
    def of(cls, predictor: Predictor, config: ServeConfig) -> ServedModel:
        from conveyor import __version__

        version = {
            "conveyor": str(__version__),
            "model": predictor.name,
            "model_version": predictor.version,
            "sha256": predictor.sha256,
            "task": predictor.task,
            "fast_path": predictor.fast_path,
            "fast_path_reason": predictor.fast_path_reason,
        }
        return cls(
            predictor,
            Limits(predictor.schema.names, predictor.name, config.max_rows),
            mlflow.limits(predictor, config),
            version,
            to_json(version),
            to_json(oip.metadata(predictor)),
        )


def description(predictor: Predictor) -> str:
    """The OpenAPI description: which model and version, and the two protocols."""
    return (
        f"Model '{predictor.name}' version {predictor.version} ({predictor.task}), "
        f"sha256 {predictor.sha256[:12]}. MLflow-compatible POST /invocations and the Open "
        "Inference Protocol v2 under /v2."
    )


def to_json(value: Any) -> bytes:  # noqa: ANN401 - any JSON-able value
    """``value`` as JSON bytes (orjson)."""
    import orjson

    return orjson.dumps(value)
