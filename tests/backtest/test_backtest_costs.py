"""Trading costs on hand-made bars with hand-computed numbers: the spread and the volume cap (FILL_RULES 2, 4, 5, 12)."""

from __future__ import annotations

import pytest

from backtest.engine import FILL_RULES, Backtest, OrderStatus
from backtest.sizing import FractionOfEquity

# (open, high, low, close)
FLAT = (100.0, 101.0, 99.0, 100.0)


def run(panel, strategy, **kwargs):
    return Backtest(panel, strategy, **kwargs).run()


def with_volume(panel, volumes):
    """``panel`` with symbol X's volume set bar by bar."""
    panel["volume"]["X"] = [float(v) for v in volumes]
    return panel


# -- the spread ------------------------------------------------------------------------------------


def test_a_buy_pays_the_ask_and_a_sell_gets_the_bid(panel_of, scripted):
    panel = panel_of([FLAT, (102.0, 104.0, 101.0, 103.0), (110.0, 111.0, 109.0, 110.0), (111.0, 112.0, 110.0, 111.0)])
    strategy = scripted({0: lambda s, d: s.buy(0, 10), 1: lambda s, d: s.sell(0, 10)})

    result = run(panel, strategy, spread=0.002)

    # Half the 0.2 % spread each way: 102 x 1.001 = 102.102, 110 x 0.999 = 109.89.
    assert [(f.side, f.price) for f in result.fills] == [
        ("buy", pytest.approx(102.102, abs=1e-12)),
        ("sell", pytest.approx(109.89, abs=1e-12)),
    ]
    (trade,) = result.trades
    assert trade.pnl == pytest.approx(10 * (109.89 - 102.102), abs=1e-9)  # 77.88
    # Bought at the ask, marked at the close (a mid price): the spread shows at once.
    assert result.equity.tolist() == pytest.approx(
        [10_000.0, 10_000.0 - 1021.02 + 1030.0, 10_000.0 + 77.88, 10_000.0 + 77.88], abs=1e-9
    )


def test_spread_and_slippage_and_commission_compound_on_one_fill(panel_of, scripted):
    panel = panel_of([FLAT, (200.0, 201.0, 199.0, 200.0), FLAT])
    strategy = scripted({0: lambda s, d: s.sell(0, 5)})

    result = run(panel, strategy, spread=0.001, slippage_bps=10, commission=0.001)

    (fill,) = result.fills
    # A sell: 200 x (1 - 0.0005) x (1 - 0.001) = 199.7001; commission 0.1 % of 998.5005.
    assert fill.price == pytest.approx(199.7001, abs=1e-12)
    assert fill.commission == pytest.approx(0.9985005, abs=1e-12)


def test_all_in_sizes_at_the_ask(panel_of, scripted):
    panel = panel_of([FLAT, FLAT, FLAT])
    strategy = scripted({0: lambda s, d: s.buy(0)})

    result = run(panel, strategy, spread=0.01)

    # 10,000 at the ask of 100.5 buys 99 shares (100 at the open would need 10,050).
    (fill,) = result.fills
    assert (fill.quantity, fill.price) == (99, pytest.approx(100.5))
    assert result.equity.iloc[-1] == pytest.approx(10_000.0 - 99 * 0.5)


def test_a_short_round_trip_pays_the_whole_spread_once(panel_of, scripted):
    panel = panel_of([FLAT, FLAT, FLAT, FLAT])
    strategy = scripted({0: lambda s, d: s.sell(0, 20), 1: lambda s, d: s.close(0)})

    result = run(panel, strategy, spread=0.004)

    # Sold at the bid 99.8, covered at the ask 100.2: 20 x 0.4 = 8.00, 0.4 % of 2,000.
    assert [f.price for f in result.fills] == pytest.approx([99.8, 100.2], abs=1e-12)
    assert result.trades[0].pnl == pytest.approx(-8.0, abs=1e-9)
    assert result.final_equity == pytest.approx(9_992.0, abs=1e-9)


def test_a_buy_limit_fills_when_the_ask_reaches_it(panel_of, scripted):
    # Lows of 99.0: the ask there is 99.0 x 1.002 = 99.198 with a 0.4 % spread.
    bars = [FLAT, (100.0, 101.0, 99.0, 100.0), (100.0, 101.0, 99.0, 100.0), (98.0, 99.0, 97.0, 98.0)]
    below_the_ask = scripted({0: lambda s, d: s.buy(0, 10, limit=99.1)})
    at_the_ask = scripted({0: lambda s, d: s.buy(0, 10, limit=99.2)})
    gap_down = scripted({2: lambda s, d: s.buy(0, 10, limit=99.2)})

    assert [f.bar for f in run(panel_of(bars), below_the_ask, spread=0.004).fills] == [3]
    assert [(f.bar, f.price) for f in run(panel_of(bars), at_the_ask, spread=0.004).fills] == [(1, 99.2)]
    # Opening at 98 (ask 98.196), below the limit: filled at the open's ask, a better price.
    (fill,) = run(panel_of(bars), gap_down, spread=0.004).fills
    assert (fill.bar, fill.price) == (3, pytest.approx(98.196, abs=1e-12))


