"""The Open Inference Protocol v2 (KServe, Triton, MLServer): infer requests and metadata.

A request sends either one tensor per column (named after it, shape ``[rows]`` or ``[rows, 1]``)
or a single 2-D tensor ``[rows, n_columns]`` whose columns follow the schema order. The answer
holds ``predict`` (labels or values) and, for classifiers, ``predict_proba`` (``[rows, k]``,
row-major). Errors are ``{"error": "..."}``.

Each tensor's values must fit its declared datatype (``_datatype``), and any input or output may
travel as raw bytes after a JSON header instead of JSON ``data`` (the binary tensor data
extension, ``_binary``), as tritonclient sends them by default.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from conveyor.errors import RequestError
from conveyor.serving import _binary, _datatype
from conveyor.serving._datatype import DATATYPES, NUMERIC
from conveyor.serving.body import did_you_mean, parse_json

if TYPE_CHECKING:
    from conveyor.bundle.inputs import ColumnKind, InputSchema
    from conveyor.bundle.predictor import Prediction, Predictor
    from conveyor.serving.body import Limits

PLATFORM = "conveyor-sklearn"
EXTENSIONS = ("binary_tensor_data",)
"""What ``GET /v2`` advertises."""
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
    binary: frozenset[str] = frozenset()
    """The outputs to answer as binary data."""


@dataclass(frozen=True)
class Answer:
    """An infer response: JSON, or a JSON header then binary outputs."""

    content: bytes
    media_type: str = "application/json"
    headers: dict[str, str] | None = None


def output_names(predictor: Predictor) -> tuple[str, ...]:
    """What the model can answer: ``predict``, plus ``predict_proba`` for a classifier."""
    return ("predict", "predict_proba") if predictor.classes is not None else ("predict",)


def readable(media_type: str, header_length: str | None) -> bool:
    """Whether an infer request of this content type is read: JSON, or binary with its header."""
    if media_type in ("", "application/json"):
        return True
    return media_type == _binary.OCTET_STREAM and header_length is not None


def parse_request(
    body: bytes, header_length: str | None, predictor: Predictor, limits: Limits
) -> Infer:
    """An infer request from its body and ``Inference-Header-Content-Length`` header (or None)."""
    head, section = _binary.split(body, header_length)
    if section is None:
        return parse_infer(parse_json(head), predictor, limits)
    try:
        doc = parse_json(head)
    except RequestError as exc:
        where = f"the JSON header (the body's first {len(head)} bytes)"
        raise RequestError(f"{where}: {exc}", status=exc.status, reason=exc.reason) from None
    parsed = parse_infer(doc, predictor, limits, section)
    section.finish()
    return parsed


def parse_infer(
    doc: Any,  # noqa: ANN401 - any JSON document
    predictor: Predictor,
    limits: Limits,
    section: _binary.Section | None = None,
) -> Infer:
    """Columns, id and requested outputs from an infer request body (``doc``: parsed JSON).

    ``section`` holds the bytes after a JSON header, for the inputs sent as binary data.
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
    parameters = _parameters(doc, "'parameters'")
    default = parameters.get("binary_data_output", False)
    if not isinstance(default, bool):
        raise RequestError(
            f"'parameters.binary_data_output' must be true or false, got {default!r}"
        )
    checked = [_tensor(t, i, limits, section) for i, t in enumerate(tensors)]
    columns = _columns(checked, predictor.schema)
    outputs, binary = _outputs(doc.get("outputs"), predictor, default)
    return Infer(columns, request_id or uuid.uuid4().hex, outputs, binary)


@dataclass(frozen=True)
class _Tensor:
    name: str
    shape: tuple[int, ...]
    datatype: str
    data: Any
    """A flat list of JSON values, or (binary data) a numpy array or a list of str."""
    binary: bool = False

    def check(self, where: str, kind: ColumnKind | None) -> None:
        """Refuse a datatype the column does not take, then a JSON value it cannot hold."""
        if kind is not None:
            _fits(self, where, kind)
        if not self.binary:  # binary data fits its datatype by construction
            _datatype.check(self.data, self.datatype, self.shape, where)


