"""The OpenAPI document and the server agree: schemathesis calls every route in process.

Each operation gets a bounded number of generated requests (valid and invalid ones), and every
answer is checked against the document: status codes it lists, bodies of the declared shape,
no 500s, and requests the document allows are not refused (nor refused ones allowed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
)

from tests.unit.serving.conftest import IMPUTE_SCALE, fruit_frame, save

if TYPE_CHECKING:
    from schemathesis.generation.case import Case
    from schemathesis.openapi import OpenApiSchema  # type: ignore[attr-defined]

pytestmark = pytest.mark.slow

EXAMPLES = 20
"""Generated requests per operation (valid and invalid each): about a minute in all, loaded."""


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> OpenApiSchema:
    from sklearn.linear_model import LogisticRegression

    from conveyor.bundle import load_bundle
    from conveyor.bundle.predictor import Predictor
    from conveyor.serving.app import create_app
    from conveyor.serving.config import ServeConfig

    x, y = fruit_frame()
    transforms = [*IMPUTE_SCALE, {"kind": "one_hot", "columns": ["color"]}]
    path = tmp_path_factory.mktemp("openapi") / "fruit"
    classes = ["apple", "melon", "pear"]
    model = LogisticRegression(max_iter=1000)
    save(path, x, y, transforms, model, "multiclass_classification", classes)
    app = create_app(Predictor(load_bundle(path)), config=ServeConfig())
    return schemathesis.openapi.from_asgi("/openapi.json", app)


OPERATIONS = [
    ("POST", "/invocations"),
    ("GET", "/ping"),
    ("GET", "/health"),
    ("GET", "/version"),
    ("GET", "/v2"),
    ("GET", "/v2/health/live"),
    ("GET", "/v2/health/ready"),
    ("GET", "/v2/models/{name}"),
    ("GET", "/v2/models/{name}/versions/{version}"),
    ("GET", "/v2/models/{name}/ready"),
    ("GET", "/v2/models/{name}/versions/{version}/ready"),
    ("POST", "/v2/models/{name}/infer"),
    ("POST", "/v2/models/{name}/versions/{version}/infer"),
    ("GET", "/metrics"),
]


def test_every_route_is_checked(openapi: OpenApiSchema) -> None:
    listed = {(op.ok().method.upper(), op.ok().path) for op in openapi.get_all_operations()}
    assert listed == set(OPERATIONS)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_the_server_keeps_to_its_openapi_document(
    openapi: OpenApiSchema, method: str, path: str, mode: GenerationMode
) -> None:
    operation = openapi[path][method]
    if mode is GenerationMode.NEGATIVE and "{" not in path and method == "GET":
        pytest.skip("no parameters and no body: nothing to make invalid")

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Case) -> None:
        excluded = [positive_data_acceptance] if _loosely_typed(case) else []
        if case.query and not operation.query:  # unknown query parameters are ignored, as usual
            excluded.append(negative_data_rejection)
        case.call_and_validate(excluded_checks=excluded)

    check()


def _loosely_typed(case: Case) -> bool:
    """Bodies whose valid values no JSON schema here pins down, so a 400 may be right.

    CSV cells are text (the schema cannot say which columns a header must name),
    dataframe_split's rows follow its 'columns', in any order, columnar 'inputs' need lists of
    one length, and a v2 tensor's shape must agree with its data's length. Every other check
    still runs on them.
    """
    body = case.body if isinstance(case.body, dict) else {}
    split = "dataframe_split" in body  # its rows follow 'columns', in any order
    columnar = isinstance(body.get("inputs"), dict)  # its lists must have one length
    return case.media_type == "text/csv" or case.path.endswith("/infer") or split or columnar


def test_the_three_mismatches_schemathesis_found(openapi: OpenApiSchema) -> None:
    """params: null is documented (the server takes it); an empty batch is not (a 400)."""
    from jsonschema import Draft202012Validator

    document = openapi.raw_schema
    body = document["paths"]["/invocations"]["post"]["requestBody"]["content"]
    validator = Draft202012Validator(body["application/json"]["schema"])
    row = {"weight": 150.0, "sugar": 10.0, "color": "red"}
    assert validator.is_valid({"dataframe_records": [row], "params": None})
    for empty in ({"dataframe_records": []}, {"instances": []}, {"inputs": {"weight": []}}):
        assert not validator.is_valid(empty), empty
    for route in ("/v2/models/{name}", "/v2/models/{name}/ready", "/v2/models/{name}/infer"):
        (operation,) = document["paths"][route].values()
        assert "404" in operation["responses"]
        assert "422" not in operation["responses"]
        (name,) = [p for p in operation["parameters"] if p["in"] == "path"]
        assert name["schema"]["enum"] == ["fruit"]
