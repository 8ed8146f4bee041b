"""conf/ mistakes that used to print a traceback, blame conf/config.yaml or pass in silence.

Through the real ``conveyor compile`` (issue 17): each exits 2 with no traceback, names the
file that holds the mistake (and its YAML path or line), says how to fix it, and leaves
dvc.yaml and params.yaml as they were.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.conftest import REPO, conveyor_in_process

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    Edit = Callable[[Path], None]

XGB = "conf/model/xgboost.yaml"
CONFIG = "conf/config.yaml"
CONFIG_LINES = len((REPO / CONFIG).read_text(encoding="utf-8").splitlines())  # a: is appended
MODELS = "hist_gradient_boosting, logistic_regression, random_forest, xgboost"
EMPTY_FIX = (
    "  fix: write its keys back, choose another option (available in '{group}': {options}), "
)


def _append(text: str | bytes, name: str = XGB) -> Edit:
    def edit(root: Path) -> None:
        path = root / name
        path.write_bytes(path.read_bytes() + (text if isinstance(text, bytes) else text.encode()))

    return edit


def _write(text: str, name: str) -> Edit:
    def edit(root: Path) -> None:
        (root / name).write_text(text)

    return edit


def _defaults(value: str) -> Edit:
    def edit(root: Path) -> None:
        path = root / CONFIG
        lines = [line for line in path.read_text().splitlines() if not line.startswith("  - ")]
        path.write_text("\n".join(lines).replace("defaults:", f"defaults: {value}") + "\n")

    return edit


CASES = {
    "invalid-utf8": (
        _append(b"note: caf\xe9\n"),
        "error: conf/model/xgboost.yaml:9: the file is not valid UTF-8 (byte 0xe9 at column 10)\n"
        "  fix: save the file as UTF-8: Hydra reads conf/ files as UTF-8\n",
    ),
    "10000-deep": (
        _append("deep: " + "[" * 10_000 + "]" * 10_000 + "\n"),
        "error: conf/model/xgboost.yaml:9: mappings and lists nest more than 50 levels deep here\n"
        "  fix: flatten the structure (conveyor's limits: docs/security.md)\n",
    ),
    "defaults-not-a-list": (
        _defaults("3"),
        "error: defaults (conf/config.yaml:2): the defaults list must be a list, not an integer\n"
        "  fix: write it as a list: defaults: [_self_, {model: xgboost}, ...], one "
        "'- group: option' entry a line (Hydra's defaults list)\n",
    ),
    "emptied-option-file": (
        _write("", XGB),
        "error: conf/model/xgboost.yaml: the option file is empty, so model option 'xgboost' "
        "sets nothing\n"
        + EMPTY_FIX.format(group="model", options=MODELS)
        + "or write '{}' if it is meant to set nothing\n",
    ),
    "option-file-is-a-list": (
        _write("- kind: xgboost\n", XGB),
        "error: conf/model/xgboost.yaml:1: the option file holds a list, but an option file is a "
        "mapping of keys\n  fix: write model option 'xgboost' as 'key: value' lines\n",
    ),
    "emptied-deploy-option": (
        _write("", "conf/deploy/batch.yaml"),
        "error: conf/deploy/batch.yaml: the option file is empty, so deploy option 'batch' sets "
        "nothing\n"
        + EMPTY_FIX.format(group="deploy", options="batch, container, rest")
        + "or write '{}' if it is meant to set nothing\n",
    ),
    "emptied-features": (
        _write("# no transforms\n", "conf/features/standard.yaml"),
        "error: conf/features/standard.yaml: the option file is empty, so features option "
        "'standard' sets nothing\n"
        + EMPTY_FIX.format(group="features", options="none, standard")
        + "or write '{}' if it is meant to set nothing\n",
    ),
    "interpolation-cycle": (
        _append("a: ${b}\nb: ${a}\n", CONFIG),
        f"error: a (conf/config.yaml:{CONFIG_LINES + 1}): the interpolation '${{b}}' never "
        "resolves: it leads back "
        "to itself\n  fix: break the cycle: give one of the keys it passes through a plain value\n",
    ),
    "unterminated-interpolation": (
        _append("offset: ${seed\n"),
        "error: model.offset (conf/model/xgboost.yaml:9): the interpolation in '${seed' does not "
        "parse: no viable alternative at input '${seed'\n"
        "  fix: close each '${' with '}', or escape a literal one as '\\${'\n",
    ),
    "null-key": (
        _append("~: 1\n"),
        "error: model.~ (conf/model/xgboost.yaml:9): a key reads as null ('~'), not a name\n"
        "  fix: quote the key ('~': ...) or give it a name\n",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_conf_mistake_names_its_file(project: Path, case: str) -> None:
    edit, expected = CASES[case]
    before = {n: (project / n).read_bytes() for n in ("dvc.yaml", "params.yaml")}
    edit(project)
    done = conveyor_in_process("compile", cwd=project, check=False)
    assert "Traceback" not in done.stderr
    assert (done.returncode, done.stderr) == (2, expected)
    assert {n: (project / n).read_bytes() for n in before} == before


def test_an_option_that_sets_nothing_on_purpose_compiles(project: Path) -> None:
    (project / "conf" / "deploy" / "batch.yaml").write_text("{}\n")
    done = conveyor_in_process("compile", cwd=project)
    assert "deploy-batch" not in (project / "dvc.yaml").read_text()
    assert "deploy-rest" in (project / "dvc.yaml").read_text()
    assert done.stderr == ""
