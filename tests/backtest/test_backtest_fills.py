"""Fill rules of the engine, on hand-made bars with hand-computed numbers."""

from __future__ import annotations

import pytest

from backtest.engine import FILL_RULES, Backtest, CommissionModel, OrderStatus
from backtest.sizing import FixedShares, FractionOfEquity

# (open, high, low, close)
FLAT = (100.0, 101.0, 99.0, 100.0)


def run(panel, strategy, **kwargs):
    return Backtest(panel, strategy, **kwargs).run()


def test_market_order_fills_at_next_open_plus_slippage_and_commission(panel_of, scripted):
    panel = panel_of([FLAT, (102.0, 104.0, 101.0, 103.0), (105.0, 106.0, 104.0, 105.0)])
    strategy = scripted({0: lambda s, d: s.buy(0, 10)})

    result = run(panel, strategy, commission=CommissionModel(rate=0.001), slippage_bps=10)

    (fill,) = result.fills
    assert fill.bar == 1 and fill.side == "buy" and fill.quantity == 10
    assert fill.price == pytest.approx(102.0 * 1.001, abs=1e-12)  # 102.102
    assert fill.commission == pytest.approx(0.001 * 10 * 102.102, abs=1e-12)  # 1.02102
    cash = 10_000.0 - 10 * 102.102 - 1.02102  # 8977.95898
    assert result.equity.tolist() == pytest.approx([10_000.0, cash + 10 * 103.0, cash + 10 * 105.0], abs=1e-9)


def test_sell_slippage_is_against_the_seller(panel_of, scripted):
    panel = panel_of([FLAT, FLAT, (110.0, 111.0, 109.0, 110.0)])
    strategy = scripted({0: lambda s, d: s.buy(0, 10), 1: lambda s, d: s.sell(0, 10)})

    result = run(panel, strategy, slippage_bps=50)

    assert [f.price for f in result.fills] == pytest.approx([100.5, 110.0 * 0.995], abs=1e-12)
    (trade,) = result.trades
    assert trade.pnl == pytest.approx(10 * (109.45 - 100.5), abs=1e-9)


def test_per_share_commission_applies_its_minimum_per_fill(panel_of, scripted):
    panel = panel_of([FLAT, FLAT, FLAT])
    strategy = scripted({0: lambda s, d: s.buy(0, 10), 1: lambda s, d: s.buy(0, 50)})

    result = run(panel, strategy, commission=CommissionModel(per_share=0.05, minimum=1.0))

    assert [f.commission for f in result.fills] == pytest.approx([1.0, 2.5])  # max(1, 0.5), max(1, 2.5)
    assert result.equity.iloc[-1] == pytest.approx(10_000.0 - 1.0 - 2.5)


def test_commission_model_arithmetic():
    model = CommissionModel(rate=0.001, per_share=0.01, minimum=2.0)
    assert model.cost(100, 50.0) == pytest.approx(0.001 * 5000 + 1.0)  # 6.0
    assert model.cost(10, 50.0) == 2.0  # 0.5 + 0.1 is under the minimum
    # 1000 budget at 10.0: 99 shares cost 990 + max(2, 0.99 + 0.99) = 992; 100 cost 1000 + 2.
    assert model.max_shares(1000.0, 10.0) == 99
    assert CommissionModel().max_shares(1000.0, 10.0) == 100
    assert CommissionModel(minimum=5.0).max_shares(1000.0, 10.0) == 99
    assert model.max_shares(1.0, 10.0) == 0
    with pytest.raises(ValueError, match="rate"):
        CommissionModel(rate=-0.1)


def test_all_in_buys_the_most_whole_shares_equity_pays_for_commission_included(panel_of, scripted):
    panel = panel_of([FLAT, (99.0, 100.0, 98.0, 99.0), FLAT])
    strategy = scripted({0: lambda s, d: s.buy(0)})

    result = run(panel, strategy, commission=CommissionModel(rate=0.002))

    # 10,000 / (99 x 1.002) = 100.8: 100 shares cost 9,900 + 19.80; 101 would cost 10,018.998.
    (fill,) = result.fills
    assert (fill.quantity, fill.price, fill.commission) == (100, 99.0, pytest.approx(19.8))
    assert result.equity.iloc[1] == pytest.approx(10_000.0 - 9_900.0 - 19.8 + 100 * 99.0)


