"""serve.json: every field optional, every problem reported at once, flags override it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from conveyor.errors import SpecError
from conveyor.serving.config import ServeConfig, load_serve_config

if TYPE_CHECKING:
    from pathlib import Path


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "serve.json"
    path.write_text(text)
    return path


def test_round_trip_and_defaults(tmp_path: Path) -> None:
    config = ServeConfig(port=9000, log_dir=str(tmp_path / "logs"), log_rotate_seconds=5)
    assert load_serve_config(_write(tmp_path, config.to_json())) == config
    assert load_serve_config(_write(tmp_path, "{}")) == ServeConfig()
    assert ServeConfig().max_body_bytes == 10 * 1024 * 1024


def test_a_relative_log_dir_is_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "deploy").mkdir()
    path = tmp_path / "deploy" / "serve.json"
    path.write_text('{"log_dir": "predictions"}')
    assert load_serve_config(path).log_dir == str(tmp_path / "deploy" / "predictions")


def test_flags_override_the_file_and_none_keeps_it(tmp_path: Path) -> None:
    config = load_serve_config(_write(tmp_path, json.dumps({"port": 9000, "host": "::1"})))
    changed = config.replace(port=9100, host=None, unknown_categories="allow")
    assert (changed.port, changed.host, changed.unknown_categories) == (9100, "::1", "allow")


def test_every_problem_is_reported(tmp_path: Path) -> None:
    text = json.dumps({"prot": 1, "max_body_bytes": "10MB", "log_dir": 3, "host": True})
    with pytest.raises(SpecError, match=r"serve\.json: ") as info:
        load_serve_config(_write(tmp_path, text))
    assert info.value.what == (
        "unknown key 'prot' (did you mean 'port'?); 'host' must be str, got True; "
        "'max_body_bytes' must be int, got '10MB'; 'log_dir' must be str or null, got 3"
    )
    assert info.value.fix is not None
    assert info.value.fix.startswith("valid keys: host, port")
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"port": 70000}', "'port' must be 0-65535, got 70000"),
        ('{"max_body_bytes": 0}', "'max_body_bytes' must be positive, got 0"),
        ('{"unknown_categories": "ignore"}', "'unknown_categories' must be 'error' or 'allow'"),
        ('{"port": 80,}', "the server config is not valid JSON: "),
        ("[1]", "the server config must be a JSON object, got list"),
    ],
)
def test_bad_values(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(SpecError, match=r"serve\.json") as info:
        load_serve_config(_write(tmp_path, text))
    assert expected in info.value.what


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read the server config: No such file"):
        load_serve_config(tmp_path / "nope.json")
