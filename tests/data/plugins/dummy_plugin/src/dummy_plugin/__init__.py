"""A dummy conveyor plugin: ``dummy.nearest_centroid`` (model) and ``dummy.blobs`` (source)."""

from __future__ import annotations

__version__ = "0.1.0"
