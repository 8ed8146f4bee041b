"""Monitoring: reference profiles, drift and data-quality checks, reports, continuous training.

Everything here is loaded on first use (numpy, scipy and pyarrow stay out of ``conveyor
--help``). Sits below ``runtime`` so the ``profile`` and ``monitor`` stages can call it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:  # noqa: ANN401 - whatever the submodule defines
    if name not in _HOMES:
        msg = f"module 'conveyor.monitoring' has no attribute '{name}'"
        raise AttributeError(msg)
    return getattr(importlib.import_module(f"conveyor.monitoring.{_HOMES[name]}"), name)


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
