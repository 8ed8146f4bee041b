"""Progress while a sweep runs: a live line on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor.experiments.plan import SweepState


class Progress:
    """Shows done/running/failed/queued counts and the best primary metric so far."""

    def __init__(self, *, live: bool | None = None) -> None:
        self.live_enabled = sys.stderr.isatty() if live is None else live
        self._live: Any = None
        self._last = ""

    def __enter__(self) -> Progress:
        if self.live_enabled:
            from rich.console import Console
            from rich.live import Live

            self._live = Live("", console=Console(stderr=True), refresh_per_second=4)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def note(self, text: str) -> None:
        """A one-off message (queueing, a failed trial's error)."""
        if self._live is not None:
            self._live.console.print(text, markup=False, highlight=False)
        else:
            sys.stderr.write(f"{text}\n")
            sys.stderr.flush()

    def update(self, state: SweepState, best: tuple[str, float] | None) -> None:
        """Show the current counts; plain output prints a line only when they change."""
        counts = state.counts()
        total = state.budget or len(state.trials)
        line = (
            f"[{state.prefix}] {counts['success'] + counts['failed']}/{total} done: "
            f"{counts['success']} ok, {counts['failed']} failed, {counts['running']} running, "
            f"{counts['queued']} queued"
        )
        if best is not None:
            line += f"; best {state.primary}={best[1]:.4f} ({best[0]})"
        if self._live is not None:
            from rich.text import Text

            self._live.update(Text(line))
        elif line != self._last:
            sys.stderr.write(f"{line}\n")
            sys.stderr.flush()
        self._last = line
