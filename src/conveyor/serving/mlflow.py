"""The MLflow scoring protocol: ``POST /invocations`` payloads in, ``{"predictions": ...}`` out.

JSON bodies hold exactly one of ``dataframe_split`` ({columns, data, index?}),
``dataframe_records`` ([{column: value}]), ``instances`` (a list of records or of rows in schema
order) or ``inputs`` ({column: [values]} or a list like ``instances``), plus optional
``params``; CSV bodies have a header row. Errors are ``{"error_code", "message"}``.
"""

from __future__ import annotations

import csv
import io
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from conveyor.errors import RequestError
from conveyor.serving.body import did_you_mean

if TYPE_CHECKING:
    from conveyor.bundle.predictor import Prediction, Predictor
    from conveyor.serving.body import Limits
    from conveyor.serving.config import ServeConfig

PAYLOAD_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
PARAMS = ("predict_proba",)
CONTENT_TYPES = ("application/json", "text/csv")
Columns = dict[str, Any]


@dataclass(frozen=True)
class Invocation:
    """A parsed request: column name -> values, and the options in ``params``."""

    columns: Columns
    from_text: bool = False
    predict_proba: bool = False


@dataclass(frozen=True)
class Split:
    """A request's columns sorted out: what the model scores, the ids, what was ignored."""

    columns: Columns
    ids: Any = None
    """The id column's values (``config.id_column``), or None when the request has none."""
    ignored: tuple[str, ...] = ()
    """Columns the model does not take, dropped under ``extra_columns: ignore``."""


def split_columns(columns: Columns, predictor: Predictor, config: ServeConfig) -> Split:
    """Take the id column out, and drop unknown columns if ``config.extra_columns`` says so.

    Under ``error`` the unknown columns stay, and the schema check names each with a
    did-you-mean. MLflow's scoring server ignores them (``ignore``, the default).
    """
    ids = None
    if config.id_column is not None and config.id_column in columns:
        columns = dict(columns)
        ids = columns.pop(config.id_column)
    if config.extra_columns == "error":
        return Split(columns, ids)
    known = predictor.schema.names
    ignored = tuple(name for name in columns if name not in known)
    if len(ignored) == len(columns):  # none of the model's: the schema check names them all
        return Split(columns, ids)
    if ignored:
        columns = {name: values for name, values in columns.items() if name not in ignored}
    return Split(columns, ids, ignored)


def ignored_clause(ignored: tuple[str, ...]) -> str:
    """``ignored 2 columns the model does not take: 'a', 'b'`` (for an error message)."""
    noun = "column" if len(ignored) == 1 else "columns"
    return f"ignored {len(ignored)} {noun} the model does not take: {_listed(ignored)}"


def parse_json_payload(doc: Any, limits: Limits) -> Invocation:  # noqa: ANN401
    """Columns from a parsed JSON body; ``limits`` has the model's inputs in schema order.

    Columns and rows are counted against ``limits`` before anything is done per value.
    """
    if not isinstance(doc, dict):
        raise RequestError(
            f"the JSON body must be an object with one of {_listed(PAYLOAD_KEYS)}, got {_kind(doc)}"
        )
    unknown = [key for key in doc if key not in PAYLOAD_KEYS and key != "params"]
    if unknown:
        key = unknown[0]
        raise RequestError(
            f"unknown key '{key}' in the body{did_you_mean(key, [*PAYLOAD_KEYS, 'params'])}; "
            f"send exactly one of {_listed(PAYLOAD_KEYS)} (and optionally 'params')"
        )
    present = [key for key in PAYLOAD_KEYS if key in doc]
    if len(present) != 1:
        found = f"both {_listed(present)}" if present else "none of them"
        raise RequestError(f"send exactly one of {_listed(PAYLOAD_KEYS)}; the body has {found}")
    predict_proba = _params(doc.get("params"))
    key = present[0]
    value = doc[key]
    if key == "dataframe_split":
        columns = _split(value, limits)
    elif key == "dataframe_records":
        columns = _records(value, key, limits)
    elif key == "inputs" and isinstance(value, dict):
        columns = _columnar(value, key, limits)
    else:
        columns = _rows(value, key, limits)
    return Invocation(columns, predict_proba=predict_proba)


