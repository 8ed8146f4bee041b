"""The JSON an alert webhook receives: conveyor's own document, Slack's or Teams'.

``generic`` is the whole finding (``format: 1``), with an ``id`` that is the same for every
delivery attempt of one alert, so a receiver can drop a duplicate (an attempt that timed out
may still have arrived). ``slack`` is an incoming-webhook message (``text`` for
notifications, ``blocks`` for the message); ``teams`` is a message carrying an Adaptive Card
1.4, what a Teams Workflows webhook accepts. Long column lists are cut to ``SHOWN`` lines.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor.monitoring._alert import Alert

SHOWN = 10
"""Drifted columns listed in a Slack or Teams message (all are in the generic document)."""


def render(alert: Alert, format: str) -> str:
    """The body posted for ``alert`` in ``format`` (``generic``, ``slack`` or ``teams``)."""
    document = {"generic": generic, "slack": slack, "teams": teams}[format](alert)
    return json.dumps(document, indent=None, sort_keys=False, allow_nan=False)


def generic(alert: Alert) -> dict[str, Any]:
    """The alert document: who, what batch, the decisions, what drifted and by how much."""
    document: dict[str, Any] = {
        "source": "conveyor",
        "format": 1,
        "event": "drift" if alert.fires else "no_drift",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(alert.time)),
        "project": alert.project,
        "model": None if alert.model is None else {"name": alert.model, "version": alert.version},
        "batch": list(alert.batch),
        "rows": alert.rows,
        "summary": alert.headline,
        "decisions": {
            "dataset_drift": alert.dataset_drift,
            "prediction_drift": bool(alert.prediction and alert.prediction["drifted"]),
            "performance_drop": alert.performance_drop,
            "quality_issues": alert.quality_issues,
        },
        "drifted_share": alert.drifted_share,
        "drifted_columns": [
            {k: v for k, v in column.items() if k != "drifted"} for column in _drifted(alert)
        ],
        "prediction": alert.prediction,
        "performance": _performance(alert),
        "quality": list(alert.quality),
        "report": alert.report,
    }
    canonical = json.dumps(document, sort_keys=True, allow_nan=False).encode("utf-8")
    return {"id": hashlib.sha256(canonical).hexdigest()[:32], **document}


def _drifted(alert: Alert) -> list[dict[str, Any]]:
    return [column for column in alert.columns if column["drifted"]]


def _performance(alert: Alert) -> dict[str, Any] | None:
    performance = alert.performance
    if performance is None:
        return None
    keys = ("metric", "value", "reference", "drop", "max_drop", "relative", "dropped", "rows")
    return {key: performance.get(key) for key in keys}


def _title(alert: Alert) -> str:
    where = f"'{alert.project}'" if alert.project else "a batch"
    return f"conveyor: {alert.headline} ({where})"


def _facts(alert: Alert) -> list[tuple[str, str]]:
    model = "none" if alert.model is None else f"{alert.model} {alert.version or ''}".strip()
    batch = ", ".join(alert.batch[:3]) + (
        f" and {len(alert.batch) - 3} more" if len(alert.batch) > 3 else ""
    )
    facts = [("Project", alert.project or "-"), ("Model", model), ("Batch", batch)]
    facts.append(("Rows", f"{alert.rows:,}"))
    performance = alert.performance
    if performance is not None and performance.get("value") is not None:
        reference = performance.get("reference")
        against = "" if reference is None else f" (reference {reference:.4g})"
        facts.append((str(performance["metric"]), f"{performance['value']:.4g}{against}"))
    facts.append(("Report", alert.report))
    return facts


def _column_lines(alert: Alert) -> list[str]:
    drifted = _drifted(alert)
    lines = []
    for column in drifted[:SHOWN]:
        p = "" if column["p_value"] is None else f", p {column['p_value']:.3g}"
        lines.append(
            f"{column['column']}: {column['method']} {column['statistic']:.4g}{p} "
            f"(threshold {column['threshold']:g})"
        )
    if len(drifted) > SHOWN:
        lines.append(f"... and {len(drifted) - SHOWN} more (see {alert.report})")
    return lines


def slack(alert: Alert) -> dict[str, Any]:
    """A Slack incoming-webhook message: a header, the facts, the drifted columns."""
    title = _title(alert)
    fields = [{"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in _facts(alert)]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "fields": fields[:10]},
    ]
    lines = _column_lines(alert)
    if lines:
        text = "*Drifted columns*\n" + "\n".join(f"• {line}" for line in lines)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}})
    return {"text": title, "blocks": blocks}


def teams(alert: Alert) -> dict[str, Any]:
    """A Teams message with an Adaptive Card: a title, a fact set, the drifted columns."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": _title(alert),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        },
        {"type": "FactSet", "facts": [{"title": n, "value": v} for n, v in _facts(alert)]},
    ]
    lines = _column_lines(alert)
    if lines:
        body.append({"type": "TextBlock", "text": "Drifted columns", "weight": "Bolder"})
        body.extend({"type": "TextBlock", "text": f"- {line}", "wrap": True} for line in lines)
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    attachment = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None,
        "content": card,
    }
    return {"type": "message", "attachments": [attachment]}
