"""The requests of the load test: valid and malformed bodies built from a bundle's schema.

Each :class:`Case` is one request and the answer it must get: the exact status code, and for
a 200 the number of predictions. Valid requests (1-5 rows) are spread over MLflow's
``dataframe_split``, ``dataframe_records`` and CSV bodies and the Open Inference Protocol's
per-column tensors and, for all-numeric schemas, one 2-D tensor. Malformed ones cover every
kind of bad request issue 5 names (see :meth:`Payloads.malformed_kinds`).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import random
    from collections.abc import Callable

JSON, CSV = "application/json", "text/csv"


@dataclass(frozen=True)
class Case:
    """One request to send, and what the answer must be."""

    kind: str
    path: str
    content: bytes
    content_type: str
    expect: int
    rows: int = 0
    """Predictions expected in a 200 answer."""

    @property
    def protocol(self) -> str:
        return "oip" if self.path.startswith("/v2/") else "mlflow"


class Payloads:
    """Request bodies for one bundle, built from its schema.json."""

    def __init__(self, schema: dict[str, Any], model_name: str, rng: random.Random) -> None:
        self.columns: list[dict[str, Any]] = schema["columns"]
        self.names = [c["name"] for c in self.columns]
        self.model_name = model_name
        self.rng = rng
        numeric = [c for c in self.columns if _is_numeric(c)]
        self.numeric = numeric[0]["name"] if numeric else None
        strict = [c for c in numeric if not c.get("nullable", True)]
        self.not_nullable = strict[0]["name"] if strict else None
        self.all_numeric = len(numeric) == len(self.columns)

    def rows(self, count: int) -> list[list[Any]]:
        """``count`` valid rows in schema order: values inside each column's training range."""
        return [[self._value(c) for c in self.columns] for _ in range(count)]

    def _value(self, column: dict[str, Any]) -> Any:
        dtype = str(column["dtype"])
        if dtype.startswith("bool"):
            return self.rng.random() < 0.5
        if _is_numeric(column):
            low, high = float(column.get("min", 0.0)), float(column.get("max", 1.0))
            value = self.rng.uniform(low, high)
            return round(value) if dtype.startswith(("int", "uint")) else value
        if column.get("categories"):
            return self.rng.choice(column["categories"])
        if dtype.startswith("datetime"):
            return "2024-01-01T00:00:00"
        return "x"

    def split(self, rows: list[list[Any]], names: list[str] | None = None) -> bytes:
        body = {"dataframe_split": {"columns": names or self.names, "data": rows}}
        return json.dumps(body).encode()

    def records(self, rows: list[list[Any]]) -> bytes:
        body = {"dataframe_records": [dict(zip(self.names, r, strict=True)) for r in rows]}
        return json.dumps(body).encode()

    def csv(self, rows: list[list[Any]]) -> bytes:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(self.names)
        writer.writerows(rows)
        return text.getvalue().encode()

    def oip_columns(self, rows: list[list[Any]]) -> bytes:
        inputs = [
            {
                "name": c["name"],
                "shape": [len(rows)],
                "datatype": _oip_type(c),
                "data": [r[i] for r in rows],
            }
            for i, c in enumerate(self.columns)
        ]
        return json.dumps({"inputs": inputs}).encode()

    def oip_tensor(self, rows: list[list[Any]]) -> bytes:
        data = [v for r in rows for v in r]
        tensor = {
            "name": "input-0",
            "shape": [len(rows), len(self.names)],
            "datatype": "FP64",
            "data": data,
        }
        return json.dumps({"inputs": [tensor]}).encode()

    @property
    def infer_path(self) -> str:
        return f"/v2/models/{self.model_name}/infer"

    def valid(self, kind: str) -> Case:
        """A valid request of ``kind`` with 1-5 rows."""
        count = self.rng.randint(1, 5)
        rows = self.rows(count)
        if kind == "split":
            return Case(kind, "/invocations", self.split(rows), JSON, 200, count)
        if kind == "records":
            return Case(kind, "/invocations", self.records(rows), JSON, 200, count)
        if kind == "csv":
            return Case(kind, "/invocations", self.csv(rows), CSV, 200, count)
        if kind == "oip_columns":
            return Case(kind, self.infer_path, self.oip_columns(rows), JSON, 200, count)
        if kind == "oip_tensor":
            return Case(kind, self.infer_path, self.oip_tensor(rows), JSON, 200, count)
        raise ValueError(kind)

    def valid_kinds(self) -> list[str]:
        kinds = ["split", "records", "csv", "oip_columns"]
        return [*kinds, "oip_tensor"] if self.all_numeric else kinds

    def malformed_kinds(self) -> dict[str, Callable[[int], Case]]:
        """Every kind of bad request this bundle allows, as ``{kind: build(max_body_bytes)}``."""
        kinds: dict[str, Callable[[int], Case]] = {
            "malformed_json": lambda _: self._bad("malformed_json", b'{"dataframe_split": {"c'),
            "missing_column": lambda _: self._bad(
                "missing_column", self.split([r[1:] for r in self.rows(2)], self.names[1:])
            ),
            "extra_column": lambda _: self._bad(
                "extra_column",
                self.split([[*r, 1.0] for r in self.rows(2)], [*self.names, "not_a_column"]),
            ),
            "empty_batch": lambda _: self._bad("empty_batch", self.split([])),
            "wrong_content_type": lambda _: Case(
                "wrong_content_type", "/invocations", self.split(self.rows(1)), "text/plain", 415
            ),
            "oversized_body": lambda limit: Case(
                "oversized_body", "/invocations", self._oversized(limit), JSON, 413
            ),
            "two_payload_keys": lambda _: self._bad(
                "two_payload_keys",
                self._merge(self.split(self.rows(1)), self.records(self.rows(1))),
            ),
            "unknown_payload_key": lambda _: self._bad(
                "unknown_payload_key", json.dumps({"dataframes": self.rows(1)}).encode()
            ),
            "oip_shape_mismatch": lambda _: self._oip_shape_mismatch(),
            "oip_unknown_datatype": lambda _: self._oip_unknown_datatype(),
            "oip_unknown_model": lambda _: Case(
                "oip_unknown_model",
                "/v2/models/no_such_model/infer",
                self.oip_columns(self.rows(1)),
                JSON,
                404,
            ),
        }
        if self.numeric is not None:
            kinds["wrong_type"] = lambda _: self._bad("wrong_type", self._with(self.numeric, "abc"))
            kinds["csv_bad_cell"] = lambda _: self._csv_bad_cell()
        if self.not_nullable is not None:
            kinds["nan_or_inf"] = lambda _: self._bad("nan_or_inf", self._non_finite())
        return kinds

    def _bad(self, kind: str, content: bytes) -> Case:
        return Case(kind, "/invocations", content, JSON, 400)

    def _with(self, column: str | None, value: Any) -> bytes:
        rows = self.rows(2)
        rows[-1][self.names.index(str(column))] = value
        return self.split(rows)

    def _non_finite(self) -> bytes:
        """A row whose non-nullable column holds NaN, Infinity or -Infinity (JSON5 literals)."""
        literal = self.rng.choice(["NaN", "Infinity", "-Infinity"])
        body = json.loads(self._with(self.not_nullable, "__HOLE__"))
        return json.dumps(body).replace('"__HOLE__"', literal).encode()

    def _merge(self, first: bytes, second: bytes) -> bytes:
        return json.dumps({**json.loads(first), **json.loads(second)}).encode()

    def _oversized(self, limit: int) -> bytes:
        """A valid ``dataframe_split`` body of 1.5x to 2.3x ``limit`` bytes."""
        rows = self.rows(1)
        while len(body := self.split(rows)) <= 1.5 * limit:
            rows += self.rows(max(1, len(rows) // 2))
        return body

    def _csv_bad_cell(self) -> Case:
        rows = self.rows(2)
        rows[0][self.names.index(str(self.numeric))] = "abc"
        return Case("csv_bad_cell", "/invocations", self.csv(rows), CSV, 400)

    def _oip_shape_mismatch(self) -> Case:
        body = json.loads(self.oip_columns(self.rows(2)))
        body["inputs"][0]["data"] = body["inputs"][0]["data"][:1]
        return Case("oip_shape_mismatch", self.infer_path, json.dumps(body).encode(), JSON, 400)

    def _oip_unknown_datatype(self) -> Case:
        body = json.loads(self.oip_columns(self.rows(1)))
        body["inputs"][0]["datatype"] = "FP99"
        return Case("oip_unknown_datatype", self.infer_path, json.dumps(body).encode(), JSON, 400)


def _is_numeric(column: dict[str, Any]) -> bool:
    return str(column["dtype"]).startswith(("float", "int", "uint", "Float", "Int", "UInt"))


def _oip_type(column: dict[str, Any]) -> str:
    dtype = str(column["dtype"])
    if dtype.startswith("bool"):
        return "BOOL"
    if dtype.lower().startswith(("int", "uint")):
        return "INT64"
    return "FP64" if _is_numeric(column) else "BYTES"


def make_cases(
    payloads: Payloads, *, requests: int, malformed_share: float, max_body_bytes: int
) -> list[Case]:
    """``requests`` cases in random order: the malformed share spread evenly over its kinds."""
    bad = round(requests * malformed_share)
    builders = payloads.malformed_kinds()
    kinds = sorted(builders)
    cases = [builders[kinds[i % len(kinds)]](max_body_bytes) for i in range(bad)]
    valid = payloads.valid_kinds()
    cases += [payloads.valid(valid[i % len(valid)]) for i in range(requests - bad)]
    payloads.rng.shuffle(cases)
    return cases
