"""Benchmark: buy on the first bar, hold to the end."""

from __future__ import annotations

import numpy as np

from backtest.engine import Data
from backtest.sizing import AllIn, FractionOfEquity
from backtest.strategies.base import Strategy


class BuyAndHold(Strategy):
    """Buy every symbol of the universe on the first bar (``start_bar``) and never sell.

    The market orders placed on the first bar fill at the next bar's open
    (a symbol without a bar then fills at its first open), all-in for one
    symbol, ``1 / number of symbols`` of the equity each otherwise.
    """

    id = "buy_and_hold"
    description = "Benchmark: buy all-in (equal weights across the universe) at the first bar's next open and hold."

    def init(self, data: Data) -> None:
        first = np.zeros(len(data.index), dtype=bool)
        first[self.start_bar] = True
        self.wake_on(first)
        n_symbols = len(data.symbols)
        self.size = AllIn() if n_symbols == 1 else FractionOfEquity(1.0 / n_symbols)

    def on_bar(self, data: Data) -> None:
        if data.t == self.start_bar:
            for col in range(len(data.symbols)):
                self.buy(col, size=self.size)
