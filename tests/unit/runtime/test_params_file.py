"""params.yaml read from disk, and every error of the params view, word for word."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from pydantic import TypeAdapter

from conveyor.errors import StageError, UndeclaredParamError
from conveyor.runtime.params import ParamsView, load_params

if TYPE_CHECKING:
    from pathlib import Path

RECOMPILE = "run 'conveyor compile' to regenerate params.yaml from conf/"


def _error(call: object, kind: type[StageError] = StageError) -> StageError:
    with pytest.raises(kind) as caught:
        call()  # type: ignore[operator]
    assert type(caught.value) is kind
    return caught.value


def test_params_yaml_is_parsed_as_plain_data(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text(
        "model:\n  kind: xgboost\n  params: {max_depth: 4, eta: 0.5}\nslices: [a, b]\nseed: 1\n",
        encoding="utf-8",
    )
    assert load_params(tmp_path) == {
        "model": {"kind": "xgboost", "params": {"max_depth": 4, "eta": 0.5}},
        "slices": ["a", "b"],
        "seed": 1,
    }


def test_no_params_yaml_says_compile(tmp_path: Path) -> None:
    error = _error(lambda: load_params(tmp_path))
    assert (error.what, error.where, error.fix) == (
        f"no params.yaml in '{tmp_path}'",
        None,
        "run 'conveyor compile' first",
    )
    assert isinstance(error.__cause__, FileNotFoundError)


@pytest.mark.parametrize(
    "text", ["model: [unclosed\n", "x: !!python/object/apply:os.system ['true']\n"]
)
def test_broken_or_unsafe_yaml_says_regenerate(tmp_path: Path, text: str) -> None:
    (tmp_path / "params.yaml").write_text(text, encoding="utf-8")
    error = _error(lambda: load_params(tmp_path))
    assert error.what.startswith("params.yaml is not valid YAML: ")
    assert len(error.what) > len("params.yaml is not valid YAML: ")
    assert error.fix == "regenerate it with 'conveyor compile' (it is generated; do not edit it)"


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just text\n"])
def test_params_yaml_that_is_not_a_mapping_is_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / "params.yaml").write_text(text, encoding="utf-8")
    error = _error(lambda: load_params(tmp_path))
    assert (error.what, error.fix) == ("params.yaml must be a mapping", "run 'conveyor compile'")


def test_an_undeclared_read_names_stage_key_declared_keys_and_fix() -> None:
    view = ParamsView({"model": {"params": {"eta": 0.5}}}, ("model.params", "seed"), "train")
    error = _error(lambda: view.get("model"), UndeclaredParamError)
    assert (error.what, error.where, error.fix) == (
        "stage 'train' read 'model', which its params: list does not declare "
        "(declared: model.params, seed)",
        "stages.train.params (dvc.yaml)",
        "add 'model' to the reads of stage 'train' and run 'conveyor compile'",
    )
    assert view.get("model.params.eta") == 0.5


@pytest.mark.parametrize("key", ["model.kind.name", "model.absent", "other"])
def test_a_declared_key_params_yaml_lacks_is_an_error_without_a_default(key: str) -> None:
    view = ParamsView({"model": {"kind": "xgboost"}}, ("model", "other"), "train")
    error = _error(lambda: view.get(key))
    assert (error.what, error.where, error.fix) == (
        f"'{key}' is missing from params.yaml",
        "stage 'train'",
        RECOMPILE,
    )
    fallback = {"n": [1]}
    got = view.get(key, fallback)
    assert got == {"n": [1]}
    got["n"].append(2)
    assert fallback == {"n": [1]}  # a copy of the default, not the default
    assert view.get(key, None) is None


def test_a_falsy_value_is_read_not_defaulted() -> None:
    view = ParamsView({"a": {"zero": 0, "empty": {}, "null": None}}, ("a",), "s")
    assert view.get("a.zero", 5) == 0
    assert view.get("a.empty", 5) == {}
    assert view.get("a.null", 5) is None


def test_an_invalid_value_names_its_path_and_pydantic_reason() -> None:
    view = ParamsView({"evaluate": {"plots": ["roc", 3]}}, ("evaluate",), "evaluate")
    error = _error(lambda: view.parse("evaluate.plots", list[str]))
    assert (error.what, error.where, error.fix) == (
        "'evaluate.plots.1' in params.yaml is invalid: Input should be a valid string",
        "stage 'evaluate'",
        "run 'conveyor compile' to see where in conf/ (params.yaml is generated)",
    )
    assert view.parse("evaluate.plots", TypeAdapter(list[str | int])) == ["roc", 3]
    assert view.parse("evaluate.plots", list[str | int], None) == ["roc", 3]
    with pytest.raises(StageError, match=r"'evaluate\.missing' is missing"):
        view.parse("evaluate.missing", list[str])
    assert view.parse("evaluate.missing", list[str], ["pr"]) == ["pr"]


def test_params_yaml_is_read_as_utf8_whatever_the_locale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """conveyor compile writes UTF-8; a machine whose locale encoding is Latin-1 (what
    ``io.text_encoding`` gives a read that names no encoding) must still read it back."""
    import io

    (tmp_path / "params.yaml").write_text("data:\n  target: diagnóstico\n", encoding="utf-8")
    monkeypatch.setattr(io, "text_encoding", lambda encoding, stacklevel=2: encoding or "latin-1")
    assert load_params(tmp_path) == {"data": {"target": "diagnóstico"}}
