"""Every leaf key of the default project's params.yaml, edited for real: what does DVC rerun?

The oracle is DVC's own status after a real edit of params.yaml, checked against a contract
written here by hand (which stage's work depends on which part of the config), not against
the compiler's ``readers()``, which produced the dvc.yaml being checked. The project sets
``monitor.current``, so the monitor stage exists and every ``monitor.*`` key but
``monitor.retrain`` is read by a stage; ``monitor.retrain`` is read only by ``conveyor ct``
and must rerun nothing. A key the contract does not name fails the test: classify it here.

The same edits also check the compiler against that contract: ``Pipeline.readers(key)`` (what
it wrote into dvc.yaml's ``params:``) must be the contract's stages for every key, and what
DVC reruns for an edit must be the readers of the keys it edited. One loop of real edits
serves both checks, on a copy of the reproduced template (only the monitor stage runs here).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from conveyor.compiler import compile_files
from conveyor.config import flatten
from tests.conftest import conveyor_in_process, dvc

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow

BATCH = "data/split/test.parquet"
MONITORED = {"monitor"}
# (key prefix, the stages whose result depends on it); the longest matching prefix wins.
CONTRACT: list[tuple[str, set[str]]] = [
    # monitor finds the bundle through its dvc.yaml deps and the task in the bundle
    ("project.name", {"train", "gate", "card", "deploy-rest", "deploy-batch"}),
    ("project.task", {"train", "evaluate", "gate", "card"}),
    ("project.description", {"card"}),  # the card's words: nothing else reads them
    ("card.", {"card"}),
    ("seed", {"split", "train", "evaluate"}),
    ("data.sources.", {"ingest-breast_cancer"}),  # one ingest stage per source
    ("data.sources.breast_cancer.kind", {"ingest-breast_cancer", "card"}),
    ("data.target", {"split", "train", "evaluate", "gate", "card", "profile", "monitor"}),
    ("data.split.", {"split", "card"}),
    ("data.schema.", {"validate"}),
    ("features.", {"train"}),
    ("model.", {"train"}),
    ("evaluate.metrics", {"evaluate", "monitor"}),
    ("evaluate.primary", {"evaluate", "card", "monitor"}),
    ("evaluate.slices", {"evaluate"}),
    ("evaluate.plots", {"evaluate"}),
    ("evaluate.gates.", {"gate"}),
    ("evaluate.champion_stage", {"gate"}),
    ("deploy.rest.", {"deploy-rest"}),
    ("deploy.batch.", {"deploy-batch"}),
    ("monitor.current", MONITORED),
    ("monitor.id_column", MONITORED),
    ("monitor.labels", MONITORED),
    ("monitor.drift.", MONITORED),
    ("monitor.quality.", MONITORED),
    ("monitor.performance.", MONITORED),
    ("monitor.retrain.", set()),  # `conveyor ct`'s policy: changing it rescans nothing
    ("monitor.alerts", set()),  # where findings go, never what is computed: reruns nothing
    ("executor.", set()),  # where work runs, never what it computes: reruns nothing
    ("tracking.", set()),  # where runs are logged, never what is computed: reruns nothing
]


def _expected(key: str) -> set[str]:
    matches = [(p, s) for p, s in CONTRACT if key == p or key.startswith(p)]
    assert matches, f"'{key}' is in params.yaml but not in CONTRACT: say which stages read it"
    return max(matches, key=lambda match: len(match[0]))[1]


def _edits(keys: list[str]) -> list[list[str]]:
    """One edit per key, but one per schema column (its dtype, nullable, min... together)."""
    groups: dict[str, list[str]] = {}
    for key in keys:
        parts = key.split(".")
        group = ".".join(parts[:4]) if key.startswith("data.schema.columns.") else key
        groups.setdefault(group, []).append(key)
    return list(groups.values())


def _mutate(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value / 2
    if isinstance(value, str):
        return f"{value}_changed"
    return 1  # None, and empty lists and mappings


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    node: Any = data
    *parents, leaf = dotted.split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(leaf)] = value
    else:
        node[leaf] = value


def _status(repo: Any) -> set[str]:
    return {name.rsplit(":", 1)[-1] for name in repo.status()}


def test_every_leaf_key_reruns_the_stages_that_depend_on_it(reproduced_project: Path) -> None:
    from dvc.repo import Repo

    project = reproduced_project
    monitor = project / "conf" / "monitor" / "default.yaml"
    monitor.write_text(monitor.read_text().replace("current: null", f"current: {BATCH}"))
    conveyor_in_process("compile", cwd=project)
    ran = dvc("repro", cwd=project).stdout
    assert set(re.findall(r"Running stage '([\w-]+)'", ran)) == {"monitor"}  # the rest is kept
    with Repo(str(project)) as repo:  # what `dvc status --json` prints, without a dvc process
        assert repo.status() == {}
    pipeline = compile_files(project).pipeline

    params_file = project / "params.yaml"
    original = params_file.read_text()
    leaves = flatten(yaml.safe_load(original))
    assert len(leaves) > 100
    assert {k.split(".")[0] for k in leaves} >= {"data", "model", "evaluate", "deploy", "monitor"}
    assert any(k.startswith("monitor.retrain.") for k in leaves)
    compiler = {key: pipeline.readers(key) for key in leaves}
    misread = {
        k: (sorted(r), sorted(_expected(k))) for k, r in compiler.items() if r != _expected(k)
    }
    assert not misread, "\n".join(
        f"{k}: readers {r}, contract {c}" for k, (r, c) in misread.items()
    )
    observed: dict[str, set[str]] = {}
    try:
        for keys in _edits(list(leaves)):
            mutated = yaml.safe_load(original)
            for key in keys:
                _set(mutated, key, _mutate(leaves[key]))
            params_file.write_text(yaml.safe_dump(mutated, sort_keys=False))
            with Repo(str(project)) as repo:  # a fresh Repo: nothing cached between edits
                observed[" + ".join(keys)] = _status(repo)
    finally:
        params_file.write_text(original)
    unread = {  # DVC reruns exactly the stages the compiler listed the edited keys under
        keys: (sorted(seen), sorted(set().union(*(compiler[k] for k in keys.split(" + ")))))
        for keys, seen in observed.items()
        if seen != set().union(*(compiler[k] for k in keys.split(" + ")))
    }
    assert not unread, "\n".join(
        f"{k}: dvc status {s}, readers {r}" for k, (s, r) in unread.items()
    )
    wrong = {
        keys: (sorted(seen), sorted(set().union(*map(_expected, keys.split(" + ")))))
        for keys, seen in observed.items()
        if seen != set().union(*map(_expected, keys.split(" + ")))
    }
    assert not wrong, "\n".join(f"{k}: dvc status {s}, contract {c}" for k, (s, c) in wrong.items())

    # The same answer from the CLI, for one key per stage set, and nothing stale after revert.
    assert json.loads(dvc("status", "--json", cwd=project).stdout) == {}
    edited = yaml.safe_load(original)
    _set(edited, "evaluate.champion_stage", "staging")
    params_file.write_text(yaml.safe_dump(edited, sort_keys=False))
    assert set(json.loads(dvc("status", "--json", cwd=project).stdout)) == {"gate"}
    params_file.write_text(original)
