"""``drift.html``: one self-contained page (inline CSS and SVG, no scripts, nothing fetched).

The verdict comes first and states the worst finding (a performance drop, then dataset drift,
prediction drift, quality issues; green only when there is none), then the cards, then a figure
per drifted column and for the prediction — reference and current distributions overlaid —
then the quality issues and every column's test, the most suspicious first. matplotlib draws
on a bare ``Figure`` through the Agg canvas (never pyplot), text stays text and ids are salted
per figure, so the page is reproducible.
"""

from __future__ import annotations

import io
import re
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from matplotlib.axes import Axes

    from conveyor.monitoring.drift import ColumnDrift, DriftReport

MAX_FIGURES = 40
"""Drifted columns drawn at most (the most drifted first); the table lists all of them."""
_REFERENCE = "#9aa5b1"
_CURRENT = "#c0392b"

_STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2933;
       max-width: 66rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.meta { color: #52606d; margin: 0 0 1.2rem; } .meta span { margin-right: 1.2rem; }
code { background: #f0f4f8; padding: 0 .25rem; border-radius: 3px; }
.verdict { padding: .8rem 1rem; border-radius: 6px; color: white; font-size: 1.1rem; }
.verdict.ok { background: #2f7d4f; } .verdict.alert { background: #b23b2e; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0; }
.card { border: 1px solid #e4e7eb; border-radius: 6px; padding: .5rem .9rem; min-width: 11rem; }
.card b { display: block; font-size: 1.25rem; } .card.alert { border-color: #b23b2e; }
.card.alert b { color: #b23b2e; } .card small { color: #52606d; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-variant-numeric: tabular-nums; }
th, td { padding: .25rem .7rem; border-bottom: 1px solid #e4e7eb; text-align: right; }
th:first-child, td:first-child { text-align: left; } thead th { border-bottom: 2px solid #9aa5b1; }
td.null { color: #9aa5b1; } tr.drifted td:first-child { font-weight: 600; color: #b23b2e; }
td.yes { color: #b23b2e; font-weight: 600; } td.no { color: #2f7d4f; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(30rem, 1fr)); gap: 1rem; }
figure { margin: 0; } figure svg { max-width: 100%; height: auto; }
figcaption { color: #52606d; font-size: .85rem; }
"""


def render_html(
    document: Mapping[str, Any], report: DriftReport, performance: Mapping[str, Any] | None
) -> str:
    """The page for one monitoring run.

    Args:
        document: The drift.json document (for its ``inputs``).
        report: The drift report, with the data of the plots.
        performance: ``MonitorResult.performance``, or None when the batch had no labels.

    Returns:
        The HTML text.
    """
    inputs: Mapping[str, Any] = document.get("inputs", {})
    model = inputs.get("model")
    title = f"Drift of {model.split()[0]}" if model else "Drift"
    ranked = sorted(report.columns, key=_severity, reverse=True)
    drifted = [column for column in ranked if column.drifted]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        _meta(inputs, int(document.get("unscored_rows", 0)), report),
        _verdict(report, performance),
        _cards(report, performance),
    ]
    if performance:
        parts += ["<h2>Performance</h2>", _performance_table(performance)]
    figures = []
    if report.prediction is not None:
        figures.append(_figure(report.prediction, "model prediction"))
    figures += [_figure(column, "") for column in drifted[:MAX_FIGURES]]
    if figures:
        heading = "Drifted columns" if drifted else "Prediction"
        if drifted and report.prediction is not None:
            heading = "Prediction and drifted columns"
        parts += [f"<h2>{heading}</h2>", '<div class="figures">', *figures, "</div>"]
        if len(drifted) > MAX_FIGURES:
            parts.append(
                f"<p>{len(drifted) - MAX_FIGURES} more drifted columns: see the table.</p>"
            )
    if report.quality:
        parts += ["<h2>Data quality</h2>", _quality_table(report)]
    parts += [f"<h2>All columns ({len(ranked)})</h2>", _columns_table(ranked)]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _meta(inputs: Mapping[str, Any], unscored: int, report: DriftReport) -> str:
    files: Sequence[str] = inputs.get("current", [])
    shown = ", ".join(f"<code>{escape(f)}</code>" for f in files[:3])
    if len(files) > 3:
        shown += f" and {len(files) - 3} more"
    model = inputs.get("model")
    spans = [
        f"<span>current {shown} ({report.rows:,} rows)</span>",
        f"<span>reference <code>{escape(str(inputs.get('reference', '')))}</code> "
        f"({report.reference_rows:,} rows)</span>",
    ]
    if model:
        spans.append(f"<span>model <code>{escape(model)}</code></span>")
    if unscored:
        reasons = "; ".join(inputs.get("unscored_reasons", [])[:3])
        spans.append(f"<span>{unscored:,} rows not scored: {escape(reasons)}</span>")
    if inputs.get("labels"):
        spans.append(f"<span>labels: {escape(inputs['labels'])}</span>")
    return f'<p class="meta">{"".join(spans)}</p>'


def _verdict(report: DriftReport, performance: Mapping[str, Any] | None) -> str:
    alert, text = headline(report, performance)
    return f'<p class="verdict {"alert" if alert else "ok"}">{escape(text)}</p>'


def headline(report: DriftReport, performance: Mapping[str, Any] | None) -> tuple[bool, str]:
    """The worst finding first, then the others: ``(alert, text)``.

    Worst to mildest: a performance drop (the model is measurably worse), dataset drift,
    prediction drift, data-quality issues. Green only when none of them was found.
    """
    share = (
        f"{len(report.drifted())} of {len(report.columns)} columns drifted "
        f"({report.drifted_share:.0%})"
    )
    findings = []
    if performance and performance["dropped"]:
        findings.append(f"Performance drop: {performance['metric']} {_drop_text(performance)}")
    if report.dataset_drift:
        findings.append(f"Dataset drift: {share}")
    if report.prediction is not None and report.prediction.drifted:
        findings.append("Prediction drift")
    if report.quality:
        plural = "s" if len(report.quality) > 1 else ""
        findings.append(f"{len(report.quality)} data-quality issue{plural}")
    if not findings:
        return False, f"No dataset drift: {share}"
    if not report.dataset_drift:
        findings.append(f"no dataset drift ({share})")
    also = [finding[0].lower() + finding[1:] for finding in findings[1:]]
    return True, findings[0] + ("; also " + "; ".join(also) if also else "")


def _cards(report: DriftReport, performance: Mapping[str, Any] | None) -> str:
    cards = [
        _card("drifted columns", f"{report.drifted_share:.0%}", f"{len(report.drifted())} of "
              f"{len(report.columns)}", alert=report.dataset_drift),
    ]  # fmt: skip
    if report.prediction is not None:
        prediction = report.prediction
        cards.append(
            _card(
                "prediction drift",
                "yes" if prediction.drifted else "no",
                describe_test(prediction),
                alert=prediction.drifted,
            )
        )
    if performance:
        value = performance["value"]
        cards.append(
            _card(
                performance["metric"],
                "—" if value is None else f"{value:.4f}",
                _drop_text(performance),
                alert=bool(performance["dropped"]),
            )
        )
    cards.append(_card("quality issues", str(len(report.quality)), "", alert=bool(report.quality)))
    return f'<div class="cards">{"".join(cards)}</div>'


def _card(label: str, value: str, note: str, *, alert: bool) -> str:
    kind = "card alert" if alert else "card"
    return (
        f'<div class="{kind}"><small>{escape(label)}</small><b>{escape(value)}</b>'
        f"<small>{escape(note)}</small></div>"
    )


def _drop_text(performance: Mapping[str, Any]) -> str:
    if performance["reference"] is None:
        return "no reference value"
    drop = performance["drop"]
    text = f"reference {performance['reference']:.4f}"
    if drop is None:
        return text
    return f"{text}, drop {drop:+.4f} (tolerated {tolerance_text(performance)})"


def tolerance_text(performance: Mapping[str, Any]) -> str:
    """``10% of the reference = 5.35`` (relative) or ``0.05 in the metric's units``."""
    max_drop = performance["max_drop"]
    if not performance.get("relative"):
        return f"{max_drop:g} in the metric's units"
    tolerated = performance.get("tolerated_drop")
    units = "" if tolerated is None else f" = {tolerated:.4g}"
    return f"{max_drop:.4g} of the reference ({max_drop:.0%}){units}"


def _performance_table(performance: Mapping[str, Any]) -> str:
    rows = [
        ["metric", performance["metric"]],
        ["on this batch", performance["value"]],
        ["reference (reports/metrics.json)", performance["reference"]],
        ["drop (worse by)", performance["drop"]],
        ["tolerated drop", tolerance_text(performance)],
        ["performance drop", "yes" if performance["dropped"] else "no"],
        ["labelled rows", performance["rows"]],
        ["labels from", performance["source"]],
    ]
    if performance.get("unknown_classes"):
        rows.append(["classes the model never saw", ", ".join(performance["unknown_classes"])])
    return _table(["", "value"], rows)


def _quality_table(report: DriftReport) -> str:
    rows = [
        [issue.column, issue.check.replace("_", " "), issue.observed, issue.threshold, issue.detail]
        for issue in report.quality
    ]
    return _table(["column", "check", "observed", "limit", "detail"], rows)


def describe_test(column: ColumnDrift) -> str:
    """``ks 0.4750, p 1.89e-22 (drift when p <= 0.05)``, or ``psi 0.31 (drift when >= 0.25)``."""
    text = f"{column.method} {_number(column.statistic)}"
    if column.p_value is not None:
        text += f", p {_number(column.p_value)}"
    return f"{text} (drift when {_rule(column)})"


def _rule(column: ColumnDrift) -> str:
    threshold = f"{column.threshold:g}"
    if column.p_value is None:
        return f">= {threshold}"
    return f"p <= {threshold}" if column.method == "ks" else f"p < {threshold}"


def _columns_table(ranked: Sequence[ColumnDrift]) -> str:
    head = ["column", "kind", "method", "statistic", "p-value", "drift when", "PSI", "drifted"]
    body = []
    for column in ranked:
        cells = [
            _cell(column.name, first=True),
            _cell(column.kind),
            _cell(column.method),
            _cell(column.statistic),
            _cell(column.p_value),
            _cell(_rule(column)),
            _cell(column.psi),
            f'<td class="{"yes" if column.drifted else "no"}">'
            f"{'yes' if column.drifted else 'no'}</td>",
        ]
        kind = ' class="drifted"' if column.drifted else ""
        body.append(f"<tr{kind}>{''.join(cells)}</tr>")
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    header = "".join(f"<th>{escape(str(h))}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(_cell(v, first=i == 0) for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any, *, first: bool = False) -> str:  # noqa: ANN401 - a label, count or number
    if first:
        return f"<td>{escape(str(value))}</td>"
    if value is None:
        return '<td class="null">—</td>'
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, int):
        return f"<td>{value:,}</td>"
    if isinstance(value, float):
        return f"<td>{_number(value)}</td>"
    return f"<td>{escape(str(value))}</td>"


def _number(value: float) -> str:
    return f"{value:.4f}" if 1e-3 <= abs(value) < 1e4 or value == 0 else f"{value:.3g}"


def _severity(column: ColumnDrift) -> tuple[bool, float]:
    """Drifted first, then by how far past (or short of) the threshold the column is."""
    if column.p_value is not None:  # hypothesis tests: the smaller p, the stronger the evidence
        ratio = column.threshold / max(column.p_value, 1e-300)
    else:
        ratio = column.statistic / column.threshold if column.threshold else column.statistic
    return column.drifted, ratio


def _figure(column: ColumnDrift, label: str) -> str:
    name = label or column.name
    verdict = "drifted" if column.drifted else "not drifted"
    caption = (
        f"<code>{escape(name)}</code>: {escape(describe_test(column))}, "
        f"PSI {_number(column.psi)}: {verdict}"
    )
    return f"<figure>{svg_distribution(column, name)}<figcaption>{caption}</figcaption></figure>"


def svg_distribution(column: ColumnDrift, title: str) -> str:
    """Reference and current distributions of one column as an inline ``<svg>``."""
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    categories = [str(c) for c in column.plot.get("categories", [])]
    rotated = len(categories) > 6 or max(map(len, categories), default=0) > 8
    with mpl.rc_context({"svg.hashsalt": f"conveyor-drift-{title}", "svg.fonttype": "none"}):
        figure = Figure(figsize=(5.6, 3.0))
        # Fixed margins: a constrained layout would double the cost of each figure.
        figure.subplots_adjust(left=0.12, right=0.98, top=0.9, bottom=0.3 if rotated else 0.12)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        if "edges" in column.plot:
            _numeric(axes, column.plot)
        else:
            _categorical(axes, categories, column.plot, rotated=rotated)
        axes.set_title(title, fontsize=10, loc="left")
        axes.set_ylabel("share of rows", fontsize=9)
        axes.tick_params(labelsize=8)
        axes.grid(visible=True, axis="y", color="#e4e7eb", linewidth=0.6)
        axes.set_axisbelow(True)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        axes.legend(fontsize=8, frameon=False)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    # Inline SVG needs no XML prolog, and the RDF metadata block only names namespaces.
    return re.sub(r"<metadata>.*?</metadata>\s*", "", text[text.index("<svg") :], flags=re.S)


def _numeric(axes: Axes, plot: Mapping[str, Sequence[float]]) -> None:
    edges, reference, current = plot["edges"], plot["reference"], plot["current"]
    axes.stairs(reference, edges, fill=True, color=_REFERENCE, alpha=0.55, label="reference")
    axes.stairs(current, edges, color=_CURRENT, linewidth=1.8, label="current")


def _categorical(
    axes: Axes, categories: list[str], plot: Mapping[str, Sequence[Any]], *, rotated: bool
) -> None:
    import numpy as np

    positions = np.arange(len(categories))
    width = 0.4
    axes.bar(positions - width / 2, plot["reference"], width, color=_REFERENCE, label="reference")
    axes.bar(positions + width / 2, plot["current"], width, color=_CURRENT, label="current")
    if rotated:
        axes.set_xticks(positions, categories, rotation=45, ha="right")
    else:
        axes.set_xticks(positions, categories)
