"""``reports/evaluation.html``: one self-contained page (inline CSS and SVG, no scripts).

It opens offline, from a CI artifact or an e-mail: nothing is fetched from anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

from conveyor.runtime import layout
from conveyor.runtime.evaluation.figures import svg_figure

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from conveyor.spec import Task
    from conveyor.spec.evaluate import Plot

REPORT_FILE = f"{layout.REPORTS_DIR}/evaluation.html"

_STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2933;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
h3 { font-size: 1rem; margin-bottom: .3rem; }
.meta { color: #52606d; margin: 0 0 1.5rem; } .meta span { margin-right: 1.2rem; }
code { background: #f0f4f8; padding: 0 .25rem; border-radius: 3px; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-variant-numeric: tabular-nums; }
th, td { padding: .25rem .7rem; border-bottom: 1px solid #e4e7eb; text-align: right; }
th:first-child, td:first-child { text-align: left; } thead th { border-bottom: 2px solid #9aa5b1; }
td.null { color: #9aa5b1; }
figure { margin: 1rem 0 2rem; } figure svg { max-width: 100%; height: auto; }
"""


@dataclass(frozen=True)
class ReportHeader:
    """What the page is about: the bundle and the data it was scored on."""

    project: str
    model: str
    task: str
    data: str
    rows: int
    inputs: Mapping[str, str]
    """md5 of each input as dvc.lock will record it: the page names no commit, since it is
    written before the commit that stores it exists."""
    primary: str | None = None
    """The metric that ranks models (``evaluate.primary``), marked in the table."""


def render_report(
    header: ReportHeader,
    metrics: Mapping[str, Any],
    plots: Mapping[Plot, list[dict[str, Any]]],
    *,
    task: Task,
    classes: Sequence[str] | None,
) -> str:
    """The HTML page: header, overall and per-slice metrics, then one figure per plot."""
    overall = {name: value for name, value in metrics.items() if name != "slices"}
    slices: Mapping[str, Mapping[str, Mapping[str, Any]]] = metrics.get("slices", {})
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Evaluation: {escape(header.project)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Evaluation of {escape(header.project)}</h1>",
        '<p class="meta">'
        f"<span>model <code>{escape(header.model)}</code></span>"
        f"<span>task {escape(header.task.replace('_', ' '))}</span>"
        f"<span>data <code>{escape(header.data)}</code></span>"
        f"<span>test rows {header.rows:,}</span></p>",
        '<p class="meta">inputs (md5, as in dvc.lock) '
        + "".join(
            f"<span><code>{escape(path)}</code> <code>{escape(md5[:12])}</code></span>"
            for path, md5 in header.inputs.items()
        )
        + "</p>",
        "<h2>Metrics</h2>",
        _table(
            ["metric", "value"],
            [
                [f"{name} (primary)" if name == header.primary else name, value]
                for name, value in overall.items()
            ],
        ),
    ]
    if slices:
        parts.append("<h2>Metrics per slice</h2>")
        for column, values in slices.items():
            names = list(next(iter(values.values()), {}))
            rows = [[label, *(row.get(n) for n in names)] for label, row in values.items()]
            parts += [f"<h3><code>{escape(column)}</code></h3>", _table([column, *names], rows)]
    if plots:
        parts.append("<h2>Plots</h2>")
        for name, records in plots.items():
            svg = svg_figure(name, records, task=task, classes=classes)
            parts.append(f'<figure id="{escape(name)}">{svg}</figure>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    header = "".join(f"<th>{escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(_cell(v, first=i == 0) for i, v in enumerate(row)) + "</tr>"
                   for row in rows)  # fmt: skip
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any, *, first: bool) -> str:  # noqa: ANN401 - a label, count, metric or None
    if first:
        return f"<td>{escape(str(value))}</td>"
    if value is None:
        return '<td class="null">—</td>'
    if isinstance(value, int):
        return f"<td>{value:,}</td>"
    if isinstance(value, float):
        return f"<td>{value:.4f}</td>"
    return f"<td>{escape(str(value))}</td>"
