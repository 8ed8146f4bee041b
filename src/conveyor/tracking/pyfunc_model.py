"""The MLflow pyfunc that scores a conveyor bundle: logged as *code*, never pickled.

:func:`conveyor.tracking._client.log_model` logs this file with MLflow's models-from-code
(``python_model=<this file>``): MLflow runs it when the model is loaded, and
:func:`mlflow.models.set_model` below names the model. The bundle travels as an artifact and is
opened by :func:`conveyor.bundle.load_bundle` (sha256 manifest, exact-type allowlist), with the
types the training project vouched for in ``model_config["trusted_types"]``.

``predict`` gives what the bundle's pipeline gives: for classification a frame of
``predict_proba`` (one column per class, named by its label), else ``predict``. Columns are
taken in the bundle's schema order, so a frame with extra or reordered columns scores the same.
"""

from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc.model import PythonModel


class BundleModel(PythonModel):
    """A conveyor bundle behind MLflow's pyfunc interface."""

    def load_context(self, context: Any) -> None:  # noqa: ANN401 - mlflow's PythonModelContext
        """Open the bundle artifact through conveyor's safe loader."""
        from conveyor.bundle import load_bundle

        config = context.model_config or {}
        trusted = [str(name) for name in config.get("trusted_types", [])]
        self.bundle = load_bundle(Path(context.artifacts["bundle"]), trusted=trusted)

    # pd.DataFrame, not Any: MLflow takes it as "no schema to enforce" (Any would warn).
    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:  # noqa: ANN401
        """Class probabilities (classification) or predictions (regression) per row."""
        del context, params
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        names = [column["name"] for column in self.bundle.schema.get("columns", [])]
        if names:
            frame = frame[names]
        pipeline = self.bundle.pipeline
        classes = self.bundle.classes
        if classes is None:
            return pipeline.predict(frame)
        return pd.DataFrame(pipeline.predict_proba(frame), columns=[str(c) for c in classes])


set_model(BundleModel())
