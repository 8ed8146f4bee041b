"""The sweep orchestrates, a strategy picks trials, the trial mechanics run them: one way down."""

from __future__ import annotations

import grimp
from grimp import Layer

LAYERS: list[Layer | str] = [
    Layer("apply", "sweep"),  # what the CLI calls: start, resume, apply
    "adopt",  # any experiment -> conf/ edits (apply is adopt for a trial)
    "infer",  # an experiment's params.yaml -> the overrides that compose it
    "_optuna_search",  # a strategy (the grid is three lines of sweep)
    "_trials",  # compile, queue, wait, best so far: what every strategy runs
    "_cluster",  # trials as executor tasks (a non-local executor); borrows the queue's helpers
    Layer("queue", "leaderboard", "_progress"),
    "_outcome",  # a trial's outcome from one read of DVC's state: the rule, without DVC
    # _queue_worker: DVC's workers, polling faster; _enqueue: trials into DVC's queue, in process
    # _dvc_forkserver: an executor trial's dvc exp run, forked from a DVC-preloaded server
    Layer("plan", "_dvc", "_queue_worker", "_enqueue", "_dvc_forkserver"),
    # _forked_trial: a queue worker's trial, a fork of the worker become dvc exp exec-run
    # _broker: the workers' reads of DVC's queue broker, whole messages only
    # _collect: the workers' collect of a trial, repeated until its experiment ref arrives
    Layer("_forked_trial", "_broker", "_collect"),
]


def test_experiments_import_one_way_down() -> None:
    graph = grimp.build_graph("conveyor", cache_dir=None)
    illegal = graph.find_illegal_dependencies_for_layers(
        layers=LAYERS, containers={"conveyor.experiments"}
    )
    shown = sorted(f"{d.importer} -> {d.imported}" for d in illegal)
    assert shown == []
    modules = {m.rsplit(".", 1)[1] for m in graph.find_children("conveyor.experiments")}
    layered = {
        tail
        for layer in LAYERS
        for tail in (layer.module_tails if isinstance(layer, Layer) else {layer})
    }
    assert modules == layered  # a new module takes a place in the layers
    assert "optuna" not in modules  # the library's name is the library's
