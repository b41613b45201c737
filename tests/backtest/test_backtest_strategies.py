"""The strategy registry, parameter validation and each built-in strategy's behaviour."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib

from backtest.engine import Backtest, CommissionModel
from backtest.strategies import STRATEGIES, get_strategy
from backtest.strategies.base import ParamError
from backtest.strategies.rsi_reversion import wilder_rsi
from backtest.strategies.sma_cross import crossover_signal


def test_the_registry_discovers_every_strategy_module():
    assert set(STRATEGIES) == {"sma_cross", "rsi_reversion", "factor_rank", "buy_and_hold"}
    for strategy_id, cls in STRATEGIES.items():
        assert cls.id == strategy_id and cls.description
        assert get_strategy(strategy_id) is cls


def test_an_unknown_strategy_id_names_the_field():
    with pytest.raises(ParamError) as error:
        get_strategy("nope")
    assert error.value.field == "strategy_id" and "sma_cross" in error.value.message


def test_param_schema_lists_type_default_bounds_and_description():
    schema = get_strategy("sma_cross").param_schema()

    assert schema == {
        "fast": {"type": "integer", "default": 10, "minimum": 1, "description": schema["fast"]["description"]},
        "slow": {"type": "integer", "default": 20, "minimum": 2, "description": schema["slow"]["description"]},
        "allow_short": {"type": "boolean", "default": True, "description": schema["allow_short"]["description"]},
    }
    assert all(entry["description"] for entry in schema.values())
    assert get_strategy("rsi_reversion").param_schema()["lower"]["maximum"] == 100
    assert get_strategy("buy_and_hold").describe() == {
        "id": "buy_and_hold",
        "description": get_strategy("buy_and_hold").description,
        "params": {},
        "default_universe": ["SPY"],
    }
    assert get_strategy("factor_rank").describe()["default_universe"] == "stocks"


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"fats": 5}, "fats", "unknown parameter for sma_cross (takes fast, slow, allow_short)"),
        ({"fast": "5"}, "fast", "must be an integer, got '5'"),
        ({"fast": 5.5}, "fast", "must be an integer, got 5.5"),
        ({"fast": True}, "fast", "must be an integer, got True"),
        ({"fast": 0}, "fast", "must be >= 1, got 0"),
        ({"allow_short": 1}, "allow_short", "must be true or false, got 1"),
        ({"fast": 30, "slow": 20}, "fast", "must be smaller than slow (20), got 30"),
    ],
)
def test_bad_params_are_rejected_naming_the_parameter(params, field, message):
    with pytest.raises(ParamError) as error:
        get_strategy("sma_cross")(params)
    assert (error.value.field, error.value.message) == (field, message)
    assert isinstance(error.value, ValueError)


def test_params_are_coerced_to_their_declared_types():
    strategy = get_strategy("sma_cross")({"fast": 5.0, "slow": 30})
    assert (strategy.params.fast, type(strategy.params.fast)) == (5, int)
    assert strategy.params_dict() == {"fast": 5, "slow": 30, "allow_short": True}
    assert get_strategy("rsi_reversion")(lower=25).params.lower == 25.0
    with pytest.raises(ParamError, match="exit: must be above lower"):
        get_strategy("rsi_reversion")({"lower": 60})
    with pytest.raises(ParamError, match="params: must be an object"):
        get_strategy("sma_cross").parse_params([1, 2])


def test_crossover_is_strict_on_both_bars():
    fast = np.array([1.0, 3.0, 1.0, 2.0, 3.0, np.nan, 5.0])
    slow = np.full(7, 2.0)
    # Bar 1 crosses up, bar 2 down; bar 3 only touches, so bar 4 is no cross either.
    assert crossover_signal(fast, slow).tolist() == [0, 1, -1, 0, 0, 0, 0]


def sma_panel(panel_of):
    closes = [10, 10, 10, 10, 12, 14, 16, 15, 12, 9, 8, 8, 10, 13, 15]
    return panel_of([(c, c + 0.5, c - 0.5, c) for c in closes]), closes


def test_sma_cross_trades_at_the_open_after_each_cross(panel_of):
    panel, closes = sma_panel(panel_of)
    close = pd.Series(closes, dtype=float)
    signal = crossover_signal(close.rolling(2).mean().to_numpy(), close.rolling(4).mean().to_numpy())
    crosses = np.flatnonzero(signal).tolist()
    assert crosses == [8, 12]  # down at bar 8, up at bar 12 (bar 4's up-move starts from a tie)

    result = Backtest(panel, get_strategy("sma_cross")({"fast": 2, "slow": 4})).run()

    assert [(f.bar, f.side, f.quantity) for f in result.fills] == [
        (9, "sell", 1111),  # 10,000 // 9
        (13, "buy", 1111),  # cover at 13: equity 10,000 - 4 x 1111 = 5,556
        (13, "buy", 427),  # 5,556 // 13
    ]
    (trade,) = result.trades
    assert (trade.direction, trade.entry_price, trade.exit_price, trade.pnl) == ("short", 9.0, 13.0, -4444.0)
    assert result.open_trades[0].direction == "long"


def test_sma_cross_without_shorts_only_exits(panel_of):
    panel, _ = sma_panel(panel_of)

    result = Backtest(panel, get_strategy("sma_cross")({"fast": 2, "slow": 4, "allow_short": False})).run()

    assert [(f.bar, f.side) for f in result.fills] == [(13, "buy")]


def test_sma_cross_splits_equity_equally_across_the_universe(random_panel_of):
    panel = random_panel_of(300, ["A", "B", "C", "D"], seed=9)

    result = Backtest(panel, get_strategy("sma_cross")(), initial_capital=1_000_000.0).run()

    first_fill = result.fills[0]
    equity_before = result.equity.iloc[first_fill.bar - 1]
    assert first_fill.quantity == int(equity_before / 4 // first_fill.price)


def test_buy_and_hold_buys_all_in_at_the_second_open_and_holds(panel_of):
    panel = panel_of([(10.0, 11.0, 9.0, 10.0), (8.0, 9.0, 7.0, 8.5), (9.0, 10.0, 8.0, 9.5)])

    result = Backtest(panel, get_strategy("buy_and_hold")(), commission=CommissionModel(rate=0.001)).run()

    (fill,) = result.fills
    assert (fill.bar, fill.price, fill.quantity) == (1, 8.0, 1248)  # 10,000 / (8 x 1.001) = 1248.4
    assert result.trades == [] and result.open_trades[0].quantity == 1248
    cash = 10_000.0 - 1248 * 8.0 * 1.001
    assert result.final_equity == pytest.approx(cash + 1248 * 9.5)


def test_buy_and_hold_weights_a_universe_equally(random_panel_of):
    result = Backtest(random_panel_of(20, ["A", "B"]), get_strategy("buy_and_hold")(), initial_capital=100_000.0).run()

    a, b = result.fills
    assert (a.symbol, a.bar, b.symbol, b.bar) == ("A", 1, "B", 1)
    # Without costs the equity is still 100,000 after the first fill: half each.
    assert (a.quantity, b.quantity) == (50_000 // a.price, 50_000 // b.price)


def test_wilder_rsi_matches_talib(random_panel_of):
    close = random_panel_of(300, ["A"], seed=4)["close"]

    ours = wilder_rsi(close, 14)["A"].to_numpy()
    reference = talib.RSI(close["A"].to_numpy(), timeperiod=14)

    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-9, equal_nan=True)


def test_rsi_reversion_enters_oversold_and_exits_above_the_exit_level(random_panel_of):
    panel = random_panel_of(800, ["A"], seed=8)
    rsi = wilder_rsi(panel["close"], 14)["A"].to_numpy()

    result = Backtest(panel, get_strategy("rsi_reversion")()).run()

    assert len(result.trades) >= 3
    for trade in result.trades:
        assert trade.direction == "long"
        assert rsi[trade.entry_bar - 1] < 30 and rsi[trade.exit_bar - 1] > 50


def test_rsi_reversion_with_shorts_sells_overbought(random_panel_of):
    panel = random_panel_of(800, ["A"], seed=8)
    rsi = wilder_rsi(panel["close"], 14)["A"].to_numpy()

    result = Backtest(panel, get_strategy("rsi_reversion")({"allow_short": True})).run()

    shorts = [t for t in result.trades if t.direction == "short"]
    assert shorts
    for trade in shorts:
        assert rsi[trade.entry_bar - 1] > 70 and rsi[trade.exit_bar - 1] < 50


def test_factor_rank_holds_the_top_n_and_rebalances_every_k_bars(random_panel_of, monkeypatch):
    from factors import scoring

    panel = random_panel_of(12, ["A", "B", "C", "D"], seed=1)
    scores = pd.DataFrame(np.nan, index=panel["close"].index, columns=panel["close"].columns)
    scores.iloc[2:] = [4.0, 3.0, 2.0, 1.0]  # A, B lead from bar 2
    scores.iloc[6:] = [1.0, 3.0, 4.0, np.nan]  # then C, B (D unscored)
    calls = []

    def fake_scores(panel_in, weights=None, min_history=130, min_dollar_volume=1e6):
        calls.append((min_history, min_dollar_volume, sorted(panel_in)))
        return scores

    monkeypatch.setattr(scoring, "composite_scores", fake_scores)

    result = Backtest(
        panel,
        get_strategy("factor_rank")({"top_n": 2, "rebalance_days": 4, "min_history": 5, "drift_band": 0}),
        initial_capital=100_000.0,
    ).run()

    assert calls == [(5, 1e6, ["close", "high", "low", "open", "volume"])]
    # Rebalances on bars 2, 6, 10: orders fill on bars 3, 7, 11.
    by_bar: dict[int, list[tuple[str, str]]] = {}
    for fill in result.fills:
        by_bar.setdefault(fill.bar, []).append((fill.symbol, fill.side))
    assert sorted(by_bar) == [3, 7, 11]
    assert sorted(by_bar[3]) == [("A", "buy"), ("B", "buy")]
    assert ("A", "sell") in by_bar[7] and ("C", "buy") in by_bar[7]
    assert by_bar[7].index(("A", "sell")) < by_bar[7].index(("C", "buy"))  # sells free the cash first
    held: dict[str, int] = {}
    for lot in result.open_trades:
        held[lot.symbol] = held.get(lot.symbol, 0) + lot.quantity
    assert set(held) == {"B", "C"}
    # The last rebalance targets half of the equity at bar 11's open for each (drift_band 0: resized exactly).
    before = {symbol: 0 for symbol in "ABCD"}
    for fill in result.fills:
        if fill.bar < 11:
            before[fill.symbol] += fill.quantity if fill.side == "buy" else -fill.quantity
    cash = result.equity.iloc[10] - sum(q * panel["close"][s].iloc[10] for s, q in before.items())
    equity_at_open = cash + sum(q * panel["open"][s].iloc[11] for s, q in before.items())
    for symbol, quantity in held.items():
        assert quantity == int(0.5 * equity_at_open // panel["open"][symbol].iloc[11])


def test_factor_rank_runs_on_the_real_composite_score(random_panel_of):
    panel = random_panel_of(300, [f"S{i}" for i in range(8)], seed=3)

    result = Backtest(panel, get_strategy("factor_rank")({"top_n": 3}), initial_capital=1_000_000.0).run()

    assert result.fills and result.fills[0].bar >= 130
    assert len({fill.symbol for fill in result.fills if fill.bar == result.fills[0].bar}) == 3


def test_factor_rank_trades_position_sized_lots_not_slivers(random_panel_of):
    """Entries are an equal weight of the equity; a held position is only resized once it drifts more than
    drift_band (25%) of its target weight away, so no rebalance trades a handful of shares."""
    symbols = [f"S{i}" for i in range(10)]
    panel = random_panel_of(600, symbols, seed=5)
    top_n = 4

    result = Backtest(panel, get_strategy("factor_rank")({"top_n": top_n, "rebalance_days": 10}),
                      initial_capital=100_000.0).run()

    assert len(result.trades) > 20
    target = 1.0 / top_n
    for fill in result.fills:
        equity = result.equity.iloc[fill.bar - 1]  # the equity the rebalance decided on
        assert fill.quantity * fill.price >= 0.25 * target * equity * 0.95, fill
