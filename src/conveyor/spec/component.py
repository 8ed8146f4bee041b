"""A plugin component reference: ``kind:`` picks it by registry name, ``params:`` configures it."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from conveyor.spec._base import StrictModel


class ComponentSpec(StrictModel):
    """``{kind: <registry name>, params: {...}}``; the params are checked against the component."""

    kind: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