def test_fraction_of_equity_and_fixed_shares_sizing(panel_of, scripted):
    panel = panel_of([FLAT, (40.0, 41.0, 39.0, 40.0), FLAT])
    strategy = scripted({0: lambda s, d: (s.buy(0, size=FractionOfEquity(0.25)), s.buy(0, size=FixedShares(7)))})

    result = run(panel, strategy)

    # 0.25 x 10,000 / 40 = 62.5 -> 62 shares, then 7 fixed.
    assert [f.quantity for f in result.fills] == [62, 7]


def test_short_trade_pnl_and_equity(panel_of, scripted):
    panel = panel_of([FLAT, (102.0, 104.0, 101.0, 103.0), (97.0, 98.0, 96.0, 97.0), (95.0, 96.0, 94.0, 95.0)])
    strategy = scripted({0: lambda s, d: s.sell(0, 10), 2: lambda s, d: s.close(0)})

    result = run(panel, strategy, commission=CommissionModel(rate=0.001))

    (trade,) = result.trades
    assert (trade.direction, trade.quantity, trade.entry_price, trade.exit_price) == ("short", 10, 102.0, 95.0)
    assert (trade.entry_bar, trade.exit_bar, trade.bars_held) == (1, 3, 2)
    assert trade.commission == pytest.approx(1.02 + 0.95)
    assert trade.pnl == pytest.approx(70.0 - 1.97)
    assert trade.return_pct == pytest.approx(68.03 / 1020.0)
    cash_short = 10_000.0 + 1020.0 - 1.02
    assert result.equity.tolist() == pytest.approx(
        [10_000.0, cash_short - 1030.0, cash_short - 970.0, 10_000.0 + 68.03]
    )


def test_reversal_closes_then_opens_all_in_on_the_same_open(panel_of, scripted):
    panel = panel_of([FLAT, FLAT, FLAT, (110.0, 111.0, 109.0, 110.0), FLAT])
    strategy = scripted({0: lambda s, d: s.buy(0), 2: lambda s, d: (s.close(0), s.sell(0))})

    result = run(panel, strategy)

    assert [(f.side, f.quantity, f.price) for f in result.fills] == [
        ("buy", 100, 100.0),
        ("sell", 100, 110.0),
        ("sell", 100, 110.0),  # 11,000 of equity buys 100 shares short at 110
    ]
    assert [t.direction for t in result.trades] == ["long"]
    assert result.open_trades[0].direction == "short"


def test_stop_gapped_through_fills_at_the_open(panel_of, scripted):
    panel = panel_of([FLAT, FLAT, (90.0, 92.0, 88.0, 91.0), FLAT])
    strategy = scripted({0: lambda s, d: s.buy(0, 10), 1: lambda s, d: s.close(0, stop=95.0)})

    result = run(panel, strategy)

    exit_fill = result.fills[-1]
    assert (exit_fill.bar, exit_fill.side, exit_fill.price) == (2, "sell", 90.0)  # not 95
    assert result.trades[0].pnl == pytest.approx(-100.0)


def test_stop_touched_inside_the_bar_fills_at_the_stop_with_slippage(panel_of, scripted):
    panel = panel_of([FLAT, FLAT, (97.0, 98.0, 94.0, 96.0), FLAT])
    strategy = scripted({0: lambda s, d: s.buy(0, 10), 1: lambda s, d: s.sell(0, 10, stop=95.0)})

    result = run(panel, strategy, slippage_bps=10)

    assert result.fills[-1].price == pytest.approx(95.0 * 0.999)


def test_buy_stop_gapping_up_fills_at_the_open(panel_of, scripted):
    panel = panel_of([FLAT, (100.0, 104.0, 99.0, 103.0), (108.0, 109.0, 107.0, 108.0)])
    strategy = scripted({0: lambda s, d: s.buy(0, 5, stop=105.0)})

    result = run(panel, strategy)

    (fill,) = result.fills
    assert (fill.bar, fill.price) == (2, 108.0)


