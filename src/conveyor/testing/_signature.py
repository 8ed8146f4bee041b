"""Re-exported for plugin authors: the arguments an estimator class really takes."""

from __future__ import annotations

from conveyor.plugins.target import estimator_params

__all__ = ["estimator_params"]
