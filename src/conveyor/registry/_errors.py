"""The registry's error class, from the one tree in :mod:`conveyor.errors`."""

from __future__ import annotations

from conveyor.errors import RegistryError

__all__ = ["RegistryError"]
