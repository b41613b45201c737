"""BacktestResult.to_dict is JSON-safe; plot_equity writes a PNG."""

from __future__ import annotations

import json

from backtest.engine import Backtest, CommissionModel
from backtest.plot import plot_equity
from backtest.strategies import get_strategy


def test_to_dict_is_json_safe_with_iso_dates_and_rounded_numbers(random_panel_of):
    panel = random_panel_of(250, ["A", "B"], seed=6)
    result = Backtest(
        panel,
        get_strategy("sma_cross")({"fast": 5, "slow": 15}),
        commission=CommissionModel(rate=0.001),
        initial_capital=100_000.0,
    ).run()

    payload = result.to_dict()

    text = json.dumps(payload, allow_nan=False)
    assert json.loads(text) == payload
    assert set(payload) == {
        "strategy_id",
        "params",
        "symbols",
        "initial_capital",
        "start",
        "end",
        "metrics",
        "equity_curve",
        "trades",
        "open_trades",
        "rejected_orders",
        "volume_capped_orders",
    }
    assert payload["strategy_id"] == "sma_cross" and payload["params"] == {"fast": 5, "slow": 15, "allow_short": True}
    assert len(payload["equity_curve"]) == 250
    assert payload["equity_curve"][0] == {"date": "2010-01-04", "equity": 100000.0, "drawdown": 0.0, "benchmark": None}
    trade = payload["trades"][0]
    assert set(trade) == {
        "symbol",
        "direction",
        "entry_date",
        "exit_date",
        "entry_price",
        "exit_price",
        "quantity",
        "pnl",
        "return_pct",
        "commission",
        "bars_held",
    }
    assert trade["pnl"] == round(trade["pnl"], 2) and len(trade["entry_date"]) == 10
    assert {"sharpe", "sortino", "max_dd", "win_rate", "profit_factor"} <= set(payload["metrics"])
    assert payload["metrics"]["n_trades"] == len(result.trades)


def test_plot_equity_writes_a_png(random_panel_of, tmp_path):
    result = Backtest(random_panel_of(120, ["A"]), get_strategy("sma_cross")()).run()

    path = plot_equity(result, tmp_path / "equity.png")

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000
