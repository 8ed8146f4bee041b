"""The scikit-learn transformers behind conveyor's built-in transforms.

Unlike the rest of conveyor, these modules import scikit-learn and pandas at the top: their
classes subclass ``BaseEstimator``, and skops rebuilds them from their module path when a
bundle loads (``conveyor.components.`` is on the bundle trust list), so the paths are stable.
Only ``Transform.build()`` and the runtime import them, never ``conveyor compile``.
"""
