"""Why a stage reruns: the one model that ``diff``, ``status`` and ``dag`` share.

A :class:`Reason` is a kind, the thing it is about (a path, a params key, a stage), and, where
``conveyor status`` explains what DVC found, the sentence it prints and the facts ``--json``
adds. A :class:`Rerun` is a stage with its reasons. Two producers fill it:

- ``conveyor diff`` predicts the reruns of HEAD against a ``dvc.lock`` written at BASE, from
  the two compiled pipelines (``_changes.plan_reruns``): kinds ``new stage``, ``cmd changed``,
  ``new dep``, ``new out``, ``new param``, ``param changed``, ``input changed``, ``upstream``.
- ``conveyor status`` explains ``dvc status`` against the real ``dvc.lock``
  (``status.pipeline_status``): kinds ``param``, ``dependency``, ``output``, ``definition``,
  ``never_run``, ``changed``, ``upstream``.

The kinds are the values each command's JSON has always printed, so they stay distinct.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping

ReasonKind = Literal[
    # conveyor diff: HEAD compared with BASE
    "new stage",
    "cmd changed",
    "new dep",
    "new out",
    "new param",
    "param changed",
    "input changed",
    # conveyor status: what dvc status found, explained against dvc.lock
    "param",
    "dependency",
    "output",
    "definition",
    "never_run",
    "changed",
    # both: only a stage upstream of this one changed
    "upstream",
]


@dataclass(frozen=True)
class Reason:
    """Why a stage reruns: a kind and what it is about (a path, a key, a stage)."""

    kind: ReasonKind
    subject: str = ""
    text: str = ""
    """The sentence ``conveyor status`` prints; empty: ``str()`` says kind and subject."""
    detail: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """The facts ``conveyor status --json`` adds (old and new values, paths, stages)."""

    def __str__(self) -> str:
        if self.text:
            return self.text
        if self.kind == "upstream":
            return f"after {self.subject}"
        return f"{self.kind} {self.subject}".strip()


@dataclass(frozen=True)
class Rerun:
    """A stage that ``dvc repro`` will run, with its reasons."""

    stage: str
    reasons: tuple[Reason, ...]

    @property
    def direct(self) -> bool:
        """Whether its own inputs changed (``dvc status`` lists it), not only upstream ones."""
        return any(r.kind != "upstream" for r in self.reasons)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of ``conveyor diff``."""
        return {
            "stage": self.stage,
            "direct": self.direct,
            "reasons": [{"kind": r.kind, "subject": r.subject} for r in self.reasons],
        }
