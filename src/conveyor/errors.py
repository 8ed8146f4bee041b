"""The one exception tree of conveyor.

Every deliberate error says where (a YAML path and file, a stage, a file on disk), what went
wrong, and how to fix it. The CLI prints ``error: {exc.render()}`` and exits with
``exc.exit_code``; any other exception is a bug and is printed with its traceback.

::

    ConveyorError                  exit 1
    ├── UsageError                 exit 2  arguments that parse but do not make sense together
    ├── SpecError                  exit 2  the user's configuration is wrong
    │   ├── OverrideError                  a command-line override is malformed or unknown
    │   └── UnknownComponentError          a ``kind:`` names no installed component
    ├── PluginError                exit 3  an installed plugin is broken
    ├── CompileError                       a valid spec that cannot become a pipeline
    ├── StageError                         a failure inside ``conveyor run <stage>``
    │   ├── UndeclaredParamError           a stage read a key its ``params:`` do not list
    │   └── DataError                      input data unusable (missing file, missing column)
    │       └── DataValidationError        the dataset breaks error-level ``data.schema`` checks
    ├── RegistryError                      a registry request refused (unknown version, unblessed)
    ├── InputError                 exit 2  rows to score break the model's input schema
    ├── RequestError                       the server refuses a request (an HTTP 4xx status)
    ├── ServeError                         `conveyor serve` cannot start (the address is taken)
    ├── StatusError                        `conveyor status` cannot read the project's pipeline
    ├── ContinuousTrainingError            `conveyor ct` cannot run (dirty, locked, no batch)
    ├── RevisionError                      a git revision to diff cannot be read or compiled
    ├── SweepError                         a sweep cannot start or go on (bad space, structure)
    ├── ExperimentError                    a DVC experiment cannot be found or adopted into conf/
    ├── GitError                           a git or dvc command failed (conveyor._git runs them all)
    │   ├── CommandNotFoundError           git or dvc is not installed (not on PATH)
    │   └── NotARepositoryError            git finds no repository around the directory
    ├── InitError                          `conveyor init` refuses a target directory
    ├── ExecutorError                      the executor cannot start or reach its workers
    └── BundleError                exit 4  a model bundle is missing, tampered or incomplete
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "BundleError",
    "CommandNotFoundError",
    "CompileError",
    "ConfigProblem",
    "ContinuousTrainingError",
    "ConveyorError",
    "DataError",
    "DataValidationError",
    "ExecutorError",
    "ExperimentError",
    "GitError",
    "InitError",
    "InputError",
    "NotARepositoryError",
    "OverrideError",
    "PluginError",
    "RegistryError",
    "RequestError",
    "RevisionError",
    "ServeError",
    "SpecError",
    "StageError",
    "StatusError",
    "SweepError",
    "UndeclaredParamError",
    "UnknownComponentError",
    "UsageError",
]


class ConveyorError(Exception):
    """Root of every deliberate conveyor error."""

    exit_code: ClassVar[int] = 1

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None) -> None:
        self.what, self.where, self.fix = what, where, fix
        super().__init__(f"{where}: {what}" if where else what)

    def render(self) -> str:
        """The message as the CLI prints it: where, what, then the fix on its own line."""
        return f"{self}\n  fix: {self.fix}" if self.fix else str(self)


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a configuration, located by dotted path and the conf file that set it."""

    path: str
    file: str | None
    what: str
    fix: str | None = None

    @property
    def where(self) -> str:
        """``dotted.path (conf/file.yaml)``, or just the path when no file is known."""
        return f"{self.path} ({self.file})" if self.file else self.path

    def render(self) -> str:
        """The problem as one or two lines."""
        line = f"{self.where}: {self.what}"
        return f"{line}\n    fix: {self.fix}" if self.fix else line


class UsageError(ConveyorError):
    """Command-line arguments that parse but do not make sense together.

    ``compile --check`` with overrides, say. The CLI prints the usage line before the message and
    exits 2, as argparse does for arguments that do not parse.
    """

    exit_code = 2


class SpecError(ConveyorError):
    """The user's configuration is wrong; carries every problem found, not just the first."""

    exit_code = 2

    def __init__(
        self,
        what: str,
        *,
        where: str | None = None,
        fix: str | None = None,
        problems: tuple[ConfigProblem, ...] = (),
    ) -> None:
        super().__init__(what, where=where, fix=fix)
        self.problems = problems

    @classmethod
    def from_problems(cls, problems: list[ConfigProblem]) -> SpecError:
        """One error that lists all ``problems`` (DVC's "N errors" style)."""
        if len(problems) == 1:
            only = problems[0]
            return cls(only.what, where=only.where, fix=only.fix, problems=(only,))
        return cls(f"{len(problems)} problems in the configuration", problems=tuple(problems))

    def render(self) -> str:
        """All problems, one per block; a single problem renders like any ConveyorError."""
        if len(self.problems) <= 1:
            return super().render()
        body = "\n".join(f"  {p.render()}" for p in self.problems)
        return f"{self.what}:\n{body}"


