"""Built-in deploy targets: ``rest``, ``container`` and ``batch``.

``rest`` writes a serving directory, ``container`` a complete docker build context, and
``batch`` the predictions for a configured input.

Each runs in its ``deploy-<name>`` stage after the stage has checked the blessing and the
bundle's manifest. They import nothing heavy at module level: ``conveyor compile`` loads these
classes only to check ``params:``.
"""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from conveyor import _atomic
from conveyor._paths import (
    PREDICTIONS_DIR,
    REPORTS_DIR,
    deploy_path,
    predictions_path,
    predictions_report,
)
from conveyor.components import _image
from conveyor.components._files import StrictParams, check_project_path, is_glob, static_prefix
from conveyor.plugins.base import DeployTarget

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.plugins.base import DeployContext

MiB = 1 << 20


def _default_base_image() -> str:
    """The Python of this interpreter, to the patch release: what the model was tested on."""
    import sys

    major, minor, micro = sys.version_info[:3]
    return f"python:{major}.{minor}.{micro}-slim"


class RestParams(StrictParams):
    """``rest`` / ``container``: how the server runs (``serve.json``) and the image it runs in."""

    host: str | None = None
    """The interface to listen on; null: loopback for ``conveyor serve deploy/<name>`` on the
    machine that built it, and all interfaces (``0.0.0.0``) in the image, whose ``CMD`` says so."""
    port: int = Field(default=8080, ge=1, le=65535)
    max_body_bytes: int = Field(default=10 * MiB, ge=1)
    unknown_categories: Literal["error", "allow"] = "error"
    log_dir: str | None = None
    """Prediction log directory (relative to the deployed directory); null: no logging."""
    log_rotate_rows: int = Field(default=10_000, ge=1)
    log_rotate_seconds: float = Field(default=60.0, gt=0)
    canary: str | None = None
    """A second version (``NAME@v1.2.0``) that answers ``canary_share`` of the requests; the
    server resolves it in the registry of the directory it runs in (docs/serving.md)."""
    canary_share: float = Field(default=0.1, gt=0, lt=1)
    canary_sticky: str | None = None
    """The id column whose value picks the version, so one id always gets the same one."""
    shadow: str | None = None
    """A second version that scores every request after the answer, never answering."""
    base_image: str = Field(default_factory=_default_base_image)
    """The image to build on, pinned by tag (``python:3.11.7-slim``); never ``latest``."""

    @model_validator(mode="after")
    def _one_candidate(self) -> RestParams:
        if self.canary is not None and self.shadow is not None:
            msg = "'canary' and 'shadow' are both set; serve one candidate at a time"
            raise ValueError(msg)
        if self.canary_sticky is not None and self.canary is None:
            msg = "'canary_sticky' is set without 'canary'"
            raise ValueError(msg)
        return self

    @field_validator("base_image")
    @classmethod
    def _pinned(cls, image: str) -> str:
        name, _, tag = image.rpartition("/")[2].partition(":")
        if "@sha256:" in image:
            return image
        if not tag or tag == "latest" or not name:
            msg = (
                f"base image '{image}' is not pinned; name a version tag such as "
                f"'{_default_base_image()}' (or a digest, image@sha256:...)"
            )
            raise ValueError(msg)
        return image


class RestTarget(DeployTarget[RestParams]):
    """``deploy/<name>/``: the bundle, ``serve.json``, pinned requirements, a Dockerfile.

    ``conveyor serve deploy/<name>`` serves it as is; ``docker build deploy/<name>`` needs
    ``conveyor-mlops`` on your package index (the ``container`` target ships its own wheel).
    """

    Params: ClassVar[type[RestParams]] = RestParams
    wheel: ClassVar[bool] = False

    def outs(self, name: str) -> tuple[str, ...]:
        """The directory ``deploy/<name>``."""
        return (deploy_path(name),)

    def run(self, ctx: DeployContext) -> None:
        """Write the directory atomically: the old one stays until the new one is complete."""
        from conveyor.bundle import verify_manifest

        (out,) = ctx.outs
        install = _image.conveyor_install() if self.wheel else None
        requirements = _image.pinned_requirements()
        with _atomic.atomic_dir(out) as tmp:
            shutil.copytree(ctx.bundle_dir, tmp / _image.BUNDLE_DIR)
            verify_manifest(tmp / _image.BUNDLE_DIR)  # the copy, not just the original
            serve = json.dumps(_image.serve_config(self.params), indent=2) + "\n"
            (tmp / _image.SERVE_FILE).write_text(serve, encoding="utf-8")
            (tmp / _image.REQUIREMENTS_FILE).write_text(
                f"# Generated by conveyor: the versions '{ctx.model}' was built and tested "
                "with.\n" + "\n".join(requirements) + "\n",
                encoding="utf-8",
            )
            wheel = None
            if install is not None and not install.from_index:
                wheel = _image.build_wheel(install, tmp / _image.WHEELS_DIR).name
            docker = _image.dockerfile(self.params, model=ctx.model, target=ctx.target, wheel=wheel)
            (tmp / "Dockerfile").write_text(docker, encoding="utf-8")
            if self.wheel:
                keep = ["Dockerfile", _image.REQUIREMENTS_FILE, _image.SERVE_FILE, "bundle/"]
                keep += [f"{_image.WHEELS_DIR}/"] if wheel is not None else []
                (tmp / ".dockerignore").write_text(_image.dockerignore(keep), encoding="utf-8")
            _image.readable(tmp)
        extra = f", conveyor wheel {wheel}" if wheel else ""
        print(  # noqa: T201
            f"deploy-{ctx.target}: {ctx.model} -> {ctx.outs[0].relative_to(ctx.root).as_posix()}/ "
            f"({len(requirements)} pinned requirements{extra})"
        )


