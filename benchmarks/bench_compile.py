"""``conveyor compile`` vs a bare Hydra compose of the same conf/. Goals: ratio <= 1.3 on an
unchanged conf/ and <= 1.5 after a change.

All run as subprocesses in a temporary copy of the project, so the timing covers interpreter
start and imports: what a user waits for. An unchanged conf/ is answered by the compile cache
(``.conveyor/compile/``); "after a change" is ``conveyor compile --no-cache``, which does all a
cache miss does (digest the inputs, compose, validate, build, write, store) but read the cache.

``--profile`` adds where the extra time of a full compile goes: ``-X importtime`` for the
modules only ``conveyor compile`` imports, cProfile for conveyor's own functions, and untraced
in-process phases (Hydra imported first, so each later phase is conveyor's marginal cost).

    .venv/bin/python benchmarks/bench_compile.py [--repeats 15] [--profile]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import pstats
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from _timing import (
    VENV_BIN,
    Command,
    CommandError,
    bench_env,
    compare,
    import_times,
    measure,
    project_copy,
    run_checked,
    verdict,
    write_result,
)

NAME = "bench_compile"
GOAL_RATIO = 1.3
GOAL_RATIO_CHANGED = 1.5
BARE_COMPOSE = """\
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

with initialize_config_dir(str(Path("conf").resolve()), version_base=None):
    cfg = compose("config")
OmegaConf.resolve(cfg)
Path("bare_params.yaml").write_text(OmegaConf.to_yaml(cfg))
"""
PHASES = """\
import json
import time
from pathlib import Path

laps = {}
start = time.perf_counter()


def lap(name):
    global start
    now = time.perf_counter()
    laps[name] = 1000 * (now - start)
    start = now


import hydra
import omegaconf
lap("import hydra + omegaconf (bare pays this too)")
import click
import conveyor.cli.main
lap("import click + conveyor.cli.main")
import conveyor.compiler.project
from conveyor.config import compose, load_project
from conveyor.plugins import Plugins
lap("import conveyor.compiler (pydantic, spec, plugins, runtime, config)")
plugins = Plugins.discover()
lap("Plugins.discover() (entry-point scan)")
root = Path.cwd()
compose(root / "conf")
lap("first compose() (bare pays this too)")
begin = time.perf_counter()
compose(root / "conf")
warm = time.perf_counter() - begin
start = time.perf_counter()
project = load_project(root, plugins=plugins)
start += warm  # load_project composes again: count only the rest of its work
lap("load_project() minus a warm compose (spec + component checks)")
pipeline = conveyor.compiler.build.compile_project(project)
conveyor.compiler.render.render(pipeline, project.composed)
lap("compile_project() + render()")
print(json.dumps(laps))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--profile", action="store_true", help="also profile conveyor compile")
    parser.add_argument("--top", type=int, default=15, help="rows per profile table")
    args = parser.parse_args()

    env = bench_env()
    executable = str(VENV_BIN / "conveyor")
    conveyor = Command("conveyor compile", [executable, "compile"])
    changed = Command("conveyor compile --no-cache", [executable, "compile", "--no-cache"])
    bare = Command("bare Hydra compose", [sys.executable, "bare_compose.py"])
    with project_copy("compile") as project:
        (project / "bare_compose.py").write_text(BARE_COMPOSE, encoding="utf-8")
        print(f"{NAME}: {args.repeats} interleaved rounds in {project}")
        timings = measure([conveyor, changed, bare], cwd=project, env=env, repeats=args.repeats)
        same = (project / "bare_params.yaml").read_text() == (project / "params.yaml").read_text()

        cached, uncached, baseline = timings
        summary = compare(cached, baseline)
        after_change = compare(uncached, baseline)
        print(f"params.yaml identical to the bare compose output: {'yes' if same else 'NO'}")
        met = verdict("unchanged conf/: ratio of medians", summary["ratio_median"], GOAL_RATIO)
        met_changed = verdict(
            "after a change: ratio of medians", after_change["ratio_median"], GOAL_RATIO_CHANGED
        )
        result: dict[str, Any] = {
            "goal": f"median(conveyor compile) / median(bare Hydra compose) <= {GOAL_RATIO}",
            "goal_met": met,
            "repeats": args.repeats,
            **summary,
            "same_params_yaml": same,
            "after_change": {
                "goal": "median(conveyor compile --no-cache) / median(bare Hydra compose) "
                f"<= {GOAL_RATIO_CHANGED}",
                "goal_met": met_changed,
                **after_change,
            },
        }
        if args.profile:
            try:
                result["profile"] = {
                    "extra_imports": profile_imports(project, env, args.top),
                    "conveyor_functions": profile_functions(project, env, args.top),
                    "phases": profile_phases(project, env),
                }
            except CommandError as exc:  # e.g. the phase script after an internal API change
                print(f"profile failed (timings are kept): {exc}")
    write_result(NAME, result)
    return 0


