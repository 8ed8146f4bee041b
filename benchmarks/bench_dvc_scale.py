"""No-op ``dvc status`` and ``dvc repro`` on a 200-stage conveyor project vs a hand-written one.

Goal: both within 1.2x of the same stages in a hand-written dvc.yaml (issue 18).

The conveyor project is the default conf/ with ``S`` csv sources (two float columns each,
joined on ``id``), a schema for every column of the joined table, and ``T`` batch deploy
targets, so that ``S + T + 8`` stages make the stage count (ingest per source, combine,
validate, split, train, evaluate, gate, card, profile, deploy per target). ``conveyor compile``
writes its dvc.yaml and params.yaml. The schema is in ``conf/schemas/wide.yaml``
(``data.schema_file``); a second conveyor project keeps it inline (``data.schema``), as every
project did before issue 18, and is timed against the same baseline for comparison.

The baseline is what a DVC user would write by hand for the same stages: the compiled
dvc.yaml's stages (names, commands, deps, outs, and the same ``params:`` keys), a params.yaml
holding only the values those keys name, and the data schema as a file of its own
(``schema.yaml``) that the validate stage lists in ``deps:``.

Neither pipeline is run: every output is written as a small stand-in file and ``dvc commit``
records dvc.lock, so the timed commands measure DVC reading the pipeline, its lock and its
params, which is what conveyor changes. The projects are git + DVC repositories side by side
in one temporary directory, and the commands are timed in interleaved rounds.

    .venv/bin/python benchmarks/bench_dvc_scale.py [--stages 200] [--repeats 3] [--keep DIR]

Building the projects (``dvc commit`` of 200 stages, three times) takes longer than timing them;
with ``--keep DIR`` a second run reuses what the first built.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from _timing import (
    REPO,
    VENV_BIN,
    Command,
    CommandError,
    bench_env,
    compare,
    measure,
    run_checked,
    verdict,
    write_result,
)

NAME = "bench_dvc_scale"
GOAL_RATIO = 1.2
FIXED_STAGES = 8
"""Stages besides ingest and deploy: combine, validate, split, train, evaluate, gate, card,
profile."""
COLUMNS = 2
"""Float columns per source (besides ``id``)."""
SCHEMA_FILE = "conf/schemas/wide.yaml"
DVC_STATUS = [str(VENV_BIN / "dvc"), "status"]
ROWS = 20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--keep",
        type=Path,
        help="build the projects here and keep them; projects a previous run kept are reused",
    )
    args = parser.parse_args()
    env = bench_env()
    sources = (args.stages - FIXED_STAGES + 1) // 2
    targets = args.stages - FIXED_STAGES - sources
    root = args.keep or Path(tempfile.mkdtemp(prefix=f"conveyor-bench-{NAME}-"))
    root.mkdir(parents=True, exist_ok=True)
    names = ("conveyor", "manual", "inline")
    try:
        conveyor, manual, inline = (root / name for name in names)
        built = all((root / name / "dvc.lock").is_file() for name in names)
        if not built:
            build_conveyor(conveyor, sources, targets, env, schema_file=True)
            build_conveyor(inline, sources, targets, env, schema_file=False)
            build_manual(inline, manual)
        sizes = {name: (root / name / "params.yaml").stat().st_size for name in names}
        for name in names:
            if not built:
                commit(root / name, env)
            if "Data and pipelines are up to date" not in run_checked(DVC_STATUS, root / name, env):
                raise CommandError(f"{name}: dvc status is not a no-op after dvc commit")
        stages = len(yaml.safe_load((conveyor / "dvc.yaml").read_text())["stages"])
        print(f"{stages} stages; params.yaml bytes: {sizes}")
        dvc = str(VENV_BIN / "dvc")
        commands = [
            Command(f"dvc {verb}, {name}", [dvc, "--cd", name, verb])
            for verb in ("status", "repro")
            for name in names
        ]
        print(f"{args.repeats} rounds of {len(commands)} commands in {root} ...")
        # no warm-up round: dvc commit and the check above have run dvc in every project
        timings = measure(commands, cwd=root, env=env, repeats=args.repeats, warmup=0)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    results: dict[str, Any] = {}
    for offset, verb in ((0, "status"), (3, "repro")):
        print(f"\nno-op dvc {verb} (baseline: hand-written dvc.yaml):")
        results[verb] = compare(timings[offset], timings[offset + 1])
        print(f"\nno-op dvc {verb}, the schema inline in params.yaml (baseline: hand-written):")
        results[f"{verb}_inline"] = compare(timings[offset + 2], timings[offset + 1])
    met = [
        verdict(f"dvc {verb} time ratio", results[verb]["ratio_median"], GOAL_RATIO, "x")
        for verb in ("status", "repro")
    ]
    write_result(
        NAME,
        {
            "goal": f"ratio <= {GOAL_RATIO} for no-op dvc status and dvc repro",
            "met": all(met),
            "stages": stages,
            "sources": sources,
            "deploy_targets": targets,
            "schema_columns": sources * COLUMNS + 2,
            "params_yaml_bytes": sizes,
            "repeats": args.repeats,
            **results,
        },
    )
    return 0


def build_conveyor(
    project: Path, sources: int, targets: int, env: dict[str, str], *, schema_file: bool
) -> None:
    """The default conf/ grown to ``sources`` csv sources and ``targets`` deploy targets.

    The schema is in ``conf/schemas/wide.yaml`` (``data.schema_file``), or inline.
    """
    shutil.copytree(REPO / "conf", project / "conf")
    data = project / "data" / "in"
    data.mkdir(parents=True)
    names = [f"s{i:03d}" for i in range(sources)]
    schema: dict[str, Any] = {"id": {"dtype": "int", "nullable": False}}
    lines = ["sources:"]
    for index, name in enumerate(names):
        columns = [f"{name}_x{c}" for c in range(COLUMNS)]
        label = ["label"] if index == 0 else []
        rows = [",".join(["id", *columns, *label])]
        rows += [
            ",".join([str(r), *["0.5"] * COLUMNS, *([str(r % 2)] if label else [])])
            for r in range(ROWS)
        ]
        (data / f"{name}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        lines += [f"  {name}:", "    kind: csv", f"    params: {{path: data/in/{name}.csv}}"]
        for column in columns:
            schema[column] = {"dtype": "float", "nullable": False, "min": 0}
    schema["label"] = {"dtype": "int", "nullable": False, "allowed": [0, 1]}
    lines += ["combine:", f"  base: {names[0]}", "  join:"]
    lines += [f"  - {{source: {name}, keys: id}}" for name in names[1:]]
    lines += ["target: label", "split:", "  strategy: stratified", "  test_size: 0.25"]
    document = {"columns": schema, "extra_columns": "error", "rows": {"min": 10}}
    if schema_file:
        (project / "conf/schemas").mkdir()
        (project / SCHEMA_FILE).write_text(yaml.safe_dump(document, sort_keys=False))
        lines.append(f"schema_file: {SCHEMA_FILE}")
    else:
        lines += yaml.safe_dump({"schema": document}, sort_keys=False).splitlines()
    (project / "conf/data/wide.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    deploy = [f"t{index:03d}" for index in range(targets)]
    for name in deploy:
        (project / f"conf/deploy/{name}.yaml").write_text(
            f"{name}:\n  kind: batch\n  params: {{input: data/split/test.parquet}}\n",
            encoding="utf-8",
        )
    config = project / "conf/config.yaml"
    text = config.read_text(encoding="utf-8")
    text = text.replace("data: breast_cancer", "data: wide")
    text = text.replace("deploy: [rest, batch]", f"deploy: [{', '.join(deploy)}]")
    config.write_text(text, encoding="utf-8")
    _init(project, env)
    run_checked([str(VENV_BIN / "conveyor"), "compile"], project, env)


def build_manual(conveyor: Path, project: Path) -> None:
    """The same stages, with a hand-written params.yaml and the schema in a file of its own."""
    pipeline = yaml.safe_load((conveyor / "dvc.yaml").read_text(encoding="utf-8"))
    composed = yaml.safe_load((conveyor / "params.yaml").read_text(encoding="utf-8"))
    shutil.copytree(conveyor / "data" / "in", project / "data" / "in")
    params: dict[str, Any] = {}
    schema = composed["data"].get("schema")
    for stage in pipeline["stages"].values():
        keys = [k for k in stage.get("params", []) if not k.startswith("data.schema")]
        if len(keys) < len(stage.get("params", [])):
            stage["deps"] = [*stage.get("deps", []), "schema.yaml"]
        if keys:
            stage["params"] = keys
        else:
            stage.pop("params", None)
        for key in keys:
            _put(params, key, _get(composed, key))
    if schema is not None:
        (project / "schema.yaml").write_text(yaml.safe_dump(schema, sort_keys=False))
    (project / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _init(project, bench_env())


def commit(project: Path, env: dict[str, str]) -> None:
    """Stand-in files for every output, then ``dvc commit``: dvc.lock without running."""
    pipeline = yaml.safe_load((project / "dvc.yaml").read_text(encoding="utf-8"))
    for stage in pipeline["stages"].values():
        for section in ("outs", "metrics", "plots"):
            for entry in stage.get(section, []):
                path = project / (entry if isinstance(entry, str) else next(iter(entry)))
                if path.suffix:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text("{}\n", encoding="utf-8")
                else:
                    path.mkdir(parents=True, exist_ok=True)
                    (path / "stand-in.txt").write_text("stand-in\n", encoding="utf-8")
    run_checked([str(VENV_BIN / "dvc"), "commit", "--force", "--quiet"], project, env)


def _init(project: Path, env: dict[str, str]) -> None:
    run_checked(["git", "init", "--quiet"], project, env)
    run_checked([str(VENV_BIN / "dvc"), "init", "--quiet"], project, env)


def _get(data: dict[str, Any], key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        node = node[part]
    return node


def _put(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


if __name__ == "__main__":
    sys.exit(main())
