"""conf/ mistakes that used to leak a traceback, blame config.yaml or name no file (issue 17).

Each case composes a copy of the default conf/ with one file edited and pins where the error
points (the file that holds the mistake, its line and YAML path), what it says and the fix.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest

from conveyor.config import compose
from conveyor.config.limits import check_conf_file
from conveyor.errors import SpecError
from tests.conftest import REPO

if TYPE_CHECKING:
    from pathlib import Path

XGB = "conf/model/xgboost.yaml"
BATCH = "conf/deploy/batch.yaml"
CONFIG = "conf/config.yaml"


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    return tmp_path / "conf"


def _append(conf: Path, name: str, text: str) -> int:
    """Append ``text`` to ``conf/<name>``; return the line number it starts at."""
    path = conf.parent / name
    old = path.read_text()
    path.write_text(old + text)
    return old.count("\n") + 1


def _refused(conf: Path) -> SpecError:
    with pytest.raises(SpecError, match=r".") as caught:
        compose(conf)
    return caught.value


def test_invalid_utf8_names_the_file_line_and_byte(conf: Path) -> None:
    line = _append(conf, XGB, "")
    (conf.parent / XGB).write_bytes((conf.parent / XGB).read_bytes() + b"note: caf\xe9\n")
    error = _refused(conf)
    assert error.where == f"{XGB}:{line}"
    assert error.what == "the file is not valid UTF-8 (byte 0xe9 at column 10)"
    assert error.fix == "save the file as UTF-8: Hydra reads conf/ files as UTF-8"


@pytest.mark.parametrize("depth", [1_000, 10_000])
def test_nesting_deeper_than_libyaml_allows_is_a_located_limit(conf: Path, depth: int) -> None:
    line = _append(conf, XGB, "deep: " + "[" * depth + "]" * depth + "\n")
    error = _refused(conf)
    assert error.where == f"{XGB}:{line}"
    assert error.what == "mappings and lists nest more than 50 levels deep here"


def test_nesting_at_the_limit_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("a: " + "[" * 49 + "]" * 49 + "\n")  # the top mapping is level 1
    check_conf_file(path)
    path.write_text("a: " + "[" * 50 + "]" * 50 + "\n")
    with pytest.raises(SpecError, match="nest more than 50 levels"):
        check_conf_file(path)


@pytest.mark.parametrize(
    ("value", "got"), [("3", "an integer"), ("{model: xgboost}", "a mapping"), ("x", "a string")]
)
def test_a_defaults_that_is_not_a_list_is_located(conf: Path, value: str, got: str) -> None:
    text = (conf / "config.yaml").read_text()
    head, _, rest = text.partition("defaults:\n")
    body = "".join(line + "\n" for line in rest.splitlines() if not line.startswith("  - "))
    (conf / "config.yaml").write_text(f"{head}defaults: {value}\n{body}")
    error = _refused(conf)
    assert error.where == f"defaults ({CONFIG}:{head.count(chr(10)) + 1})"
    assert error.what == f"the defaults list must be a list, not {got}"
    assert error.fix is not None
    assert error.fix.startswith("write it as a list: defaults: [_self_, {model: xgboost}, ...]")


def test_a_defaults_entry_of_the_wrong_shape_is_located(conf: Path) -> None:
    text = (conf / "config.yaml").read_text()
    (conf / "config.yaml").write_text(text.replace("  - model: xgboost", "  - model: 3"))
    line = text[: text.index("  - model: xgboost")].count("\n") + 1
    error = _refused(conf)
    assert error.where == f"defaults.3 ({CONFIG}:{line})"
    assert error.what == "a defaults entry must be 'group: option' (an option name), not 3"


def test_an_empty_option_file_is_refused_and_blamed(conf: Path) -> None:
    (conf.parent / XGB).write_text("# emptied by mistake\n")
    error = _refused(conf)
    assert error.where == XGB
    assert error.what == "the option file is empty, so model option 'xgboost' sets nothing"
    assert error.fix == (
        "write its keys back, choose another option "
        "(available in 'model': hist_gradient_boosting, logistic_regression, random_forest, "
        "xgboost), or write '{}' if it is meant to set nothing"
    )


def test_an_option_that_sets_nothing_on_purpose_is_accepted(conf: Path) -> None:
    (conf.parent / BATCH).write_text("{}\n")
    assert "batch" not in compose(conf).data["deploy"]


@pytest.mark.parametrize(
    ("text", "got"), [("- kind: xgboost\n", "a list"), ("3\n", "an integer"), ("null\n", "null")]
)
def test_an_option_file_that_is_not_a_mapping_is_blamed(conf: Path, text: str, got: str) -> None:
    (conf.parent / BATCH).write_text(text)
    error = _refused(conf)
    assert error.where == f"{BATCH}:1"
    assert error.what == f"the option file holds {got}, but an option file is a mapping of keys"
    assert error.fix == "write deploy option 'batch' as 'key: value' lines"


def test_an_interpolation_cycle_names_the_key_and_file(conf: Path) -> None:
    line = _append(conf, CONFIG, "a: ${b}\nb: ${a}\n")
    error = _refused(conf)
    assert error.where == f"a ({CONFIG}:{line})"
    assert error.what == "the interpolation '${b}' never resolves: it leads back to itself"
    assert error.fix == "break the cycle: give one of the keys it passes through a plain value"


def test_an_unknown_interpolation_key_names_the_key_and_file(conf: Path) -> None:
    line = _append(conf, XGB, "note: ${nope}\n")
    error = _refused(conf)
    assert error.where == f"model.note ({XGB}:{line})"
    assert error.what == "cannot resolve '${nope}': interpolation key 'nope' not found"


@pytest.mark.parametrize(
    ("name", "text", "path"),
    [(CONFIG, "foo: ${seed\n", "foo"), (XGB, "note: x ${seed\n", "model.note")],
)
def test_an_unterminated_interpolation_names_the_key_and_file(
    conf: Path, name: str, text: str, path: str
) -> None:
    line = _append(conf, name, text)
    error = _refused(conf)
    assert error.where == f"{path} ({name}:{line})"
    assert error.what.startswith(f"the interpolation in {text.split(': ', 1)[1].strip()!r}")
    assert error.fix == "close each '${' with '}', or escape a literal one as '\\${'"


@pytest.mark.parametrize(("name", "path"), [(CONFIG, "~"), (XGB, "model.~")])
def test_a_null_key_names_the_key_and_file(conf: Path, name: str, path: str) -> None:
    line = _append(conf, name, "~: 1\n")
    error = _refused(conf)
    assert error.where == f"{path} ({name}:{line})"
    assert error.what == "a key reads as null ('~'), not a name"
    assert error.fix == "quote the key ('~': ...) or give it a name"


def test_all_file_mistakes_are_reported_at_once(conf: Path) -> None:
    line = _append(conf, CONFIG, "~: 1\n")
    (conf.parent / BATCH).write_text("")
    error = _refused(conf)
    assert error.what == "2 problems in the configuration"
    assert [p.where for p in error.problems] == [f"~ ({CONFIG}:{line})", BATCH]


def test_a_syntax_error_in_the_primary_config_is_still_located_by_hydra(conf: Path) -> None:
    line = _append(conf, CONFIG, "broken: [1\n")
    error = _refused(conf)
    assert error.where == f"{CONFIG}:{line + 1}"
    assert error.what.startswith("invalid YAML: ")