def test_limit_fills_at_its_price_or_at_a_better_open(panel_of, scripted):
    panel = panel_of([FLAT, (100.0, 101.0, 97.0, 98.0), (94.0, 96.0, 93.0, 95.0), FLAT])
    strategy = scripted({0: lambda s, d: (s.buy(0, 1, limit=98.0), s.buy(0, 1, limit=95.0), s.buy(0, 1, limit=90.0))})

    result = run(panel, strategy)

    assert [(f.bar, f.price) for f in result.fills] == [(1, 98.0), (2, 94.0)]
    assert [o.status for o in strategy.orders[0]] == [
        OrderStatus.FILLED,
        OrderStatus.FILLED,
        OrderStatus.CANCELLED,  # never reached: cancelled at the end of the data
    ]


def test_stop_loss_and_take_profit_in_one_bar_assume_the_worse(panel_of, scripted):
    # The entry fills at bar 1's open (100); bar 1 then spans both 95 and 110.
    panel = panel_of([FLAT, (100.0, 112.0, 94.0, 105.0), FLAT])
    strategy = scripted({0: lambda s, d: s.buy(0, 10, stop_loss=95.0, take_profit=110.0)})

    result = run(panel, strategy)

    (trade,) = result.trades
    assert (trade.entry_bar, trade.exit_bar, trade.exit_price) == (1, 1, 95.0)
    statuses = {(o.type.value, o.status.value, o.reason) for o in result.orders if o.contingent}
    assert statuses == {
        ("stop", "filled", ""),
        ("limit", "cancelled", "the other order of its OCO pair filled"),
    }


def test_take_profit_reached_at_the_open_fills_there_even_if_the_stop_is_in_range(panel_of, scripted):
    panel = panel_of([FLAT, FLAT, (111.0, 112.0, 94.0, 100.0), FLAT])
    strategy = scripted({0: lambda s, d: s.buy(0, 10, stop_loss=95.0, take_profit=110.0)})

    result = run(panel, strategy)

    (trade,) = result.trades
    assert (trade.exit_bar, trade.exit_price) == (2, 111.0)


def test_protective_orders_are_cancelled_when_the_position_is_closed(panel_of, scripted):
    panel = panel_of([FLAT, FLAT, FLAT, (90.0, 120.0, 80.0, 100.0)])
    strategy = scripted({0: lambda s, d: s.buy(0, 10, stop_loss=95.0, take_profit=110.0), 1: lambda s, d: s.close(0)})

    result = run(panel, strategy)

    assert len(result.trades) == 1 and result.trades[0].exit_bar == 2
    assert {o.reason for o in result.orders if o.contingent} == {"its position was closed"}


def test_orders_that_reduce_fill_first_so_their_cash_pays_for_the_rest(panel_of, scripted):
    panel = panel_of({"A": [FLAT, FLAT, FLAT, FLAT], "B": [(50.0, 51.0, 49.0, 50.0)] * 4})
    # Buy B all-in before closing A: B can only be paid for once A is sold.
    strategy = scripted({0: lambda s, d: s.buy("A"), 1: lambda s, d: (s.buy("B"), s.close("A"))})

    result = run(panel, strategy)

    assert [(f.symbol, f.side, f.quantity) for f in result.fills] == [
        ("A", "buy", 100),
        ("A", "sell", 100),
        ("B", "buy", 200),
    ]


def test_target_orders_move_the_position_to_a_fraction_of_equity_at_the_open(panel_of, scripted):
    panel = panel_of([FLAT, FLAT, FLAT, FLAT, FLAT])
    strategy = scripted(
        {
            0: lambda s, d: s.order_target_percent(0, 0.5),
            1: lambda s, d: s.order_target_percent(0, 0.5),
            2: lambda s, d: s.order_target_percent(0, -0.25),
        }
    )

    result = run(panel, strategy)

    assert [(f.bar, f.side, f.quantity) for f in result.fills] == [(1, "buy", 50), (3, "sell", 75)]
    assert [(o.status, o.reason) for o in result.orders][1] == (OrderStatus.CANCELLED, "already at target")
    assert strategy.position(0) == -25


def test_an_order_the_buying_power_cannot_pay_for_is_rejected(panel_of, scripted):
    panel = panel_of([FLAT, FLAT, FLAT])
    strategy = scripted({0: lambda s, d: s.buy(0, 101)})

    result = run(panel, strategy)

    assert result.fills == []
    (order,) = result.orders
    assert (order.status, order.reason) == (OrderStatus.REJECTED, "insufficient buying power")
    assert result.to_dict()["rejected_orders"][0]["reason"] == "insufficient buying power"


