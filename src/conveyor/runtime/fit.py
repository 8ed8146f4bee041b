"""How ``train`` fits the model: in memory, from batches, or on a Dask cluster (``model.fit``).

- ``memory: in_memory``, ``mode: local`` (the defaults): scikit-learn's ``Pipeline.fit``.
- ``memory: external``: the booster trains from the training split read in batches of
  ``BATCH_ROWS`` rows through an ``xgboost.DataIter``, into an ``ExtMemQuantileDMatrix`` whose
  pages xgboost caches on disk (in a temporary folder beside the bundle, removed afterwards).
- ``mode: distributed``: the booster trains with ``xgboost.dask`` on the project's Dask
  executor; the workers read the training split themselves (``dask.dataframe.read_parquet``,
  so they must see the project's folder), split into one partition per worker thread.

In both the transforms (the Pipeline's steps before the model) are fitted first, here, and
each batch or partition goes through them before xgboost sees it. With ``mode: distributed``
they are fitted on the whole training split; with ``memory: external`` the split is never
held whole: a step whose transformer has ``partial_fit`` (the scalers) learns from every row,
batch by batch, after the steps before it; any other step is fitted on the bounded sample of
:func:`conveyor.runtime.batches.scan_split` (at most ``model.fit.sample_rows`` rows). The
trained booster is then loaded into the very ``XGBClassifier``/``XGBRegressor`` the model
built, so the bundle is the same one scikit-learn Pipeline that ``serve`` and ``score`` load:
no new type to trust, no new way to predict.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from conveyor.errors import SpecError
from conveyor.runtime.batches import BATCH_ROWS, iter_frames

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    import pandas as pd
    from sklearn.pipeline import Pipeline

    from conveyor.plugins import Plugins
    from conveyor.spec.model import FitSpec

__all__ = ["BATCH_ROWS", "fit_model", "train_distributed", "train_external"]


def fit_model(
    pipeline: Pipeline,
    x: pd.DataFrame,
    y: Any,  # noqa: ANN401 - a Series or the label-encoded array
    *,
    fit: FitSpec,
    train_file: Path,
    target: str,
    encoder: Any,  # noqa: ANN401 - the fitted LabelEncoder, None for regression
    root: Path,
    plugins: Plugins,
    cache_dir: Path,
) -> None:
    """Fit ``pipeline`` as ``model.fit`` says.

    ``x``, ``y``: the whole training split, or with ``memory: external`` the sample of
    :func:`~conveyor.runtime.batches.scan_split` (``train_file`` holds every row).
    """
    if not fit.settings:
        pipeline.fit(x, y)
        return
    steps = pipeline.steps[:-1]
    estimator = pipeline.steps[-1][1]
    if not hasattr(estimator, "get_xgb_params"):  # compile refuses it; params.yaml was edited
        raise SpecError(
            f"'model.fit' {' and '.join(fit.settings)} trains xgboost only, and the model is "
            f"{type(estimator).__name__}",
            where="model.fit (params.yaml)",
            fix="use model=xgboost, or remove model.fit from conf/model/ and run "
            "'conveyor compile'",
        )
    if fit.memory == "external":
        fit_steps_in_batches(steps, x, y, train_file, target)
        preprocess = _transform_with(steps)
        train_external(estimator, train_file, target, preprocess, encoder, cache_dir=cache_dir)
        return
    if steps:
        from sklearn.pipeline import Pipeline

        Pipeline(steps).fit(x, y)  # the same step objects: the bundle's transforms are fitted
    preprocess = _transform_with(steps)
    meta = preprocess(x.head(2)).iloc[:0]
    with _dask_client(root, plugins) as client:
        train_distributed(estimator, train_file, target, preprocess, encoder, meta, client)


def fit_steps_in_batches(
    steps: list[tuple[str, Any]],
    sample: pd.DataFrame,
    y: Any,  # noqa: ANN401 - the sample's labels, encoded
    train_file: Path,
    target: str,
    *,
    batch_rows: int = BATCH_ROWS,
) -> None:
    """Fit the transform steps in order, as ``Pipeline.fit`` would, without the whole split.

    A step is fitted on ``sample`` (as transformed by the steps before it); when its one
    transformer has ``partial_fit``, that transformer is then fitted afresh on every row of
    ``train_file``, batch by batch, through the steps before it, and replaces the sample's.
    """
    for index, (_, step) in enumerate(steps):
        if _incremental(step) is None:
            sample = step.fit_transform(sample, y)
            continue
        step.fit(sample, y)
        _refit_in_batches(step, steps[:index], train_file, target, batch_rows)
        if index < len(steps) - 1:
            sample = step.transform(sample)


def _incremental(step: Any) -> str | None:  # noqa: ANN401 - a fitted or unfitted step
    """The name of a ColumnTransformer step's one transformer, if that has ``partial_fit``."""
    transformers = getattr(step, "transformers", None)
    if not isinstance(transformers, list) or len(transformers) != 1:
        return None
    name, transformer, _ = transformers[0]
    return str(name) if hasattr(transformer, "partial_fit") else None


def _refit_in_batches(
    step: Any,  # noqa: ANN401 - a fitted ColumnTransformer
    before: list[tuple[str, Any]],
    train_file: Path,
    target: str,
    batch_rows: int,
) -> None:
    """Replace the step's fitted transformer with a clone ``partial_fit`` on every batch."""
    from sklearn.base import clone
    from sklearn.utils import _safe_indexing

    name = _incremental(step)
    for position, (fitted_name, fitted, columns) in enumerate(step.transformers_):
        if fitted_name != name:
            continue
        if isinstance(fitted, str) or not len(columns):  # "drop", or no column selected
            return
        fresh = clone(fitted)  # the same params and pandas output, nothing learnt
        upstream = _transform_with(before)
        for frame in iter_frames(train_file, batch_rows):
            features = upstream(frame.drop(columns=[target]))
            fresh.partial_fit(_safe_indexing(features, columns, axis=1))
        step.transformers_[position] = (fitted_name, fresh, columns)
        return


