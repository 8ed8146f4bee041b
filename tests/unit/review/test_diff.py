"""The pure parts of ``conveyor diff``: value comparison, policy, rerun rules, rendering."""

from __future__ import annotations

import json

import pytest

from conveyor.compiler.ir import Pipeline, Stage
from conveyor.config import Origin, Provenance
from conveyor.review._changes import config_changes, plan_reruns, stage_changes
from conveyor.review._diff_markdown import to_markdown
from conveyor.review._metrics_diff import gate_result, metric_deltas
from conveyor.review._policy import POLICY, policy_kind
from conveyor.review.diff import PipelineDiff, Side

BASE = Side("BASE", "main", "a" * 40)
HEAD = Side("HEAD", None, None)


def _prov(file: str) -> Provenance:
    return Provenance(default_file=file)


def test_values_not_text_lists_as_values_and_new_mappings_as_one_change() -> None:
    old = {
        "model": {"kind": "xgboost", "params": {"max_depth": 4, "lr": 0.05}},
        "tags": [1, 2],
        "deploy": {},
    }
    new = {
        "tags": [1, 3],
        "model": {"params": {"lr": 5.0e-2, "max_depth": 6}, "kind": "xgboost"},
        "deploy": {"rest": {"kind": "rest", "params": {"port": 8080}}},
    }
    prov = Provenance({"model.params.max_depth": Origin("conf/model/xgboost.yaml", 4)})
    changes = config_changes(old, new, prov, prov)
    assert [(c.path, c.kind, c.base, c.head) for c in changes] == [
        ("tags", "changed", [1, 2], [1, 3]),
        ("model.params.max_depth", "changed", 4, 6),
        ("deploy.rest", "added", None, {"kind": "rest", "params": {"port": 8080}}),
    ]
    assert changes[1].base_origin == changes[1].head_origin == "conf/model/xgboost.yaml:4"
    assert changes[2].base_origin is None
    assert changes[2].policy == "deploy target"


def test_a_bool_replacing_a_number_is_a_change() -> None:
    (change,) = config_changes({"a": 1}, {"a": True}, _prov("c"), _prov("c"))
    assert (change.base, change.head) == (1, True)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("evaluate.gates.roc_auc.min", "gate threshold"),
        ("evaluate.champion_stage", "promotion rule"),
        ("deploy", "deploy target"),
        ("deploy.rest.params.port", "deploy target"),
        ("monitor.drift.threshold", "drift threshold"),
        ("monitor.quality.null_rate_increase", "monitoring threshold"),
        ("monitor.retrain.triggers", "retrain policy"),
        ("monitor", "drift threshold"),
        ("model.params.max_depth", None),
        ("evaluate.metrics", None),
        ("monitor.current", None),
        ("deployment", None),
    ],
)
def test_policy_table(path: str, kind: str | None) -> None:
    assert policy_kind(path) == kind
    assert len(POLICY) == len({prefix for prefix, _ in POLICY})


def _stage(
    name: str, deps: tuple[str, ...] = (), outs: tuple[str, ...] = (), **kw: object
) -> Stage:
    return Stage(name, f"{name} stage", f"conveyor run {name}", deps, outs=outs, **kw)  # type: ignore[arg-type]


PIPELINE = Pipeline(
    (
        _stage("ingest", ("raw.csv",), ("data/raw.parquet",)),
        _stage("train", ("data/raw.parquet",), ("models/m",), params=("model",)),
        _stage("evaluate", ("models/m", "data/raw.parquet"), ("reports/m.json",)),
        _stage("gate", ("reports/m.json",), ("reports/blessing.json",), params=("evaluate.gates",)),
    )
)


def test_reruns_follow_dvc_rules() -> None:
    changes = config_changes(
        {"model": {"depth": 4}}, {"model": {"depth": 6}}, _prov("c"), _prov("c")
    )
    reruns = plan_reruns(PIPELINE, PIPELINE, changes, set())
    assert [(r.stage, r.direct, [str(x) for x in r.reasons]) for r in reruns] == [
        ("train", True, ["param changed model.depth"]),
        ("evaluate", False, ["after train"]),
        ("gate", False, ["after evaluate"]),
    ]
    assert [r.stage for r in plan_reruns(PIPELINE, PIPELINE, [], {"raw.csv"})] == [
        "ingest",
        "train",
        "evaluate",
        "gate",
    ]


