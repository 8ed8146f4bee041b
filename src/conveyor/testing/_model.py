"""``ModelContract``: the suite every ``conveyor.models`` component passes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from conveyor.spec import is_classification
from conveyor.testing._contract import ComponentContract
from conveyor.testing._data import n_classes, task_data
from conveyor.testing._signature import estimator_params

if TYPE_CHECKING:
    import numpy as np

    from conveyor.plugins import Model
    from conveyor.spec import Task

SEED = 1234


class ModelContract(ComponentContract):
    """The suite of a ``conveyor.models`` component.

    Subclass with ``component = MyModel``, ``name = "myplug.mymodel"`` and small ``params``.
    For each task in ``component.tasks`` it checks that ``params_model(task)`` has exactly the
    arguments of the real estimator (less ``unsupported_args``); that built estimators fit and
    predict a tiny dataset (classifiers give one probability column per class); that
    ``random_state`` comes from ``build(task, seed)`` unless the params set it; and that equal
    seeds give equal predictions.
    """

    kind = "model"
    component: ClassVar[type[Model[Any]]]

    def test_params_match_estimator_signature(self, task: Task) -> None:
        """No estimator argument is missing from ``Params``, and ``Params`` invents none."""
        estimator_cls = self.make(task).estimator_class(task)
        real = estimator_params(estimator_cls)
        params_model = self.component.params_model(task)
        fields = set(params_model.model_fields)
        unsupported = self.component.unsupported_args
        where = f"{self.component.__name__} ({task})"
        estimator = f"{estimator_cls.__module__}.{estimator_cls.__qualname__}"
        problems = []
        if missing := [arg for arg in real if arg not in fields | unsupported]:
            problems.append(
                f"{where}: {params_model.__name__} lacks {estimator}'s argument(s) "
                f"{', '.join(missing)}; add them as fields, or to unsupported_args when YAML "
                "cannot express them"
            )
        if invented := sorted(fields - real.keys()):
            problems.append(
                f"{where}: {params_model.__name__} has field(s) {', '.join(invented)} that "
                f"{estimator} does not take; remove them"
            )
        if stale := sorted(unsupported - real.keys()):
            problems.append(
                f"{where}: unsupported_args lists {', '.join(stale)}, which {estimator} "
                "does not take; remove them"
            )
        if clash := sorted(fields & unsupported):
            problems.append(
                f"{where}: {', '.join(clash)} are both Params fields and unsupported_args"
            )
        assert not problems, "\n".join(problems)

    def test_build_passes_params_and_clones(self, task: Task) -> None:
        """``build`` gives a scikit-learn estimator that holds the params and can be cloned."""
        from sklearn.base import clone

        estimator = self.make(task).build(task, SEED)
        held = estimator.get_params()
        for key, value in self.params.items():
            assert held.get(key) == value, (
                f"{key}={value!r} reached the estimator as {held.get(key)!r}"
            )
        clone(estimator)

    def test_fits_and_predicts(self, task: Task) -> None:
        """Fit a tiny dataset; predict it; classifiers give one probability column per class."""
        import numpy as np

        x, y = task_data(task)
        estimator = self.make(task).build(task, SEED)
        estimator.fit(x, y)
        predicted = np.asarray(estimator.predict(x))
        assert predicted.shape == (len(x),), f"predict gave shape {predicted.shape}"
        if not is_classification(task):
            assert np.isfinite(predicted.astype(float)).all(), "predict gave non-finite values"
            return
        assert set(np.unique(predicted)) <= set(np.unique(y)), "predict gave unknown classes"
        assert callable(getattr(estimator, "predict_proba", None)), (
            f"{type(estimator).__name__} has no predict_proba; classifiers need it for "
            "score metrics such as roc_auc"
        )
        proba = np.asarray(estimator.predict_proba(x))
        assert proba.shape == (len(x), n_classes(task)), f"predict_proba gave {proba.shape}"
        assert ((proba >= 0) & (proba <= 1)).all(), "probabilities outside [0, 1]"
        assert np.allclose(proba.sum(axis=1), 1.0), "probabilities do not sum to 1 per row"

    def test_random_state_comes_from_seed(self, task: Task) -> None:
        """``build(task, seed)`` seeds ``random_state``; an explicit ``random_state`` wins."""
        model = self.make(task)
        takes_random_state = "random_state" in estimator_params(model.estimator_class(task))
        held = model.build(task, SEED).get_params()
        if not takes_random_state:
            assert "random_state" not in held, "build set random_state, which is no argument"
            return
        assert held["random_state"] == self.params.get("random_state", SEED), (
            f"build(task, seed={SEED}) left random_state={held['random_state']!r}"
        )
        if "random_state" in self.component.params_model(task).model_fields:
            explicit = self.make(task, {**self.params, "random_state": 7}).build(task, SEED)
            assert explicit.get_params()["random_state"] == 7, "an explicit random_state was lost"

    def test_same_seed_same_predictions(self, task: Task) -> None:
        """Two estimators built with one seed learn the same thing (DVC reruns reproduce)."""
        import numpy as np

        x, y = task_data(task)
        first, second = (self._outputs(task, x, y) for _ in range(2))
        np.testing.assert_array_equal(first, second)

    def _outputs(self, task: Task, x: Any, y: np.ndarray) -> np.ndarray:  # noqa: ANN401
        import numpy as np

        estimator = self.make(task).build(task, SEED).fit(x, y)
        method = estimator.predict_proba if is_classification(task) else estimator.predict
        return np.asarray(method(x))
