"""OpenAPI documentation built from the model's input schema.

The routes read their bodies themselves (orjson, no pydantic model: speed matters), so the
request schemas and examples are attached with ``openapi_extra`` and FastAPI never parses them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.serving.oip import ADVERTISED, label_datatype, output_names

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi import FastAPI

    from conveyor.bundle.inputs import ColumnRule
    from conveyor.bundle.predictor import Predictor

_JSON_TYPES = {"numeric": "number", "bool": "boolean", "datetime": "string", "text": "string"}


def column_schema(rule: ColumnRule) -> dict[str, Any]:
    """The JSON schema of one input value."""
    kind = _JSON_TYPES[rule.kind]
    schema: dict[str, Any] = {"type": [kind, "null"] if rule.nullable else kind}
    schema["description"] = f"{rule.dtype}" + ("" if rule.nullable else ", required")
    if rule.kind == "datetime":
        schema["format"] = "date-time"
    if rule.categories is not None and rule.kind == "text":
        schema["enum"] = [*sorted(rule.categories), *([None] if rule.nullable else [])]
    if rule.minimum is not None and rule.maximum is not None:
        schema["description"] += f"; training range {rule.minimum} to {rule.maximum}"
    return schema


def example_value(rule: ColumnRule) -> Any:  # noqa: ANN401 - a JSON value
    """A plausible value: the middle of the training range, the first category, ..."""
    if rule.kind == "numeric":
        if rule.minimum is not None and rule.maximum is not None:
            return round((float(rule.minimum) + float(rule.maximum)) / 2, 6)
        return 0.0
    if rule.kind == "bool":
        return False
    if rule.kind == "datetime":
        return "2024-01-01T00:00:00"
    return sorted(rule.categories)[0] if rule.categories else "text"


def invocations_extra(predictor: Predictor) -> dict[str, Any]:
    """``openapi_extra`` of ``POST /invocations``: the four JSON payloads and CSV, with examples."""
    rules = predictor.schema.rules
    names = list(predictor.schema.names)
    row = [example_value(rule) for rule in rules]
    record = dict(zip(names, row, strict=True))
    properties = {rule.name: column_schema(rule) for rule in rules}
    required = [rule.name for rule in rules]
    record_schema = {"type": "object", "properties": properties, "required": required}
    records = {"type": "array", "items": record_schema, "minItems": 1}
    row_schema: dict[str, Any] = {
        "type": "array",
        "prefixItems": [column_schema(rule) for rule in rules],
        "minItems": len(rules),
        "maxItems": len(rules),
        "description": "values in schema order",
    }
    rows = {"type": "array", "items": row_schema, "minItems": 1}
    params = {
        "type": ["object", "null"],
        "properties": {
            "predict_proba": {
                "type": "boolean",
                "description": "answer per-row {class: probability} instead of labels",
            }
        },
        "additionalProperties": False,
    }
    payloads = {
        "dataframe_split": {
            "type": "object",
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}, "example": names},
                "data": {"type": "array", "items": {"type": "array"}, "minItems": 1},
                "index": {"type": "array"},
            },
            "required": ["data"],
        },
        "dataframe_records": {"type": "array", "items": record_schema, "minItems": 1},
        "instances": {"oneOf": [records, rows]},
        "inputs": {
            "oneOf": [
                {
                    "type": "object",
                    "properties": {
                        r.name: {"type": "array", "items": column_schema(r), "minItems": 1}
                        for r in rules
                    },
                    "required": required,
                    "additionalProperties": {"type": "array"},
                    "description": "{column: [values]}, every list of the same length",
                },
                records,
                rows,
            ]
        },
    }
    body_schema = {
        "description": "Exactly one of the payload keys, plus optional params. Columns: "
        + ", ".join(f"{rule.name} ({rule.dtype})" for rule in rules),
        "oneOf": [
            {
                "type": "object",
                "properties": {key: schema, "params": params},
                "required": [key],
                "additionalProperties": False,
            }
            for key, schema in payloads.items()
        ],
    }
    csv_text = _csv_line(names) + "\n" + _csv_line([str(v) for v in row]) + "\n"
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": body_schema,
                    "examples": {
                        "dataframe_split": {
                            "summary": "columns + rows",
                            "value": {"dataframe_split": {"columns": names, "data": [row]}},
                        },
                        "dataframe_records": {
                            "summary": "one object per row",
                            "value": {"dataframe_records": [record]},
                        },
                        "probabilities": {
                            "summary": "class probabilities instead of labels",
                            "value": {
                                "dataframe_records": [record],
                                "params": {"predict_proba": True},
                            },
                        },
                    },
                },
                "text/csv": {"schema": {"type": "string"}, "example": csv_text},
            },
        },
        "responses": _responses(
            {"predictions": [predictor.classes[0] if predictor.classes else 0.0]},
            {"error_code": "BAD_REQUEST", "message": "column 'x': ..."},
        ),
    }


def infer_extra(predictor: Predictor) -> dict[str, Any]:
    """``openapi_extra`` of ``POST /v2/models/{name}/infer``."""
    rules = predictor.schema.rules
    tensor = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
            "datatype": {"type": "string"},
            "data": {"type": "array", "minItems": 1},
        },
        "required": ["name", "shape", "datatype", "data"],
    }
    inputs = [
        {
            "name": rule.name,
            "shape": [1],
            "datatype": ADVERTISED[rule.kind],
            "data": [example_value(rule)],
        }
        for rule in rules
    ]
    outputs = [{"name": name} for name in output_names(predictor)]
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "inputs": {"type": "array", "items": tensor, "minItems": 1},
                            "outputs": {"type": "array", "items": {"type": "object"}},
                        },
                        "required": ["inputs"],
                    },
                    "example": {"id": "42", "inputs": inputs, "outputs": outputs},
                }
            },
        },
        "responses": _responses(
            {
                "model_name": predictor.name,
                "id": "42",
                "outputs": [
                    {"name": "predict", "shape": [1], "datatype": label_datatype(predictor)}
                ],
            },
            {"error": "input 'x': ..."},
        ),
    }


def install(app: FastAPI, served: Callable[[], Predictor]) -> None:
    """Make ``app``'s OpenAPI document say what the server does, where FastAPI cannot know.

    The handlers read their own bodies and paths, so FastAPI's 422 never happens; a model name
    or version other than the served one is a 404, so the path parameters are enums of what
    ``served()`` returns when the document is built (again after a swap clears it).
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _finish(generate(), served())  # FastAPI caches the document it returns
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _finish(document: dict[str, Any], predictor: Predictor) -> None:
    served = {"name": predictor.name, "version": predictor.version}
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
            names = [p["name"] for p in operation.get("parameters", ()) if p["in"] == "path"]
            for parameter in operation.get("parameters", ()):
                if parameter["name"] in served:
                    value = served[parameter["name"]]
                    parameter["schema"] = {"type": "string", "enum": [value], "example": value}
            if names:
                error = {
                    "error": f"model 'x' is not served here; this server serves '{predictor.name}'"
                }
                operation["responses"]["404"] = {
                    "description": f"Not model '{predictor.name}' (or not its version)",
                    "content": {"application/json": {"example": error}},
                }
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    if "components" in document and not schemas:
        document["components"].pop("schemas", None)
        if not document["components"]:
            del document["components"]


def _responses(ok: dict[str, Any], error: dict[str, Any]) -> dict[str, Any]:
    def body(example: dict[str, Any]) -> dict[str, Any]:
        return {"content": {"application/json": {"example": example}}}

    return {
        "200": {"description": "Predictions", **body(ok)},
        "400": {"description": "Bad input: names the column and the problem", **body(error)},
        "413": {"description": "Body larger than max_body_bytes", **body(error)},
        "415": {"description": "Unsupported content type", **body(error)},
    }


def _csv_line(cells: list[str]) -> str:
    import csv
    import io

    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue()
