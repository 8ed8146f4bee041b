"""Alerts: a monitoring run's findings sent to webhooks and Prometheus (``monitor.alerts``).

After :func:`~conveyor.monitoring.monitor.run_monitor`, the ``monitor`` stage and
``conveyor monitor`` call :func:`deliver`: for each target, first whatever waits for it in
the outbox (oldest first), then this run's alert when the target's ``when`` says so. An alert
that is still undelivered after its retries is queued in ``.conveyor/outbox/`` and sent
first by the next run, or by :func:`flush` (``conveyor monitor --flush-alerts``). Delivery
never raises: it returns warnings, which name the target and the outbox file, so a receiver
that is down never fails a monitoring run and never changes its exit status.

Targets are read from params.yaml (:func:`alert_settings`), not through a stage's params
view: where alerts go is not what the stage computes, so no stage lists them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conveyor._paths import PARAMS_FILE
from conveyor.monitoring import _formats, _gauges, _outbox
from conveyor.monitoring._alert import Alert
from conveyor.monitoring._send import Attempts, send

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.monitoring.monitor import MonitorResult
    from conveyor.spec.alert import PrometheusAlertSpec, WebhookAlertSpec

    Target = WebhookAlertSpec | PrometheusAlertSpec

__all__ = ["Alert", "AlertSettings", "Delivery", "alert_settings", "deliver", "flush", "notify"]

FLUSH_HINT = "conveyor monitor --flush-alerts"


@dataclass(frozen=True)
class AlertSettings:
    """``project.name`` and the named targets of ``monitor.alerts``."""

    project: str | None = None
    targets: tuple[tuple[str, Target], ...] = ()


@dataclass
class Delivery:
    """What :func:`deliver` or :func:`flush` did: target names sent to, files queued, warnings."""

    sent: list[str] = field(default_factory=list)
    queued: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    waiting: int = 0
    """Alerts left in the outbox afterwards."""


def alert_settings(root: Path) -> AlertSettings:
    """The alert targets of the project at ``root`` (none without a params.yaml).

    Raises:
        SpecError: params.yaml's ``monitor.alerts`` is invalid or unreadable.
    """
    import yaml
    from pydantic import TypeAdapter, ValidationError

    from conveyor.errors import SpecError
    from conveyor.spec.alert import AlertSpec, target_names

    path = root / PARAMS_FILE
    if not path.is_file():
        return AlertSettings()
    fix = "fix monitor.alerts in conf/monitor/, then run 'conveyor compile'"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SpecError(f"cannot read {PARAMS_FILE}: {exc}", where=PARAMS_FILE, fix=fix) from exc
    data = data if isinstance(data, dict) else {}
    monitor, project = data.get("monitor") or {}, data.get("project") or {}
    raw = monitor.get("alerts") if isinstance(monitor, dict) else None
    try:
        targets = TypeAdapter(list[AlertSpec]).validate_python(raw or [])
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(["monitor.alerts", *map(str, first["loc"])])
        raise SpecError(
            f"invalid alert target: {first['msg']}", where=f"{where} ({PARAMS_FILE})", fix=fix
        ) from exc
    name = project.get("name") if isinstance(project, dict) else None
    return AlertSettings(
        str(name) if name is not None else None,
        tuple(zip(target_names(targets), targets, strict=True)),
    )


def notify(root: Path, result: MonitorResult, settings: AlertSettings) -> Delivery:
    """Deliver the alert of a monitoring run that just finished (see :func:`deliver`)."""
    import time

    report = _outbox.shown(root, result.json_path)
    alert = Alert.from_result(result, project=settings.project, report=report, time=time.time())
    return deliver(root, alert, settings)


def deliver(root: Path, alert: Alert, settings: AlertSettings) -> Delivery:
    """Send what waits in the outbox, then ``alert``, to every target; never raises."""
    return _run(root, settings, alert)


def flush(root: Path, settings: AlertSettings) -> Delivery:
    """Send what waits in the outbox to its targets, oldest first; never raises."""
    return _run(root, settings, None)


def _run(root: Path, settings: AlertSettings, alert: Alert | None) -> Delivery:
    delivery = Delivery()
    try:
        queued, problems = _outbox.pending(root)
    except OSError as exc:
        queued, problems = [], [str(exc)]
    delivery.warnings.extend(f"alert outbox: {problem}" for problem in problems)
    names = {name for name, _ in settings.targets}
    for item in queued:
        if item.target not in names:
            delivery.warnings.append(
                f"alert outbox: {_outbox.shown(root, item.path)} is for target "
                f"'{item.target}', which monitor.alerts no longer names; left alone"
            )
    for name, target in settings.targets:
        mine = [item for item in queued if item.target == name]
        _Target(root, name, target, settings.project, delivery).run(mine, alert)
    try:
        delivery.waiting = len(_outbox.pending(root)[0])
    except OSError:
        delivery.waiting = 0
    return delivery


@dataclass
class _Target:
    root: Path
    name: str
    spec: Target
    project: str | None
    delivery: Delivery

    def run(self, queued: list[_outbox.Queued], alert: Alert | None) -> None:
        blocked = None
        for item in queued:
            reason = self._send(item.method, item.content_type, item.body)
            if reason is not None:
                shown = _outbox.shown(self.root, item.path)
                blocked = f"{shown} still undelivered: {reason}"
                self._warn(f"{blocked}; newer alerts wait behind it (resend: {FLUSH_HINT})")
                break
            _outbox.remove(item)
            self.delivery.sent.append(self.name)
        if alert is None or not (self.spec.when == "always" or alert.fires):
            return
        if self.spec.kind == "prometheus":
            self._textfile(alert)
            if self.spec.pushgateway is None:
                return
            method, content_type, body = "PUT", _gauges.CONTENT_TYPE, _gauges.exposition(alert)
        else:
            method, content_type = "POST", "application/json"
            body = _formats.render(alert, self.spec.format)
        reason = blocked or self._send(method, content_type, body)
        if reason is None:
            self.delivery.sent.append(self.name)
            return
        try:
            path = _outbox.put(self.root, self.name, method, content_type, body, reason)
        except OSError as exc:
            self._warn(f"could not deliver the alert ({reason}), and it is lost: {exc}")
            return
        self.delivery.queued.append(path)
        shown = _outbox.shown(self.root, path)
        if blocked is None:
            self._warn(f"could not deliver the alert: {reason}; queued in {shown} ({FLUSH_HINT})")
        else:
            self._warn(f"the alert is queued in {shown} behind an undelivered one")

    def _send(self, method: str, content_type: str, body: str) -> str | None:
        url, headers = self._address()
        if url is None:
            return headers["error"]
        headers["Content-Type"] = content_type
        attempts = Attempts(self.spec.timeout, self.spec.retries, self.spec.backoff)
        return send(method, url, body.encode("utf-8"), headers, attempts)

    def _address(self) -> tuple[str | None, dict[str, str]]:
        """The URL and headers, read from the environment now; (None, {"error": why})."""
        from urllib.parse import quote

        from conveyor.spec.alert import check_url

        spec = self.spec
        if spec.kind == "prometheus":
            assert spec.pushgateway is not None  # noqa: S101 - only called with one
            project = quote(self.project or "unnamed", safe="")
            base = spec.pushgateway.rstrip("/")
            return f"{base}/metrics/job/{spec.job}/project/{project}", {}
        headers: dict[str, str] = {"User-Agent": "conveyor-alerts"}
        for header, variable in sorted(spec.headers_env.items()):
            value = os.environ.get(variable)
            if not value:
                return None, {"error": f"environment variable '{variable}' ({header}) is not set"}
            headers[header] = value
        if spec.url_env is None:
            assert spec.url is not None  # noqa: S101 - the spec holds one of the two
            return spec.url, headers
        url = os.environ.get(spec.url_env)
        if not url:
            return None, {"error": f"environment variable '{spec.url_env}' (the URL) is not set"}
        try:
            return check_url(url), headers
        except ValueError:
            return None, {"error": f"environment variable '{spec.url_env}' holds no http(s) URL"}

    def _textfile(self, alert: Alert) -> None:
        from pathlib import Path

        from conveyor import _atomic

        spec = self.spec
        if spec.kind != "prometheus" or spec.textfile is None:
            return
        path = Path(spec.textfile)
        path = path if path.is_absolute() else self.root / path
        try:
            _atomic.write_text(path, _gauges.exposition(alert))
        except OSError as exc:
            self._warn(f"cannot write {spec.textfile}: {exc.strerror or exc}")
            return
        self.delivery.sent.append(self.name)

    def _warn(self, text: str) -> None:
        self.delivery.warnings.append(f"alert target '{self.name}' ({self._where()}): {text}")

    def _where(self) -> str:
        """Where the target sends, without secrets: the host only, or the env variable."""
        from urllib.parse import urlsplit

        spec = self.spec
        if spec.kind == "prometheus":
            places = [p for p in (spec.textfile, spec.pushgateway) if p]
            return ", ".join(urlsplit(p).netloc or p for p in places)
        if spec.url is not None:
            return urlsplit(spec.url).netloc
        return f"${spec.url_env}"