class OverrideError(SpecError):
    """A command-line override is malformed, or names a key or group option that does not exist."""


class UnknownComponentError(SpecError):
    """A ``kind:`` names no component installed in the relevant entry-point group."""


class PluginError(ConveyorError):
    """An installed plugin cannot be imported or does not implement its interface."""

    exit_code = 3


class CompileError(ConveyorError):
    """The spec is valid but cannot become a DVC pipeline (duplicate output, cycle, ...)."""


class StageError(ConveyorError):
    """A failure inside ``conveyor run <stage>``."""


class UndeclaredParamError(StageError):
    """A stage read a params.yaml key that its ``params:`` list in dvc.yaml does not declare."""


class DataError(StageError):
    """Input data cannot be used: a missing file, a missing column, an empty split."""


class DataValidationError(DataError):
    """The dataset breaks ``data.schema``: one line per failed check; details in the report."""


class RegistryError(ConveyorError):
    """A registry request was refused: unknown model or version, uncommitted model, unblessed."""


class InputError(ConveyorError):
    """Rows sent to a model (a request, a batch file) break its input schema: one line each.

    ``problems`` holds ``conveyor.bundle.inputs.Problem`` objects, so a server can answer in its
    protocol's own error shape and a batch job can count them.
    """

    exit_code = 2

    def __init__(
        self,
        what: str,
        *,
        where: str | None = None,
        fix: str | None = None,
        problems: tuple[object, ...] = (),
    ) -> None:
        super().__init__(what, where=where, fix=fix)
        self.problems = problems


class RequestError(ConveyorError):
    """A request the server refuses with a 4xx ``status``; ``reason`` labels it in the metrics.

    ``reason`` is a short label: ``too_large``, ``content_type``, ``malformed``, ``bad_payload``...

    The server answers it in the protocol's own error shape (MLflow or Open Inference Protocol);
    it never reaches the CLI. Rows that break the model's input schema are refused with reason
    ``invalid_input``, naming the problems a batch job raises as an :class:`InputError`.
    """

    def __init__(self, what: str, *, status: int = 400, reason: str = "bad_payload") -> None:
        super().__init__(what)
        self.status = status
        self.reason = reason


class ServeError(ConveyorError):
    """``conveyor serve`` cannot start: the address is taken, or the host cannot be bound."""


class StatusError(ConveyorError):
    """``conveyor status`` cannot read the pipeline: no ``.dvc/``, no dvc.yaml, DVC fails."""


class ContinuousTrainingError(ConveyorError):
    """``conveyor ct`` cannot go on: a dirty workspace, another run holding the lock, no batch.

    The workspace is restored to the commit the run started from before this is raised.
    """


class RevisionError(ConveyorError):
    """A git revision named for a diff cannot be resolved, read, or compiled."""


class SweepError(ConveyorError):
    """A sweep cannot start or go on: a malformed search space, a structural change, no queue."""


class ExperimentError(ConveyorError):
    """A DVC experiment cannot be found, or its params.yaml cannot become conf/ edits (adopt)."""


class GitError(ConveyorError):
    """A ``git`` or ``dvc`` command failed, or could not start.

    Only ``conveyor._git``, the one runner of both, raises it (DVC's ``SCMError``). It keeps the
    ``command``, its ``returncode`` (None when it never started) and its decoded ``stdout`` and
    ``stderr``, so a caller that owns the user's message raises its own error ``from`` it.
    """

    def __init__(
        self,
        what: str,
        *,
        where: str | None = None,
        fix: str | None = None,
        command: tuple[str, ...] = (),
        returncode: int | None = None,
        stdout: str = "",
        stderr: str = "",
    ) -> None:
        super().__init__(what, where=where, fix=fix)
        self.command, self.returncode = command, returncode
        self.stdout, self.stderr = stdout, stderr

    @property
    def output(self) -> str:
        """Everything the command printed: its stdout, then its stderr."""
        return self.stdout + self.stderr


class CommandNotFoundError(GitError):
    """``git`` or ``dvc`` is not installed: no executable of that name on PATH."""


class NotARepositoryError(GitError):
    """git finds no repository in or above the directory it was run in."""


class InitError(ConveyorError):
    """``conveyor init`` refuses a directory: not empty, or already a conveyor project."""


class ExecutorError(ConveyorError):
    """The configured executor cannot start or reach its workers (a scheduler is down)."""


class BundleError(ConveyorError):
    """A model bundle is missing, incomplete, or fails its sha256 manifest."""

    exit_code = 4
