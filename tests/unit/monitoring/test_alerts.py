"""monitor.alerts against a real HTTP receiver on loopback, in process.

A tiny ``http.server`` in a thread records what it receives (and can answer slowly, with an
error, or not be there at all). The monitoring run is real: a reference profile of numeric
and categorical columns, a batch with 'weight' shifted, ``run_monitor`` and the real reports;
``conveyor monitor`` runs through its CLI function in this process.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
import yaml

from conveyor.cli.main import main
from conveyor.errors import SpecError
from conveyor.monitoring import MonitorRequest, profile_data, run_monitor
from conveyor.monitoring._outbox import OUTBOX_DIR
from conveyor.monitoring.alert import alert_settings, deliver, flush, notify

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from conveyor.monitoring.monitor import MonitorResult

PROJECT = "fruit_shop"


class Receiver:
    """An HTTP server on 127.0.0.1 that records each request's method, path, headers, body."""

    def __init__(self, port: int = 0, *, status: int = 200, delay: float = 0.0) -> None:
        self.received: list[dict[str, Any]] = []
        self.status, self.delay = status, delay
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length).decode("utf-8")
                if outer.delay:
                    time.sleep(outer.delay)
                outer.received.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
                self.send_response(outer.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_POST = do_PUT = _record  # noqa: N815 - http.server's names

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        # shutdown() waits for serve_forever's next look at its flag: every 0.5 s by default.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def bodies(self) -> list[Any]:
        return [json.loads(r["body"]) for r in self.received]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


def free_port() -> int:
    """A loopback port with nothing listening on it (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fruit(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "weight": rng.normal(150 + shift, 30, rows),
            "sugar": rng.normal(10 + shift / 20, 2, rows),
            "color": rng.choice(["red", "green", "yellow"], rows),
        }
    )


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a reference profile, a drifted and a stable batch; the cwd."""
    fruit(400, 0).to_parquet(tmp_path / "reference.parquet")
    fruit(300, 1, shift=60).to_parquet(tmp_path / "drifted.parquet")
    fruit(300, 2).to_parquet(tmp_path / "stable.parquet")
    profile = profile_data(tmp_path, ["reference.parquet"], predictor=None)
    (tmp_path / "profile.json").write_text(profile.to_json(), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_params(root: Path, alerts: list[dict[str, Any]]) -> None:
    params = {
        "project": {"name": PROJECT, "task": "multiclass_classification"},
        "seed": 0,
        "data": {"target": "fruit"},
        "evaluate": {"metrics": ["accuracy"]},
        "monitor": {"alerts": alerts},
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")


def monitor(root: Path, batch: str) -> MonitorResult:
    from conveyor.monitoring.profile import Profile

    reference = Profile.from_json((root / "profile.json").read_text(), where="profile.json")
    request = MonitorRequest(
        current=(batch,), reference=reference, predictor=None, out_dir=root / "reports"
    )
    return run_monitor(root, request)


def outbox(root: Path) -> list[Path]:
    return sorted((root / OUTBOX_DIR).glob("*.json"))


def fast(url: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "webhook", "url": url, "retries": 1, "backoff": 0.01, **extra}


def test_a_drifted_batch_posts_one_generic_alert(root: Path, receiver: Receiver) -> None:
    write_params(root, [fast(receiver.url)])
    result = monitor(root, "drifted.parquet")
    delivery = notify(root, result, alert_settings(root))
    assert delivery.warnings == []
    assert delivery.sent == ["webhook"]
    assert len(receiver.received) == 1
    request = receiver.received[0]
    assert (request["method"], request["path"]) == ("POST", "/hook")
    assert request["headers"]["Content-Type"] == "application/json"
    body = json.loads(request["body"])
    drift = json.loads((root / "reports" / "drift.json").read_text())
    weight = next(c for c in drift["columns"] if c["column"] == "weight")
    assert body["source"] == "conveyor"
    assert body["event"] == "drift"
    assert body["project"] == PROJECT
    assert body["model"] is None
    assert body["batch"] == ["drifted.parquet"]
    assert body["rows"] == 300
    assert body["report"] == "reports/drift.json"
    assert body["decisions"] == {
        "dataset_drift": bool(drift["dataset_drift"]),
        "prediction_drift": False,
        "performance_drop": False,
        "quality_issues": drift["quality_issues"],
    }
    assert body["decisions"]["dataset_drift"] is True
    assert body["drifted_share"] == drift["drifted_share"]
    # exactly the drifted columns, each with the statistic and threshold drift.json holds
    drifted = [c["column"] for c in drift["columns"] if c["drifted"]]
    assert [c["column"] for c in body["drifted_columns"]] == drifted
    assert "weight" in drifted
    assert "color" not in drifted
    shown = next(c for c in body["drifted_columns"] if c["column"] == "weight")
    assert shown == {
        "column": "weight",
        "method": weight["method"],
        "statistic": weight["statistic"],
        "threshold": weight["threshold"],
        "p_value": weight["p_value"],
    }
    assert body["summary"].startswith("Dataset drift: ")
    assert len(body["id"]) == 32
    assert outbox(root) == []


def test_slack_and_teams_payloads_have_their_shapes(root: Path, receiver: Receiver) -> None:
    write_params(
        root,
        [
            fast(receiver.url, format="slack", name="slack"),
            fast(receiver.url, format="teams", name="teams"),
        ],
    )
    notify(root, monitor(root, "drifted.parquet"), alert_settings(root))
    slack, teams = receiver.bodies()
    assert set(slack) == {"text", "blocks"}
    assert slack["text"].startswith("conveyor: Dataset drift: ")
    assert PROJECT in slack["text"]
    header, facts, columns = slack["blocks"]
    assert header["type"] == "header"
    assert header["text"]["type"] == "plain_text"
    assert {"type": "mrkdwn", "text": f"*Project*\n{PROJECT}"} in facts["fields"]
    assert {"type": "mrkdwn", "text": "*Batch*\ndrifted.parquet"} in facts["fields"]
    assert columns["text"]["text"].startswith("*Drifted columns*\n• weight: ")
    assert "(threshold " in columns["text"]["text"]

    assert teams["type"] == "message"
    (attachment,) = teams["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    title, factset, *rest = card["body"]
    assert title["text"] == slack["text"]
    assert {"title": "Project", "value": PROJECT} in factset["facts"]
    assert rest[0]["text"] == "Drifted columns"
    assert rest[1]["text"].startswith("- weight: ")


def test_a_stable_batch_alerts_only_targets_that_want_every_run(
    root: Path, receiver: Receiver
) -> None:
    write_params(root, [fast(receiver.url), fast(receiver.url, when="always", name="every")])
    result = monitor(root, "stable.parquet")
    assert not result.dataset_drift
    delivery = notify(root, result, alert_settings(root))
    assert delivery.sent == ["every"]
    (body,) = receiver.bodies()
    assert body["event"] == "no_drift"
    assert body["drifted_columns"] == []
    assert body["decisions"]["dataset_drift"] is False


def test_headers_come_from_the_environment_and_never_reach_the_outbox(
    root: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERT_URL", receiver.url)
    monkeypatch.setenv("ALERT_TOKEN", "Bearer s3cret-token")
    target = {
        "kind": "webhook",
        "url_env": "ALERT_URL",
        "headers_env": {"Authorization": "ALERT_TOKEN"},
    }
    write_params(root, [{**target, "retries": 0}])
    notify(root, monitor(root, "drifted.parquet"), alert_settings(root))
    assert receiver.received[0]["headers"]["Authorization"] == "Bearer s3cret-token"
    # down: the queued file holds the body, not the URL or the token
    monkeypatch.setenv("ALERT_URL", f"http://127.0.0.1:{free_port()}/hook")
    delivery = notify(root, monitor(root, "drifted.parquet"), alert_settings(root))
    (queued,) = outbox(root)
    text = queued.read_text()
    assert "s3cret" not in text
    assert "127.0.0.1" not in text
    assert "ALERT_URL" in delivery.warnings[0]  # the target is named by its variable
    assert "127.0.0.1" not in delivery.warnings[0]


def test_a_receiver_that_is_down_queues_the_alert_and_the_flush_sends_it(root: Path) -> None:
    port = free_port()
    write_params(root, [fast(f"http://127.0.0.1:{port}/hook", format="slack", name="ops")])
    result = monitor(root, "drifted.parquet")
    delivery = notify(root, result, alert_settings(root))
    (queued,) = outbox(root)
    assert delivery.queued == [queued]
    assert delivery.sent == []
    (warning,) = delivery.warnings
    assert warning.startswith(f"alert target 'ops' (127.0.0.1:{port}): could not deliver")
    assert "cannot connect" in warning
    assert "(2 attempts)" in warning
    assert f"queued in {OUTBOX_DIR}/{queued.name}" in warning
    assert "conveyor monitor --flush-alerts" in warning
    document = json.loads(queued.read_text())
    assert document["target"] == "ops"
    assert json.loads(document["body"])["text"].startswith("conveyor: Dataset drift")
    assert (root / OUTBOX_DIR / ".gitignore").read_text().endswith("*\n")

    # still down: the flush keeps it, and says so
    again = flush(root, alert_settings(root))
    assert again.sent == []
    assert again.waiting == 1
    assert f"{OUTBOX_DIR}/{queued.name} still undelivered" in again.warnings[0]
    assert outbox(root) == [queued]

    server = Receiver(port)  # up again, on the same address
    try:
        done = flush(root, alert_settings(root))
        assert (done.sent, done.warnings, done.waiting) == (["ops"], [], 0)
        assert outbox(root) == []
        (body,) = server.bodies()
        assert body == json.loads(document["body"])
    finally:
        server.stop()


def test_queued_alerts_go_first_and_in_order(root: Path) -> None:
    port = free_port()
    write_params(root, [fast(f"http://127.0.0.1:{port}/hook", when="always")])
    first = monitor(root, "drifted.parquet")
    notify(root, first, alert_settings(root))
    notify(root, monitor(root, "stable.parquet"), alert_settings(root))
    assert len(outbox(root)) == 2
    server = Receiver(port)
    try:
        delivery = notify(root, monitor(root, "drifted.parquet"), alert_settings(root))
        assert delivery.sent == ["webhook"] * 3
        assert [b["event"] for b in server.bodies()] == ["drift", "no_drift", "drift"]
    finally:
        server.stop()
    assert outbox(root) == []


def test_a_slow_receiver_hits_the_timeout(root: Path) -> None:
    slow = Receiver(delay=3.0)
    try:
        write_params(root, [fast(slow.url, timeout=0.3, retries=0)])
        started = time.monotonic()
        delivery = notify(root, monitor(root, "drifted.parquet"), alert_settings(root))
        elapsed = time.monotonic() - started
    finally:
        slow.stop()
    (warning,) = delivery.warnings
    assert "no answer within 0.3 s (1 attempt)" in warning
    assert elapsed < 2.5
    assert len(outbox(root)) == 1


def test_a_refusal_is_not_retried_and_a_server_error_is(root: Path) -> None:
    refusing = Receiver(status=400)
    failing = Receiver(status=503)
    try:
        write_params(
            root,
            [
                fast(refusing.url, name="refusing", retries=3),
                fast(failing.url, name="failing", retries=2),
            ],
        )
        delivery = notify(root, monitor(root, "drifted.parquet"), alert_settings(root))
    finally:
        refusing.stop()
        failing.stop()
    assert len(refusing.received) == 1
    assert len(failing.received) == 3
    assert "HTTP 400 Bad Request: ok (1 attempt)" in delivery.warnings[0]
    assert "HTTP 503 Service Unavailable: ok (3 attempts)" in delivery.warnings[1]
    assert len(outbox(root)) == 2


def test_a_redirect_is_not_followed(root: Path, receiver: Receiver) -> None:
    redirecting = Receiver(status=307)
    try:
        write_params(root, [fast(redirecting.url, retries=0)])
        delivery = notify(root, monitor(root, "drifted.parquet"), alert_settings(root))
    finally:
        redirecting.stop()
    assert "HTTP 307" in delivery.warnings[0]
    assert receiver.received == []


def test_an_outbox_that_leads_out_of_the_project_is_not_used(
    root: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (root / ".conveyor").symlink_to(elsewhere, target_is_directory=True)
    write_params(root, [fast(f"http://127.0.0.1:{free_port()}/hook", retries=0)])
    delivery = notify(root, monitor(root, "drifted.parquet"), alert_settings(root))
    assert list(elsewhere.rglob("*")) == []
    assert any("leads out of the project" in w for w in delivery.warnings)
    assert any("it is lost" in w for w in delivery.warnings)


def test_unreadable_and_orphaned_outbox_files_are_left_alone(
    root: Path, receiver: Receiver
) -> None:
    write_params(root, [fast(receiver.url)])
    box = root / OUTBOX_DIR
    box.mkdir(parents=True)
    (box / "0001-webhook.json").write_text("{not json")
    (box / "0002-gone.json").write_text(
        json.dumps(
            {"format": 1, "target": "gone", "method": "POST", "content_type": "x", "body": "{}"}
        )
    )
    (box / "0003-webhook.json").write_text(
        json.dumps(
            {"format": 1, "target": "webhook", "method": "GET", "content_type": "x", "body": ""}
        )
    )
    delivery = flush(root, alert_settings(root))
    assert receiver.received == []
    assert len(outbox(root)) == 3
    text = "\n".join(delivery.warnings)
    assert f"{OUTBOX_DIR}/0001-webhook.json cannot be read" in text
    assert "'gone', which monitor.alerts no longer names" in text
    assert "method 'GET' is neither POST nor PUT" in text


def test_the_textfile_holds_the_gauges(root: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    write_params(root, [{"kind": "prometheus", "textfile": "metrics/conveyor.prom"}])
    (root / "metrics").mkdir()
    result = monitor(root, "drifted.parquet")
    delivery = notify(root, result, alert_settings(root))
    assert delivery.warnings == []
    assert delivery.sent == ["prometheus"]
    text = (root / "metrics" / "conveyor.prom").read_text()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    run = (("model", ""), ("project", PROJECT), ("version", ""))
    drift = json.loads((root / "reports" / "drift.json").read_text())
    assert samples[("conveyor_drift_dataset", run)] == 1.0
    assert samples[("conveyor_drift_share", run)] == drift["drifted_share"]
    assert samples[("conveyor_drift_columns", run)] == drift["drifted_columns"]
    assert samples[("conveyor_monitor_rows", run)] == 300.0
    assert samples[("conveyor_quality_issues", run)] == drift["quality_issues"]
    assert abs(samples[("conveyor_monitor_last_run_timestamp_seconds", run)] - time.time()) < 60
    for column in drift["columns"]:
        labels = (*run, ("column", column["column"]))
        with_method = tuple(sorted((*labels, ("method", column["method"]))))
        assert samples[("conveyor_drift_column_statistic", with_method)] == column["statistic"]
        assert samples[("conveyor_drift_column_threshold", with_method)] == column["threshold"]
        drifted = samples[("conveyor_drift_column_drifted", tuple(sorted(labels)))]
        assert drifted == float(column["drifted"])
    assert [p.name for p in (root / "metrics").iterdir()] == ["conveyor.prom"]  # no temporaries


def test_the_pushgateway_gets_the_gauges_by_put(root: Path, receiver: Receiver) -> None:
    base = f"http://127.0.0.1:{receiver.port}"
    write_params(root, [{"kind": "prometheus", "pushgateway": base, "job": "nightly"}])
    notify(root, monitor(root, "stable.parquet"), alert_settings(root))
    (request,) = receiver.received
    assert (request["method"], request["path"]) == (
        "PUT",
        f"/metrics/job/nightly/project/{PROJECT}",
    )
    assert request["headers"]["Content-Type"].startswith("text/plain; version=0.0.4")
    assert 'conveyor_drift_dataset{model="",project="fruit_shop",version=""} 0.0' in request["body"]


def test_an_unset_url_variable_queues_the_alert(
    root: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOT_SET_URL", raising=False)
    write_params(root, [{"kind": "webhook", "url_env": "NOT_SET_URL"}])
    delivery = notify(root, monitor(root, "drifted.parquet"), alert_settings(root))
    assert "environment variable 'NOT_SET_URL' (the URL) is not set" in delivery.warnings[0]
    assert len(outbox(root)) == 1
    monkeypatch.setenv("NOT_SET_URL", receiver.url)
    assert flush(root, alert_settings(root)).waiting == 0
    assert len(receiver.received) == 1


def test_a_bad_target_in_params_is_a_located_spec_error(root: Path) -> None:
    write_params(root, [{"kind": "webhook", "url": "file:///etc/passwd"}])
    with pytest.raises(SpecError, match=r"is not an http:// or https:// URL") as caught:
        alert_settings(root)
    assert caught.value.where == "monitor.alerts.0.webhook.url (params.yaml)"
    write_params(root, [{"kind": "prometheus", "textfile": "conveyor.txt"}])
    with pytest.raises(SpecError, match=r"does not end in \.prom"):
        alert_settings(root)


def test_conveyor_monitor_warns_and_keeps_its_exit_status(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    write_params(root, [fast(f"http://127.0.0.1:{port}/hook")])
    args = ["monitor", "drifted.parquet", "--reference", "profile.json", "--no-model"]
    assert run_cli(args) == 0
    assert run_cli([*args, "--fail-on-drift"]) == 10
    err = capsys.readouterr().err
    # the second run retries the queued alert first, then queues its own behind it
    assert err.count("warning: alert target 'webhook'") == 3
    assert "behind an undelivered one" in err
    assert len(outbox(root)) == 2

    assert run_cli(["monitor", "--flush-alerts"]) == 11
    assert "sent 0 queued alerts; 2 still in .conveyor/outbox" in capsys.readouterr().out
    server = Receiver(port)
    try:
        assert run_cli(["monitor", "--flush-alerts"]) == 0
        assert "sent 2 queued alerts; 0 still in .conveyor/outbox" in capsys.readouterr().out
        assert len(server.received) == 2
    finally:
        server.stop()
    assert run_cli(["monitor"]) == 2
    assert "give CURRENT" in capsys.readouterr().err


def run_cli(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


def test_deliver_sends_nothing_without_targets(root: Path) -> None:
    write_params(root, [])
    result = monitor(root, "drifted.parquet")
    assert deliver(root, _alert(result), alert_settings(root)).sent == []
    assert not (root / ".conveyor").exists()


def _alert(result: MonitorResult) -> Any:
    from conveyor.monitoring.alert import Alert

    return Alert.from_result(result, project=PROJECT, report="reports/drift.json", time=0.0)
