"""xgboost Boosters in a bundle, checked before xgboost's C++ reads a byte of them.

skops rebuilds a ``xgboost.core.Booster`` by handing its saved bytes to
``XGBoosterUnserializeFromBuffer``. xgboost checks the format, not the trees: a child index
past the node array, a split on a feature the model does not have, a parent index outside the
tree or a tree that writes to an output group the model lacks all load, and then read or
write outside memory (the process dies of SIGSEGV, while loading or at the first prediction).
So each Booster's UBJSON is decoded here (:mod:`conveyor.bundle._ubjson`) and its trees are
checked the way :mod:`conveyor.bundle._trees` checks scikit-learn's, before skops builds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.bundle import _ubjson

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np

BOOSTER = "xgboost.core.Booster"
_ROOT_PARENT = 2**31 - 1
"""xgboost writes the root's parent (kInvalidNodeId with the left-child bit masked) as this."""
_TREE_ARRAYS = ("left_children", "right_children", "parents", "split_indices", "split_type")


def boosters(schema: Any) -> Iterator[tuple[str, Any]]:  # noqa: ANN401 - parsed skops JSON
    """(owner class, Booster node) of every Booster node in a skops schema.

    The owner is the nearest enclosing node of a class outside builtins and numpy (the
    ``XGBClassifier`` that holds it), for messages.
    """
    stack: list[tuple[Any, str]] = [(schema, "the model")]
    while stack:
        item, owner = stack.pop()
        if isinstance(item, list):
            stack.extend((child, owner) for child in item)
        elif isinstance(item, dict):
            name = f"{item.get('__module__')}.{item.get('__class__')}"
            if name == BOOSTER:
                yield owner, item
                continue
            if "__loader__" in item and not name.startswith(("builtins.", "numpy.")):
                owner = str(item.get("__class__"))
            stack.extend((child, owner) for child in item.values())


def booster_file(node: Any) -> str | None:  # noqa: ANN401
    """The archive member holding the Booster's bytes; None when the node has another form.

    ``Booster.__setstate__`` feeds whatever ``handle`` is to xgboost's C++ (a numpy array
    works as well as a bytearray), and a ReduceNode would call ``Booster(model_file=...)``:
    only the form skops writes, an ObjectNode whose state maps ``handle`` to a bytearray
    file, is accepted.
    """
    state = node.get("content") if node.get("__loader__") == "ObjectNode" else None
    items = state.get("content") if isinstance(state, dict) else None
    handle = items.get("handle") if isinstance(items, dict) else None
    if not (
        isinstance(handle, dict)
        and f"{handle.get('__module__')}.{handle.get('__class__')}" == "builtins.bytearray"
        and handle.get("__loader__") == "BytearrayNode"
        and isinstance(handle.get("file"), str)
    ):
        return None
    return str(handle["file"])


def booster_problem(data: bytes) -> str | None:
    """What is wrong with a Booster's serialised bytes, or None when its trees are sound."""
    try:
        document = _ubjson.loads(data)
        return _document_problem(document)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        return f"its model is not one xgboost writes ({type(exc).__name__}: {exc})"


def _document_problem(document: dict[str, Any]) -> str | None:
    learner = document["Model"]["learner"]
    params = [learner["learner_model_param"]]
    config = document.get("Config", {}).get("learner", {}).get("learner_model_param")
    if config is not None:  # loading applies the config too: the smaller bound holds
        params.append(config)
    features = min(int(p["num_feature"]) for p in params)
    groups = min(max(int(p.get("num_class", 0)), int(p.get("num_target", 1)), 1) for p in params)
    booster = learner["gradient_booster"]
    name = booster["name"]
    if name == "gblinear":
        weights = len(booster["model"]["weights"])
        return None if weights == (features + 1) * groups else f"has {weights} linear weights"
    if name == "dart":
        booster = booster["gbtree"]
    elif name != "gbtree":
        return f"has an unknown booster '{name}'"
    return _gbtree_problem(booster["model"], features, groups)


def _gbtree_problem(model: dict[str, Any], features: int, groups: int) -> str | None:
    import numpy as np

    trees = model["trees"]
    info = np.asarray(model["tree_info"], dtype=np.int64)
    declared = int(model["gbtree_model_param"]["num_trees"])
    if not len(trees) == declared == len(info):
        return f"declares {declared} trees, holds {len(trees)} with {len(info)} output groups"
    outside = np.flatnonzero((info < 0) | (info >= groups))
    if len(outside):
        index = int(outside[0])
        return f"tree {index}: output group {info[index]} is outside the model's {groups}"
    indptr = np.asarray(model.get("iteration_indptr", [0, len(trees)]), dtype=np.int64)
    if len(indptr) < 1 or indptr[0] != 0 or indptr[-1] != len(trees) or np.any(np.diff(indptr) < 0):
        return "its iteration index does not cover its trees in order"
    return _trees_problem(trees, features) if trees else None


