"""What the ``rest`` and ``container`` targets write: serve config, pinned requirements, Dockerfile.

Requirements are derived from the installed distributions, not from a hand-kept list: the
closure of ``conveyor-mlops`` (with its ``serve`` extra when it declares one) and of the
distributions that provide the server's modules, each pinned to the version installed here,
so the image runs exactly the library versions the model was trained and tested with.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor import _git
from conveyor.errors import GitError, PluginError

if TYPE_CHECKING:
    from collections.abc import Iterable

DIST = "conveyor-mlops"
SERVE_EXTRA = "serve"
SERVING_MODULES = ("fastapi", "uvicorn", "uvloop", "httptools", "prometheus_client", "orjson")
"""Modules ``conveyor serve`` imports, for when the installed metadata does not declare them."""
APP_DIR = "/app"
WHEELS_DIR = "wheels"
BUNDLE_DIR = "bundle"
SERVE_FILE = "serve.json"
REQUIREMENTS_FILE = "requirements.txt"
USER_ID = 10001
CONTAINER_HOST = "0.0.0.0"  # noqa: S104 - inside a container the server must listen on all


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name: ``Scikit_Learn`` -> ``scikit-learn``."""
    return re.sub(r"[-_.]+", "-", name).lower()


INSTALLERS = frozenset({"pip", "setuptools", "wheel"})
"""Packaging tools: their version is whatever the venv was created with (a fresh venv's
setuptools is not an upgraded one's), not what the model was tested with, so pinning them
would make ``deploy/rest`` differ between two machines with the same libraries. pip installs
what a package requires of them."""


def pinned_requirements() -> list[str]:
    """``name==version`` for every distribution the server needs, sorted by name.

    Packaging tools (:data:`INSTALLERS`) are left out.
    """
    from importlib.metadata import PackageNotFoundError, distribution, packages_distributions

    from packaging.requirements import InvalidRequirement, Requirement

    roots: list[tuple[str, frozenset[str]]] = [(DIST, frozenset({SERVE_EXTRA}))]
    owners = packages_distributions()
    roots += [(owners[m][0], frozenset()) for m in SERVING_MODULES if owners.get(m)]
    versions: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    pending = list(roots)
    while pending:
        name, extras = pending.pop()
        if (canonical(name), extras) in seen:
            continue
        seen.add((canonical(name), extras))
        if canonical(name) in INSTALLERS:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError as exc:
            raise PluginError(
                f"'{name}' is required to serve models but is not installed",
                where="deploy",
                fix=f"pip install '{DIST}[{SERVE_EXTRA}]' (or pip install {name})",
            ) from exc
        versions[canonical(name)] = dist.version
        for text in dist.requires or []:
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                continue  # a broken line in someone's metadata is not ours to judge
            if _applies(requirement, extras):
                pending.append((requirement.name, frozenset(requirement.extras)))
    return [f"{name}=={version}" for name, version in sorted(versions.items())]


def _applies(requirement: Any, extras: frozenset[str]) -> bool:  # noqa: ANN401 - a Requirement
    """Whether ``requirement`` holds on this platform for the chosen ``extras``."""
    if requirement.marker is None:
        return True
    if requirement.marker.evaluate({"extra": ""}):
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in extras)


@dataclass(frozen=True)
class Install:
    """How conveyor itself is installed here, which decides how an image gets it."""

    from_index: bool
    """Installed from a package index: the image installs the pinned version from one too."""
    source: Path | None = None
    """A local source tree or wheel to build the image's conveyor from."""
    reason: str = ""
    """Why no wheel can be made (a VCS install, a source that is gone)."""


def conveyor_install() -> Install:
    """Read PEP 610's ``direct_url.json``: absent means the package came from an index."""
    from importlib.metadata import distribution
    from urllib.parse import unquote, urlparse

    text = distribution(DIST).read_text("direct_url.json")
    if not text:
        return Install(from_index=True)
    direct = json.loads(text)
    url = urlparse(str(direct.get("url", "")))
    if url.scheme != "file":
        return Install(False, reason=f"it was installed from {url.geturl()}, not a local path")
    source = Path(unquote(url.path))
    if not source.exists():
        return Install(False, reason=f"its source '{source}' no longer exists")
    return Install(False, source=source)


def build_wheel(install: Install, dest: Path) -> Path:
    """A wheel of the installed conveyor in ``dest``: copied, or built from its source tree."""
    import shutil

    if install.source is None:
        raise PluginError(
            f"cannot add conveyor to the build context: {install.reason}",
            where="deploy (container)",
            fix=f"install {DIST} from a local checkout ('pip install -e .') or from an index",
        )
    dest.mkdir(parents=True, exist_ok=True)
    if install.source.is_file() and install.source.suffix == ".whl":
        return Path(shutil.copy2(install.source, dest))
    import tempfile

    with tempfile.TemporaryDirectory(prefix="conveyor-wheel-") as scratch:
        source = _clean_copy(install.source, Path(scratch) / "src")
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        command += ["--quiet", "--wheel-dir", str(dest), str(source)]
        # A fixed timestamp makes the wheel byte-identical across reruns, so DVC caches it once.
        env = {**os.environ, "SOURCE_DATE_EPOCH": os.environ.get("SOURCE_DATE_EPOCH", "315532800")}
        done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    wheels = sorted(dest.glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise PluginError(
            f"building a wheel of conveyor from '{install.source}' failed: {' '.join(tail)}",
            where="deploy (container)",
            fix="pip install setuptools wheel (the build runs without isolation), then rerun",
        )
    return wheels[0]


def _clean_copy(source: Path, dest: Path) -> Path:
    """The checkout's files that git does not ignore, copied to ``dest``; else ``source``.

    Building from a copy leaves the user's tree untouched, and keeps setuptools from packing
    modules deleted since an earlier build that linger in its ``build/lib``.
    """
    import shutil

    try:
        listed = _git.ls_files(source, untracked=True)
    except GitError:
        return source  # not a git checkout (or no git): build in place
    for name in listed:
        file = source / name
        if name and file.is_file():  # a tracked file may have been deleted in the work tree
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, dest / name)
    return dest