def _transform_with(steps: list[tuple[str, Any]]) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """The fitted transforms as one function (identity when there are none)."""
    if not steps:
        return _identity
    from sklearn.pipeline import Pipeline

    return Pipeline(steps).transform  # type: ignore[no-any-return]


def _identity(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


def train_external(
    estimator: Any,  # noqa: ANN401 - an unfitted XGBClassifier or XGBRegressor
    train_file: Path,
    target: str,
    preprocess: Callable[[pd.DataFrame], pd.DataFrame],
    encoder: Any,  # noqa: ANN401 - a fitted LabelEncoder or None
    *,
    cache_dir: Path,
    batch_rows: int = BATCH_ROWS,
) -> None:
    """Train ``estimator``'s booster from ``train_file`` in batches (ExtMemQuantileDMatrix).

    xgboost's page cache goes to a temporary folder in ``cache_dir``, removed afterwards.
    """
    import xgboost

    class Batches(xgboost.DataIter):
        """The training split, ``batch_rows`` rows at a time, through the fitted transforms."""

        def __init__(self, cache_prefix: str) -> None:
            self._batches: Iterator[pd.DataFrame] | None = None
            super().__init__(cache_prefix=cache_prefix)

        def reset(self) -> None:
            self._batches = None

        def next(self, input_data: Callable[..., None]) -> bool:
            if self._batches is None:
                self._batches = iter_frames(train_file, batch_rows)
            frame = next(self._batches, None)
            if frame is None:
                return False
            labels = frame.pop(target)
            input_data(data=preprocess(frame), label=_encoded(labels, encoder))
            return True

    params = estimator.get_xgb_params()
    if encoder is not None and len(encoder.classes_) > 2:  # as XGBClassifier.fit does
        if params.get("objective") != "multi:softmax":
            params["objective"] = "multi:softprob"
        params["num_class"] = len(encoder.classes_)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".xgb-cache-", dir=cache_dir) as cache:
        matrix = xgboost.ExtMemQuantileDMatrix(
            Batches(f"{cache}/page"),
            missing=estimator.missing,
            max_bin=params.get("max_bin"),
            enable_categorical=estimator.enable_categorical,
        )
        booster = xgboost.train(params, matrix, num_boost_round=estimator.get_num_boosting_rounds())
        del matrix
    estimator.load_model(bytearray(booster.save_raw("ubj")))


def train_distributed(
    estimator: Any,  # noqa: ANN401 - an unfitted XGBClassifier or XGBRegressor
    train_file: Path,
    target: str,
    preprocess: Callable[[pd.DataFrame], pd.DataFrame],
    encoder: Any,  # noqa: ANN401 - a fitted LabelEncoder or None
    meta: pd.DataFrame,
    client: Any,  # noqa: ANN401 - distributed.Client
) -> None:
    """Train ``estimator``'s booster with ``xgboost.dask`` on ``client``'s workers.

    ``meta`` is the transformed features with no rows (their columns and dtypes).
    """
    import dask.dataframe as dd
    import pandas as pd
    import xgboost.dask

    threads = sum(int(w.get("nthreads", 1)) for w in client.scheduler_info()["workers"].values())
    frame = dd.read_parquet(str(train_file))
    frame = frame.repartition(npartitions=max(threads, frame.npartitions, 1))
    x = frame.map_partitions(_features, preprocess, target, meta=meta)
    label_meta = pd.Series([], dtype="int64" if encoder is not None else "float64", name=target)
    y = frame.map_partitions(_labels, target, encoder, meta=label_meta)
    x, y = client.persist([x, y])
    dask_class = (
        xgboost.dask.DaskXGBClassifier if encoder is not None else xgboost.dask.DaskXGBRegressor
    )
    model = dask_class(**estimator.get_params())
    model.client = client
    model.fit(x, y)
    estimator.load_model(bytearray(model.get_booster().save_raw("ubj")))


def _features(
    frame: pd.DataFrame, preprocess: Callable[[pd.DataFrame], pd.DataFrame], target: str
) -> pd.DataFrame:
    """One partition's features, transformed (runs on a worker)."""
    return preprocess(frame.drop(columns=[target]))


def _labels(frame: pd.DataFrame, target: str, encoder: Any) -> pd.Series:  # noqa: ANN401
    """One partition's labels, encoded as in training (runs on a worker)."""
    import pandas as pd

    return pd.Series(_encoded(frame[target], encoder), index=frame.index, name=target)


def _encoded(labels: pd.Series, encoder: Any) -> Any:  # noqa: ANN401 - an array
    return labels.to_numpy(dtype="float64") if encoder is None else encoder.transform(labels)


@contextmanager
def _dask_client(root: Path, plugins: Plugins) -> Iterator[Any]:
    """The project's executor, opened; its Dask client (any other executor is a SpecError)."""
    from conveyor.executors import open_project_executor, project_executor
    from conveyor.executors.dask import DaskSession

    with open_project_executor(root, plugins) as session:
        if not isinstance(session, DaskSession):
            kind = project_executor(root).kind
            raise SpecError(
                f"'fit.mode: distributed' trains on a Dask cluster, and executor is '{kind}'",
                where="model.fit.mode, executor (params.yaml)",
                fix="compile with executor=dask (docs/scaling.md), or set model.fit.mode: local",
            )
        yield session.client
