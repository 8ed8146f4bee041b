"""The Open Inference Protocol v2 (KServe, Triton, MLServer): infer requests and metadata.

A request sends either one tensor per column (named after it, shape ``[rows]`` or ``[rows, 1]``)
or a single 2-D tensor ``[rows, n_columns]`` whose columns follow the schema order. The answer
holds ``predict`` (labels or values) and, for classifiers, ``predict_proba`` (``[rows, k]``,
row-major). Errors are ``{"error": "..."}``.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from conveyor.errors import RequestError
from conveyor.serving.body import did_you_mean

if TYPE_CHECKING:
    from conveyor.bundle.inputs import ColumnKind, InputSchema
    from conveyor.bundle.predictor import Prediction, Predictor
    from conveyor.serving.body import Limits

PLATFORM = "conveyor-sklearn"
FLOATS = ("FP16", "FP32", "FP64")
INTEGERS = ("INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64")
NUMERIC = (*FLOATS, *INTEGERS)
DATATYPES = ("BOOL", *NUMERIC, "BYTES")
_FITS: dict[str, tuple[str, ...]] = {
    "numeric": NUMERIC,
    "bool": ("BOOL",),
    "datetime": ("BYTES",),
    "text": ("BYTES",),
}
ADVERTISED = {"numeric": "FP64", "bool": "BOOL", "datetime": "BYTES", "text": "BYTES"}
_REQUEST_KEYS = ("id", "parameters", "inputs", "outputs")
_TENSOR_KEYS = ("name", "shape", "datatype", "data", "parameters")
Columns = dict[str, Any]


@dataclass(frozen=True)
class Infer:
    """A parsed infer request: columns, the request id, and the outputs asked for."""

    columns: Columns
    id: str
    outputs: tuple[str, ...]


def output_names(predictor: Predictor) -> tuple[str, ...]:
    """What the model can answer: ``predict``, plus ``predict_proba`` for a classifier."""
    return ("predict", "predict_proba") if predictor.classes is not None else ("predict",)


def parse_infer(doc: Any, predictor: Predictor, limits: Limits) -> Infer:  # noqa: ANN401
    """Columns, id and requested outputs from an infer request body (``doc``: parsed JSON).

    Tensors and rows are counted against ``limits`` before any tensor's data is looked at.
    """
    if not isinstance(doc, dict):
        raise RequestError("the body must be a JSON object with 'inputs'")
    for key in doc:
        if key not in _REQUEST_KEYS:
            raise RequestError(
                f"unknown key '{key}' in the request{did_you_mean(key, _REQUEST_KEYS)}; "
                f"known: {', '.join(_REQUEST_KEYS)}"
            )
    request_id = doc.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise RequestError("'id' must be a string")
    tensors = doc.get("inputs")
    if not isinstance(tensors, list) or not tensors:
        raise RequestError(
            "'inputs' must be a non-empty list of tensors {name, shape, datatype, data}"
        )
    limits.columns(len(tensors), "'inputs'")
    checked = [_tensor(t, i, limits) for i, t in enumerate(tensors)]
    columns = _columns(checked, predictor.schema)
    return Infer(columns, request_id or uuid.uuid4().hex, _outputs(doc.get("outputs"), predictor))


@dataclass(frozen=True)
class _Tensor:
    name: str
    shape: tuple[int, ...]
    datatype: str
    data: list[Any]


def _tensor(value: Any, position: int, limits: Limits) -> _Tensor:  # noqa: ANN401
    where = f"inputs[{position}]"
    if not isinstance(value, dict):
        raise RequestError(f"'{where}' must be an object {{name, shape, datatype, data}}")
    for key in value:
        if key not in _TENSOR_KEYS:
            raise RequestError(f"unknown key '{key}' in '{where}'{did_you_mean(key, _TENSOR_KEYS)}")
    for key in ("name", "shape", "datatype", "data"):
        if key not in value:
            raise RequestError(f"'{where}' has no '{key}'")
    name, shape, datatype, data = value["name"], value["shape"], value["datatype"], value["data"]
    if not isinstance(name, str):
        raise RequestError(f"'{where}.name' must be a string")
    where = f"input '{name}'"
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
    ):
        raise RequestError(
            f"{where}: 'shape' must be a list of non-negative integers, got {shape!r}"
        )
    limits.rows(shape[0])
    if datatype not in DATATYPES:
        raise RequestError(
            f"{where}: unknown datatype {datatype!r}{did_you_mean(str(datatype), DATATYPES)}; "
            f"OIP datatypes: {', '.join(DATATYPES)}"
        )
    if not isinstance(data, list):
        raise RequestError(f"{where}: 'data' must be a list")
    if data and isinstance(data[0], list):  # nested rows are accepted as well as flat data
        if not all(isinstance(row, list) for row in data):
            raise RequestError(f"{where}: 'data' mixes nested lists and values")
        data = [item for row in data for item in row]
    if len(data) != math.prod(shape):
        raise RequestError(
            f"{where}: shape {shape} holds {math.prod(shape)} values, but 'data' has {len(data)}"
        )
    return _Tensor(name, tuple(shape), datatype, data)


def _columns(tensors: list[_Tensor], schema: InputSchema) -> Columns:
    names = schema.names
    kinds = {rule.name: rule.kind for rule in schema.rules}
    if len(tensors) == 1 and tensors[0].name not in kinds and len(tensors[0].shape) == 2:
        return _matrix(tensors[0], schema)
    columns: Columns = {}
    rows: dict[str, int] = {}
    for tensor in tensors:
        where = f"input '{tensor.name}'"
        if tensor.name in columns:
            raise RequestError(f"{where} is sent twice")
        if len(tensor.shape) > 2 or (len(tensor.shape) == 2 and tensor.shape[1] != 1):
            raise RequestError(
                f"{where}: shape {list(tensor.shape)} is not one column; send shape [rows] or "
                f"[rows, 1] per column, or one tensor [rows, {len(names)}] in schema order"
            )
        kind = kinds.get(tensor.name)
        if kind is not None:
            _fits(tensor, where, kind)
        columns[tensor.name] = tensor.data
        rows[tensor.name] = tensor.shape[0]
    if len(set(rows.values())) > 1:
        shown = ", ".join(f"'{name}' has {n}" for name, n in rows.items())
        raise RequestError(f"the inputs have different numbers of rows: {shown}")
    return columns


def _matrix(tensor: _Tensor, schema: InputSchema) -> Columns:
    names = schema.names
    where = f"input '{tensor.name}'"
    n_rows, n_columns = tensor.shape
    if n_columns != len(names):
        shown = ", ".join(f"'{n}'" for n in names[:8]) + (", ..." if len(names) > 8 else "")
        raise RequestError(
            f"{where}: shape {list(tensor.shape)} has {n_columns} columns; the model takes "
            f"{len(names)} in this order: {shown}{did_you_mean(tensor.name, names)}"
        )
    kinds = {rule.kind for rule in schema.rules}
    if len(kinds) > 1:
        raise RequestError(
            f"{where}: one 2-D tensor needs columns of one kind, and this model mixes "
            f"{', '.join(sorted(kinds))}; send one tensor per column"
        )
    _fits(tensor, where, kinds.pop())
    data = tensor.data
    return {name: data[i::n_columns] for i, name in enumerate(names)} if n_rows else {}


def _fits(tensor: _Tensor, where: str, kind: ColumnKind) -> None:
    allowed = _FITS[kind]
    if tensor.datatype not in allowed:
        wanted = "FP64, FP32 or INT64" if kind == "numeric" else " or ".join(allowed)
        raise RequestError(
            f"{where}: datatype {tensor.datatype} does not fit a {kind} column; use {wanted}"
        )


def _outputs(value: Any, predictor: Predictor) -> tuple[str, ...]:  # noqa: ANN401
    available = output_names(predictor)
    if value is None:
        return available
    if not isinstance(value, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in value
    ):
        raise RequestError("'outputs' must be a list of objects {name}")
    names = tuple(o["name"] for o in value)
    for name in names:
        if name not in available:
            raise RequestError(
                f"unknown output '{name}'{did_you_mean(name, available)}; "
                f"this model has {', '.join(available)}"
            )
    return names


def render(prediction: Prediction, request: Infer, predictor: Predictor) -> bytes:
    """The infer response with the requested outputs."""
    n_rows = len(prediction.labels)
    outputs = []
    for name in request.outputs:
        if name == "predict_proba" and prediction.proba is not None:
            proba = prediction.proba
            outputs.append(
                {
                    "name": name,
                    "shape": [n_rows, proba.shape[1]],
                    "datatype": "FP64",
                    "data": proba.ravel().tolist(),
                }
            )
        elif name == "predict":
            labels = prediction.labels.tolist()
            datatype = label_datatype(predictor)
            outputs.append({"name": name, "shape": [n_rows], "datatype": datatype, "data": labels})
    return orjson.dumps(
        {
            "model_name": predictor.name,
            "model_version": predictor.version,
            "id": request.id,
            "outputs": outputs,
        }
    )


def label_datatype(predictor: Predictor) -> str:
    """The OIP datatype of ``predict``: the classes' type, FP64 for a regression."""
    classes = predictor.classes
    if classes is None:
        return "FP64"
    if all(isinstance(c, bool) for c in classes):
        return "BOOL"
    if all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return "INT64"
    if all(isinstance(c, int | float) for c in classes):
        return "FP64"
    return "BYTES"


def metadata(predictor: Predictor) -> dict[str, Any]:
    """``GET /v2/models/{name}``: inputs per column (or as one tensor, when all numeric)."""
    rules = predictor.schema.rules
    inputs = [
        {"name": rule.name, "datatype": ADVERTISED[rule.kind], "shape": [-1]} for rule in rules
    ]
    outputs: list[dict[str, Any]] = [
        {"name": "predict", "datatype": label_datatype(predictor), "shape": [-1]}
    ]
    if predictor.classes is not None:
        k = len(predictor.classes)
        outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, k]})
    return {
        "name": predictor.name,
        "versions": [predictor.version],
        "platform": PLATFORM,
        "inputs": inputs,
        "outputs": outputs,
        "parameters": {
            "task": predictor.task,
            "classes": predictor.classes,
            "columns": predictor.schema.describe(),
            "one_tensor": all(rule.kind == "numeric" for rule in rules),
        },
    }


def error_body(message: str) -> bytes:
    """The OIP error shape."""
    return orjson.dumps({"error": message})