def serve_config(params: Any) -> dict[str, Any]:  # noqa: ANN401 - the rest target's Params
    """``serve.json``: what ``conveyor serve`` reads from the deployed directory.

    ``host`` is written only when the config sets it: unset, the server listens on loopback
    (its default), and the image's ``CMD`` asks for all interfaces with ``--host``.
    """
    host = {"host": params.host} if params.host is not None else {}
    return {
        **host,
        "port": params.port,
        "max_body_bytes": params.max_body_bytes,
        "unknown_categories": params.unknown_categories,
        "log_dir": params.log_dir,
        "log_rotate_rows": params.log_rotate_rows,
        "log_rotate_seconds": params.log_rotate_seconds,
        **_candidate(params),
    }


def _candidate(params: Any) -> dict[str, Any]:  # noqa: ANN401 - the rest target's Params
    """The canary or shadow keys, written only when one is set (serve.json stays as it was)."""
    if params.canary is not None:
        sticky = {"canary_sticky": params.canary_sticky} if params.canary_sticky else {}
        return {"canary": params.canary, "canary_share": params.canary_share, **sticky}
    return {"shadow": params.shadow} if params.shadow is not None else {}


def dockerfile(params: Any, *, model: str, target: str, wheel: str | None) -> str:  # noqa: ANN401
    """The Dockerfile of a serving image; ``wheel`` is conveyor's wheel in the context, if any."""
    port = params.port
    lines = [
        f"# Generated by conveyor (deploy target '{target}') for model '{model}'. Do not edit:",
        "# change conf/deploy/ and run 'dvc repro'. Build: docker build -t <image> .",
        f"FROM {params.base_image}",
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 "
        "OMP_NUM_THREADS=1",
        f"WORKDIR {APP_DIR}",
        f"COPY {REQUIREMENTS_FILE} {APP_DIR}/{REQUIREMENTS_FILE}",
    ]
    if wheel is not None:
        # conveyor from the context's wheel first, so the index can never substitute another.
        lines += [
            f"COPY {WHEELS_DIR} {APP_DIR}/{WHEELS_DIR}",
            f"RUN pip install --no-cache-dir --no-deps --no-index --find-links "
            f"{APP_DIR}/{WHEELS_DIR} {DIST}=={_wheel_version(wheel)}",
        ]
    find_links = f" --find-links {APP_DIR}/{WHEELS_DIR}" if wheel is not None else ""
    lines += [
        f"RUN pip install --no-cache-dir{find_links} -r {APP_DIR}/{REQUIREMENTS_FILE}",
        f"RUN useradd --system --uid {USER_ID} --no-create-home conveyor",
    ]
    if params.log_dir is not None:
        log_dir = _in_app(params.log_dir)
        lines += [f"RUN mkdir -p {log_dir} && chown conveyor {log_dir}", f"VOLUME {log_dir}"]
    probe = (
        "import sys, urllib.request; "
        f"sys.exit(urllib.request.urlopen('http://127.0.0.1:{port}/ping', timeout=4).status != 200)"
    )
    command = ["conveyor", "serve", APP_DIR, "--config", f"{APP_DIR}/{SERVE_FILE}"]
    command += ["--host", params.host or CONTAINER_HOST]
    lines += [
        f"COPY {BUNDLE_DIR} {APP_DIR}/{BUNDLE_DIR}",
        f"COPY {SERVE_FILE} {APP_DIR}/{SERVE_FILE}",
        "USER conveyor",
        f"EXPOSE {port}",
        "HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 "
        f"CMD {json.dumps(['python', '-c', probe])}",
        f"CMD {json.dumps(command)}",
    ]
    return "\n".join(lines) + "\n"


def dockerignore(keep: Iterable[str]) -> str:
    """Send the daemon only what the Dockerfile copies."""
    return "# Generated by conveyor: the build context holds only what the image needs.\n*\n" + (
        "".join(f"!{name}\n" for name in keep)
    )


def readable(context: Path) -> None:
    """World-readable modes: docker COPY keeps them, and the image runs as a non-root user."""
    import os

    for directory, _, files in os.walk(context):
        os.chmod(directory, 0o755)  # noqa: S103 - a build context is meant to be read
        for name in files:
            os.chmod(os.path.join(directory, name), 0o644)


def _wheel_version(wheel: str) -> str:
    """The version field of a wheel file name (PEP 427): ``name-version-py-abi-plat.whl``."""
    return wheel.split("-")[1]


def _in_app(path: str) -> str:
    return path if path.startswith("/") else f"{APP_DIR}/{path.removeprefix('./')}"
