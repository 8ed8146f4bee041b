"""``monitor.alerts:`` — where a monitoring run's findings go: webhooks and Prometheus.

Alerts say where results go, never what is computed, so no stage lists them in its
``params:``: adding, removing or editing a target reruns nothing. Secrets never sit in conf/:
a webhook's URL can come from an environment variable (``url_env``), and so can each header
(``headers_env: {Authorization: ALERT_TOKEN}`` sends the variable's value)::

    alerts:
      - kind: webhook
        url_env: SLACK_WEBHOOK_URL
        format: slack              # generic | slack | teams
      - kind: prometheus
        textfile: /var/lib/node_exporter/textfile/conveyor.prom
        pushgateway: http://pushgateway:9091

(``when:``, not ``on:``, which YAML 1.1, what Hydra reads, parses as the boolean ``true``.)
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from conveyor.spec._base import StrictModel

__all__ = ["AlertSpec", "PrometheusAlertSpec", "WebhookAlertSpec", "check_url"]

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_HEADER = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an RFC 9110 token


def check_url(url: str) -> str:
    """``url`` if it is an http(s) URL with a host; ValueError otherwise (file:// and friends)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = url if len(url) <= 60 else f"{url[:57]}..."
        msg = f"'{shown}' is not an http:// or https:// URL with a host"
        raise ValueError(msg)
    return url


class _Delivery(StrictModel):
    """How hard one target is tried: per attempt, then again after a doubling pause."""

    name: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_-]*$")
    """Names the target in warnings and outbox files (default: its kind, then kind-2, ...)."""
    timeout: float = Field(default=5.0, gt=0, le=300)
    """Seconds one attempt may take (connect and answer)."""
    retries: int = Field(default=2, ge=0, le=10)
    """Attempts after the first; an undelivered alert then waits in ``.conveyor/outbox/``."""
    backoff: float = Field(default=1.0, ge=0, le=60)
    """Seconds before the first retry, doubled before each next one."""


class WebhookAlertSpec(_Delivery):
    """``kind: webhook`` — POST one JSON document per alert."""

    kind: Literal["webhook"]
    url: str | None = None
    """The receiver; use ``url_env`` when the URL holds a token (Slack's and Teams' do)."""
    url_env: str | None = Field(default=None, pattern=_ENV_NAME)
    """The environment variable that holds the URL."""
    format: Literal["generic", "slack", "teams"] = "generic"
    """``generic``: conveyor's JSON; ``slack``: text + blocks; ``teams``: an Adaptive Card."""
    headers_env: dict[str, Annotated[str, Field(pattern=_ENV_NAME)]] = Field(default_factory=dict)
    """Header name -> the environment variable holding its value (never the value itself)."""
    when: Literal["drift", "always"] = "drift"
    """``drift``: on dataset or prediction drift or a performance drop; ``always``: every run."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)

    @field_validator("headers_env")
    @classmethod
    def _header_names(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted(name for name in value if not _HEADER.match(name))
        if bad:
            msg = f"{', '.join(map(repr, bad))} cannot be HTTP header names"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _one_url(self) -> WebhookAlertSpec:
        if (self.url is None) == (self.url_env is None):
            msg = "set exactly one of url and url_env (the variable that holds the URL)"
            raise ValueError(msg)
        return self


class PrometheusAlertSpec(_Delivery):
    """``kind: prometheus`` — drift, quality and performance gauges after every run.

    ``textfile`` is a ``.prom`` file for node_exporter's textfile collector (written
    atomically; relative paths start at the project root); ``pushgateway`` is a Pushgateway's
    base URL, pushed to under ``/metrics/job/<job>/project/<project.name>``.
    """

    kind: Literal["prometheus"]
    textfile: str | None = None
    pushgateway: str | None = None
    job: str = Field(default="conveyor_monitor", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    when: Literal["drift", "always"] = "always"
    """Gauges are current state, so by default they are written after every run."""

    @field_validator("textfile")
    @classmethod
    def _prom_file(cls, value: str | None) -> str | None:
        if value is not None and not value.endswith(".prom"):
            msg = f"'{value}' does not end in .prom, which node_exporter's textfile collector reads"
            raise ValueError(msg)
        return value

    @field_validator("pushgateway")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)

    @model_validator(mode="after")
    def _somewhere(self) -> PrometheusAlertSpec:
        if self.textfile is None and self.pushgateway is None:
            msg = "set textfile (a .prom file for node_exporter), pushgateway (a URL), or both"
            raise ValueError(msg)
        return self


AlertSpec = Annotated[WebhookAlertSpec | PrometheusAlertSpec, Field(discriminator="kind")]
"""One target of ``monitor.alerts``, picked by ``kind``."""


def target_names(alerts: list[WebhookAlertSpec | PrometheusAlertSpec]) -> list[str]:
    """Each target's name: its ``name``, else its kind (kind-2, kind-3... when repeated)."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for alert in alerts:
        if alert.name is not None:
            names.append(alert.name)
            continue
        seen[alert.kind] = seen.get(alert.kind, 0) + 1
        count = seen[alert.kind]
        names.append(alert.kind if count == 1 else f"{alert.kind}-{count}")
    return names