def parse_csv(body: bytes, limits: Limits) -> Invocation:
    """Columns from a CSV body with a header row (cells stay text for the schema to parse).

    The header is counted against ``limits`` before any row is parsed, and parsing stops at the
    first row past ``max_rows``.
    """
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RequestError(f"the CSV body is not UTF-8: {exc}", reason="malformed") from None
    reader = csv.reader(io.StringIO(text), strict=True)
    try:
        header = next(reader, None)
        if not header:
            raise RequestError(
                "the CSV body is empty; send a header row, then one line per row",
                reason="malformed",
            )
        limits.columns(len(header), "the CSV header")
        rows = list(itertools.islice(filter(None, reader), limits.max_rows + 1))
    except csv.Error as exc:
        raise RequestError(
            f"malformed CSV at line {reader.line_num}: {exc}", reason="malformed"
        ) from None
    limits.rows(len(rows))
    _unique(header, "the CSV header")
    for position, row in enumerate(rows):
        if len(row) != len(header):
            raise RequestError(
                f"CSV row {position} has {len(row)} fields; the header has {len(header)}",
                reason="malformed",
            )
    transposed = list(zip(*rows, strict=True)) if rows else [() for _ in header]
    return Invocation(dict(zip(header, transposed, strict=True)), from_text=True)


def render(prediction: Prediction, classes: list[Any] | None, *, proba: bool) -> bytes:
    """``{"predictions": [...]}``: labels, or per-row ``{class: probability}`` with ``proba``."""
    if proba and prediction.proba is not None and classes is not None:
        keys = [str(c) for c in classes]
        rows = [dict(zip(keys, row, strict=True)) for row in prediction.proba.tolist()]
        return orjson.dumps({"predictions": rows})
    return orjson.dumps({"predictions": prediction.labels.tolist()})


def error_body(message: str, status: int) -> bytes:
    """MLflow's error shape: ``BAD_REQUEST`` for every 4xx, ``INTERNAL_ERROR`` for a 5xx."""
    code = "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST"
    return orjson.dumps({"error_code": code, "message": message})


def _split(value: Any, limits: Limits) -> Columns:  # noqa: ANN401
    where = "dataframe_split"
    if not isinstance(value, dict):
        raise RequestError(f"'{where}' must be an object {{columns, data}}, got {_kind(value)}")
    for key in value:
        if key not in ("columns", "data", "index"):
            raise RequestError(
                f"unknown key '{key}' in '{where}'{did_you_mean(key, ['columns', 'data'])}; "
                "it takes 'columns', 'data' and optionally 'index'"
            )
    if "data" not in value:
        raise RequestError(f"'{where}' has no 'data': send a list of rows")
    header = value.get("columns", list(limits.names))
    if isinstance(header, list):
        limits.columns(len(header), f"'{where}.columns'")
    if not isinstance(header, list) or not all(isinstance(c, str) for c in header):
        raise RequestError(f"'{where}.columns' must be a list of column names")
    _unique(header, f"'{where}.columns'")
    data = value["data"]
    if not isinstance(data, list):
        raise RequestError(f"'{where}.data' must be a list of rows, got {_kind(data)}")
    limits.rows(len(data))
    for position, row in enumerate(data):
        if not isinstance(row, list) or len(row) != len(header):
            size = f"{len(row)} values" if isinstance(row, list) else _kind(row)
            raise RequestError(
                f"'{where}.data[{position}]' has {size}; 'columns' names {len(header)}"
            )
    index = value.get("index")
    if index is not None and (not isinstance(index, list) or len(index) != len(data)):
        raise RequestError(f"'{where}.index' must be a list with one entry per row of 'data'")
    transposed = list(zip(*data, strict=True)) if data else [() for _ in header]
    return dict(zip(header, transposed, strict=True))


