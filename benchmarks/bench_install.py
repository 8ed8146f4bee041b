"""Install weight: conveyor with ``xgboost-cpu`` (the default) vs with the ``xgboost`` wheel.

Each side is a fresh venv holding ``pip install -c constraints.txt <this checkout>``; the
baseline then swaps ``xgboost-cpu`` for ``xgboost`` at the same version (with the
``nvidia-nccl-cu12`` it requires on Linux, at the version constraints.txt pinned before the
switch), which is what the default install pulled until issue 17. Reported: the bytes of each
venv's site-packages (files, as ``du --apparent-size`` counts them, ``.pyc`` included, since a
user's disk and an image layer hold them too) and the heaviest distributions.

    .venv/bin/python benchmarks/bench_install.py [--keep DIR]

Needs the wheels from the package index (or pip's cache); takes a few minutes.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _timing import REPO, write_result

NAME = "bench_install"
XGBOOST_VERSION = "3.2.0"
NCCL_BASELINE = "nvidia-nccl-cu12==2.32.3"
"""What constraints.txt pinned for ``xgboost`` before the switch."""
MIB = 1 << 20


def venv_with_conveyor(root: Path, constraints: Path) -> Path:
    """A fresh venv at ``root`` with this checkout installed under ``constraints``."""
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
    pip(root, "install", "-q", "-c", str(constraints), str(REPO))
    return root


def pip(root: Path, *args: str) -> None:
    subprocess.run([str(root / "bin" / "python"), "-m", "pip", *args], check=True)


def site_packages(root: Path) -> Path:
    (path,) = root.glob("lib/python3*/site-packages")
    return path


def tree_bytes(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def distribution_bytes(root: Path) -> dict[str, int]:
    """Bytes of each distribution's files, from its RECORD (so shared folders split right)."""
    site = site_packages(root)
    sizes: dict[str, int] = {}
    for record in site.glob("*.dist-info/RECORD"):
        name = re.sub(r"-[^-]+\.dist-info$", "", record.parent.name).lower().replace("_", "-")
        total = 0
        for line in record.read_text().splitlines():
            relative = line.rsplit(",", 2)[0]
            file = (site / relative).resolve()
            if file.is_file():
                total += file.stat().st_size
        sizes[name] = total
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build the venvs here and keep them")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-install-"))
    work.mkdir(parents=True, exist_ok=True)
    constraints = REPO / "constraints.txt"
    pinned = constraints.read_text()
    if f"xgboost-cpu=={XGBOOST_VERSION}" not in pinned:
        print(f"constraints.txt does not pin xgboost-cpu=={XGBOOST_VERSION}")
        return 1
    baseline_pins = work / "constraints-xgboost.txt"
    baseline_pins.write_text(
        pinned.replace(f"xgboost-cpu=={XGBOOST_VERSION}", f"xgboost=={XGBOOST_VERSION}")
        + NCCL_BASELINE
        + "\n"
    )
    try:
        print(f"{NAME}: venv with xgboost-cpu (pip install -c constraints.txt .)")
        cpu = venv_with_conveyor(work / "xgboost-cpu", constraints)
        print(f"{NAME}: venv with xgboost (the same, then xgboost-cpu swapped for xgboost)")
        gpu = venv_with_conveyor(work / "xgboost", constraints)
        pip(gpu, "uninstall", "-q", "-y", "xgboost-cpu")
        pip(gpu, "install", "-q", "-c", str(baseline_pins), f"xgboost=={XGBOOST_VERSION}")
        sides = {}
        for label, root in (("xgboost-cpu", cpu), ("xgboost", gpu)):
            dists = distribution_bytes(root)
            heavy = dict(sorted(dists.items(), key=lambda item: -item[1])[:8])
            sides[label] = {
                "site_packages_mib": round(tree_bytes(site_packages(root)) / MIB, 1),
                "heaviest_mib": {name: round(size / MIB, 1) for name, size in heavy.items()},
            }
            print(f"  {label:12} site-packages {sides[label]['site_packages_mib']:8.1f} MiB")
            for name, size in heavy.items():
                print(f"      {name:28} {size / MIB:8.1f} MiB")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    ratio = sides["xgboost-cpu"]["site_packages_mib"] / sides["xgboost"]["site_packages_mib"]
    print(f"xgboost-cpu / xgboost: {ratio:.2f}")
    write_result(
        NAME,
        {
            "goal": "measure: default install with xgboost-cpu vs xgboost",
            "command": "pip install -c constraints.txt . (fresh venv per side)",
            "candidate": sides["xgboost-cpu"],
            "baseline": sides["xgboost"],
            "ratio": round(ratio, 3),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
