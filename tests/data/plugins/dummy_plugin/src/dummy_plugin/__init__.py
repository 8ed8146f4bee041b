"""A dummy conveyor plugin: ``dummy.nearest_centroid`` (model), ``dummy.blobs`` (source) and
``dummy.total_variation`` (drift test)."""

from __future__ import annotations

__version__ = "0.1.0"
