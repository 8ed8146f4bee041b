"""Send one :class:`~conveyor.tracking._record.Record` to an MLflow tracking server.

Sending again is safe: the run is found by the record's key (``conveyor.record.<stage>``) and
finished runs are left alone, so a resend after a partial failure completes the run instead of
making a second one. ``evaluate`` logs into the run whose tags name the bundle it scored, when
``train`` made one. MLflow's own retries are cut to one and each request to ``timeout``
seconds, so a server that stopped answering costs seconds, not minutes.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from typing import TYPE_CHECKING, Any

from conveyor._environ import variables_set
from conveyor.tracking._record import RECORD_TAG, TAG, Record

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

_DONE = "done"
MODEL_TAG = f"{TAG}.model"
"""The URI of the pyfunc logged in the run (``models:/m-...``)."""
_BAD_NAME = re.compile(r"[^A-Za-z0-9_\-. /]")


@contextlib.contextmanager
def _patient(timeout: float) -> Iterator[None]:
    """MLflow's HTTP settings for one send, restored afterwards."""
    import mlflow  # noqa: F401 - first: importing it sets its loggers' levels

    settings = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(max(1, round(timeout))),
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.ERROR)  # its notes (no signature inferred) are not the stage's
    try:
        # MLflow's chatter ("View run ... at", hints about type hints) is not the stage's output
        with (
            variables_set(settings),
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def send(record: Record, base: Path, uri: str, timeout: float) -> bool:
    """Log ``record`` (files under ``base``) at ``uri``; False if it was there already.

    Raises on any failure.
    """
    with _patient(timeout):
        import mlflow
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        experiment = client.get_experiment_by_name(record.experiment)
        experiment_id = (
            experiment.experiment_id
            if experiment is not None
            else client.create_experiment(record.experiment)
        )
        done_tag = f"{RECORD_TAG}.{record.stage}"
        run = _find(client, experiment_id, {done_tag: record.key})
        if run is not None and run.data.tags.get(f"{TAG}.sent.{record.stage}") == _DONE:
            _register(client, record, run.info.run_id, run.data.tags.get(MODEL_TAG))
            return False
        run = run or (_find(client, experiment_id, record.join) if record.join else None)
        if run is None:
            tags = {**record.tags, f"{TAG}.stage": record.stage, "mlflow.runName": record.run_name}
            run = client.create_run(experiment_id, run_name=record.run_name, tags=tags)
        run_id = str(run.info.run_id)
        client.set_tag(run_id, done_tag, record.key)
        _log_values(client, run_id, record, run.data.params)
        for relative in record.files:
            folder = relative.rsplit("/", 1)[0] if "/" in relative else None
            client.log_artifact(run_id, str(base / relative), artifact_path=folder)
        model_uri = None
        if record.model is not None:
            mlflow.set_tracking_uri(uri)
            model_uri = log_model(base / record.model, record.trusted_types, run_id)
            client.set_tag(run_id, MODEL_TAG, model_uri)
        client.set_tag(run_id, f"{TAG}.sent.{record.stage}", _DONE)
        client.set_terminated(run_id, "FINISHED")
        _register(client, record, run_id, model_uri)
        return True


def _find(client: Any, experiment_id: str, tags: dict[str, str]) -> Any:  # noqa: ANN401
    """The newest run of the experiment whose tags hold ``tags``; None when none does."""
    query = " and ".join(f"tags.`{key}` = '{value}'" for key, value in sorted(tags.items()))
    runs = client.search_runs(
        [experiment_id], filter_string=query, max_results=1, order_by=["attributes.start_time DESC"]
    )
    return runs[0] if runs else None


def _log_values(client: Any, run_id: str, record: Record, logged: dict[str, str]) -> None:  # noqa: ANN401
    from mlflow.entities import Metric, Param, RunTag

    params = [
        Param(key, value) for key, value in sorted(record.params.items()) if key not in logged
    ]
    metrics = [
        Metric(_BAD_NAME.sub("_", key), value, 0, 0)
        for key, value in sorted(record.metrics.items())
    ]
    tags = [RunTag(key, value) for key, value in sorted(record.tags.items())]
    for start in range(0, max(len(params), len(metrics), len(tags)), 100):  # MLflow's batch cap
        client.log_batch(
            run_id,
            metrics=metrics[start : start + 100],
            params=params[start : start + 100],
            tags=tags[start : start + 100],
        )


def log_model(bundle: Path, trusted: list[str], run_id: str) -> str:
    """Log ``bundle`` as the run's pyfunc ``model`` (code, not pickle); the model's URI."""
    import mlflow

    from conveyor import __version__
    from conveyor.tracking import pyfunc_model

    with mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=pyfunc_model.__file__,
            artifacts={"bundle": str(bundle)},
            model_config={"trusted_types": sorted(trusted)},
            pip_requirements=[f"conveyor-mlops=={__version__}"],
        )
    return str(info.model_uri)


def _register(client: Any, record: Record, run_id: str, model_uri: str | None) -> None:  # noqa: ANN401
    """Each registry version as an MLflow model version, its stages as aliases (once)."""
    if model_uri is None:
        return
    from mlflow.exceptions import MlflowException

    for registration in record.registrations:
        try:
            client.get_registered_model(registration.name)
        except MlflowException:
            client.create_registered_model(registration.name)
        found = [
            v
            for v in client.search_model_versions(f"name='{registration.name}'")
            if v.tags.get(f"{TAG}.version") == registration.version
        ]
        version = (
            found[0]
            if found
            else client.create_model_version(
                registration.name,
                model_uri,
                run_id=run_id,
                tags={f"{TAG}.version": registration.version},
                description=f"conveyor registry version {registration.version}",
                model_id=model_uri.removeprefix("models:/"),
            )
        )
        for stage in registration.stages:
            client.set_registered_model_alias(registration.name, stage, str(version.version))
