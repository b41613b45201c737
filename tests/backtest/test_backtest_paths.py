"""The fast path (visit only wake bars and bars with pending orders) fills exactly like the general path."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.engine import Backtest, CommissionModel, Data
from backtest.sizing import FractionOfEquity
from backtest.strategies import get_strategy
from backtest.strategies.base import Strategy
from tests.backtest.conftest import uneven_volume


# A 0.3 % spread, and fills capped at 1 % of bars of 5,000 to 100,000 shares (a third of 100,000 buys ~650).
COSTS = {"spread": 0.003, "max_volume_fraction": 0.01}


class Bracketed(Strategy):
    """Enters on a 5-bar breakout with a stop-loss and take-profit, and rests limit orders."""

    def init(self, data: Data) -> None:
        close = data.close
        breakout = np.zeros(close.shape, dtype=bool)
        breakout[5:] = close[5:] > np.maximum.reduce([close[4:-1], close[3:-2], close[2:-3], close[1:-4], close[:-5]])
        self.indicator("breakout", breakout)
        self.wake_on(breakout)
        self.size = FractionOfEquity(1.0 / len(data.symbols))

    def on_bar(self, data: Data) -> None:
        breakout = data["breakout"][-1]
        for col in np.flatnonzero(breakout).tolist():
            if self.position(col) or self.pending_orders(col):
                continue
            price = float(data.close[-1, col])
            if data.t % 2:
                self.buy(col, size=self.size, stop_loss=price * 0.97, take_profit=price * 1.05)
            else:
                self.buy(col, size=self.size, limit=price * 0.99, stop_loss=price * 0.95, take_profit=price * 1.03)


def assert_same_run(panel, make_strategy, **kwargs):
    fast = Backtest(panel, make_strategy(), fast_path=True, **kwargs).run()
    general = Backtest(panel, make_strategy(), fast_path=False, **kwargs).run()
    assert fast.fills, "the run should trade"
    assert fast.fills == general.fills
    assert fast.trades == general.trades
    assert fast.open_trades == general.open_trades
    assert fast.equity.equals(general.equity)
    assert [(o.id, o.status, o.reason) for o in fast.orders] == [(o.id, o.status, o.reason) for o in general.orders]
    assert fast.metrics == general.metrics
    return fast


@pytest.mark.parametrize(
    ("strategy_id", "params"),
    [
        ("sma_cross", {"fast": 5, "slow": 12}),
        ("sma_cross", {"fast": 3, "slow": 8, "allow_short": False}),
        ("rsi_reversion", {}),
        ("rsi_reversion", {"allow_short": True, "period": 7}),
        ("buy_and_hold", {}),
    ],
)
@pytest.mark.parametrize("costs", [{}, COSTS], ids=["", "spread-cap"])
def test_registered_strategies_fill_the_same_on_both_paths(random_panel_of, strategy_id, params, costs):
    panel = uneven_volume(random_panel_of(400, ["A", "B", "C"], seed=11), 5_000, 100_000, seed=11)
    assert_same_run(
        panel,
        lambda: get_strategy(strategy_id)(params),
        initial_capital=100_000.0,
        commission=CommissionModel(rate=0.001, minimum=1.0),
        slippage_bps=5,
        **costs,
    )


@pytest.mark.parametrize("costs", [{}, COSTS], ids=["", "spread-cap"])
def test_stops_limits_and_brackets_fill_the_same_on_both_paths(random_panel_of, costs):
    panel = uneven_volume(random_panel_of(600, ["A", "B"], seed=5), 5_000, 100_000, seed=5)
    result = assert_same_run(panel, Bracketed, initial_capital=50_000.0, slippage_bps=3, **costs)
    kinds = {(o.type.value, o.status.value) for o in result.orders}
    assert {("limit", "filled"), ("stop", "filled"), ("limit", "cancelled")} <= kinds
    if costs:
        assert result.to_dict()["volume_capped_orders"], "the cap should cut some fills"


def test_sma_cross_on_one_long_symbol_fills_the_same_on_both_paths(random_panel_of):
    result = assert_same_run(
        random_panel_of(5_000, ["A"], seed=2, daily_vol=0.004), lambda: get_strategy("sma_cross")()
    )
    assert len(result.trades) > 100
