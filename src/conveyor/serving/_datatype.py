"""The Open Inference Protocol's datatypes: what values each holds, and its bytes on the wire.

A tensor declares its datatype, and its values must fit it, as Triton and KServe require: an
``INT8`` tensor holds integers from -128 to 127, a ``BOOL`` one true or false, a ``BYTES`` one
strings. JSON values are checked here, before the schema check; binary data fits by
construction (except ``BOOL``, whose bytes must be 0 or 1: see ``_binary``). What the datatype
cannot say (a string in an ``FP64`` tensor, a null in a column the model saw none in, infinity)
the schema check names, with the rows.

Values are then read as 64-bit numbers, whatever the datatype: an ``FP32`` value is not rounded
to 32 bits, so a JSON request scores as the same numbers sent to ``/invocations`` do.
"""

from __future__ import annotations

from typing import Any

from conveyor.errors import RequestError

FLOATS = ("FP16", "FP32", "FP64")
INTEGERS = ("INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64")
NUMERIC = (*FLOATS, *INTEGERS)
DATATYPES = ("BOOL", *NUMERIC, "BYTES")

RANGES: dict[str, tuple[int, int]] = {
    **{f"INT{bits}": (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) for bits in (8, 16, 32, 64)},
    **{f"UINT{bits}": (0, 2**bits - 1) for bits in (8, 16, 32, 64)},
}
"""The integers each integer datatype holds, inclusive."""
FLOAT_MAX = {"FP16": 65504.0, "FP32": 3.4028234663852886e38}
"""The largest finite magnitude of the narrower float datatypes (FP64 holds every JSON number
that is not an integer too large for it, which the schema check names)."""
NUMPY = {
    "BOOL": "u1",
    "INT8": "i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "UINT8": "u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}
"""The little-endian numpy dtype of each fixed-size datatype (BOOL: one byte, 0 or 1)."""
ITEMSIZE = {name: 1 if code in ("u1", "i1") else int(code[2]) for name, code in NUMPY.items()}

_BIG = 2.0**63
"""A float this large and integral was, most likely, an integer orjson could not hold."""
_NONE = type(None)
_HOLDS = {"BOOL": (bool, "true or false"), "BYTES": (str, "a string")}


def check(data: list[Any], datatype: str, shape: tuple[int, ...], where: str) -> None:
    """Refuse the first JSON value in ``data`` (flat, row-major) that ``datatype`` cannot hold.

    Null is a missing value in every datatype; whether a column may have one is the schema's
    call. One pass of C-level ``map``/``min``/``max`` (or one numpy call) per tensor: a Python
    loop runs only to locate a value already known to be wrong.
    """
    if datatype == "FP64" or not data:
        return
    if datatype in FLOAT_MAX:  # types are the schema's business: "1.5" or true it names
        _floats(data, datatype, shape, where)
        return
    types = set(map(type, data))
    nulls = _NONE in types
    types.discard(_NONE)
    if datatype in RANGES:
        _integers(data, datatype, types, nulls, shape, where)
    else:
        holds, wanted = _HOLDS[datatype]
        if types - {holds}:
            position = _first(data, lambda v: v is not None and type(v) is not holds)
            raise _misfit(data, position, shape, where, f"is not {wanted}, as {datatype} requires")


def _integers(
    data: list[Any],
    datatype: str,
    types: set[type],
    nulls: bool,
    shape: tuple[int, ...],
    where: str,
) -> None:
    low, high = RANGES[datatype]
    if types - {int}:  # a float, even 1.0, or a bool: Triton's JSON parser refuses them too
        position = _first(data, lambda v: v is not None and type(v) is not int)
        value = data[position]
        if type(value) is float and value.is_integer() and not -_BIG < value < high:
            # orjson reads an integer beyond 64 bits as a float: it is out of range, not 1.5
            raise _misfit(
                data, position, shape, where, f"does not fit {datatype} ({low} to {high})"
            )
        raise _misfit(data, position, shape, where, f"is not an integer, as {datatype} requires")
    if not types:
        return
    values = [v for v in data if v is not None] if nulls else data
    if min(values) < low or max(values) > high:
        position = _first(data, lambda v: v is not None and not low <= v <= high)
        raise _misfit(data, position, shape, where, f"does not fit {datatype} ({low} to {high})")


def _floats(data: list[Any], datatype: str, shape: tuple[int, ...], where: str) -> None:
    import math

    import numpy as np

    limit = FLOAT_MAX[datatype]

    def too_big(value: Any) -> bool:  # noqa: ANN401 - any JSON value
        if type(value) is int:  # may be beyond float64, where math.isinf would raise
            return abs(value) > limit
        return type(value) is float and limit < abs(value) < math.inf

    try:
        array = np.array(data, dtype=np.float64)  # None -> NaN
    except (TypeError, ValueError, OverflowError):  # not all numbers, or an int beyond float64
        pass
    else:
        if not ((np.abs(array) > limit) & np.isfinite(array)).any():
            return
    position = next((i for i, v in enumerate(data) if too_big(v)), None)
    if position is not None:
        raise _misfit(data, position, shape, where, f"does not fit {datatype}")


def _first(data: list[Any], wrong: Any) -> int:  # noqa: ANN401 - a predicate
    return next(i for i, value in enumerate(data) if wrong(value))


def _misfit(
    data: list[Any], position: int, shape: tuple[int, ...], where: str, what: str
) -> RequestError:
    text = repr(data[position])
    text = text if len(text) <= 40 else f"{text[:37]}..."
    if len(shape) == 2 and shape[1]:
        row, column = divmod(position, shape[1])
        at = f"data[{row}][{column}]"
    else:
        at = f"data[{position}]"
    return RequestError(f"{where}: {text} at {at} {what}")
