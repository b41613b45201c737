"""RSI-14 and MACD(12, 26, 9) at the last daily close, stepped to a live price in O(1).

The daily state comes from the factor library (``factors``: the same TA-Lib-seeded Wilder
RSI and MACD the signal engine uses), computed once per symbol and session over the last
``INDICATOR_BARS`` daily closes. A tick then treats the live price as today's provisional
close and advances each recursive average by one step; that equals recomputing the factor on
the closes with the live price appended (tests hold it to that, and to TA-Lib), at the cost
of a few vector operations instead of a pass over the history.

Pure: numpy/pandas only, no ORM.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from factors.base import get_factor, previous_valid, sma_seeded_ema
from factors.panel import OHLCV

RSI_PERIOD = 14
MACD_FAST, MACD_SLOW, MACD_SIGNAL = 12, 26, 9
# About a year of sessions: the recursive averages forget their seed long before (13/14)^250 ~ 1e-8.
INDICATOR_BARS = 250
# Daily closes needed before the state is defined: RSI's 14 changes, MACD's 26 + 9 - 1 bars.
RSI_MIN_BARS = RSI_PERIOD + 1
MACD_MIN_BARS = MACD_SLOW + MACD_SIGNAL - 1


@dataclass(frozen=True)
class IndicatorStates:
    """Per symbol (aligned with ``symbols``), as of the last daily close; NaN when unknown."""

    symbols: tuple[str, ...]
    last_close: np.ndarray
    rsi: np.ndarray
    avg_gain: np.ndarray
    avg_loss: np.ndarray
    ema_fast: np.ndarray
    ema_slow: np.ndarray
    macd: np.ndarray
    macd_signal: np.ndarray

    @classmethod
    def unknown(cls, symbols: tuple[str, ...]) -> IndicatorStates:
        return cls(symbols, *(np.full(len(symbols), np.nan) for _ in range(len(fields(cls)) - 1)))

    @classmethod
    def from_rows(cls, rows: dict[str, dict[str, float]], symbols: tuple[str, ...]) -> IndicatorStates:
        """Assemble from per-symbol dicts (as cached); missing symbols or values are NaN."""
        names = [f.name for f in fields(cls)][1:]
        return cls(symbols, *(np.array([rows.get(s, {}).get(n, np.nan) for s in symbols], dtype="float64") for n in names))

    def row(self, symbol: str) -> dict[str, float]:
        i = self.symbols.index(symbol)
        return {f.name: float(getattr(self, f.name)[i]) for f in fields(self)[1:]}

    def step(self, price: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """RSI and MACD-minus-signal with ``price`` as today's close: ``(rsi_now, macd_diff_now)``."""
        change = price - self.last_close
        alpha = 1.0 / RSI_PERIOD
        gain = self.avg_gain + alpha * (np.maximum(change, 0.0) - self.avg_gain)
        loss = self.avg_loss + alpha * (np.maximum(-change, 0.0) - self.avg_loss)
        total = gain + loss
        with np.errstate(invalid="ignore", divide="ignore"):
            # A window without any move is the neutral 50, as in factors' rsi_14.
            rsi = np.where(total == 0, 50.0, 100.0 * gain / total)
        fast = self.ema_fast + (2.0 / (MACD_FAST + 1)) * (price - self.ema_fast)
        slow = self.ema_slow + (2.0 / (MACD_SLOW + 1)) * (price - self.ema_slow)
        line = fast - slow
        signal = self.macd_signal + (2.0 / (MACD_SIGNAL + 1)) * (line - self.macd_signal)
        return rsi, line - signal

    @property
    def macd_diff(self) -> np.ndarray:
        return self.macd - self.macd_signal


def indicator_states(closes: pd.DataFrame) -> IndicatorStates:
    """States from daily closes (date x symbol, oldest first, NaN where a symbol has no bar).

    Each symbol's state is the one at its own last bar.
    """
    closes = closes.astype("float64")
    # The factors read only the close; the panel carries the other fields for their contract.
    panel = {field: closes for field in OHLCV}
    rsi = get_factor("rsi_14").compute(panel)
    macd = get_factor("macd").compute_outputs(panel)
    change = closes - previous_valid(closes)
    alpha = 1.0 / RSI_PERIOD
    gain = sma_seeded_ema(change.clip(lower=0.0), RSI_PERIOD, alpha)
    loss = sma_seeded_ema((-change).clip(lower=0.0), RSI_PERIOD, alpha)
    fast = sma_seeded_ema(closes, MACD_FAST, 2.0 / (MACD_FAST + 1), seed_at=MACD_SLOW)
    slow = sma_seeded_ema(closes, MACD_SLOW, 2.0 / (MACD_SLOW + 1))

    def last(frame: pd.DataFrame) -> np.ndarray:
        # The value on each symbol's last bar (NaN if it is undefined there).
        values = frame.where(closes.notna()).to_numpy(dtype="float64")
        has_bar = closes.notna().to_numpy()
        if not len(values):
            return np.full(closes.shape[1], np.nan)
        last_row = len(has_bar) - 1 - np.argmax(has_bar[::-1], axis=0)
        picked = values[last_row, np.arange(values.shape[1])]
        return np.where(has_bar.any(axis=0), picked, np.nan)

    return IndicatorStates(
        symbols=tuple(str(s) for s in closes.columns),
        last_close=last(closes),
        rsi=last(rsi),
        avg_gain=last(gain),
        avg_loss=last(loss),
        ema_fast=last(fast),
        ema_slow=last(slow),
        macd=last(macd["macd"]),
        macd_signal=last(macd["macd_signal"]),
    )
