"""Monitoring: reference profiles, drift and data-quality checks, reports, continuous training.

Everything here is loaded on first use (numpy, scipy and pyarrow stay out of ``conveyor
--help``). Sits below ``runtime`` so the ``profile`` and ``monitor`` stages can call it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor._lazy import lazy_getattr

if TYPE_CHECKING:
    from conveyor.monitoring.drift import (
        ColumnDrift,
        ColumnTest,
        DriftOptions,
        DriftReport,
        QualityIssue,
        compare,
    )
    from conveyor.monitoring.monitor import (
        MonitorResult,
        drift_options,
        model_predictor,
        profile_data,
        run_monitor,
    )
    from conveyor.monitoring.profile import PROFILE_VERSION, Profile, build_profile

# name -> submodule of conveyor.monitoring that defines it
_HOMES = {
    "PROFILE_VERSION": "profile",
    "ColumnDrift": "drift",
    "ColumnTest": "drift",
    "DriftOptions": "drift",
    "DriftReport": "drift",
    "MonitorResult": "monitor",
    "Profile": "profile",
    "QualityIssue": "drift",
    "build_profile": "profile",
    "compare": "drift",
    "drift_options": "monitor",
    "model_predictor": "monitor",
    "profile_data": "monitor",
    "run_monitor": "monitor",
}


__getattr__ = lazy_getattr("conveyor.monitoring", _HOMES)


__all__ = [
    "PROFILE_VERSION",
    "ColumnDrift",
    "ColumnTest",
    "DriftOptions",
    "DriftReport",
    "MonitorResult",
    "Profile",
    "QualityIssue",
    "build_profile",
    "compare",
    "drift_options",
    "model_predictor",
    "profile_data",
    "run_monitor",
]