def profile_imports(project: Path, env: dict[str, str], top: int) -> dict[str, float]:
    """Self import time of the modules that only ``conveyor compile`` imports, by package."""
    conveyor_imports = import_times(["-m", "conveyor", "compile", "--no-cache"], project, env)
    bare_imports = import_times(["bare_compose.py"], project, env)
    extra = {m: us for m, us in conveyor_imports.items() if m not in bare_imports}
    packages: Counter[str] = Counter()
    for module, us in extra.items():
        parts = module.split(".")
        packages[".".join(parts[:2]) if parts[0] == "conveyor" else parts[0]] += us
    print("\nimports only conveyor compile makes (-X importtime self time; tracing inflates it):")
    print(
        f"  {sum(extra.values()) / 1000:7.1f} ms  total, {len(extra)} modules "
        f"(all imports: conveyor {sum(conveyor_imports.values()) / 1000:.0f} ms, "
        f"bare {sum(bare_imports.values()) / 1000:.0f} ms)"
    )
    for package, us in packages.most_common(top):
        print(f"  {us / 1000:7.1f} ms  {package}")
    return {package: round(us / 1000, 1) for package, us in packages.most_common()}


def profile_functions(project: Path, env: dict[str, str], top: int) -> dict[str, float]:
    """Cumulative time of conveyor's own functions and module bodies under cProfile."""
    stats_file = project / "compile.prof"
    argv = [
        sys.executable,
        "-m",
        "cProfile",
        "-o",
        str(stats_file),
        "-m",
        "conveyor",
        "compile",
        "--no-cache",
    ]
    run_checked(argv, project, env)
    spec = importlib.util.find_spec("conveyor")
    assert spec is not None
    assert spec.origin is not None
    src = Path(spec.origin).parent
    rows: dict[str, float] = {}
    stats = pstats.Stats(str(stats_file)).stats  # type: ignore[attr-defined]
    for (file, _line, function), (*_, cumtime, _callers) in stats.items():
        path = Path(file)
        if path.is_relative_to(src):
            module = ".".join(path.relative_to(src.parent).with_suffix("").parts)
            module = module.removesuffix(".__init__")
            label = f"import {module}" if function == "<module>" else f"{module}:{function}"
            rows[label] = round(1000 * cumtime, 1)
    ranked = dict(sorted(rows.items(), key=lambda item: -item[1])[:top])
    print("\nconveyor functions by cumulative time (cProfile; tracing inflates it):")
    for label, ms in ranked.items():
        print(f"  {ms:7.1f} ms  {label}")
    return ranked


def profile_phases(project: Path, env: dict[str, str], runs: int = 7) -> dict[str, float]:
    """Untraced wall time of each phase of a compile: the median over ``runs`` fresh processes."""
    (project / "phases.py").write_text(PHASES, encoding="utf-8")
    outputs = [run_checked([sys.executable, "phases.py"], project, env) for _ in range(runs)]
    samples = [
        json.loads(next(line for line in output.splitlines() if line.startswith("{")))
        for output in outputs
    ]
    phases = {name: round(statistics.median(s[name] for s in samples), 1) for name in samples[0]}
    print(f"\nphases of a compile, in process (median of {runs} fresh processes, untraced):")
    for name, ms in phases.items():
        print(f"  {ms:7.1f} ms  {name}")
    return phases


if __name__ == "__main__":
    sys.exit(main())
