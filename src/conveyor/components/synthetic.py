"""Seeded synthetic sources for the examples and the benchmarks: the same params give the same rows.

``synthetic_demand`` is a retailer's daily unit sales per store and product, with the structure a
forecasting model should find (store and product levels, weekly and yearly seasonality, promos,
holidays, price elasticity, weather, trend) and hooks that inject drift for monitoring.
``synthetic_table`` is a wide mixed-type table with a binary target, sized for benchmarks.

Both can also generate their rows a block at a time (``scan``, for ingest over the memory
budget), with the values and bytes of ``read``: see :class:`_Demand` and ``_synthetic_table``.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from conveyor.components._files import StrictParams
from conveyor.plugins.base import Source

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from conveyor.plugins.base import FrameScan

# Monday..Sunday: shoppers stock up at the end of the week.
_WEEKDAY = (0.86, 0.82, 0.86, 0.95, 1.12, 1.38, 1.01)
_FIXED_HOLIDAYS = ((1, 1), (5, 1), (12, 24), (12, 25), (12, 26), (12, 31))
_CLOSED = ((1, 1), (12, 25))
"""Holidays when most shoppers stay home; on the others they buy more."""
_HOLIDAY_UPLIFT, _CLOSED_FACTOR = 1.5, 0.3
_PROMO_WEEKLY_CHANCE, _PROMO_DISCOUNT = 0.1, 0.2
_YEARLY_TREND = 0.06
_SKIP = 2**20
"""Values drawn at a time when a generator is moved past draws (a block of rows' worth)."""


class SyntheticDemandParams(StrictParams):
    """Size, seed and drift of the demand table."""

    stores: int = Field(default=4, ge=1, le=999)
    products: int = Field(default=5, ge=1, le=999)
    start: dt.date = dt.date(2022, 1, 1)
    days: int = Field(default=365, ge=1, le=36_500)
    seed: int = Field(default=0, ge=0)
    shift_from: dt.date | None = None
    """Demand is multiplied by ``shift_factor`` from this date on (drift for monitoring)."""
    shift_factor: float = Field(default=1.0, gt=0)
    new_store_from: dt.date | None = None
    """One extra store (the next number) opens on this date (new category drift)."""

    @model_validator(mode="after")
    def _shift_needs_a_date(self) -> SyntheticDemandParams:
        if self.shift_factor != 1.0 and self.shift_from is None:
            msg = "shift_factor has no effect without shift_from (the date the shift starts)"
            raise ValueError(msg)
        return self


class SyntheticDemandSource(Source[SyntheticDemandParams]):
    """``kind: synthetic_demand`` — daily ``units_sold`` per store and product.

    Columns: ``date`` (datetime64), ``store`` ("S01"...), ``product`` ("P01"...), ``price``
    (float), ``promo`` (0/1), ``holiday`` (0/1: New Year's Day, Good Friday, Easter Monday,
    1 May, 24-26 and 31 December), ``temperature`` (float, seasonal, per store) and
    ``units_sold`` (int >= 0), sorted by date, store, product. Each store draws from its own
    seeded stream, so adding ``new_store_from`` or a shift leaves the other rows unchanged
    before the change starts.
    """

    Params = SyntheticDemandParams

    def read(self, root: Path) -> pd.DataFrame:
        """Generate the table."""
        del root
        demand = _Demand(self.params, split=False)
        return demand.frame(0, self.params.days)

    def scan(self, root: Path) -> FrameScan:
        """The rows a block of days at a time: ``read``'s values (see :class:`_Demand`)."""
        del root
        from conveyor.components._frames import rechunked
        from conveyor.plugins.base import FrameScan

        p = self.params
        per_day = (p.stores + (p.new_store_from is not None)) * p.products
        size = p.days * per_day * (6 * 8 + 2 * 12)  # six 8-byte columns, two short labels

        def chunks(rows: int) -> Iterator[pd.DataFrame]:
            demand = _Demand(p, split=True)
            step = max(1, rows // per_day)
            starts = range(0, p.days, step)
            return rechunked((demand.frame(s, min(s + step, p.days)) for s in starts), rows)

        return FrameScan(size, chunks)


class _Demand:
    """The calendar and each store's stream; :meth:`frame` gives the rows of some days.

    Each store draws from its own generator in one order: its traits, its temperatures, its
    weekly promos and price wobble, then the gamma noise of every (day, product) and the
    Poisson counts of every (day, product). numpy fills an array one value after another from
    the generator, so drawing the days a block at a time gives the same values as one draw of
    all of them. The counts come after all the noise, so with ``split`` a second generator is
    moved past the noise first (drawn and dropped a block at a time), and each block takes
    its noise from one generator and its counts from the other. Without ``split`` the one
    generator does both, which is right for one block of all days (``read``).
    """

    def __init__(self, p: SyntheticDemandParams, *, split: bool) -> None:
        import numpy as np
        import pandas as pd

        self.p = p
        self.dates = pd.date_range(p.start, periods=p.days, freq="D").as_unit("us")
        self.n_stores = p.stores + (p.new_store_from is not None)
        self.products = _products(p.seed, p.products)
        self.yearly = np.sin(2 * np.pi * (self.dates.day_of_year.to_numpy() - 80) / 365.25)
        calendar = (
            np.asarray(_WEEKDAY)[self.dates.day_of_week.to_numpy()]
            * _holiday_factor(self.dates)
            * (1 + _YEARLY_TREND * np.arange(p.days) / 365.25)
        )
        if p.shift_from is not None:
            shifted = self.dates >= pd.Timestamp(p.shift_from)
            calendar = calendar * np.where(shifted, p.shift_factor, 1)
        self.calendar = calendar
        self.holidays = _holidays(self.dates)
        self.stores = [
            _Store(p.seed, store, self.products, self.yearly, split=split)
            for store in range(self.n_stores)
        ]

    def frame(self, start: int, stop: int) -> pd.DataFrame:
        """The rows of days ``start`` to ``stop`` (excluded), sorted by date, store, product."""
        import numpy as np
        import pandas as pd

        p, days = self.p, stop - start
        blocks = [
            store.block(start, stop, self.products, self.yearly, self.calendar)
            for store in self.stores
        ]
        column = {name: np.stack([b[name] for b in blocks], axis=1) for name in blocks[0]}
        per_day = self.n_stores * p.products
        stores = np.repeat(_labels("S", self.n_stores), p.products)
        frame = pd.DataFrame(
            {
                "date": np.repeat(self.dates.to_numpy()[start:stop], per_day),
                "store": np.tile(stores, days),
                "product": np.tile(_labels("P", p.products), self.n_stores * days),
                "price": column["price"].reshape(-1),
                "promo": column["promo"].reshape(-1).astype("int64"),
                "holiday": np.repeat(self.holidays[start:stop], per_day).astype("int64"),
                "temperature": np.repeat(column["temperature"].reshape(-1), p.products),
                "units_sold": column["units_sold"].reshape(-1),
            }
        )
        if p.new_store_from is None:
            return frame
        unopened = (frame["store"] == stores[-1]) & (frame["date"] < pd.Timestamp(p.new_store_from))
        opened: pd.DataFrame = frame.loc[~unopened].reset_index(drop=True)
        return opened


def _labels(prefix: str, count: int, *, first: int = 1) -> list[str]:
    """``S01``, ``S02``, ... numbered from ``first``, with a third digit when needed."""
    width = max(2, len(str(first + count - 1)))
    return [f"{prefix}{i:0{width}d}" for i in range(first, first + count)]


def _products(seed: int, count: int) -> dict[str, np.ndarray]:
    """Per-product traits, drawn from the product stream of ``seed``."""
    import numpy as np

    rng = np.random.default_rng([seed, 0])
    return {
        "base": rng.lognormal(2.3, 0.6, count),  # ~10 units a day for a median product
        "price": np.round(rng.uniform(1.5, 25.0, count), 2),
        "elasticity": rng.uniform(-2.0, -0.8, count),
        "promo_uplift": rng.uniform(1.1, 1.5, count),
        "season": rng.uniform(-0.35, 0.35, count),  # > 0 sells in summer, < 0 in winter
        "heat": rng.uniform(-0.01, 0.03, count),  # extra demand per degree above 12 C
    }


class _Store:
    """One store's stream of ``seed``: its traits, then its (days, products) arrays by blocks."""

    def __init__(
        self,
        seed: int,
        store: int,
        products: dict[str, np.ndarray],
        yearly: np.ndarray,
        *,
        split: bool,
    ) -> None:
        import copy

        import numpy as np

        rng = np.random.default_rng([seed, 1, store])
        days, count = len(yearly), len(products["base"])
        self.weeks = np.arange(days) // 7
        self.size = rng.lognormal(0.0, 0.35)
        self.price_index = rng.uniform(0.95, 1.05)
        self.affinity = rng.lognormal(0.0, 0.25, count)
        self.temperature = np.round(
            12 + 10 * yearly + rng.normal(0, 3) + rng.normal(0, 2.5, days), 1
        )
        self.promo = rng.random((self.weeks[-1] + 1, count)) < _PROMO_WEEKLY_CHANCE
        self.wobble = 1 + rng.normal(0, 0.03, (self.weeks[-1] + 1, count))
        self.noise = self.counts = rng
        if split:  # the counts' generator starts where all the noise ends
            self.counts = copy.deepcopy(rng)
            step = max(1, _SKIP // count)
            for start in range(0, days, step):
                self.counts.gamma(20.0, 1 / 20.0, (min(step, days - start), count))

    def block(
        self,
        start: int,
        stop: int,
        products: dict[str, np.ndarray],
        yearly: np.ndarray,
        calendar: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """The (days, products) arrays of days ``start`` to ``stop``; call in order of days."""
        import numpy as np

        weeks = self.weeks[start:stop]
        promo, wobble = self.promo[weeks], self.wobble[weeks]
        temperature = self.temperature[start:stop]
        regular = products["price"] * self.price_index
        price = np.round(regular * wobble * np.where(promo, 1 - _PROMO_DISCOUNT, 1), 2)
        mean = (
            products["base"]
            * self.size
            * self.affinity
            * calendar[start:stop, None]
            * (1 + products["season"] * yearly[start:stop, None])
            * np.clip(1 + products["heat"] * (temperature[:, None] - 12), 0.2, None)
            * np.where(promo, products["promo_uplift"], 1)
            * (price / regular) ** products["elasticity"]
        )
        # Gamma-Poisson noise: overdispersed counts, as real sales are.
        units = self.counts.poisson(mean * self.noise.gamma(20.0, 1 / 20.0, mean.shape))
        return {"price": price, "promo": promo, "temperature": temperature, "units_sold": units}


def _easter(years: np.ndarray) -> np.ndarray:
    """Gregorian Easter Sunday of each year, as datetime64[D] (the anonymous algorithm)."""
    a, b, c = years % 19, years // 100, years % 100
    d, e = b // 4, b % 4
    g = (b - (b + 8) // 25 + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    weekday = (32 + 2 * e + 2 * (c // 4) - h - c % 4) % 7
    shift = h + weekday - 7 * ((a + 11 * h + 22 * weekday) // 451) + 114
    month, day = shift // 31, shift % 31 + 1
    first = (years - 1970).astype("datetime64[Y]").astype("datetime64[M]")
    easter: np.ndarray = (first + (month - 1)).astype("datetime64[D]") + (day - 1)
    return easter


def _month_days(dates: pd.DatetimeIndex, days: tuple[tuple[int, int], ...]) -> np.ndarray:
    import numpy as np

    key = dates.month.to_numpy() * 100 + dates.day.to_numpy()
    return np.isin(key, [m * 100 + d for m, d in days])


def _holidays(dates: pd.DatetimeIndex) -> np.ndarray:
    """Whether each date is a holiday: fixed dates, Good Friday and Easter Monday."""
    import numpy as np

    day = dates.to_numpy().astype("datetime64[D]")
    from_easter = (day - _easter(dates.year.to_numpy())).astype("int64")
    return _month_days(dates, _FIXED_HOLIDAYS) | np.isin(from_easter, [-2, 1])


def _holiday_factor(dates: pd.DatetimeIndex) -> np.ndarray:
    import numpy as np

    factor = np.where(_holidays(dates), _HOLIDAY_UPLIFT, 1.0)
    return np.where(_month_days(dates, _CLOSED), _CLOSED_FACTOR, factor)


class SyntheticTableParams(StrictParams):
    """Shape, sparsity and seed of the wide table."""

    rows: int = Field(default=1000, ge=1)
    numeric: int = Field(default=20, ge=0, le=10_000)
    categorical: int = Field(default=10, ge=0, le=10_000)
    categories: int = Field(default=12, ge=2, le=10_000)
    """Levels per categorical column."""
    null_fraction: float = Field(default=0.0, ge=0.0, lt=1.0)
    """Share of feature cells left empty (the target is always set)."""
    seed: int = Field(default=0, ge=0)
    target: str = Field(default="target", min_length=1)

    @model_validator(mode="after")
    def _target_is_not_a_feature(self) -> SyntheticTableParams:
        if self.numeric + self.categorical == 0:
            msg = "the table needs at least one feature: set numeric or categorical above 0"
            raise ValueError(msg)
        features = {
            *_labels("num_", self.numeric, first=0),
            *_labels("cat_", self.categorical, first=0),
        }
        if self.target in features:
            msg = f"target '{self.target}' is also the name of a feature column; rename it"
            raise ValueError(msg)
        return self


class SyntheticTableSource(Source[SyntheticTableParams]):
    """``kind: synthetic_table`` — ``num_00``... float64, ``cat_00``... category, a 0/1 target.

    Numeric columns are normal with column-specific scale and offset; categorical columns are
    pandas ``category`` (levels ``L00``...), which round-trips through Parquet as a dictionary
    column and takes one or two bytes a cell. The target follows a logistic model of the first
    five numeric columns and the first categorical column, so models have something to learn.
    A million rows by 30 columns take about a second and 180 MB.
    """

    Params = SyntheticTableParams

    def read(self, root: Path) -> pd.DataFrame:
        """Generate the table."""
        del root
        import numpy as np

        p = self.params
        rng = np.random.default_rng(p.seed)
        # Column-major draws: each column is one contiguous array that pandas keeps as is.
        numeric = rng.standard_normal((p.numeric, p.rows))
        kind = np.int8 if p.categories <= 127 else np.int16
        codes = rng.integers(0, p.categories, (p.categorical, p.rows), dtype=kind)
        logit = rng.normal(0, 1, min(5, p.numeric)) @ numeric[:5] - 1.0
        if p.categorical:
            logit += rng.normal(0, 1, p.categories)[codes[0]]
        target = (rng.random(p.rows) < 1 / (1 + np.exp(-logit))).astype("int64")
        numeric *= rng.lognormal(0, 1, (p.numeric, 1))
        numeric += rng.normal(0, 10, (p.numeric, 1))
        if p.null_fraction:
            numeric[rng.random(numeric.shape) < p.null_fraction] = np.nan
            codes[rng.random(codes.shape) < p.null_fraction] = -1
        return _table(p, numeric, codes, target)

    def scan(self, root: Path) -> FrameScan:
        """The rows a block at a time: ``read``'s values (``_synthetic_table``)."""
        del root
        from conveyor.components._synthetic_table import code_type, table_frames
        from conveyor.plugins.base import FrameScan

        p = self.params
        cell = code_type(p.categories)(0).itemsize
        size = p.rows * (8 * p.numeric + cell * p.categorical + 8)
        return FrameScan(size, lambda rows: table_frames(p, rows, partial(_table, p)))


def _table(
    p: SyntheticTableParams, numeric: np.ndarray, codes: np.ndarray, target: np.ndarray
) -> pd.DataFrame:
    """The frame of some rows: numeric values and codes as (columns, rows), and the target."""
    import pandas as pd

    levels = pd.Index(_labels("L", p.categories, first=0), dtype="str")
    columns: dict[str, object] = dict(
        zip(_labels("num_", p.numeric, first=0), numeric, strict=True)
    )
    columns.update(
        (name, pd.Categorical.from_codes(column, categories=levels))
        for name, column in zip(_labels("cat_", p.categorical, first=0), codes, strict=True)
    )
    columns[p.target] = target
    return pd.DataFrame(columns, copy=False)
