"""What ``evaluate`` writes besides the overall metrics: slices, DVC plots, the HTML report.

- :mod:`.slices`: every metric per value (or quantile bin) of chosen test-split columns.
- :mod:`.plots`: the DVC plot files under ``reports/plots/`` and their dvc.yaml props.
- :mod:`.importance`: feature importance of the fitted pipeline, by name.
- :mod:`.report`: ``reports/evaluation.html``, self-contained, with :mod:`.figures` as SVG.

Heavy libraries (numpy, pandas, scikit-learn, matplotlib) are imported inside functions, so
the compiler can read the plot declarations without them.
"""

from __future__ import annotations

from conveyor.runtime.evaluation.plots import (
    PLOT_DEFS,
    PLOTS_DIR,
    PlotDef,
    Predictions,
    plot_declarations,
    plot_records,
    write_plot,
)
from conveyor.runtime.evaluation.report import REPORT_FILE, ReportHeader, render_report
from conveyor.runtime.evaluation.slices import finite_or_none, slice_labels, slice_metrics

__all__ = [
    "PLOTS_DIR",
    "PLOT_DEFS",
    "REPORT_FILE",
    "PlotDef",
    "Predictions",
    "ReportHeader",
    "finite_or_none",
    "plot_declarations",
    "plot_records",
    "render_report",
    "slice_labels",
    "slice_metrics",
    "write_plot",
]
