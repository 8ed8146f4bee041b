"""Every tree in a loaded Pipeline is a tree: children inside it and later, features in range.

scikit-learn predicts with Cython loops that trust a tree's node array: ``Tree.apply`` follows
``left_child``/``right_child`` and reads ``X[i, feature]`` with bounds checks off, and
``TreePredictor`` (HistGradientBoosting) follows ``left``/``right``, ``feature_idx`` and, for a
categorical split, ``bitset_idx``. A bundle whose trees point outside those arrays therefore
reads (or loops through) arbitrary memory: the process dies of SIGSEGV. skops warns of this.

``Tree.__setstate__`` already checks its arrays' dtype, dimensions and contiguity and the
shape of ``value``; nothing checks what the indices point at, or ``node_count`` against the
array it came with (``children_left`` itself is a view of ``node_count`` nodes). Those are
checked here, on the built Pipeline, before anything predicts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.bundle._booster import child_problem

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sklearn.pipeline import Pipeline

_MAX_OBJECTS = 1_000_000
"""A bound on the walk through a model's attributes (a forest of 10k trees is ~30k objects)."""


def tree_problem(pipeline: Pipeline) -> str | None:
    """The first malformed tree in ``pipeline``, as 'where: what', or None."""
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.tree._tree import Tree

    for path, owner, features, item in _walk(pipeline):
        problem = None
        if isinstance(item, Tree):
            problem = _tree(item, features)
        elif isinstance(item, TreePredictor):
            problem = _predictor(item, owner, features)
        if problem is not None:
            return f"'{path}' ({type(owner).__name__}), {problem}"
    return None


def _walk(root: Any) -> Iterator[tuple[str, Any, int | None, Any]]:  # noqa: ANN401
    """(path, nearest estimator, smallest ``n_features_in_`` above, object) for each object."""
    import numpy as np
    from sklearn.base import BaseEstimator
    from sklearn.pipeline import Pipeline

    seen: set[int] = set()
    stack: list[tuple[str, Any, int | None, Any]] = [("pipeline", root, None, root)]
    while stack:
        path, owner, features, item = stack.pop()
        if isinstance(item, (str, bytes, int, float, type(None))) or id(item) in seen:
            continue
        seen.add(id(item))
        if len(seen) > _MAX_OBJECTS:
            return
        yield path, owner, features, item
        if isinstance(item, Pipeline):  # name its steps as the bundle does: 'model.tree_'
            prefix = "" if path == "pipeline" else f"{path}."
            children = [(f"{prefix}{step[0]}", step[1]) for step in _steps(item)]
        elif isinstance(item, BaseEstimator):
            owner = item
            width = getattr(item, "n_features_in_", None)
            if isinstance(width, (int, np.integer)):
                features = int(width) if features is None else min(features, int(width))
            children = [(f"{path}.{k}", v) for k, v in vars(item).items()]
        elif isinstance(item, dict):
            children = [(f"{path}[{k!r}]", v) for k, v in item.items()]
        elif isinstance(item, (list, tuple)):
            children = [(f"{path}[{i}]", v) for i, v in enumerate(item)]
        elif isinstance(item, np.ndarray) and item.dtype == object:
            children = [(f"{path}[{i}]", v) for i, v in enumerate(item.flat)]
        elif hasattr(item, "__dict__") and not isinstance(item, type):
            children = [(f"{path}.{k}", v) for k, v in vars(item).items()]
        else:
            children = []
        stack.extend((p, owner, features, v) for p, v in reversed(children))


def _steps(pipeline: Pipeline) -> list[tuple[str, Any]]:
    steps = getattr(pipeline, "steps", None)
    if not isinstance(steps, list):
        return []
    return [s for s in steps if isinstance(s, tuple) and len(s) == 2 and isinstance(s[0], str)]


def _tree(tree: Any, features: int | None) -> str | None:  # noqa: ANN401 - sklearn Tree
    import numpy as np

    n, capacity = int(tree.node_count), int(tree.capacity)
    if n < 1 or n != capacity:
        return f"its node_count {n} does not match its {capacity} nodes"
    bound = int(tree.n_features) if features is None else min(int(tree.n_features), features)
    left = np.asarray(tree.children_left, dtype=np.int64)
    right = np.asarray(tree.children_right, dtype=np.int64)
    found = child_problem(left, right, left == -1, n)
    if found is not None:
        return f"node {found[0]}: {found[1]}"
    feature = np.asarray(tree.feature, dtype=np.int64)
    bad = np.flatnonzero((left != -1) & ((feature < 0) | (feature >= bound)))
    if len(bad):
        return f"node {bad[0]}: feature {feature[bad[0]]} is outside the model's {bound} features"
    return None


def _predictor(predictor: Any, owner: Any, features: int | None) -> str | None:  # noqa: ANN401
    import numpy as np
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    nodes = getattr(predictor, "nodes", None)
    if not isinstance(nodes, np.ndarray) or nodes.dtype != PREDICTOR_RECORD_DTYPE:
        return "its nodes are not the record array scikit-learn writes"
    if nodes.ndim != 1 or len(nodes) < 1:
        return "it has no nodes"
    n = len(nodes)
    leaf = nodes["is_leaf"] != 0
    left, right = nodes["left"].astype(np.int64), nodes["right"].astype(np.int64)
    found = child_problem(left, right, leaf, n)
    if found is not None:
        return f"node {found[0]}: {found[1]}"
    feature = nodes["feature_idx"].astype(np.int64)
    bound = features if features is not None else 0
    bad = np.flatnonzero(~leaf & ((feature < 0) | (feature >= bound)))
    if len(bad):
        return f"node {bad[0]}: feature {feature[bad[0]]} is outside the model's {bound} features"
    return _categorical(nodes, ~leaf, predictor, owner, bound)


def _categorical(
    nodes: Any,  # noqa: ANN401 - the record array
    split: Any,  # noqa: ANN401
    predictor: Any,  # noqa: ANN401
    owner: Any,  # noqa: ANN401
    features: int,
) -> str | None:
    """A categorical split names a categorical feature and a bitset that exists."""
    import numpy as np

    categorical = np.flatnonzero(split & (nodes["is_categorical"] != 0))
    if not len(categorical):
        return None
    mapper = getattr(owner, "_bin_mapper", None)
    flags = getattr(mapper, "is_categorical_", None)
    bitsets = getattr(predictor, "raw_left_cat_bitsets", None)
    rows = len(bitsets) if isinstance(bitsets, np.ndarray) and bitsets.ndim == 2 else 0
    for node in categorical:
        feature, bitset = int(nodes["feature_idx"][node]), int(nodes["bitset_idx"][node])
        if not (isinstance(flags, np.ndarray) and flags.shape == (features,) and flags[feature]):
            return f"node {node}: categorical split on feature {feature}, which is not categorical"
        if bitset >= rows:
            return f"node {node}: categorical split on bitset {bitset} of {rows}"
    return None
