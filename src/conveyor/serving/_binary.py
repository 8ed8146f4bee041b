"""The binary tensor data extension of the Open Inference Protocol (KServe v2, Triton).

A request with the ``Inference-Header-Content-Length: N`` header carries a JSON header in its
first N bytes, then the raw data of each input whose ``parameters.binary_data_size`` is set, in
input order: little-endian, row-major, no padding; ``BOOL`` one byte (0 or 1) per element;
``BYTES`` each element as a 4-byte little-endian length then its bytes. tritonclient's
``InferInput.set_data_from_numpy(arr)`` sends exactly this by default.

An answer is binary for the outputs asked for with ``parameters.binary_data_output: true`` on
the request or ``parameters.binary_data: true`` on an output (an output's own choice wins): its
JSON header gives each such output ``parameters.binary_data_size`` instead of ``data``, and the
response's ``Inference-Header-Content-Length`` header says where that JSON ends.

Every size is checked against the bytes actually present before anything is decoded, so a size
that lies (negative, past the end, short of the shape, leaving bytes unclaimed) is a 400 that
names the input, and the work one request causes stays bounded by ``max_body_bytes``.
"""

from __future__ import annotations

import math
import struct
from typing import TYPE_CHECKING, Any

from conveyor.errors import RequestError
from conveyor.serving._datatype import ITEMSIZE, NUMPY

if TYPE_CHECKING:
    import numpy as np

HEADER = "inference-header-content-length"
OCTET_STREAM = "application/octet-stream"
_SIZE = "parameters.binary_data_size"
_LENGTH = struct.Struct("<I")


def split(body: bytes, declared: str | None) -> tuple[bytes, Section | None]:
    """The JSON header and the binary section after it (None: no length header, all JSON)."""
    if declared is None:
        return body, None
    text = declared.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 20):
        shown = declared if len(declared) <= 40 else f"{declared[:37]}..."
        raise RequestError(
            f"the Inference-Header-Content-Length header '{shown}' is not a byte count; send "
            "the length of the JSON header in bytes",
            reason="malformed",
        )
    size = int(text)
    if size > len(body):
        raise RequestError(
            f"the Inference-Header-Content-Length header says the JSON header has {size} "
            f"bytes, but the body has {len(body)}",
            reason="malformed",
        )
    if not body[:size].strip():
        raise RequestError(
            f"the JSON header (the body's first {size} bytes) is empty; send the infer request "
            "as JSON, then the binary data",
            reason="malformed",
        )
    return body[:size], Section(body, size)


class Section:
    """The bytes after the JSON header, handed out to the binary inputs in order."""

    def __init__(self, body: bytes, start: int) -> None:
        self._view = memoryview(body)
        self._start = start
        self._offset = start

    def take(self, size: int, where: str) -> memoryview:
        """The next ``size`` bytes, for ``where`` (``"input 'x'"``)."""
        left = len(self._view) - self._offset
        if size > left:
            used = self._offset - self._start
            raise RequestError(
                f"{where}: binary_data_size {size} runs past the end of the body: "
                f"{len(self._view) - self._start} bytes follow the JSON header, {used} of them "
                "used by earlier inputs",
                reason="malformed",
            )
        chunk = self._view[self._offset : self._offset + size]
        self._offset += size
        return chunk

    def finish(self) -> None:
        """Refuse bytes no input claimed: the sizes and the body disagree."""
        if self._offset != len(self._view):
            raise RequestError(
                f"the body has {len(self._view) - self._start} bytes after the JSON header, but "
                f"the inputs' binary_data_size add up to {self._offset - self._start}; send "
                "exactly the bytes they declare",
                reason="malformed",
            )


def declared_size(parameters: dict[str, Any], where: str) -> int | None:
    """``parameters.binary_data_size``, checked to be a non-negative integer (None: absent)."""
    size = parameters.get("binary_data_size")
    if size is None:
        return None
    if type(size) is not int or size < 0:
        raise RequestError(
            f"{where}: '{_SIZE}' must be a non-negative integer, got {size!r}",
            reason="malformed",
        )
    return size


def decode(raw: memoryview, datatype: str, shape: tuple[int, ...], where: str) -> Any:  # noqa: ANN401
    """An input's values from its bytes: a numpy array, or a list of ``str`` for BYTES."""
    import numpy as np

    count = math.prod(shape)
    if datatype == "BYTES":
        return _strings(raw, count, shape, where)
    needed = count * ITEMSIZE[datatype]
    if needed != len(raw):
        raise RequestError(
            f"{where}: shape {list(shape)} of {datatype} is {needed} bytes, but "
            f"binary_data_size is {len(raw)}",
            reason="malformed",
        )
    values = np.frombuffer(raw, dtype=NUMPY[datatype])
    if datatype == "BOOL":
        wrong = values > 1
        if wrong.any():
            position = int(wrong.argmax())
            raise RequestError(
                f"{where}: byte {int(values[position])} at element {position} of BOOL; send 0 or 1",
                reason="malformed",
            )
        return values.astype(bool)
    return values


def _strings(raw: memoryview, count: int, shape: tuple[int, ...], where: str) -> list[str]:
    size = len(raw)
    if count > size // _LENGTH.size:  # each element is at least its 4-byte length
        raise RequestError(
            f"{where}: shape {list(shape)} holds {count} elements of BYTES, but "
            f"binary_data_size {size} has room for at most {size // _LENGTH.size}",
            reason="malformed",
        )
    out: list[str] = []
    position = 0
    for element in range(count):
        if size - position < _LENGTH.size:
            raise RequestError(
                f"{where}: element {element} of BYTES has {size - position} bytes left for its "
                f"4-byte length; shape {list(shape)} holds {count} elements",
                reason="malformed",
            )
        (length,) = _LENGTH.unpack_from(raw, position)
        position += _LENGTH.size
        if length > size - position:
            raise RequestError(
                f"{where}: element {element} of BYTES declares {length} bytes, but only "
                f"{size - position} of its binary_data_size remain",
                reason="malformed",
            )
        try:
            out.append(str(raw[position : position + length], "utf-8"))
        except UnicodeDecodeError:
            raise RequestError(
                f"{where}: element {element} of BYTES is not UTF-8 text", reason="malformed"
            ) from None
        position += length
    if position != size:
        raise RequestError(
            f"{where}: shape {list(shape)} holds {count} elements of BYTES, but its "
            f"binary_data_size has {size - position} bytes more",
            reason="malformed",
        )
    return out


def encode(values: np.ndarray, datatype: str) -> bytes:
    """An output's bytes: row-major little-endian; BYTES as length-prefixed UTF-8."""
    import numpy as np

    if datatype == "BYTES":
        parts = []
        for value in values.ravel().tolist():
            data = str(value).encode()
            parts.append(_LENGTH.pack(len(data)))
            parts.append(data)
        return b"".join(parts)
    return np.ascontiguousarray(values, dtype=NUMPY[datatype]).tobytes()
