"""``synthetic_table``'s rows a block at a time, with the values of ``read``'s whole-table draws.

``read`` draws each kind of value for the whole table at once, column after column, from one
generator: the numeric columns (``rows`` normals each), the category codes (one call for all
categorical columns), the target's weights and the categories' effects, the target's uniform
draws, each numeric column's scale and offset, then the nulls' uniform draws (numeric
columns, then categorical ones). numpy fills an array one value after another, so a column's
values drawn a block of rows at a time are the values of the one call, provided each block
continues from where the last stopped. A first pass therefore moves through the stream once,
drawing and dropping a block at a time, and keeps a copy of the generator where each column's
values start; the second draws every block from those copies.

The category codes are the exception: numpy draws small integers (``int8``, ``int16``) from a
32-bit word at a time, cut into bytes or halves that it keeps only until the call ends (Lemire's
method, rejecting the few that would bias the draw). :class:`_Codes` draws the same words (a
``uint32`` draw is one word each) and cuts them the same way, keeping the unused bytes between
blocks; the first block of a table checks it against numpy's own draw before anything is
written, and a numpy that draws otherwise makes the source read whole (ingest says why).
"""

from __future__ import annotations

import copy
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import numpy as np
    import pandas as pd

BLOCK = 2**16
"""Rows drawn at a time (a multiple of 64, so that a BLAS kernel's blocks of rows line up)."""


class _Codes:
    """``rng.integers(0, categories, n, dtype)`` (int8 or int16) drawn ``take`` by ``take``."""

    def __init__(self, rng: np.random.Generator, categories: int, dtype: Any) -> None:  # noqa: ANN401
        import numpy as np

        self.rng, self.dtype = rng, np.dtype(dtype)
        self.unit = np.uint8 if self.dtype.itemsize == 1 else np.uint16
        self.bits = 8 * self.dtype.itemsize
        self.excl = categories  # numpy's rng + 1
        self.threshold = ((1 << self.bits) - 1 - (categories - 1)) % categories
        self.pending = np.empty(0, dtype=self.unit)

    def take(self, count: int) -> np.ndarray:
        """The next ``count`` codes, as numpy's single call would continue."""
        import numpy as np

        parts: list[np.ndarray] = []
        got = 0
        per_word = 4 // self.dtype.itemsize
        while True:
            scaled = self.pending.astype(np.uint32) * self.excl
            kept = np.flatnonzero((scaled & ((1 << self.bits) - 1)) >= self.threshold)
            if got + len(kept) >= count:
                wanted = kept[: count - got]
                parts.append(scaled[wanted] >> self.bits)
                self.pending = self.pending[wanted[-1] + 1 :] if len(wanted) else self.pending
                return np.concatenate(parts).astype(self.dtype) if parts else np.empty(0)
            parts.append(scaled[kept] >> self.bits)
            got += len(kept)
            words = -(-(count - got) // per_word)  # never more words than numpy would draw
            drawn = self.rng.integers(0, 2**32, words, dtype=np.uint32)
            self.pending = drawn.view(self.unit)


def code_type(categories: int) -> Any:  # noqa: ANN401 - a numpy dtype
    """The dtype of the category codes: ``int8`` up to 127 categories, else ``int16``."""
    import numpy as np

    return np.int8 if categories <= 127 else np.int16


def table_frames(
    p: Any,  # noqa: ANN401 - SyntheticTableParams (synthetic.py imports this module)
    rows: int,
    build: Callable[[np.ndarray, np.ndarray, np.ndarray], pd.DataFrame],
) -> Iterator[pd.DataFrame] | str:
    """The table in frames of ``rows`` rows, each ``build(numeric, codes, target)``; or why not.

    ``build`` makes ``read``'s frame of some rows from their (columns, rows) numeric values,
    codes and target.
    """
    from conveyor.components._frames import rechunked

    if p.categorical and not _codes_match(p.seed, p.categories):
        return "this numpy draws small integers otherwise than conveyor follows"
    stream = _Stream(p)
    blocks = (build(*stream.block(min(BLOCK, p.rows - start))) for start in range(0, p.rows, BLOCK))
    return rechunked(blocks, rows)


class _Stream:
    """Copies of the generator where each column's draws start (the first pass), then blocks."""

    def __init__(self, p: Any) -> None:  # noqa: ANN401 - SyntheticTableParams
        import numpy as np

        self.p = p
        rng = np.random.default_rng(p.seed)
        self.numeric = [self._skipped(rng, rng.standard_normal) for _ in range(p.numeric)]
        codes = _Codes(rng, p.categories, code_type(p.categories))
        self.codes = [self._skipped(codes, codes.take) for _ in range(p.categorical)]
        self.weights = rng.normal(0, 1, min(5, p.numeric))
        self.effects = rng.normal(0, 1, p.categories) if p.categorical else None
        self.target = self._skipped(rng, rng.random)
        self.scale = rng.lognormal(0, 1, (p.numeric, 1))
        self.offset = rng.normal(0, 10, (p.numeric, 1))
        self.nulls: list[np.random.Generator] = []
        if p.null_fraction:
            columns = p.numeric + p.categorical
            self.nulls = [self._skipped(rng, rng.random) for _ in range(columns)]

    def _skipped(self, source: Any, draw: Callable[[int], Any]) -> Any:  # noqa: ANN401
        """A copy of ``source`` where it stands, then ``source`` moved past one column."""
        start = copy.deepcopy(source)
        for first in range(0, self.p.rows, BLOCK):
            draw(min(BLOCK, self.p.rows - first))
        return start

    def block(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The next ``n`` rows: numeric values, codes (columns, rows), target; as ``read``."""
        import numpy as np

        p = self.p
        numeric = np.empty((p.numeric, n))
        for column, rng in zip(numeric, self.numeric, strict=True):
            column[:] = rng.standard_normal(n)
        codes = np.empty((p.categorical, n), dtype=code_type(p.categories))
        for column, stream in zip(codes, self.codes, strict=True):
            column[:] = stream.take(n)
        logit = self.weights @ numeric[:5] - 1.0
        if self.effects is not None:
            logit += self.effects[codes[0]]
        target = (self.target.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
        numeric *= self.scale
        numeric += self.offset
        if self.nulls:
            for column, rng in zip(numeric, self.nulls[: p.numeric], strict=True):
                column[rng.random(n) < p.null_fraction] = np.nan
            for codes_of, rng in zip(codes, self.nulls[p.numeric :], strict=True):
                codes_of[rng.random(n) < p.null_fraction] = -1
        return numeric, codes, target


def _codes_match(seed: int, categories: int) -> bool:
    """Whether :class:`_Codes` draws what numpy does here, in pieces of awkward sizes."""
    import numpy as np

    if sys.byteorder != "little":
        return False
    dtype = code_type(categories)
    expected = np.random.default_rng([seed, 7]).integers(0, categories, 5_003, dtype=dtype)
    ours = _Codes(np.random.default_rng([seed, 7]), categories, dtype)
    got = np.concatenate([ours.take(n) for n in (1, 2, 997, 3, 4_000)])
    return bool(np.array_equal(got, expected))
