"""The spread against backtesting.py 0.6.6, the reference the engine is held to (benchmarks/backtest_bench.py).

AlphaLoop charges half the spread on every fill: a buy at price x (1 + spread/2), a sell at
price x (1 - spread/2). backtesting.py charges the whole spread once, on the fill that opens a
trade (``_Broker._adjusted_price``: price x (1 + spread) for a long, (1 - spread) for a short),
and closes trades at the bar's price. Both charge the spread once per round trip, on different
prices, so:

- half the spread on each fill is, in cash, a commission of spread/2 of the notional on each
  fill: AlphaLoop with ``spread=X`` and backtesting.py with ``commission=X/2`` make the same trades
  and end with the same equity, to the cent (all-in longs are sized alike too);
- against backtesting.py with ``spread=X`` and fixed sizes, the trades are the same and each
  closed trade of N shares entered at the price P1 and exited at P2 (the bars' opens) differs by
  exactly N x X x (P1 - P2) / 2, long or short; an open one by N x X x P1 / 2.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from backtest.engine import Act, Backtest, Data
from backtest.sizing import FixedShares
from backtest.strategies import get_strategy
from backtest.strategies.base import Strategy
from backtest.strategies.sma_cross import crossover_signal

backtesting = pytest.importorskip("backtesting")
from backtesting.lib import crossover

FAST, SLOW = 10, 20
SPREAD = 0.004


def sma(values, length: int) -> np.ndarray:
    return pd.Series(values).rolling(length, min_periods=length).mean().to_numpy()


class PeerCross(backtesting.Strategy):
    """backtesting.py's SmaCross: close and buy on a cross up; close (and sell short) on a cross down."""

    shares = 0  # 0: all-in
    allow_short = True

    def init(self) -> None:
        self.fast = self.I(sma, self.data.Close, FAST)
        self.slow = self.I(sma, self.data.Close, SLOW)

    def next(self) -> None:
        size = {"size": self.shares} if self.shares else {}
        if crossover(self.fast, self.slow):
            self.position.close()
            self.buy(**size)
        elif crossover(self.slow, self.fast):
            self.position.close()
            if self.allow_short:
                self.sell(**size)


class HundredSharesCross(Strategy):
    """sma_cross with 100 shares an entry instead of all-in."""

    id = "hundred_shares_cross"

    def init(self, data: Data) -> None:
        close = pd.DataFrame(data.close)
        signal = crossover_signal(close.rolling(FAST, min_periods=FAST).mean().to_numpy(),
                                  close.rolling(SLOW, min_periods=SLOW).mean().to_numpy())
        up, down = signal > 0, signal < 0
        held = np.select([up, down], [Act.CLOSE_AND_BUY, Act.CLOSE_AND_SELL], Act.NONE)
        self.act_by_position(flat=np.select([up, down], [Act.BUY, Act.SELL], Act.NONE), long=held, short=held,
                             size=FixedShares(100))

    def on_bar(self, data: Data) -> None:
        raise AssertionError("act_by_position runs this strategy")


def peer_run(panel, capital: float, params: dict, **costs):
    frame = pd.DataFrame({name.capitalize(): panel[name].iloc[:, 0] for name in panel})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "some trades remain open": so do ours, reported apart
        return backtesting.Backtest(frame, PeerCross, cash=capital, **costs).run(**params)


def closed_trades(result) -> list[tuple[int, int, int]]:
    return [(t.entry_bar, t.exit_bar, t.quantity if t.direction == "long" else -t.quantity) for t in result.trades]


def peer_trades(stats) -> list[tuple[int, int, int]]:
    trades = stats._trades
    closed = trades[trades["ExitBar"].notna()]
    return list(zip(closed["EntryBar"].astype(int), closed["ExitBar"].astype(int), closed["Size"].astype(int),
                    strict=True))


def test_half_the_spread_on_each_fill_is_backtesting_py_with_a_commission_of_half_the_spread(random_panel_of):
    panel = random_panel_of(2_500, ["A"], seed=8, daily_vol=0.015)
    ours = Backtest(panel, get_strategy("sma_cross")({"fast": FAST, "slow": SLOW, "allow_short": False}),
                    initial_capital=10_000.0, spread=SPREAD).run()
    theirs = peer_run(panel, 10_000.0, {"allow_short": False}, commission=SPREAD / 2)

    assert len(ours.trades) > 40
    assert closed_trades(ours) == peer_trades(theirs)
    assert round(ours.final_equity, 2) == round(float(theirs["Equity Final [$]"]), 2)
    # The prices differ by the half spread backtesting.py books as commission.
    first, peer_first = ours.trades[0], theirs._trades.iloc[0]
    assert first.entry_price == pytest.approx(peer_first["EntryPrice"] * (1 + SPREAD / 2), rel=1e-12)
    assert first.exit_price == pytest.approx(peer_first["ExitPrice"] * (1 - SPREAD / 2), rel=1e-12)


def test_against_backtesting_py_spread_each_round_trip_differs_by_half_the_spread_on_the_price_move(random_panel_of):
    panel = random_panel_of(2_500, ["A"], seed=8, daily_vol=0.015)
    ours = Backtest(panel, HundredSharesCross(), initial_capital=100_000.0, spread=SPREAD).run()
    theirs = peer_run(panel, 100_000.0, {"shares": 100}, spread=SPREAD)

    assert len(ours.trades) > 80 and {t.direction for t in ours.trades} == {"long", "short"}
    assert closed_trades(ours) == peer_trades(theirs)
    opens = panel["open"]["A"].to_numpy()
    difference = sum(t.quantity * SPREAD * (opens[t.entry_bar] - opens[t.exit_bar]) / 2 for t in ours.trades)
    difference += sum(t.quantity * SPREAD * opens[t.entry_bar] / 2 for t in ours.open_trades)
    assert round(ours.final_equity, 2) == round(float(theirs["Equity Final [$]"]) + difference, 2)
    # Trade by trade, the P&L differs by exactly that.
    for trade, (_, peer) in zip(ours.trades, theirs._trades.iterrows(), strict=True):
        move = trade.quantity * SPREAD * (opens[trade.entry_bar] - opens[trade.exit_bar]) / 2
        assert trade.pnl == pytest.approx(peer["PnL"] + move, abs=1e-6)
