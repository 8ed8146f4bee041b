"""Serving models: the REST server (MLflow + Open Inference Protocol v2) and its parts.

``create_app(predictor, config=...)`` builds the ASGI app; ``open_model`` resolves what
``conveyor serve MODEL`` names; ``serve`` runs it on uvicorn. Attributes load on first use, so
importing this package pulls in neither FastAPI nor the ML libraries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor._lazy import lazy_getattr

if TYPE_CHECKING:
    from conveyor.serving.app import create_app
    from conveyor.serving.config import ServeConfig, load_serve_config
    from conveyor.serving.prediction_log import PredictionLog, Record
    from conveyor.serving.server import OpenedModel, open_model, serve

_HOMES = {
    "OpenedModel": "server",
    "PredictionLog": "prediction_log",
    "Record": "prediction_log",
    "ServeConfig": "config",
    "create_app": "app",
    "load_serve_config": "config",
    "open_model": "server",
    "serve": "server",
}


__getattr__ = lazy_getattr("conveyor.serving", _HOMES)


__all__ = [
    "OpenedModel",
    "PredictionLog",
    "Record",
    "ServeConfig",
    "create_app",
    "load_serve_config",
    "open_model",
    "serve",
]
