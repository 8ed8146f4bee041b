"""Built-in feature transforms (entry-point group ``conveyor.transforms``).

Each module holds the components of one theme; their scikit-learn transformers live in
``conveyor.components.transformers`` and are imported only by ``build()``::

    numeric       impute, standard_scaler, minmax_scaler, robust_scaler
    categorical   one_hot, ordinal, target_encoding
    temporal      datetime_parts, lag, rolling
    text          text_stats
    columns       drop, expression

Every transform is ``{kind: ..., columns: ..., params: {...}}``; ``columns`` is ``all``
(default), ``numeric``, ``categorical`` or a list of names. In order, they become one
scikit-learn Pipeline that ``train`` fits on the training split only::

    transforms:
      - {kind: lag, columns: [units], params: {time: day, group_by: [store], lags: [1, 7]}}
      - {kind: rolling, columns: [units], params: {time: day, group_by: [store], windows: [7]}}
      - {kind: expression, params: {columns_out: {revenue: units * price}}}
      - {kind: datetime_parts, columns: [day], params: {parts: [month, dayofweek]}}
      - {kind: text_stats, columns: [review]}
      - {kind: drop, columns: [order_id]}
      - {kind: impute, columns: numeric, params: {strategy: median}}
      - {kind: impute, columns: categorical, params: {strategy: most_frequent}}
      - {kind: standard_scaler, columns: numeric}
      - {kind: target_encoding, columns: [city]}
      - {kind: ordinal, columns: [size]}
      - {kind: one_hot, columns: [store]}

``lag`` and ``rolling`` see their ``time`` and ``group_by`` columns even when ``columns:``
omits them, and pass them through; put them before transforms that drop or encode those keys.
"""

from __future__ import annotations

from conveyor.components.transforms.categorical import OneHot, Ordinal, TargetEncoding
from conveyor.components.transforms.columns import Drop, Expression
from conveyor.components.transforms.numeric import Impute, MinMaxScale, RobustScale, StandardScale
from conveyor.components.transforms.temporal import DatetimeParts, Lag, Rolling
from conveyor.components.transforms.text import TextStats

__all__ = [
    "DatetimeParts",
    "Drop",
    "Expression",
    "Impute",
    "Lag",
    "MinMaxScale",
    "OneHot",
    "Ordinal",
    "RobustScale",
    "Rolling",
    "StandardScale",
    "TargetEncoding",
    "TextStats",
]
