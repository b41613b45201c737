"""The price panel shared by the factor library and the backtest engine.

A ``Panel`` is a ``dict[str, pd.DataFrame]`` with the keys ``open``, ``high``,
``low``, ``close`` and ``volume``. Every frame is indexed by the same tz-naive,
sorted ``DatetimeIndex`` of session dates, has one float64 column per symbol
(``str``) and holds NaN where a symbol has no bar. Optional extra keys (the
fundamentals ``eps``, ``book_value_per_share``, ``roe``) follow the same shape.
"""

from __future__ import annotations

import pandas as pd

Panel = dict[str, pd.DataFrame]

OHLCV: tuple[str, ...] = ("open", "high", "low", "close", "volume")


def _naive_dates(index: pd.Index) -> pd.DatetimeIndex:
    dates = pd.DatetimeIndex(index)
    if dates.tz is not None:
        dates = dates.tz_localize(None)
    return dates.normalize()


def make_panel(frames: dict[str, pd.DataFrame]) -> Panel:
    """Build a panel from per-symbol OHLCV frames.

    ``frames`` maps a symbol to a frame with the columns open, high, low,
    close, volume indexed by date. The panel index is the sorted union of all
    the symbols' dates; a symbol gets NaN on dates it has no bar. Columns keep
    the order of ``frames``.
    """
    symbols = [str(symbol) for symbol in frames]
    normalized = {}
    for symbol, frame in zip(symbols, frames.values(), strict=True):
        missing = [field for field in OHLCV if field not in frame.columns]
        if missing:
            raise ValueError(f"{symbol}: missing columns {missing}")
        frame = frame.loc[:, list(OHLCV)].astype("float64")
        frame.index = _naive_dates(frame.index)
        if frame.index.has_duplicates:
            raise ValueError(f"{symbol}: duplicate dates in the index")
        normalized[symbol] = frame
    dates = pd.DatetimeIndex([])
    for frame in normalized.values():
        dates = dates.union(frame.index)
    dates = dates.sort_values().rename("date")
    panel: Panel = {}
    for field in OHLCV:
        panel[field] = pd.DataFrame(
            {symbol: frame[field].reindex(dates) for symbol, frame in normalized.items()},
            index=dates,
            columns=pd.Index(symbols),
            dtype="float64",
        )
    return panel


def panel_tail(panel: Panel, n: int) -> Panel:
    """The last ``n`` rows of every frame of the panel (extra keys included)."""
    if n < 0:
        raise ValueError("n must be >= 0")
    return {key: frame.iloc[len(frame) - min(n, len(frame)) :] for key, frame in panel.items()}