def _trees_problem(trees: list[dict[str, Any]], features: int) -> str | None:
    """All trees at once: their arrays end to end, each node knowing its tree's size."""
    import numpy as np

    sizes = np.asarray([int(t["tree_param"]["num_nodes"]) for t in trees], dtype=np.int64)
    for index, (tree, n) in enumerate(zip(trees, sizes.tolist(), strict=True)):
        lengths = {len(tree[key]) for key in _TREE_ARRAYS} | {len(tree["split_conditions"])}
        if n < 1 or lengths != {n}:
            return f"tree {index}, its {n} nodes do not match its arrays"
    arrays = {
        key: np.concatenate([np.asarray(t[key]) for t in trees]).astype(np.int64)
        for key in _TREE_ARRAYS
    }
    starts = np.cumsum(sizes) - sizes
    n = np.repeat(sizes, sizes)
    local = np.arange(len(n)) - np.repeat(starts, sizes)
    left, right = arrays["left_children"], arrays["right_children"]
    split = left != -1
    found = child_problem(left, right, ~split, n, local)
    feature, parents = arrays["split_indices"], arrays["parents"]
    if found is None:
        bad = np.flatnonzero(split & ((feature < 0) | (feature >= features)))
        if len(bad):
            found = int(bad[0]), f"feature {feature[bad[0]]} is outside the model's {features}"
    if found is None:
        outside = (parents != _ROOT_PARENT) & ((parents < 0) | (parents >= n))
        bad = np.flatnonzero(outside | ((local == 0) & (parents != _ROOT_PARENT)))
        if len(bad):
            found = int(bad[0]), f"parent {parents[bad[0]]} is outside its {n[bad[0]]} nodes"
    if found is not None:
        at, what = found
        which = int(np.searchsorted(starts, at, side="right")) - 1
        return f"tree {which}, node {local[at]}: {what}"
    for index, tree in enumerate(trees):
        split_type = np.asarray(tree["split_type"])
        if len(tree["categories_nodes"]) or np.any(split_type != 0):
            problem = _categories_problem(tree, split_type, int(sizes[index]))
            if problem is not None:
                return f"tree {index}, {problem}"
    return None


def _categories_problem(tree: dict[str, Any], split_type: np.ndarray, n: int) -> str | None:
    import numpy as np

    nodes = np.asarray(tree["categories_nodes"], dtype=np.int64)
    starts = np.asarray(tree["categories_segments"], dtype=np.int64)
    sizes = np.asarray(tree["categories_sizes"], dtype=np.int64)
    total = len(tree["categories"])
    if not len(nodes) == len(starts) == len(sizes):
        return "its categorical splits do not match their segments"
    if np.any((nodes < 0) | (nodes >= n)) or np.any(starts < 0) or np.any(sizes < 0):
        return "a categorical split is outside its nodes or categories"
    if np.any(starts + sizes > total):
        return "a categorical split reads past its categories"
    missing = set(np.flatnonzero(split_type != 0).tolist()) - set(nodes.tolist())
    if missing:
        return f"node {min(missing)}: a categorical split without categories"
    return None


def child_problem(
    left: np.ndarray,
    right: np.ndarray,
    leaf: np.ndarray,
    n: int | np.ndarray,
    index: np.ndarray | None = None,
) -> tuple[int, str] | None:
    """(position, what) of the first split node whose children are not later nodes of its tree.

    Every tree builder (scikit-learn's depth- and best-first, its histogram grower, xgboost)
    adds a node's children after it, so children index later nodes: in range, and no cycle.
    ``n`` and ``index`` are per node when several trees are checked end to end.
    """
    import numpy as np

    index = np.arange(len(left)) if index is None else index
    sizes = np.broadcast_to(np.asarray(n), left.shape)
    for child in (left, right):
        outside = np.flatnonzero(~leaf & ((child < 0) | (child >= sizes)))
        if len(outside):
            at = int(outside[0])
            return at, f"child {child[at]} is outside its {sizes[at]} nodes"
    for child in (left, right):
        backwards = np.flatnonzero(~leaf & (child <= index))
        if len(backwards):
            at = int(backwards[0])
            return at, f"child {child[at]} does not come after it"
    return None