def _tensor(
    value: Any,  # noqa: ANN401 - any JSON value
    position: int,
    limits: Limits,
    section: _binary.Section | None,
) -> _Tensor:
    where = f"inputs[{position}]"
    if not isinstance(value, dict):
        raise RequestError(f"'{where}' must be an object {{name, shape, datatype, data}}")
    for key in value:
        if key not in _TENSOR_KEYS:
            raise RequestError(f"unknown key '{key}' in '{where}'{did_you_mean(key, _TENSOR_KEYS)}")
    for key in ("name", "shape", "datatype"):
        if key not in value:
            raise RequestError(f"'{where}' has no '{key}'")
    name, shape, datatype = value["name"], value["shape"], value["datatype"]
    if not isinstance(name, str):
        raise RequestError(f"'{where}.name' must be a string")
    where = f"input '{name}'"
    parameters = _parameters(value, f"{where}: 'parameters'")
    _no_shared_memory(parameters, where)
    size = _binary.declared_size(parameters, where)
    if size is not None and "data" in value:
        raise RequestError(
            f"{where} has both 'data' and 'parameters.binary_data_size'; send one of them"
        )
    if size is None and "data" not in value:
        raise RequestError(f"'inputs[{position}]' has no 'data'")
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
    if size is not None:
        if section is None:
            raise RequestError(
                f"{where}: 'parameters.binary_data_size' needs the "
                "Inference-Header-Content-Length header, giving the length of the JSON header "
                "that the binary data follows",
                reason="malformed",
            )
        raw = section.take(size, where)
        decoded = _binary.decode(raw, datatype, tuple(shape), where)
        return _Tensor(name, tuple(shape), datatype, decoded, binary=True)
    data = value["data"]
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


def _parameters(value: dict[str, Any], where: str) -> dict[str, Any]:
    parameters = value.get("parameters")
    if parameters is None:
        return {}
    if not isinstance(parameters, dict):
        raise RequestError(f"{where} must be an object, got {type(parameters).__name__}")
    return parameters


def _no_shared_memory(parameters: dict[str, Any], where: str) -> None:
    for key in parameters:
        if key.startswith("shared_memory_"):
            raise RequestError(
                f"{where}: 'parameters.{key}': shared memory is not supported by this server; "
                "send 'data' or binary data"
            )


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
        tensor.check(where, kinds.get(tensor.name))
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
    tensor.check(where, kinds.pop())
    data = tensor.data
    return {name: data[i::n_columns] for i, name in enumerate(names)} if n_rows else {}


def _fits(tensor: _Tensor, where: str, kind: ColumnKind) -> None:
    allowed = _FITS[kind]
    if tensor.datatype not in allowed:
        wanted = "FP64, FP32 or INT64" if kind == "numeric" else " or ".join(allowed)
        raise RequestError(
            f"{where}: datatype {tensor.datatype} does not fit a {kind} column; use {wanted}"
        )


def _outputs(
    value: Any,  # noqa: ANN401 - any JSON value
    predictor: Predictor,
    default: bool,
) -> tuple[tuple[str, ...], frozenset[str]]:
    """The outputs asked for, and those of them to answer as binary data."""
    available = output_names(predictor)
    if value is None:
        return available, frozenset(available if default else ())
    if not isinstance(value, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in value
    ):
        raise RequestError("'outputs' must be a list of objects {name}")
    binary = set()
    for output in value:
        name = output["name"]
        if name not in available:
            raise RequestError(
                f"unknown output '{name}'{did_you_mean(name, available)}; "
                f"this model has {', '.join(available)}"
            )
        where = f"output '{name}'"
        parameters = _parameters(output, f"{where}: 'parameters'")
        _no_shared_memory(parameters, where)
        if "classification" in parameters:
            raise RequestError(
                f"{where}: 'parameters.classification' is not supported (this server's "
                f"extensions: {', '.join(EXTENSIONS)}); predict_proba has every class's score"
            )
        wanted = parameters.get("binary_data", default)
        if not isinstance(wanted, bool):
            raise RequestError(
                f"{where}: 'parameters.binary_data' must be true or false, got {wanted!r}"
            )
        if wanted:
            binary.add(name)
    return tuple(o["name"] for o in value), frozenset(binary)


def render(prediction: Prediction, request: Infer, predictor: Predictor) -> Answer:
    """The infer response with the requested outputs, the binary ones after a JSON header."""
    n_rows = len(prediction.labels)
    outputs = []
    raw: list[bytes] = []
    for name in request.outputs:
        if name == "predict_proba" and prediction.proba is not None:
            values, datatype = prediction.proba, "FP64"
            shape = [n_rows, prediction.proba.shape[1]]
        elif name == "predict":
            values, datatype, shape = prediction.labels, label_datatype(predictor), [n_rows]
        else:  # pragma: no cover - parse_infer admits only this model's outputs
            continue
        output: dict[str, Any] = {"name": name, "shape": shape, "datatype": datatype}
        if name in request.binary:
            raw.append(_binary.encode(values, datatype))
            output["parameters"] = {"binary_data_size": len(raw[-1])}
        else:
            output["data"] = values.ravel().tolist()
        outputs.append(output)
    head = orjson.dumps(
        {
            "model_name": predictor.name,
            "model_version": predictor.version,
            "id": request.id,
            "outputs": outputs,
        }
    )
    if not raw:
        return Answer(head)
    headers = {"Inference-Header-Content-Length": str(len(head))}
    return Answer(b"".join([head, *raw]), _binary.OCTET_STREAM, headers)


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