def _records(value: Any, where: str, limits: Limits) -> Columns:  # noqa: ANN401
    if not isinstance(value, list):
        raise RequestError(f"'{where}' must be a list of {{column: value}} objects")
    limits.rows(len(value))
    # pandas' semantics: a column missing from some records is null in those rows. The union
    # is counted as it grows: the loop below costs its size times the number of records.
    names: dict[str, None] = {}
    for position, record in enumerate(value):
        if not isinstance(record, dict):
            raise RequestError(
                f"'{where}[{position}]' is {_kind(record)}; each row must be an object "
                "{column: value}"
            )
        limits.columns(len(record), f"'{where}[{position}]'")
        names.update(dict.fromkeys(record))
        limits.columns(len(names), f"'{where}' (all rows)")
    return {name: [record.get(name) for record in value] for name in names}


def _columnar(value: dict[str, Any], where: str, limits: Limits) -> Columns:
    limits.columns(len(value), f"'{where}'")
    lists = {name: isinstance(values, list) for name, values in value.items()}
    if not any(lists.values()):  # {"a": 1, "b": 2}: one row
        return {name: [values] for name, values in value.items()}
    if not all(lists.values()):
        scalar = next(name for name, is_list in lists.items() if not is_list)
        raise RequestError(f"'{where}.{scalar}' must be a list of values, like the other columns")
    lengths = {name: len(values) for name, values in value.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"'{name}' has {n}" for name, n in lengths.items())
        raise RequestError(f"the columns of '{where}' have different lengths: {shown}")
    limits.rows(max(lengths.values(), default=0))
    return value


def _rows(value: Any, where: str, limits: Limits) -> Columns:  # noqa: ANN401
    names = limits.names
    if not isinstance(value, list):
        raise RequestError(f"'{where}' must be a list of rows, got {_kind(value)}")
    limits.rows(len(value))
    if value and all(isinstance(row, dict) for row in value):
        return _records(value, where, limits)
    if value and all(isinstance(row, list) for row in value):
        for position, row in enumerate(value):
            if len(row) != len(names):
                raise RequestError(
                    f"'{where}[{position}]' has {len(row)} values; the model takes {len(names)} "
                    f"columns in this order: {_listed(names, limit=8)}"
                )
        return dict(zip(names, zip(*value, strict=True), strict=True))
    if len(names) == 1 and not any(isinstance(v, list | dict) for v in value):
        return {names[0]: value}  # a single-column model: a list of values
    if not value:
        return {name: [] for name in names}
    raise RequestError(
        f"'{where}' must be a list of {{column: value}} objects or a list of rows in schema order"
    )


def _params(value: Any) -> bool:  # noqa: ANN401
    if value is None:
        return False
    if not isinstance(value, dict):
        raise RequestError(f"'params' must be an object, got {_kind(value)}")
    for key in value:
        if key not in PARAMS:
            raise RequestError(
                f"unknown parameter '{key}' in 'params'{did_you_mean(key, PARAMS)}; "
                f"known: {_listed(PARAMS)}"
            )
    proba = value.get("predict_proba", False)
    if not isinstance(proba, bool):
        raise RequestError(f"'params.predict_proba' must be true or false, got {proba!r}")
    return proba


def _unique(header: list[str], where: str) -> None:
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise RequestError(f"{where} names column '{name}' twice")
        seen.add(name)


def _listed(names: tuple[str, ...] | list[str], limit: int = 10) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:limit])
    return shown + (", ..." if len(names) > limit else "")


def _kind(value: Any) -> str:  # noqa: ANN401 - any JSON value
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return kinds.get(type(value), "a number")


def limits(predictor: Predictor, config: ServeConfig) -> Limits:
    """/invocations' limits: room for the id column, and for columns ``ignore`` will drop."""
    from conveyor.errors import SpecError
    from conveyor.serving.body import EXTRA_COLUMNS, IGNORED_COLUMNS, Limits

    names = predictor.schema.names
    if config.id_column is not None and config.id_column in names:
        raise SpecError(
            f"'id_column' '{config.id_column}' is an input of model '{predictor.name}'; the id "
            "column is logged, never scored",
            where="server config",
            fix="name a column the model does not take (an order or case id)",
        )
    extra = IGNORED_COLUMNS if config.extra_columns == "ignore" else EXTRA_COLUMNS
    return Limits(names, predictor.name, config.max_rows, extra + (config.id_column is not None))
