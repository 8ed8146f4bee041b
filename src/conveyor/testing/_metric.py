"""``MetricContract``: the suite every ``conveyor.metrics`` component passes."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

from conveyor.testing._contract import ComponentContract
from conveyor.testing._data import predictions

if TYPE_CHECKING:
    from conveyor.plugins import Metric
    from conveyor.spec import Task


class MetricContract(ComponentContract):
    """The suite of a ``conveyor.metrics`` component.

    Subclass with ``component = MyMetric`` and ``name = "myplug.mymetric"``. For each task in
    ``component.tasks``, with inputs shaped as the evaluate stage passes them (labels ``0..k-1``,
    ``(n, k)`` probabilities for classifiers, ``None`` for regressors), it checks that the value
    is a finite ``float`` and that better predictions score better in the direction
    ``higher_is_better`` declares.
    """

    kind = "metric"
    component: ClassVar[type[Metric]]

    def _compute(self, task: Task, wrong_share: float) -> Any:  # noqa: ANN401 - checked by tests
        y_true, y_pred, y_score = predictions(task, wrong_share=wrong_share)
        return self.make(task).compute(y_true, y_pred, y_score)

    def test_needs_is_known(self) -> None:
        """``needs`` tells the evaluate stage whether to pass labels or scores."""
        assert self.component.needs in ("label", "score")

    def test_returns_a_finite_float(self, task: Task) -> None:
        """A plain ``float`` that ``json.dumps`` writes into reports/metrics.json."""
        value = self._compute(task, wrong_share=0.25)
        assert type(value) is float, f"compute returned {type(value).__name__}, not float"
        assert math.isfinite(value), f"compute returned {value}"

    def test_better_predictions_score_better(self, task: Task) -> None:
        """Fewer mistakes move the value in the direction of ``higher_is_better``."""
        good, bad = self._compute(task, wrong_share=0.1), self._compute(task, wrong_share=0.4)
        if self.component.higher_is_better:
            assert good > bad, f"higher_is_better, but 10% wrong gives {good} <= 40% gives {bad}"
        else:
            assert good < bad, f"lower is better, but 10% wrong gives {good} >= 40% gives {bad}"
