"""Text transforms: numbers that describe free text, so models can use it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from conveyor.components.transforms._params import TransformParams
from conveyor.plugins.base import Transform


class TextStatsParams(TransformParams):
    """Which counts to make per text column, and whether to keep the raw text."""

    stats: list[Literal["length", "words", "digits", "uppercase"]] = Field(
        default=["length", "words"], min_length=1
    )
    """``length`` in characters, ``words`` (runs of non-space), ``digits``, ``uppercase``."""
    keep: bool = False


class TextStats(Transform[TextStatsParams]):
    """``kind: text_stats`` — ``<column>_<stat>`` float columns; missing text gives NaN."""

    Params = TextStatsParams
    trusted_types = frozenset({"conveyor.components.transformers.text.TextStats"})

    def build(self) -> Any:  # noqa: ANN401 - a scikit-learn transformer
        """A ``TextStats`` transformer."""
        from conveyor.components.transformers.text import TextStats as Transformer

        return Transformer(stats=tuple(self.params.stats), keep=self.params.keep)
