"""Sweeps as tracked DVC experiments: expand, queue, run in parallel, rank."""
