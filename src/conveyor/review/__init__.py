"""What a change does to the pipeline: ``diff``, ``status`` (why a stage is stale) and ``dag``.

Above the compiler, which it uses to compile each side; below the CLI. Why a stage reruns is
modelled once, in :mod:`conveyor.review.rerun`. Nothing is imported here, so ``conveyor
--help`` stays fast: import :mod:`conveyor.review.diff`, :mod:`~conveyor.review.status` or
:mod:`~conveyor.review.dag`.
"""