def test_a_sell_limit_fills_when_the_bid_reaches_it(panel_of, scripted):
    panel = panel_of([FLAT, FLAT, (100.0, 102.0, 99.0, 101.0), FLAT])
    strategy = scripted({0: lambda s, d: s.buy(0, 10), 1: lambda s, d: s.close(0, limit=101.7)})

    result = run(panel, strategy, spread=0.004)

    # High 102: the bid there is 101.796 >= 101.7; filled at the limit.
    assert [(f.bar, f.side, f.price) for f in result.fills][-1] == (2, "sell", 101.7)


def test_a_stop_fills_at_the_stop_less_half_the_spread(panel_of, scripted):
    panel = panel_of([FLAT, FLAT, (97.0, 98.0, 94.0, 96.0), FLAT])
    strategy = scripted({0: lambda s, d: s.buy(0, 10), 1: lambda s, d: s.sell(0, 10, stop=95.0)})

    result = run(panel, strategy, spread=0.002, slippage_bps=10)

    assert result.fills[-1].price == pytest.approx(95.0 * 0.999 * 0.999, abs=1e-12)


def test_spread_and_volume_cap_are_checked(panel_of):
    panel = panel_of([FLAT, FLAT])
    with pytest.raises(ValueError, match="spread"):
        Backtest(panel, _Idle(), spread=-0.001)
    with pytest.raises(ValueError, match="spread"):
        Backtest(panel, _Idle(), spread=0.11)
    with pytest.raises(ValueError, match="max_volume_fraction"):
        Backtest(panel, _Idle(), max_volume_fraction=0.0)
    with pytest.raises(ValueError, match="max_volume_fraction"):
        Backtest(panel, _Idle(), max_volume_fraction=1.5)


# -- the volume cap --------------------------------------------------------------------------------


def test_a_fill_is_cut_to_the_cap_and_the_rest_is_cancelled(panel_of, scripted):
    panel = with_volume(panel_of([FLAT, (100.0, 101.0, 99.0, 101.0), FLAT, FLAT]), [50_000, 20_000, 50_000, 50_000])
    strategy = scripted({0: lambda s, d: s.buy(0, 50)})

    result = run(panel, strategy, initial_capital=1_000_000.0, max_volume_fraction=0.001)

    # 0.1 % of 20,000 is 20 shares.
    (fill,) = result.fills
    assert (fill.bar, fill.quantity, fill.price) == (1, 20, 100.0)
    (order,) = result.orders
    assert order.status is OrderStatus.FILLED
    assert order.reason == "volume cap: filled 20 of 50 shares (0.1% of the bar's volume of 20,000); the other 30 cancelled"
    assert result.open_trades[0].quantity == 20
    assert result.equity.tolist() == pytest.approx([1_000_000.0, 1_000_020.0, 1_000_000.0, 1_000_000.0])
    assert result.to_dict()["volume_capped_orders"] == [
        {"order_id": 1, "symbol": "X", "placed": "2024-01-02", "status": "filled", "reason": order.reason}
    ]


def test_orders_of_one_bar_share_its_cap_in_fill_order(panel_of, scripted):
    panel = with_volume(panel_of([FLAT, FLAT, FLAT, FLAT]), [10_000, 10_000, 25_000, 10_000])
    # 300 long; then on one bar: sell 200 (reduces, fills first), buy 100, buy 100. Cap 10 % of 2,500 = 250.
    strategy = scripted({
        0: lambda s, d: s.buy(0, 300),
        1: lambda s, d: (s.buy(0, 100), s.buy(0, 100), s.sell(0, 200)),
    })

    result = run(panel, strategy, initial_capital=100_000.0, max_volume_fraction=0.01)

    # Bar 1: room 100 of the 300 wanted. Bar 2: the sell takes 200, the first buy 50, the second none.
    assert [(f.bar, f.side, f.quantity) for f in result.fills] == [(1, "buy", 100), (2, "sell", 200), (2, "buy", 50)]
    statuses = [(o.status.value, o.reason) for o in result.orders]
    assert statuses == [
        ("filled", "volume cap: filled 100 of 300 shares (1% of the bar's volume of 10,000); the other 200 cancelled"),
        ("filled", "volume cap: filled 50 of 100 shares (1% of the bar's volume of 25,000); the other 50 cancelled"),
        ("cancelled", "volume cap: none of 100 shares filled (1% of the bar's volume of 25,000); cancelled"),
        ("filled", ""),
    ]
    # The sell closed the 100 long and opened 100 short, of which the buy covered 50.
    assert [(t.direction, t.quantity) for t in result.trades] == [("long", 100), ("short", 50)]
    assert [(t.direction, t.quantity) for t in result.open_trades] == [("short", 50)]


