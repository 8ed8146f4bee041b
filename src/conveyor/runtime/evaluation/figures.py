"""The report's figures: the same records as the DVC plot files, drawn as inline SVG.

matplotlib renders through its Agg canvas on a bare ``Figure`` (never pyplot, so no GUI
backend and no global figure state). Text stays text (``svg.fonttype: none``) and ids are
salted per plot, so several figures can share one HTML page and the output is reproducible.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, Any

from conveyor.runtime.evaluation.plots import PLOT_DEFS

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from matplotlib.axes import Axes

    from conveyor.spec import Task
    from conveyor.spec.evaluate import Plot

Records = list[dict[str, Any]]
_ACCENT = "#3b6ea5"
_MUTED = "#9aa5b1"


def svg_figure(name: Plot, records: Records, *, task: Task, classes: Sequence[str] | None) -> str:
    """Plot ``name`` as an ``<svg>`` element (no XML prolog), titled as in dvc.yaml."""
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    plot = PLOT_DEFS[name]
    props = plot.props(task)
    draw: Callable[[Axes, Records], None] = {
        "roc": _roc,
        "precision_recall": _line,
        "confusion_matrix": lambda ax, rows: _confusion(ax, rows, classes or []),
        "calibration": _calibration,
        "predicted_vs_actual": _predicted_vs_actual,
        "residuals": _residuals,
        "feature_importance": _importance,
    }[name]
    height = 4.2 if name != "feature_importance" else max(2.5, 0.6 + 0.26 * len(records))
    with mpl.rc_context({"svg.hashsalt": f"conveyor-{name}", "svg.fonttype": "none"}):
        figure = Figure(figsize=(6.4, height), layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        if records:
            draw(axes, records)
        else:
            axes.text(0.5, 0.5, "no data", ha="center", va="center", color=_MUTED)
        if name != "confusion_matrix":
            axes.set_xlabel(props["x_label"])
            axes.set_ylabel(props["y_label"])
            axes.grid(visible=True, color="#e4e7eb", linewidth=0.6)
            axes.set_axisbelow(True)
        axes.set_title(props["title"], fontsize=11, loc="left")
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    # Inline SVG needs no XML prolog, and the RDF metadata block only names namespaces.
    return re.sub(r"<metadata>.*?</metadata>\s*", "", text[text.index("<svg") :], flags=re.S)


def _xy(records: Records, x: str, y: str) -> tuple[list[float], list[float]]:
    return [r[x] for r in records], [r[y] for r in records]


def _diagonal(axes: Axes) -> None:
    axes.plot([0, 1], [0, 1], linestyle="--", color=_MUTED, linewidth=1)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)


def _roc(axes: Axes, records: Records) -> None:
    _diagonal(axes)
    axes.plot(*_xy(records, "fpr", "tpr"), color=_ACCENT, linewidth=2)


def _line(axes: Axes, records: Records) -> None:
    axes.plot(*_xy(records, "recall", "precision"), color=_ACCENT, linewidth=2)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)


def _calibration(axes: Axes, records: Records) -> None:
    _diagonal(axes)
    axes.plot(
        *_xy(records, "mean_predicted", "observed_frequency"),
        color=_ACCENT,
        linewidth=2,
        marker="o",
        markersize=4,
    )


def _predicted_vs_actual(axes: Axes, records: Records) -> None:
    """The points, and the line a perfect model would put them on."""
    actual, predicted = _xy(records, "actual", "predicted")
    low, high = min(*actual, *predicted), max(*actual, *predicted)
    axes.plot([low, high], [low, high], linestyle="--", color=_MUTED, linewidth=1)
    axes.scatter(actual, predicted, s=8, alpha=0.5, color=_ACCENT)


def _residuals(axes: Axes, records: Records) -> None:
    axes.axhline(0, color=_MUTED, linestyle="--", linewidth=1)
    axes.scatter(*_xy(records, "predicted", "residual"), s=8, alpha=0.5, color=_ACCENT)


def _importance(axes: Axes, records: Records) -> None:
    ordered = records[::-1]  # barh draws bottom-up; the most important goes on top
    axes.barh([r["feature"] for r in ordered], [r["importance"] for r in ordered], color=_ACCENT)
    axes.tick_params(axis="y", labelsize=8)


def _confusion(axes: Axes, records: Records, classes: Sequence[str]) -> None:
    import numpy as np

    names = list(classes) or sorted(
        {r["actual"] for r in records} | {r["predicted"] for r in records}
    )
    index = {name: i for i, name in enumerate(names)}
    counts = np.zeros((len(names), len(names)), dtype=int)
    for record in records:
        counts[index[record["actual"]], index[record["predicted"]]] += 1
    axes.imshow(counts, cmap="Blues")
    ticks = range(len(names))
    axes.set_xticks(ticks, names, rotation=45 if len(names) > 4 else 0)
    axes.set_yticks(ticks, names)
    axes.set_xlabel(PLOT_DEFS["confusion_matrix"].x_label)
    axes.set_ylabel(PLOT_DEFS["confusion_matrix"].y_label)
    threshold = counts.max() / 2 if counts.size else 0
    for (row, column), count in np.ndenumerate(counts):
        color = "white" if count > threshold else "#1f2933"
        axes.text(column, row, str(count), ha="center", va="center", color=color, fontsize=9)