def test_a_removed_dep_changes_the_stage_but_dvc_does_not_rerun_it() -> None:
    head = Pipeline(
        (
            *PIPELINE.stages[:2],
            _stage("evaluate", ("models/m",), ("reports/m.json",)),
            PIPELINE.stages[3],
        )
    )
    added, removed, changed = stage_changes(PIPELINE, head)
    assert (added, removed) == ((), ())
    assert [(c.name, c.fields[0].field, c.fields[0].removed) for c in changed] == [
        ("evaluate", "deps", ("data/raw.parquet",))
    ]
    assert plan_reruns(PIPELINE, head, [], set()) == []
    assert [r.stage for r in plan_reruns(head, PIPELINE, [], set())] == ["evaluate", "gate"]


def test_metric_deltas_and_missing_sides() -> None:
    old = {"reports/m.json": json.dumps({"auc": 0.9, "slices": {"a": {"auc": 0.8}}}).encode()}
    new = {"reports/m.json": json.dumps({"auc": 0.95, "slices": {"a": {"auc": 0.8}}}).encode()}
    deltas, notes = metric_deltas(["reports/m.json"], old, new, BASE, HEAD)
    assert [(d.metric, d.base, d.head) for d in deltas] == [
        ("auc", 0.9, 0.95),
        ("slices.a.auc", 0.8, 0.8),
    ]
    assert deltas[0].change == pytest.approx(0.05)
    assert notes == []
    _, notes = metric_deltas(["reports/m.json"], {}, new, BASE, HEAD)
    assert notes == ["reports/m.json: missing at BASE (main @ aaaaaaa), so no deltas"]


def test_gate_result_lists_failed_checks() -> None:
    blessing = {
        "blessed": False,
        "checks": [
            {
                "metric": "roc_auc",
                "kind": "min",
                "required": 0.99,
                "observed": 0.98,
                "passed": False,
            },
            {"metric": "recall", "kind": "min", "required": 0.9, "observed": 0.95, "passed": True},
        ],
    }
    gate = gate_result(json.dumps(blessing).encode())
    assert gate is not None
    assert (gate.blessed, gate.checks, gate.failed) == (
        False,
        2,
        ("roc_auc >= 0.99 (observed 0.98)",),
    )
    assert gate_result(b"not json") is None


def test_markdown_comment() -> None:
    changes = config_changes(
        {"model": {"depth": 4}, "evaluate": {"gates": {"auc": {"min": 0.9}}}},
        {"model": {"depth": 6}, "evaluate": {"gates": {"auc": {"min": 0.95}}}},
        _prov("conf/config.yaml"),
        _prov("conf/config.yaml"),
    )
    diff = PipelineDiff(
        base=BASE,
        head=HEAD,
        config=tuple(changes),
        choices=(),
        stages_added=(),
        stages_removed=(),
        stages_changed=(),
        reruns=tuple(plan_reruns(PIPELINE, PIPELINE, changes, set())),
        metrics=(),
        notes=(),
        base_gate=None,
        head_gate=None,
        base_pipeline=PIPELINE,
        head_pipeline=PIPELINE,
    )
    text = to_markdown(diff)
    assert text.startswith("### conveyor diff: `main @ aaaaaaa` → `working tree`\n")
    assert "**2 config changes** (**1 policy**)" in text
    assert (
        "| gate threshold | `evaluate.gates.auc.min` | `0.9` | `0.95` | `conf/config.yaml` |"
        in text
    )
    assert "| `model.depth` | `4` | `6` | `conf/config.yaml` |" in text
    assert "| `gate` | param changed `evaluate.gates.auc.min`, after `evaluate` |" in text
    assert json.loads(json.dumps(diff.to_dict()))["policy"] == ["evaluate.gates.auc.min"]
