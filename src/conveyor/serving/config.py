"""How a server runs: limits, the unknown-category policy, prediction logging, where to listen.

``serve.json`` (what the ``rest`` deploy target writes beside the bundle, or ``--config FILE``)
holds any subset of the fields; command-line flags override it::

    {"port": 8080, "max_body_bytes": 10485760, "log_dir": "predictions"}
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from conveyor.errors import SpecError

if TYPE_CHECKING:
    from pathlib import Path

UnknownCategories = Literal["error", "allow"]
ExtraColumns = Literal["ignore", "error"]
_POLICIES = ("error", "allow")
_EXTRA_POLICIES = ("ignore", "error")
_POSITIVE = (
    "max_body_bytes",
    "log_rotate_rows",
    "log_rotate_seconds",
    "max_rows",
    "header_timeout",
    "keep_alive_timeout",
    "body_timeout",
    "max_connections",
)


@dataclass(frozen=True)
class ServeConfig:
    """Settings of one model server; every field has a default."""

    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 10 * 1024 * 1024
    """Larger request bodies are refused with 413 before they are read in full."""
    unknown_categories: UnknownCategories = "error"
    """``error``: a category the model never saw is a 400; ``allow``: the model decides."""
    log_dir: str | None = None
    """Where prediction logs go (``<log_dir>/<model>/date=.../part-*.parquet``); None: no log.
    A relative path in a serve.json is relative to that file; on the command line, to the cwd."""
    log_rotate_rows: int = 10_000
    """A log file is written once this many rows are waiting..."""
    log_rotate_seconds: float = 60.0
    """...or once the oldest waiting row is this old."""
    model_version: str | None = None
    """The version label to report; None: the registry version, or ``local`` for a directory."""
    max_rows: int = 100_000
    """A request with more rows is refused with 413 (CSV: before the rest is parsed)."""
    header_timeout: float = 10.0
    """Seconds from connecting (or from the first byte after a response) to a complete request
    head; then 408 and close. Slow-header (slowloris) clients hold nothing for longer."""
    keep_alive_timeout: float = 5.0
    """Seconds an idle connection stays open after a response (uvicorn's default)."""
    body_timeout: float = 60.0
    """Seconds from the end of the head to the end of the body; then 408 and close."""
    max_connections: int = 1000
    """Open connections past this many are closed as soon as they are accepted."""
    extra_columns: ExtraColumns = "ignore"
    """``ignore`` (MLflow's behaviour): request columns the model does not take are dropped
    before scoring and counted in /metrics; ``error``: each is a 400 with a did-you-mean."""
    id_column: str | None = None
    """A request column that is never scored but written to the prediction log, so labels can
    be joined later (``conveyor monitor --labels FILE --id-column NAME``)."""
    canary: str | None = None
    """A second version of the model (``NAME@v1.2.0``, ``NAME#staging``, a bundle directory)
    that answers ``canary_share`` of the requests (:mod:`conveyor.serving.traffic`)."""
    canary_share: float = 0.1
    """The share of requests the canary answers, above 0 and below 1."""
    canary_sticky: str | None = None
    """A request column (the id column) whose value picks the version: the same value always
    lands on the same version. None: requests are spread by share alone."""
    shadow: str | None = None
    """A second version that scores every request too, after the answer; its predictions go to
    /metrics and the prediction log, never to the client."""

    def __post_init__(self) -> None:
        if self.canary_sticky is not None and self.id_column is None:  # sticky by the id
            object.__setattr__(self, "id_column", self.canary_sticky)

    def to_json(self) -> str:
        """The config as ``serve.json`` text (every field, sorted keys)."""
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"

    def replace(self, **changes: Any) -> ServeConfig:  # noqa: ANN401 - field values
        """A copy with ``changes`` applied (``None`` values leave a field as it is) and checked."""
        given = {key: value for key, value in changes.items() if value is not None}
        return from_mapping({**dataclasses.asdict(self), **given}, where="command line")


_TYPES: dict[str, tuple[type, ...]] = {
    "host": (str,),
    "port": (int,),
    "max_body_bytes": (int,),
    "unknown_categories": (str,),
    "log_dir": (str, type(None)),
    "log_rotate_rows": (int,),
    "log_rotate_seconds": (int, float),
    "model_version": (str, type(None)),
    "max_rows": (int,),
    "header_timeout": (int, float),
    "keep_alive_timeout": (int, float),
    "body_timeout": (int, float),
    "max_connections": (int,),
    "extra_columns": (str,),
    "id_column": (str, type(None)),
    "canary": (str, type(None)),
    "canary_share": (int, float),
    "canary_sticky": (str, type(None)),
    "shadow": (str, type(None)),
}


def from_mapping(data: dict[str, Any], *, where: str) -> ServeConfig:
    """Check ``data`` (parsed serve.json) and build a config; every problem is reported at once."""
    problems: list[str] = []
    for key in data:
        if key not in _TYPES:
            close = difflib.get_close_matches(key, list(_TYPES), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(f"unknown key '{key}'{hint}")
    for key, types in _TYPES.items():
        if key not in data:
            continue
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, types):
            wanted = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            problems.append(f"'{key}' must be {wanted}, got {value!r}")
    if not problems:
        problems.extend(_range_problems(data))
    if problems:
        unknown = any(p.startswith("unknown key") for p in problems)
        raise SpecError(
            "; ".join(problems),
            where=where,
            fix=f"valid keys: {', '.join(_TYPES)} (see docs/serving.md)"
            if unknown
            else "correct the values named above (each key: docs/serving.md, Configuration)",
        )
    return ServeConfig(**{key: data[key] for key in _TYPES if key in data})


def _range_problems(data: dict[str, Any]) -> list[str]:
    problems = []
    if not 0 <= data.get("port", 0) <= 65535:
        problems.append(f"'port' must be 0-65535, got {data['port']}")
    for key in _POSITIVE:
        if key in data and data[key] <= 0:
            problems.append(f"'{key}' must be positive, got {data[key]}")
    if data.get("unknown_categories", "error") not in _POLICIES:
        problems.append(
            f"'unknown_categories' must be 'error' or 'allow', got {data['unknown_categories']!r}"
        )
    if data.get("extra_columns", "ignore") not in _EXTRA_POLICIES:
        problems.append(
            f"'extra_columns' must be 'ignore' or 'error', got {data['extra_columns']!r}"
        )
    for key in ("id_column", "canary", "canary_sticky", "shadow"):
        if data.get(key) == "":
            what = "a column name" if key in ("id_column", "canary_sticky") else "a model"
            problems.append(f"'{key}' must be {what}, got ''")
    problems.extend(_candidate_problems(data))
    return problems


def _candidate_problems(data: dict[str, Any]) -> list[str]:
    """A canary or a shadow, not both; a share strictly between 0 and 1; sticky by the id."""
    problems = []
    if data.get("canary") and data.get("shadow"):
        problems.append("'canary' and 'shadow' are both set; serve one candidate at a time")
    share = data.get("canary_share", 0.1)
    if not 0 < share < 1:
        problems.append(f"'canary_share' must be above 0 and below 1, got {share}")
    sticky, ids = data.get("canary_sticky"), data.get("id_column")
    if sticky and ids and sticky != ids:
        problems.append(
            f"'canary_sticky' '{sticky}' is not the id column '{ids}'; a request is made "
            "sticky by its id column"
        )
    if sticky and not data.get("canary"):
        problems.append("'canary_sticky' is set without 'canary'")
    return problems


def load_serve_config(path: Path) -> ServeConfig:
    """Read and check a ``serve.json`` file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(f"cannot read the server config: {exc.strerror}", where=str(path)) from exc
    except ValueError as exc:
        raise SpecError(
            f"the server config is not valid JSON: {exc}",
            where=str(path),
            fix='write a JSON object such as {"port": 8080}',
        ) from exc
    if not isinstance(data, dict):
        raise SpecError(
            f"the server config must be a JSON object, got {type(data).__name__}",
            where=str(path),
            fix='write a JSON object such as {"port": 8080}',
        )
    config = from_mapping(data, where=str(path))
    if config.log_dir is not None and not os.path.isabs(config.log_dir):
        # Relative to the file, as the deployed directory's serve.json means it.
        return dataclasses.replace(config, log_dir=str(path.parent / config.log_dir))
    return config
