"""The README's stage table and exit codes say what the code does (issue 18).

Oracles: the dvc.yaml that ``compile_files`` generates for the repository's own conf/ (with a
monitored batch, so the monitor stage exists), the committed dvc.yaml of the example with a
combine stage, and the exit codes in ``conveyor.errors`` and ``conveyor.cli.main``.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _stage_table() -> dict[str, set[str]]:
    """README stage pattern (``ingest-<source>``) -> the params.yaml keys it says it reads."""
    section = README.split("## Stages and outputs", 1)[1].split("\n## ", 1)[0]
    table: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 3 or set(cells[0]) <= set("-: "):
            continue
        name = cells[0].replace("`", "").split(" (")[0]
        if name != "stage":
            table[name] = set(re.findall(r"`([^`]+)`", cells[1]))
    return table


def _generated_reads() -> dict[str, list[str]]:
    from conveyor import compiler

    compiled = compiler.compile_files(ROOT, ["monitor.current=data/split/test.parquet"])
    stages = yaml.safe_load(compiled.files["dvc.yaml"])["stages"]
    example = ROOT / "examples" / "supply-chain-demand" / "dvc.yaml"
    stages |= {"combine": yaml.safe_load(example.read_text())["stages"]["combine"]}
    return {name: stage.get("params", []) for name, stage in stages.items()}


def _pattern(stage: str) -> tuple[str, dict[str, str]]:
    for prefix, slot in (("ingest-", "<source>"), ("deploy-", "<target>")):
        if stage.startswith(prefix):
            return prefix + slot, {slot: stage.removeprefix(prefix)}
    return stage, {}


def test_the_stage_table_lists_what_each_generated_stage_reads() -> None:
    table = _stage_table()
    seen = set()
    for stage, reads in _generated_reads().items():
        pattern, slots = _pattern(stage)
        assert pattern in table, f"the README's stage table has no row for {stage!r}"
        said = set()
        for key in table[pattern]:
            for slot, value in slots.items():
                key = key.replace(slot, value)
            if "<source>" in key:  # a stage that reads a key of every source (card)
                each = re.escape(key).replace(re.escape("<source>"), "[a-z][a-z0-9_]*")
                said |= {read for read in reads if re.fullmatch(each, read)} or {key}
                continue
            said.add(key)
        assert said == set(reads), f"{stage}: README says {sorted(said)}, dvc.yaml {reads}"
        seen.add(pattern)
    assert seen == set(table), f"README rows no generated stage has: {set(table) - seen}"


def test_the_exit_codes_are_the_cli_s() -> None:
    from conveyor import errors
    from conveyor.cli.main import BUG_EXIT_CODE

    codes = {
        cls.exit_code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.ConveyorError)
    }
    said = README.split("exit with code", 1)[1].split("```", 1)[0]
    for code in {*codes, BUG_EXIT_CODE, 130}:
        assert re.search(rf"\b{code}\b", said), f"the README does not say what exit {code} means"
    assert "1: anything else" not in said


def test_the_max_depth_example_names_every_stage_that_reruns() -> None:
    # what `dvc repro` ran after max_depth 4 -> 5 in a fresh clone: train and everything
    # downstream of the bundle (checked by hand with `dvc status` + `dvc repro`, issue 18)
    stages = _generated_reads()
    downstream = [s for s in stages if s not in {"monitor", "combine"}][3:]
    sentence = README.split("changing `model.params.max_depth`", 1)[1].split(".\n", 1)[0]
    for stage in downstream:
        assert f"`{stage.split('-')[0]}" in sentence, f"{stage!r} missing from: {sentence}"