class ContainerTarget(RestTarget):
    """``deploy/<name>/``: a complete docker build context (``rest`` + conveyor's wheel).

    When conveyor is installed from a local checkout (editable or not), its wheel is built into
    ``wheels/`` and installed from there; from an index, the pinned version comes from the index.
    Docker is not needed to write it: ``docker build deploy/<name>`` builds the image.
    """

    wheel: ClassVar[bool] = True


class BatchParams(StrictParams):
    """``batch``: score a file, folder or glob of the project with the blessed model."""

    input: str
    """Project-relative CSV/Parquet file, folder or glob (``data/split/test.parquet``)."""
    chunk_rows: int = Field(default=65_536, ge=1)
    bad_rows: Literal["fail", "skip"] = "fail"
    keep_columns: list[str] | None = None
    """Input columns copied into the predictions; null: all of them."""
    unknown_categories: Literal["error", "allow"] = "error"

    @field_validator("input")
    @classmethod
    def _inside_project(cls, value: str) -> str:
        try:
            path = check_project_path(value)
        except ValueError as exc:  # its wording is about sources
            msg = str(exc).replace("sources read", "batch targets score")
            raise ValueError(msg) from exc
        watched = static_prefix(path) if is_glob(path) else path
        for output in (PREDICTIONS_DIR, REPORTS_DIR):
            if output == watched or output.startswith(f"{watched.rstrip('/')}/"):
                # DVC refuses a stage whose dependency contains its own output.
                msg = (
                    f"input '{value}' makes '{watched}' a dependency, and it holds the "
                    f"stage's own output under '{output}'; put the files to score in their "
                    "own folder, e.g. data/incoming/*.csv"
                )
                raise ValueError(msg)
        return path


class BatchTarget(DeployTarget[BatchParams]):
    """Predictions for ``input``: ``data/predictions/<name>.parquet``.

    A summary goes to ``reports/predictions-<name>.json`` (rows in, scored, skipped, and the
    bad rows when ``bad_rows: skip``).
    """

    Params: ClassVar[type[BatchParams]] = BatchParams

    def outs(self, name: str) -> tuple[str, ...]:
        """The predictions file (DVC-cached)."""
        return (predictions_path(name),)

    def reports(self, name: str) -> tuple[str, ...]:
        """The run's summary (kept in git)."""
        return (predictions_report(name),)

    def deps(self) -> tuple[str, ...]:
        """The input; a glob's fixed folder, so a new matching file reruns the stage."""
        path = self.params.input
        return (static_prefix(path),) if is_glob(path) else (path,)

    def run(self, ctx: DeployContext) -> None:
        """Stream the input through the model into the predictions file."""
        import tempfile
        from pathlib import Path

        from conveyor.bundle import load_bundle
        from conveyor.bundle.predictor import Predictor
        from conveyor.bundle.scoring import score_files

        (output,), (report,) = ctx.outs, ctx.reports
        predictor = Predictor(
            load_bundle(ctx.bundle_dir, trusted=ctx.trusted),
            unknown_categories=self.params.unknown_categories,
        )
        with tempfile.TemporaryDirectory() as scratch:
            bad_rows_file = Path(scratch) / "bad_rows.json"
            summary = score_files(
                predictor,
                [self.params.input],
                output,
                chunk_rows=self.params.chunk_rows,
                bad_rows=self.params.bad_rows,
                keep_columns=self.params.keep_columns,
                report=bad_rows_file,
                root=ctx.root,
            )
            bad = _read_json(bad_rows_file) if bad_rows_file.is_file() else None
        document = {
            "target": ctx.target,
            "model": {"name": predictor.name, "sha256": predictor.sha256},
            "input": self.params.input,
            "files": [_relative(f, ctx.root) for f in summary.files],
            "output": _relative(output, ctx.root),
            "rows_in": summary.rows_in,
            "rows_scored": summary.rows_scored,
            "rows_skipped": summary.rows_skipped,
            "bad_rows": self.params.bad_rows,
        }  # no wall time: DVC tracks this file, and the same inputs must give the same bytes
        if bad is not None:
            document["problems"] = bad.get("problems", [])
            document["samples"] = bad.get("samples", [])
        _atomic.write_text(report, json.dumps(document, indent=2) + "\n")
        skipped = f", {summary.rows_skipped} bad rows skipped" if summary.rows_skipped else ""
        print(  # noqa: T201
            f"deploy-{ctx.target}: scored {summary.rows_scored} rows of {self.params.input} "
            f"-> {document['output']}{skipped} in {summary.seconds:.1f} s"
        )


def _read_json(path: Path) -> dict[str, object]:
    loaded = json.loads(path.read_text(encoding="utf-8"))
    return loaded if isinstance(loaded, dict) else {}


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
