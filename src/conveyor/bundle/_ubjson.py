"""A bounded reader of Universal Binary JSON, the format xgboost serialises a Booster in.

It exists so a Booster's bytes can be checked before xgboost's C++ parses them
(:mod:`conveyor.bundle._booster`). It reads what the UBJSON spec allows (optimised
containers included), refuses anything malformed with ``ValueError``, never reads past the
buffer, and limits nesting. Typed numeric arrays come back as numpy arrays.
"""

from __future__ import annotations

import struct
from typing import Any

_MAX_DEPTH = 64
_INTS = {"i": ">i1", "U": ">u1", "I": ">i2", "l": ">i4", "L": ">i8"}
_FLOATS = {"d": ">f4", "D": ">f8"}
_NUMBERS = {**_INTS, **_FLOATS}  # numpy dtypes of typed arrays
_CONSTANTS: dict[str, Any] = {"Z": None, "T": True, "F": False}


def loads(data: bytes) -> Any:  # noqa: ANN401 - any JSON value
    """The value ``data`` holds; ``ValueError`` when it is not exactly one UBJSON value."""
    reader = _Reader(bytes(data))
    value = reader.value(reader.marker(), 0)
    if reader.at != len(reader.data):
        msg = f"{len(reader.data) - reader.at} bytes after the value"
        raise ValueError(msg)
    return value


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, size: int) -> bytes:
        at = self.at
        if size < 0 or at + size > len(self.data):
            msg = f"truncated at byte {at} (wanted {size} bytes)"
            raise ValueError(msg)
        self.at = at + size
        return self.data[at : at + size]

    def peek(self) -> str:
        return chr(self.data[self.at]) if self.at < len(self.data) else ""

    def marker(self) -> str:
        data, at = self.data, self.at
        while at < len(data) and data[at] == _NOOP:
            at += 1
        if at >= len(data):
            msg = f"truncated at byte {at} (wanted a marker)"
            raise ValueError(msg)
        self.at = at + 1
        return chr(data[at])

    def number(self, marker: str) -> Any:  # noqa: ANN401 - int or float
        code = _STRUCT[marker]
        return code.unpack(self.take(code.size))[0]

    def length(self) -> int:
        marker = self.marker()
        if marker not in _INTS:
            msg = f"a length must be an integer, got '{marker}' at byte {self.at}"
            raise ValueError(msg)
        size = int(self.number(marker))
        if size < 0 or size > len(self.data) - self.at:
            msg = f"length {size} at byte {self.at} runs past the end"
            raise ValueError(msg)
        return size

    def text(self) -> str:
        return self.take(self.length()).decode("utf-8")

    def value(self, marker: str, depth: int) -> Any:  # noqa: ANN401
        if depth > _MAX_DEPTH:
            msg = f"nested deeper than {_MAX_DEPTH}"
            raise ValueError(msg)
        if marker in _CONSTANTS:
            return _CONSTANTS[marker]
        if marker in _STRUCT:
            return self.number(marker)
        if marker in ("S", "H"):
            return self.text()
        if marker == "C":
            return chr(self.take(1)[0])
        if marker == "[":
            return self.array(depth)
        if marker == "{":
            return self.object(depth)
        msg = f"unknown marker '{marker}' at byte {self.at - 1}"
        raise ValueError(msg)

    def header(self) -> tuple[str | None, int | None]:
        """An optimised container's ``$type`` and ``#count`` (either may be absent)."""
        kind = count = None
        if self.peek() == "$":
            self.at += 1
            kind = self.marker()
        if self.peek() == "#":
            self.at += 1
            count = self.length()
        elif kind is not None:
            msg = f"a typed container without a count at byte {self.at}"
            raise ValueError(msg)
        return kind, count

    def array(self, depth: int) -> Any:  # noqa: ANN401 - a list or a numpy array
        kind, count = self.header()
        if count is not None and kind in _NUMBERS:
            import numpy as np

            dtype = np.dtype(_NUMBERS[kind])
            return np.frombuffer(self.take(count * dtype.itemsize), dtype=dtype)
        items = []
        if count is not None:
            for _ in range(count):
                items.append(self.value(kind or self.marker(), depth + 1))
            return items
        while (marker := self.marker()) != "]":
            items.append(self.value(marker, depth + 1))
        return items

    def object(self, depth: int) -> dict[str, Any]:
        kind, count = self.header()
        out: dict[str, Any] = {}
        if count is not None:
            for _ in range(count):
                key = self.text()
                out[key] = self.value(kind or self.marker(), depth + 1)
            return out
        while self.peek() != "}":
            key = self.text()
            out[key] = self.value(self.marker(), depth + 1)
        self.at += 1
        return out


_NOOP = ord("N")
_STRUCT = {m: struct.Struct(f">{c}") for m, c in zip("iUIlLdD", "bBhiqfd", strict=True)}
