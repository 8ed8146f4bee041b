"""``TransformContract``: the suite every ``conveyor.transforms`` component passes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from conveyor.testing._contract import ComponentContract
from conveyor.testing._data import numeric_frame

if TYPE_CHECKING:
    import pandas as pd

    from conveyor.plugins import Transform


class TransformContract(ComponentContract):
    """The suite of a ``conveyor.transforms`` component.

    Subclass with ``component``, ``name`` and ``params``; override the ``frame`` fixture when the
    transform needs other input (missing values, categories, a time column), and the ``target``
    fixture when it learns from the target (``target_encoding``). It checks that ``build()`` gives a
    fresh, clonable transformer that outputs pandas (the training pipeline calls
    ``set_output(transform="pandas")``), keeps the rows and their index, names its columns as
    ``get_feature_names_out`` does, and transforms new rows after fitting.
    """

    kind = "transform"
    component: ClassVar[type[Transform[Any]]]

    @pytest.fixture
    def frame(self) -> pd.DataFrame:
        """The training rows; three float columns by default."""
        return numeric_frame()

    @pytest.fixture
    def target(self) -> Any:  # noqa: ANN401 - whatever ``y`` the transform is fitted with
        """The ``y`` passed to ``fit_transform``, one value per row of ``frame``; None by default.

        The training pipeline passes the (label-encoded) target to every transform; override
        this for a supervised transform.
        """
        return None

    def _fitted(self, frame: pd.DataFrame, target: Any) -> tuple[Any, pd.DataFrame]:  # noqa: ANN401
        transformer = self.make().build().set_output(transform="pandas")
        return transformer, transformer.fit_transform(frame, target)

    def test_build_gives_fresh_clonable_transformers(self) -> None:
        """Each ``build()`` is a new object that scikit-learn can clone."""
        from sklearn.base import clone

        component = self.make()
        first, second = component.build(), component.build()
        assert first is not second, "build returned the same transformer twice"
        for method in ("fit", "transform", "set_output", "get_feature_names_out"):
            assert callable(getattr(first, method, None)), f"the transformer has no {method}()"
        clone(first)

    def test_output_keeps_rows_and_names(self, frame: pd.DataFrame, target: Any) -> None:  # noqa: ANN401
        """A DataFrame with the input's index and the names ``get_feature_names_out`` gives."""
        import pandas as pd

        transformer, out = self._fitted(frame, target)
        assert isinstance(out, pd.DataFrame), f"fit_transform returned {type(out).__name__}"
        pd.testing.assert_index_equal(out.index, frame.index)
        columns = list(out.columns)
        assert all(isinstance(c, str) for c in columns), f"non-string columns: {columns}"
        assert len(set(columns)) == len(columns), f"duplicated columns: {columns}"
        assert columns == list(transformer.get_feature_names_out()), (
            "output columns differ from get_feature_names_out()"
        )

    def test_transforms_new_rows(self, frame: pd.DataFrame, target: Any) -> None:  # noqa: ANN401
        """After fitting, a few rows transform to the same columns (serving scores one row)."""
        transformer, out = self._fitted(frame, target)
        some = transformer.transform(frame.iloc[:3])
        assert list(some.columns) == list(out.columns)
        assert len(some) == 3
