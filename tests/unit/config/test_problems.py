"""Pydantic validation errors become located problems that say what a field takes."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conveyor.config.problems import problems_from
from conveyor.config.provenance import Origin, Provenance
from conveyor.errors import ConfigProblem


class ThingParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ratio: float | None = Field(default=None, gt=0, le=1)
    depth: int = Field(default=3, ge=1)
    name: str = Field(default="a", pattern=r"^[a-z]+$")
    mode: Literal["fast", "slow"] = "fast"


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str
    params: ThingParams


PROVENANCE = Provenance(
    {
        "thing": Origin("conf/thing/a.yaml", 1),
        "thing.params.depth": Origin("command line", override="thing.params.depth=x"),
    }
)


def _problems(data: object) -> list[ConfigProblem]:
    with pytest.raises(ValidationError) as caught:
        Thing.model_validate(data)
    return problems_from(caught.value, Thing, "thing", PROVENANCE)


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        (
            {"ratio": 2},
            ConfigProblem(
                "thing.params.ratio",
                "conf/thing/a.yaml",
                "got 2: input should be less than or equal to 1",
                "set 'ratio' to a number > 0 and <= 1, or null",
            ),
        ),
        (
            {"depth": "x"},
            ConfigProblem(
                "thing.params.depth",
                "override 'thing.params.depth=x'",
                "got 'x': input should be a valid integer, unable to parse string as an integer",
                "set 'depth' to an integer >= 1",
            ),
        ),
        (
            {"name": "A1"},
            ConfigProblem(
                "thing.params.name",
                "conf/thing/a.yaml",
                "got 'A1': string should match pattern '^[a-z]+$'",
                "set 'name' to a string matching ^[a-z]+$",
            ),
        ),
        (
            {"mode": "fats"},
            ConfigProblem(
                "thing.params.mode",
                "conf/thing/a.yaml",
                "'fats' is not a valid mode",
                "did you mean 'fast'? choose one of: fast, slow",
            ),
        ),
        (
            {"dept": 3},
            ConfigProblem(
                "thing.params.dept",
                "conf/thing/a.yaml",
                "unknown parameter 'dept'",
                "did you mean 'depth'? valid parameters: depth, mode, name, ratio",
            ),
        ),
        (
            {"depth": "???"},
            ConfigProblem(
                "thing.params.depth",
                "override 'thing.params.depth=x'",
                "required value is missing ('???')",
            ),
        ),
    ],
    ids=["bounds", "type-from-override", "pattern", "literal", "unknown-param", "missing-value"],
)
def test_a_bad_field_says_what_it_takes(params: dict[str, object], problem: ConfigProblem) -> None:
    assert _problems({"kind": "x", "params": params}) == [problem]


def test_unknown_and_missing_keys_outside_params() -> None:
    assert _problems_sorted({"params": {}, "knd": "x"}) == [
        ConfigProblem(
            "thing.kind",
            "conf/thing/a.yaml",
            "required key 'kind' is missing",
            "add 'kind: <value>' to conf/thing/a.yaml",
        ),
        ConfigProblem(
            "thing.knd",
            "conf/thing/a.yaml",
            "unknown key 'knd'",
            "did you mean 'kind'? valid keys: kind, params",
        ),
    ]


def _problems_sorted(data: object) -> list[ConfigProblem]:
    return sorted(_problems(data), key=lambda p: p.path)
