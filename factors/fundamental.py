"""Fundamental factors: P/E, P/B, ROE and earnings yield.

Fundamentals live in a database table outside this package, so they reach
the factors through optional panel keys, each a date x symbol frame of the
as-of value known on that date (see :func:`fundamentals_to_panel`):

- ``eps``: trailing twelve-month earnings per share,
- ``book_value_per_share``,
- ``roe``: return on equity as a fraction.

A panel without a key yields all-NaN values for the factors that need it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from factors.base import Factor, PanelArrays, register

FUNDAMENTAL_FIELDS: tuple[str, ...] = ("eps", "book_value_per_share", "roe")


def fundamentals_to_panel(
    records: pd.DataFrame, index: pd.DatetimeIndex, columns: pd.Index | list[str]
) -> dict[str, pd.DataFrame]:
    """Turn long fundamentals records into as-of panel frames.

    ``records`` has the columns ``symbol``, ``as_of``, ``eps``,
    ``book_value_per_share``, ``roe``. A snapshot is usable from its
    ``as_of`` date on (a weekend ``as_of`` counts from the next session) and
    stays in force until the symbol's next snapshot; no value is ever visible
    before its ``as_of``. A field left empty in a newer snapshot keeps the
    last known value. When a symbol has two snapshots on one date the later
    row wins. Returns ``{field: frame}`` indexed by ``index`` x ``columns``.
    """
    index = pd.DatetimeIndex(index)
    columns = pd.Index(columns)
    frame = records.loc[:, ["symbol", "as_of", *FUNDAMENTAL_FIELDS]].copy()
    as_of = pd.to_datetime(frame["as_of"])
    if as_of.dt.tz is not None:
        as_of = as_of.dt.tz_localize(None)
    frame["as_of"] = as_of.dt.normalize()
    frame["symbol"] = frame["symbol"].astype(str)
    frame = frame.drop_duplicates(["symbol", "as_of"], keep="last")
    result = {}
    for field in FUNDAMENTAL_FIELDS:
        wide = frame.pivot(index="as_of", columns="symbol", values=field)
        wide = wide.reindex(columns=columns).sort_index().ffill().astype("float64")
        # For each session, the last snapshot dated on or before it.
        result[field] = wide.reindex(index, method="ffill")
    return result


def _positive(values: np.ndarray) -> np.ndarray:
    """``values`` with NaN where they are not > 0 (a fresh array)."""
    return np.where(values > 0, values, np.nan)


@register
class PriceEarnings(Factor):
    """``close / eps``; NaN when EPS is zero or negative, where P/E has no meaning."""

    name = "pe"
    category = "fundamental"
    lookback = 0
    description = "Price / trailing EPS (NaN for non-positive EPS)."

    def write(self, data: PanelArrays, out: dict[str, np.ndarray]) -> None:
        np.divide(data["close"], _positive(data["eps"]), out=out[self.name])


@register
class PriceBook(Factor):
    """``close / book_value_per_share``; NaN for non-positive book value."""

    name = "pb"
    category = "fundamental"
    lookback = 0
    description = "Price / book value per share (NaN for non-positive book)."

    def write(self, data: PanelArrays, out: dict[str, np.ndarray]) -> None:
        np.divide(data["close"], _positive(data["book_value_per_share"]), out=out[self.name])


@register
class ReturnOnEquity(Factor):
    """Return on equity as reported (fraction), the as-of value on each date."""

    name = "roe"
    category = "fundamental"
    lookback = 0
    description = "Return on equity (fraction)."

    def write(self, data: PanelArrays, out: dict[str, np.ndarray]) -> None:
        roe = out[self.name]
        roe[:] = data["roe"]
        roe[np.isnan(data["close"])] = np.nan


@register
class EarningsYield(Factor):
    """``eps / close``: the inverse of P/E, defined (negative) for losses too."""

    name = "earnings_yield"
    category = "fundamental"
    lookback = 0
    description = "Trailing EPS / price."

    def write(self, data: PanelArrays, out: dict[str, np.ndarray]) -> None:
        np.divide(data["eps"], _positive(data["close"]), out=out[self.name])
