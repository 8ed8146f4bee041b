"""A CSV file's rows a few at a time, with the dtypes ``pandas.read_csv`` gives the whole file.

``ingest`` uses it above the memory budget (``CsvSource.scan``). pandas' C parser reads a file
in internal chunks of ``buffer_lines`` rows (its ``low_memory`` mode, the default), infers each
chunk's column types on its own and concatenates the chunks as ``concat_compat`` does: an
integer chunk beside a float one gives float64, a boolean chunk beside one holding a null
gives object, text beside anything else gives object, which the frame then makes ``str`` when
every value is text or null. (Its parallel reader, for big files, returns the same frame or
reads the file that way instead.)

So the stream reads those very chunks (``get_chunk(buffer_lines)`` on a reader with ``read``'s
options), twice. The first pass records, for each column, its chunks' dtypes and what their
values are (numbers, text, booleans, only nulls), which settle the column's dtype in the whole
frame; the second converts each chunk to it as the concatenation does (``astype``), and cuts
the rows into frames of the size asked for. A text column is held as one Arrow chunk, in these
frames and in ``read``'s frame alike, so its Parquet pages do not depend on how the parser (or
its threads) split the file.

Not streamed (the source is read whole, and ingest says why): a column whose chunks mix
numbers, text and booleans, which pandas keeps as Python objects of several types; and a pandas
that does not say how many rows its parser converts at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    import pandas as pd
    from pandas.io.parsers import TextFileReader

TEXT, BOOL, NUMBER, OTHER = "text", "bool", "number", "other"


@dataclass
class _Column:
    """What one column's chunks hold: what pandas concatenates them by."""

    dtypes: dict[str, Any] = field(default_factory=dict)
    """The chunks' dtypes by name, in order of first appearance."""
    values: set[str] = field(default_factory=set)
    """What the chunks' values are (``TEXT``, ``BOOL``, ``NUMBER``, ``OTHER``); nulls add none."""


def csv_frames(
    open_reader: Callable[[], TextFileReader], rows: int, columns: Sequence[str] | None
) -> Iterator[pd.DataFrame] | str:
    """The file's rows in frames of ``rows`` rows, as ``read_csv`` gives them; or why not.

    ``open_reader`` opens the file as ``read`` does, with ``iterator=True``; ``columns``: the
    order ``read`` puts the columns in (all, as in the file, with None). Reads the whole file
    once before returning, so a parse error is raised here.
    """
    with open_reader() as reader:
        step = parser_rows(reader)
        if step is None:
            return "this pandas does not say how many rows its CSV parser converts at a time"
        survey: dict[str, _Column] = {}
        for chunk in _chunks(reader, step):
            for name, values in chunk.items():
                column = survey.setdefault(str(name), _Column())
                column.dtypes.setdefault(str(values.dtype), values.dtype)
                if (kind := _values(values)) is not None:
                    column.values.add(kind)
    targets: dict[str, Any] = {}
    for name, column in survey.items():
        target = _whole_dtype(column)
        if isinstance(target, str):
            return f"column '{name}' {target}"
        if target is not None:
            targets[name] = target
    return _frames(open_reader, step, targets, columns, rows)


def parser_rows(reader: TextFileReader) -> int | None:
    """How many rows pandas' C parser converts at a time (``buffer_lines``); None: unknown."""
    from pandas._libs import parsers  # type: ignore[attr-defined]  # not in pandas-stubs

    engine = getattr(reader, "_engine", None)
    text_reader = getattr(engine, "_reader", None)
    if not getattr(engine, "low_memory", False) or text_reader is None:
        return None
    width = getattr(text_reader, "table_width", None)
    heuristic = getattr(parsers, "DEFAULT_BUFFER_HEURISTIC", None)
    if not isinstance(width, int) or width <= 0 or not isinstance(heuristic, int):
        return None
    lines = 1  # as TextReader.__cinit__ sets buffer_lines
    while lines * 2 < heuristic // width:
        lines *= 2
    return lines


