"""Small real bundles, trained once per session, and a client for the app serving each."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import pytest

from conveyor.bundle import infer_schema, load_bundle, save_bundle
from conveyor.bundle.predictor import Predictor
from conveyor.plugins import Plugins
from conveyor.runtime.estimator import build_pipeline
from conveyor.serving.app import create_app
from conveyor.serving.config import ServeConfig
from conveyor.spec import FeaturesSpec

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    import pandas as pd
    from fastapi import FastAPI

IMPUTE_SCALE = [
    {"kind": "impute", "columns": "numeric", "params": {"strategy": "median"}},
    {"kind": "standard_scaler", "columns": "numeric"},
]


def cancer_frame(rows: int = 200) -> tuple[pd.DataFrame, np.ndarray]:
    """Breast-cancer rows; 'mean area' has some nulls, so it is nullable in the schema."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True).frame.sample(rows, random_state=0)
    x = data.drop(columns=["target"]).reset_index(drop=True)
    x.loc[::13, "mean area"] = np.nan
    return x, data["target"].to_numpy()


def fruit_frame(rows: int = 120) -> tuple[pd.DataFrame, np.ndarray]:
    """A numeric, a nullable numeric and a category column; three string classes."""
    import pandas as pd

    rng = np.random.default_rng(1)
    color = rng.choice(["red", "green", "yellow"], rows)
    weight = rng.normal(150, 30, rows)
    sugar = rng.normal(10, 2, rows)
    sugar[::9] = np.nan
    x = pd.DataFrame({"weight": weight, "sugar": sugar, "color": pd.array(color, dtype="str")})
    y = np.where(color == "red", 0, np.where(weight > 150, 1, 2))
    return x, y


def save(
    path: Path,
    x: pd.DataFrame,
    y: np.ndarray,
    transforms: list[dict[str, Any]],
    model: Any,
    task: str,
    classes: list[Any] | None,
) -> Path:
    features = FeaturesSpec.model_validate({"transforms": transforms})
    pipeline = build_pipeline(features, model, Plugins.discover()).fit(x, y)
    schema = {"task": task, "target": "target", "classes": classes, "columns": infer_schema(x)}
    save_bundle(path, pipeline, schema, {"name": path.name})
    return path


@pytest.fixture(scope="session")
def cancer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A binary XGBoost classifier on 30 numeric columns (the numpy fast path)."""
    from xgboost import XGBClassifier

    x, y = cancer_frame()
    model = XGBClassifier(n_estimators=15, max_depth=3, n_jobs=1)
    path = tmp_path_factory.mktemp("bundles") / "cancer"
    return save(path, x, y, IMPUTE_SCALE, model, "binary_classification", [0, 1])


@pytest.fixture(scope="session")
def fruit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A three-class logistic regression with a category column (the Pipeline path)."""
    from sklearn.linear_model import LogisticRegression

    x, y = fruit_frame()
    transforms = [*IMPUTE_SCALE, {"kind": "one_hot", "columns": ["color"]}]
    path = tmp_path_factory.mktemp("bundles") / "fruit"
    model = LogisticRegression(max_iter=1000)
    return save(
        path, x, y, transforms, model, "multiclass_classification", ["apple", "melon", "pear"]
    )


@pytest.fixture(scope="session")
def houses_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A regression on four numeric columns."""
    import pandas as pd
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(2)
    x = pd.DataFrame(rng.normal(size=(80, 4)), columns=["rooms", "age", "area", "floor"])
    y = x.to_numpy() @ np.array([3.0, -1.0, 2.0, 0.5]) + 100.0
    path = tmp_path_factory.mktemp("bundles") / "houses"
    return save(path, x, y, IMPUTE_SCALE, Ridge(), "regression", None)


@pytest.fixture(scope="session")
def cancer(cancer_dir: Path) -> Predictor:
    return Predictor(load_bundle(cancer_dir))


@pytest.fixture(scope="session")
def fruit(fruit_dir: Path) -> Predictor:
    return Predictor(load_bundle(fruit_dir))


@pytest.fixture(scope="session")
def houses(houses_dir: Path) -> Predictor:
    return Predictor(load_bundle(houses_dir, trusted=["sklearn.linear_model._ridge.Ridge"]))


class Client:
    """A synchronous face on ``httpx.AsyncClient`` over the ASGI app, with its lifespan run."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._loop = asyncio.new_event_loop()
        transport = httpx.ASGITransport(app=app)
        self._http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        self._lifespan = app.router.lifespan_context(app)
        self._loop.run_until_complete(self._lifespan.__aenter__())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._loop.run_until_complete(self._http.get(url, **kwargs))

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._loop.run_until_complete(self._http.post(url, **kwargs))

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._loop.run_until_complete(self._http.request(method, url, **kwargs))

    def close(self) -> None:
        """Run the shutdown half of the lifespan (flushes the prediction log)."""
        if self._loop.is_closed():
            return
        self._loop.run_until_complete(self._lifespan.__aexit__(None, None, None))
        self._loop.run_until_complete(self._http.aclose())
        self._loop.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., Client]]:
    """``serve(predictor, **config)``: a client of a started app, closed after the test."""
    clients: list[Client] = []

    def start(predictor: Predictor, **config: Any) -> Client:
        client = Client(create_app(predictor, config=ServeConfig(**config)))
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.close()


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-able records (NaN as null)."""
    return [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]
