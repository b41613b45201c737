"""Moving-average crossover, long/short, one equal slice of equity per symbol."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.engine import Act, Data
from backtest.sizing import AllIn, FractionOfEquity
from backtest.strategies.base import ParamError, Strategy, param


def crossover_signal(fast: np.ndarray, slow: np.ndarray) -> np.ndarray:
    """+1 where ``fast`` crosses above ``slow``, -1 where it crosses below, else 0.

    A cross on bar t means ``fast < slow`` on bar t-1 and ``fast > slow`` on
    bar t (strict on both bars, as backtesting.py's ``crossover``); a touch
    without a strict change of side is not a cross, and NaN never crosses.
    """
    signal = np.zeros(fast.shape, dtype=np.int8)
    before, now = slice(None, -1), slice(1, None)
    signal[now][(fast[before] < slow[before]) & (fast[now] > slow[now])] = 1
    signal[now][(fast[before] > slow[before]) & (fast[now] < slow[now])] = -1
    return signal


class SmaCross(Strategy):
    """Fast SMA crossing the slow SMA of the close, per symbol.

    On a cross above: close any position and buy. On a cross below: close
    the position and, when ``allow_short``, sell short. Each symbol trades
    ``1 / number of symbols`` of the equity at the fill (all-in for one
    symbol). Orders are market orders, so they fill at the next bar's open.
    """

    id = "sma_cross"
    description = (
        "Long when the fast SMA crosses above the slow SMA; on the cross below, exit and "
        "(if allowed) go short. Equal share of equity per symbol."
    )

    @dataclass(frozen=True)
    class Params:
        fast: int = param(10, minimum=1, description="Length of the fast simple moving average, in bars.")
        slow: int = param(20, minimum=2, description="Length of the slow simple moving average, in bars.")
        allow_short: bool = param(True, description="Go short on a cross below (otherwise only exit).")

        def __post_init__(self) -> None:
            if self.fast >= self.slow:
                raise ParamError("fast", f"must be smaller than slow ({self.slow}), got {self.fast}")

    params: Params

    def init(self, data: Data) -> None:
        close = pd.DataFrame(data.close)
        fast = close.rolling(self.params.fast, min_periods=self.params.fast).mean().to_numpy()
        slow = close.rolling(self.params.slow, min_periods=self.params.slow).mean().to_numpy()
        signal = crossover_signal(fast, slow)
        self.indicator("sma_fast", fast)
        self.indicator("sma_slow", slow)
        self.indicator("signal", signal)
        n_symbols = len(data.symbols)
        self.size = AllIn() if n_symbols == 1 else FractionOfEquity(1.0 / n_symbols)
        # on_bar below, as arrays: the engine places these orders without calling it.
        up, down = signal > 0, signal < 0
        short = self.params.allow_short
        when_held = np.select([up, down], [Act.CLOSE_AND_BUY, Act.CLOSE_AND_SELL if short else Act.CLOSE], Act.NONE)
        self.act_by_position(
            flat=np.select([up, down], [Act.BUY, Act.SELL if short else Act.NONE], Act.NONE),
            long=when_held,
            short=when_held,
            size=self.size,
        )

    def on_bar(self, data: Data) -> None:
        signal = data["signal"][-1]
        for col in np.flatnonzero(signal).tolist():
            if signal[col] > 0:
                if self.position(col):
                    self.close(col)
                self.buy(col, size=self.size)
            else:
                if self.position(col):
                    self.close(col)
                if self.params.allow_short:
                    self.sell(col, size=self.size)
