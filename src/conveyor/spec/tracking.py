"""``tracking:`` — where ``train`` and ``evaluate`` runs are logged; never what they compute.

Off by default (``kind: none``), so a project needs no server. ``kind: mlflow`` logs each run
of the two stages (and so each sweep trial) to an MLflow tracking server::

    tracking:
      kind: mlflow
      uri: http://127.0.0.1:5000   # or null: MLFLOW_TRACKING_URI at run time
      experiment: null             # null: the project's name

No stage lists ``tracking.*`` among its ``params:``: turning tracking on or off reruns
nothing, and nothing it sends lands in an output DVC or git tracks.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from conveyor.spec._base import StrictModel

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
"""Read at run time when ``tracking.uri`` is null (MLflow's own variable)."""


class TrackingSpec(StrictModel):
    """``{kind: none}`` (the default) or ``{kind: mlflow, uri: ..., experiment: ...}``."""

    kind: Literal["none", "mlflow"] = "none"
    uri: str | None = Field(default=None, min_length=1)
    """The tracking server; null reads ``MLFLOW_TRACKING_URI`` when a stage runs."""
    experiment: str | None = Field(default=None, min_length=1, max_length=500)
    """The MLflow experiment; null: the project's name."""
    timeout: float = Field(default=10.0, gt=0, le=600)
    """Seconds per request to the server before the run is queued in ``.conveyor/outbox``."""

    @field_validator("uri")
    @classmethod
    def _no_credentials(cls, uri: str | None) -> str | None:
        if uri is not None and "@" in uri.split("://", 1)[-1].split("/", 1)[0]:
            msg = (
                "the tracking URI holds credentials, and conf/ is committed; set "
                "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD in the environment"
            )
            raise ValueError(msg)
        return uri

    @property
    def enabled(self) -> bool:
        """Whether runs are logged anywhere."""
        return self.kind != "none"
