"""Benchmark: buy on the first bar, hold to the end."""

from __future__ import annotations

import numpy as np

from backtest.engine import Act, Data
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
        n_symbols = len(data.symbols)
        self.size = AllIn() if n_symbols == 1 else FractionOfEquity(1.0 / n_symbols)
        # on_bar below, as arrays: a buy of every symbol on the first bar (start_bar).
        buy_first = np.zeros((len(data.index), n_symbols), dtype=np.int8)
        buy_first[self.start_bar] = Act.BUY
        self.act_by_position(flat=buy_first, long=buy_first, short=buy_first, size=self.size)

    def on_bar(self, data: Data) -> None:
        if data.t == self.start_bar:
            for col in range(len(data.symbols)):
                self.buy(col, size=self.size)