def test_a_close_cut_by_the_cap_leaves_the_rest_of_the_position(panel_of, scripted):
    panel = with_volume(panel_of([FLAT, FLAT, (110.0, 111.0, 109.0, 110.0), FLAT]), [1e6, 1e6, 4_000, 1e6])
    strategy = scripted({0: lambda s, d: s.buy(0, 1_000), 1: lambda s, d: s.close(0)})

    result = run(panel, strategy, initial_capital=200_000.0, max_volume_fraction=0.1)

    # The close sells 400 (10 % of 4,000) at 110; 600 shares stay open.
    assert [(f.bar, f.side, f.quantity, f.price) for f in result.fills] == [(1, "buy", 1_000, 100.0), (2, "sell", 400, 110.0)]
    (trade,) = result.trades
    assert (trade.quantity, trade.pnl) == (400, pytest.approx(4_000.0))
    (still_open,) = result.open_trades
    assert still_open.quantity == 600
    assert result.orders[1].reason.startswith("volume cap: filled 400 of 1,000 shares")


def test_all_in_cut_by_the_cap_leaves_cash_unspent(panel_of, scripted):
    panel = with_volume(panel_of([FLAT, FLAT, FLAT]), [1e6, 300, 1e6])
    strategy = scripted({0: lambda s, d: s.buy(0, size=FractionOfEquity(1.0))})

    result = run(panel, strategy, max_volume_fraction=0.25)

    # All-in is 100 shares at 100; a quarter of 300 is 75.
    (fill,) = result.fills
    assert fill.quantity == 75
    assert result.orders[0].reason == (
        "volume cap: filled 75 of 100 shares (25% of the bar's volume of 300); the other 25 cancelled"
    )


def test_a_bar_without_volume_fills_nothing_under_a_cap(panel_of, scripted):
    panel = with_volume(panel_of([FLAT, FLAT, FLAT]), [1e6, float("nan"), 1e6])
    strategy = scripted({0: lambda s, d: s.buy(0, 10)})

    result = run(panel, strategy, max_volume_fraction=0.5)

    assert result.fills == []
    assert (result.orders[0].status, result.orders[0].reason) == (
        OrderStatus.CANCELLED,
        "volume cap: none of 10 shares filled (the bar has no volume); cancelled",
    )


def test_a_fraction_times_volume_is_not_floored_below_its_whole_number(panel_of, scripted):
    # 0.29 x 100 is 28.999999999999996 in binary floating point; the cap is 29 shares.
    panel = with_volume(panel_of([FLAT, FLAT, FLAT]), [1e6, 100, 1e6])
    strategy = scripted({0: lambda s, d: s.buy(0, 40)})

    result = run(panel, strategy, max_volume_fraction=0.29)

    assert [f.quantity for f in result.fills] == [29]


def test_a_stop_loss_cut_by_the_cap_keeps_protecting_the_rest(panel_of, scripted):
    bars = [FLAT, FLAT, (97.0, 98.0, 94.0, 96.0), (96.0, 97.0, 93.0, 94.0), (90.0, 91.0, 89.0, 90.0)]
    panel = with_volume(panel_of(bars), [1e6, 1e6, 3_000, 1e6, 1e6])
    strategy = scripted({0: lambda s, d: s.buy(0, 500, stop_loss=95.0, take_profit=120.0)})

    result = run(panel, strategy, initial_capital=100_000.0, max_volume_fraction=0.1)

    # Bar 2 touches the stop: 300 of 500 sell at 95; the stop stays pending and sells the other 200 on bar 3.
    assert [(f.bar, f.side, f.quantity, f.price) for f in result.fills] == [
        (1, "buy", 500, 100.0),
        (2, "sell", 300, 95.0),
        (3, "sell", 200, 95.0),
    ]
    stop = next(o for o in result.orders if o.type.value == "stop")
    take_profit = next(o for o in result.orders if o.type.value == "limit")
    assert stop.status is OrderStatus.FILLED
    assert stop.reason == "volume cap: filled 300 of 500 shares (10% of the bar's volume of 3,000); the other 200 stay pending"
    assert (take_profit.status, take_profit.reason) == (OrderStatus.CANCELLED, "the other order of its OCO pair filled")
    assert result.open_trades == []


def test_without_a_cap_or_a_spread_nothing_changes(panel_of, scripted):
    panel = with_volume(panel_of([FLAT, (102.0, 104.0, 101.0, 103.0), FLAT]), [1, 1, 1])
    strategy = scripted({0: lambda s, d: s.buy(0, 10)})

    result = run(panel, strategy)

    assert [(f.quantity, f.price) for f in result.fills] == [(10, 102.0)]
    assert result.to_dict()["volume_capped_orders"] == []


def test_the_costs_are_written_down():
    for phrase in ("spread/2", "the ask", "the bid", "Volume cap", "stays pending", "the rest of it is cancelled"):
        assert phrase in FILL_RULES


class _Idle:
    """Not a strategy: the checks fail before one is needed."""