def test_a_symbol_without_a_bar_fills_at_its_next_open(panel_of, scripted):
    panel = panel_of(
        {
            "A": [FLAT, FLAT, FLAT, FLAT],
            "B": [(20.0, 21.0, 19.0, 20.0), None, (22.0, 23.0, 21.0, 22.0), (24.0, 25.0, 23.0, 24.0)],
        }
    )
    strategy = scripted({0: lambda s, d: s.buy("B", 10)})

    result = run(panel, strategy)

    (fill,) = result.fills
    assert (fill.bar, fill.price) == (2, 22.0)
    # Marked at its last close while it has no bar.
    assert result.equity.tolist() == pytest.approx([10_000.0, 10_000.0, 10_000.0, 10_020.0])


def test_fifo_partial_close_makes_one_trade_per_lot(panel_of, scripted):
    panel = panel_of(
        [FLAT, FLAT, (110.0, 111.0, 109.0, 110.0), (120.0, 121.0, 119.0, 120.0), (125.0, 126.0, 124.0, 125.0)]
    )
    strategy = scripted({0: lambda s, d: s.buy(0, 10), 1: lambda s, d: s.buy(0, 10), 2: lambda s, d: s.sell(0, 15)})

    result = run(panel, strategy, commission=CommissionModel(per_share=0.1))

    assert [(t.quantity, t.entry_price, t.exit_price) for t in result.trades] == [(10, 100.0, 120.0), (5, 110.0, 120.0)]
    # Commission shares: entry 1.0 for the first lot; 0.5 of the second lot's 1.0; 15 x 0.1 on exit, pro rata.
    assert [t.commission for t in result.trades] == pytest.approx([1.0 + 1.0, 0.5 + 0.5])
    assert [t.pnl for t in result.trades] == pytest.approx([200.0 - 2.0, 50.0 - 1.0])
    (open_trade,) = result.open_trades
    assert (open_trade.quantity, open_trade.entry_price, open_trade.commission) == (5, 110.0, pytest.approx(0.5))


def test_position_open_at_the_end_is_marked_to_the_last_close_and_kept_out_of_the_stats(panel_of, scripted):
    panel = panel_of([FLAT, (102.0, 104.0, 101.0, 103.0), (104.0, 106.0, 103.0, 105.0)])
    strategy = scripted({0: lambda s, d: s.buy(0, 10)})

    result = run(panel, strategy, commission=CommissionModel(rate=0.001))

    assert result.trades == []
    assert result.metrics["n_trades"] == 0 and result.metrics["win_rate"] is None
    (open_trade,) = result.open_trades
    assert (open_trade.entry_date.isoformat(), open_trade.last_price, open_trade.bars_held) == ("2024-01-03", 105.0, 1)
    assert open_trade.unrealized_pnl == pytest.approx(30.0 - 1.02)
    assert result.final_equity == pytest.approx(10_000.0 - 1020.0 - 1.02 + 1050.0)
    assert result.metrics["exposure_time"] == pytest.approx(2 / 3)


def test_orders_still_pending_at_the_end_are_cancelled(panel_of, scripted):
    panel = panel_of([FLAT, FLAT])
    strategy = scripted({1: lambda s, d: s.buy(0, 1)})

    result = run(panel, strategy)

    (order,) = result.orders
    assert (order.status, order.reason) == (OrderStatus.CANCELLED, "still pending at the end of the data")


def test_the_strategy_sees_equity_after_this_bars_fills(panel_of, scripted):
    panel = panel_of([FLAT, (100.0, 101.0, 99.0, 101.0), (101.0, 103.0, 100.0, 102.0)])
    strategy = scripted({0: lambda s, d: s.buy(0, 10)})

    result = run(panel, strategy)

    assert strategy.equity_seen == pytest.approx(result.equity.tolist())


def test_progress_is_reported_up_to_one(random_panel_of, scripted):
    seen: list[float] = []

    Backtest(random_panel_of(500, ["A"]), scripted(), progress=seen.append, fast_path=False).run()

    assert seen[-1] == 1.0 and seen == sorted(seen) and 50 <= len(seen) <= 102


def test_fill_rules_are_written_down():
    for phrase in ("next bar", "gaps through", "the worse one", "all-in", "commission included", "open trade"):
        assert phrase in FILL_RULES
