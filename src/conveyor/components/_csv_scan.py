"""Find where a CSV's unclosed quote opens, as a line of the file a user can go to.

pandas reports a quote that is never closed as "EOF inside string starting at row N", where N
counts records from the header, not lines: a quoted field that spans lines, earlier in the
file, makes N point at the wrong line. This scan follows the same quoting rules as pandas'
C parser (a quote opens a field only at the field's start; ``""`` inside it is one quote; text
after a closing quote joins the field; a quote inside an unquoted field is literal) and says
on which line the last quote that never closes opens. It runs only on the error path, a line
at a time with ``str.find``, so a large file is streamed, not loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

QUOTE = '"'


def unclosed_quote_line(path: Path, *, sep: str = ",", encoding: str = "utf-8") -> int | None:
    """The 1-based line on which a quoted field opens and is never closed; None if none is."""
    opened: int | None = None  # the line of the quote whose field is still open
    with path.open(encoding=encoding, newline="") as stream:
        for number, line in enumerate(stream, start=1):
            at = 0  # a line that starts outside a quote starts a field
            while at <= len(line):
                if opened is None:
                    if line.startswith(QUOTE, at):
                        opened, at = number, at + 1
                        continue
                    at = _next_field(line, at, sep)
                    if at < 0:
                        break
                    continue
                close = line.find(QUOTE, at)
                if close < 0:
                    break  # the field goes on to the next line
                if line.startswith(QUOTE, close + 1):
                    at = close + 2  # "" is a quote inside the field
                    continue
                opened = None
                at = _next_field(line, close + 1, sep)
                if at < 0:
                    break
    return opened


def _next_field(line: str, at: int, sep: str) -> int:
    """Where the field after the one running from ``at`` starts; -1 when the line ends first."""
    found = line.find(sep, at)
    return found + len(sep) if found >= 0 else -1