def one_chunk_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each Arrow-backed text column held as one Arrow chunk (same values).

    pandas keeps a parsed text column in the chunks its parser (or its threads) produced, and
    Arrow writes a Parquet page boundary where a chunk ends, so the same values would give
    different bytes from different splits.
    """
    import pandas as pd
    import pyarrow as pa

    for index, dtype in enumerate(frame.dtypes):
        if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
            values = pa.array(frame.iloc[:, index].array)
            if isinstance(values, pa.ChunkedArray) and values.num_chunks > 1:
                whole = pa.chunked_array([values.combine_chunks()], type=values.type)
                text = dtype.__from_arrow__(whole)  # type: ignore[attr-defined]
                frame.isetitem(index, text)
    return frame


def _chunks(reader: TextFileReader, rows: int) -> Iterator[pd.DataFrame]:
    """The parser's own chunks of ``rows`` rows, until the file ends."""
    while True:
        try:
            chunk = reader.get_chunk(rows)
        except StopIteration:
            return
        if chunk.empty:  # a file of a header alone gives one empty chunk
            return
        yield chunk


def _values(values: pd.Series) -> str | None:
    """What one chunk of a column holds, besides nulls: ``TEXT``, ``BOOL``, ``NUMBER``..."""
    import pandas as pd

    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype):
        return TEXT
    kind = getattr(dtype, "kind", "")
    if kind == "b":
        return BOOL
    if kind in "iu":
        return NUMBER
    if kind == "f":
        return NUMBER if values.notna().any() else None
    if kind == "O":
        found = pd.api.types.infer_dtype(values, skipna=True)
        return {"string": TEXT, "boolean": BOOL, "empty": None}.get(found, OTHER)
    return OTHER


def _whole_dtype(column: _Column) -> Any:  # noqa: ANN401 - a numpy or pandas dtype
    """The dtype of the whole column: None when every chunk has it; a str: why it cannot be.

    As ``concat_compat`` decides it for chunks of different dtypes: integers and floats give
    the common numeric type (float64); anything else gives object, which the frame makes
    ``str`` when every value is text (or null). Object holding booleans and nulls stays object.
    """
    import numpy as np

    dtypes = list(column.dtypes.values())
    if len(dtypes) == 1:
        return None
    if all(isinstance(d, np.dtype) and d.kind in "iuf" for d in dtypes):
        return np.result_type(*dtypes)
    if column.values == {TEXT}:
        return _text_dtype()
    if column.values <= {BOOL}:
        return np.dtype(object)
    found = " and ".join(sorted(column.values))
    return (
        f"holds {found} in different parts of the file, which pandas keeps as Python "
        "objects of several types"
    )


def _text_dtype() -> Any:  # noqa: ANN401 - a numpy or pandas dtype
    """What a frame makes of an object column of text and nulls (``str`` under pandas 3)."""
    import numpy as np
    import pandas as pd

    return pd.DataFrame({"x": np.array(["x", np.nan], dtype=object)})["x"].dtype


def _frames(
    open_reader: Callable[[], TextFileReader],
    step: int,
    targets: dict[str, Any],
    columns: Sequence[str] | None,
    rows: int,
) -> Iterator[pd.DataFrame]:
    """The second pass: each chunk converted to the whole's dtypes, cut into ``rows`` rows."""
    import pandas as pd

    pending: list[pd.DataFrame] = []
    count = 0
    with open_reader() as reader:
        for chunk in _chunks(reader, step):
            for name, target in targets.items():
                chunk[name] = _converted(chunk[name], target)
            pending.append(chunk[list(columns)] if columns else chunk)
            count += len(chunk)
            while count >= rows:
                joined = pending[0] if len(pending) == 1 else pd.concat(pending)
                yield one_chunk_text(joined.iloc[:rows].reset_index(drop=True))
                pending = [joined.iloc[rows:]]
                count = len(pending[0])
    if count:
        yield one_chunk_text(pd.concat(pending, ignore_index=True))


def _converted(values: pd.Series, target: Any) -> pd.Series:  # noqa: ANN401 - a dtype
    """One chunk of a column in the whole column's dtype, as ``concat_compat`` converts it."""
    if str(values.dtype) == str(target):
        return values
    if values.dtype.kind in "iuf" and target.kind == "f":
        return values.astype(target)
    as_objects = values.astype(object)  # then the frame's inference makes text str
    return as_objects if str(target) == "object" else as_objects.astype(target)
