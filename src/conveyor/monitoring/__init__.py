"""Monitoring: reference profiles, drift and data-quality statistics, reports.

Everything here is loaded on first use (numpy, scipy and pyarrow stay out of ``conveyor
--help``). Sits below ``runtime`` so the ``profile`` and ``monitor`` stages can call it; it runs
no git and knows no registry: acting on what it finds is :mod:`conveyor.ct`'s job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor._lazy import lazy_getattr

if TYPE_CHECKING:
    from conveyor.monitoring._compare import compare
    from conveyor.monitoring._grid import COUNT_ROWS, COUNT_ROWS_VARIABLE
    from conveyor.monitoring.drift import (
        ColumnDrift,
        ColumnTest,
        DriftOptions,
        DriftReport,
        QualityIssue,
    )
    from conveyor.monitoring.monitor import (
        MonitorResult,
        batch_files,
        model_predictor,
        profile_data,
        run_monitor,
    )
    from conveyor.monitoring.profile import PROFILE_VERSION, Profile, build_profile
    from conveyor.monitoring.request import MonitorRequest, drift_options

# name -> submodule of conveyor.monitoring that defines it
_HOMES = {
    "COUNT_ROWS": "_grid",
    "COUNT_ROWS_VARIABLE": "_grid",
    "PROFILE_VERSION": "profile",
    "ColumnDrift": "drift",
    "ColumnTest": "drift",
    "DriftOptions": "drift",
    "DriftReport": "drift",
    "MonitorRequest": "request",
    "MonitorResult": "monitor",
    "Profile": "profile",
    "QualityIssue": "drift",
    "batch_files": "monitor",
    "build_profile": "profile",
    "compare": "_compare",
    "drift_options": "request",
    "model_predictor": "monitor",
    "profile_data": "monitor",
    "run_monitor": "monitor",
}


__getattr__ = lazy_getattr("conveyor.monitoring", _HOMES)


__all__ = [
    "COUNT_ROWS",
    "COUNT_ROWS_VARIABLE",
    "PROFILE_VERSION",
    "ColumnDrift",
    "ColumnTest",
    "DriftOptions",
    "DriftReport",
    "MonitorRequest",
    "MonitorResult",
    "Profile",
    "QualityIssue",
    "batch_files",
    "build_profile",
    "compare",
    "drift_options",
    "model_predictor",
    "profile_data",
    "run_monitor",
]
