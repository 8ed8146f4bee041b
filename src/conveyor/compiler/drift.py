"""Why the generated files differ from conf/, and the fix that loses nothing (``compile --check``).

A stale dvc.yaml, or a params.yaml that only looks different, is fixed by ``conveyor compile``.
But params.yaml can also hold values conf/ does not: ``dvc exp run`` or ``dvc exp apply`` wrote
an experiment's values there, or someone edited it. Compiling then silently throws them away,
so the advice is ``conveyor adopt EXP`` (the experiment is named when params.yaml is exactly one
experiment's), or to write the values into conf/. Only when git shows that conf/ changed after
params.yaml (an uncommitted conf/ edit, or a later commit) is compiling the fix, as
params.yaml's old values stay in git.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from conveyor import _git
from conveyor.compiler.render import PARAMS_YAML
from conveyor.config import CONFIG_DIR, flatten
from conveyor.errors import GitError

if TYPE_CHECKING:
    from pathlib import Path

_SHOWN = 10
_MISSING: Any = object()


@dataclass(frozen=True)
class ValueDrift:
    """One params.yaml key whose value is not the one conf/ composes."""

    key: str
    params: object
    conf: object

    def __str__(self) -> str:
        has = "has no such key" if self.params is _MISSING else f"has {_show(self.params)}"
        composes = "has no such key" if self.conf is _MISSING else f"composes {_show(self.conf)}"
        return f"{self.key}: {PARAMS_YAML} {has}, {CONFIG_DIR}/ {composes}"


@dataclass(frozen=True)
class Drift:
    """What ``compile --check`` found: the diff, and whether compiling would lose values."""

    diff: str
    values: tuple[ValueDrift, ...] = ()
    """Keys whose params.yaml values differ from what conf/ composes."""
    experiment: str | None = None
    """The DVC experiment whose params.yaml the work tree's is, if any."""
    conf_is_newer: bool = False
    """git shows conf/ changed after params.yaml: the values in params.yaml are old ones."""

    @property
    def keeps_values(self) -> bool:
        """Whether params.yaml holds values that ``conveyor compile`` would throw away."""
        return bool(self.values) and not self.conf_is_newer

    def short_fix(self) -> str:
        """The fix in one line, for commands that only point at ``compile --check``."""
        if self.keeps_values:
            return (
                f"{PARAMS_YAML} holds values conf/ does not; 'conveyor compile --check' lists "
                "them and how to keep them ('conveyor adopt EXP' for an experiment)"
            )
        return "run 'conveyor compile' and commit the result"

    def message(self) -> str:
        """What is wrong and how to fix it, for ``error: ...`` (several lines)."""
        if not self.diff:
            return ""
        if not self.values:
            return (
                "dvc.yaml/params.yaml are not what conf/ generates; "
                "run 'conveyor compile' and commit the result"
            )
        listed = "\n".join(f"    {v}" for v in self.values[:_SHOWN])
        if len(self.values) > _SHOWN:
            listed += f"\n    ... and {len(self.values) - _SHOWN} more"
        if self.conf_is_newer:
            return (
                f"conf/ changed since {PARAMS_YAML} was generated:\n{listed}\n"
                f"  fix: run 'conveyor compile' and commit the result ({PARAMS_YAML}'s old "
                "values stay in git)"
            )
        if self.experiment is not None:
            fix = (
                f"run 'conveyor adopt {self.experiment}' to write them into conf/ (they are "
                f"DVC experiment '{self.experiment}''s); a plain 'conveyor compile' would "
                "discard them"
            )
        else:
            fix = (
                "if they came from a DVC experiment, run 'conveyor adopt EXP' ('dvc exp show' "
                "lists them); otherwise write them into conf/ by hand; a plain "
                "'conveyor compile' would discard them"
            )
        return f"{PARAMS_YAML} holds values conf/ does not:\n{listed}\n  fix: {fix}"


def find_drift(root: Path, diff: str, generated_params: str) -> Drift:
    """Explain ``diff`` (committed files vs ``generated_params`` and the rest); git is optional."""
    if not diff:
        return Drift(diff)
    current = _load(root / PARAMS_YAML)
    if current is None:
        return Drift(diff)
    values = _value_drift(current, yaml.safe_load(generated_params) or {})
    if not values:
        return Drift(diff)
    try:
        newer = _conf_is_newer(root)
        experiment = None if newer else _experiment_with(root, root / PARAMS_YAML)
    except GitError:
        newer, experiment = False, None
    return Drift(diff, values, experiment, newer)


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None  # missing or broken: compiling loses nothing DVC could use
    return data if isinstance(data, dict) else None


def _value_drift(current: dict[str, Any], generated: dict[str, Any]) -> tuple[ValueDrift, ...]:
    ours, theirs = flatten(generated), flatten(current)
    paths = [*theirs, *(p for p in ours if p not in theirs)]
    found = []
    for path in paths:
        new, old = theirs.get(path, _MISSING), ours.get(path, _MISSING)
        if type(new) is not type(old) or new != old:
            found.append(ValueDrift(path, new, old))
    return tuple(found)


def _conf_is_newer(root: Path) -> bool:
    """Whether git shows conf/ changed after params.yaml (uncommitted, or a later commit)."""
    status = _git.git(
        root, "status", "--porcelain", "--untracked-files=all", "--", CONFIG_DIR, PARAMS_YAML
    ).out
    changed = [line[3:] for line in status.splitlines() if line.strip()]
    conf = any(p.startswith(f"{CONFIG_DIR}/") for p in changed)
    params = PARAMS_YAML in changed
    if conf or params:
        return conf and not params
    last = [
        _git.git(root, "log", "-1", "--format=%H", "--", path, check=False).out.strip()
        for path in (CONFIG_DIR, PARAMS_YAML)
    ]
    if not all(last) or last[0] == last[1]:
        return False
    ancestor = _git.git(root, "merge-base", "--is-ancestor", last[1], last[0], check=False)
    return ancestor.returncode == 0


def _experiment_with(root: Path, params: Path) -> str | None:
    """The name of the DVC experiment whose params.yaml is byte-for-byte this one."""
    refs = _git.git(
        root, "for-each-ref", "--format=%(objectname) %(refname)", "refs/exps"
    ).out.splitlines()
    named: dict[str, str] = {}
    for line in refs:
        sha, _, ref = line.partition(" ")
        parts = ref.split("/")
        if len(parts) == 5 and len(parts[2]) == 2:  # refs/exps/<2 hex>/<38 hex>/<name>
            named[f"{sha}:{PARAMS_YAML}"] = parts[4]
    if not named:
        return None
    text = params.read_bytes()
    found = sorted(named[key] for key, blob in _git.cat_file(root, named).items() if blob == text)
    return found[0] if found else None


def _show(value: object) -> str:
    return (
        "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    )
