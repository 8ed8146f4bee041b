"""The base of every built-in transform's ``Params``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class TransformParams(BaseModel):
    """Strict (a typo fails ``conveyor compile``), immutable, built on first use."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
