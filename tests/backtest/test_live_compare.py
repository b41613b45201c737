"""Live versus backtest on a constructed case: known fills against a known replay, to the cent.

The replay is ``buy_and_hold`` over AAA and BBB from 2025-03-03 to 2025-03-07 on the account's
100,000: it buys at the open of 2025-03-04, half the equity each: 500 AAA at 100 and 1,000 BBB at 50.
The account bought 500 AAA in two fills (300 at 100.10, 200 at 100.35: 100.20 on average, $2.50
commission), sold 200 AAA at 104 on 2025-03-06 ($1.00) and, in an order tagged "other", bought
1,000 BBB at 50.10 on 2025-03-05 ($5.00). Both close the range at AAA 105, BBB 48.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from backtest.livecompare import Execution, SimulatedFill, compare
from marketdata.services import bars_import
from orders.fills import fill_record
from orders.models import Order

NY = ZoneInfo("America/New_York")
DAYS = [date(2025, 3, d) for d in (3, 4, 5, 6, 7)]
CLOSES = {"AAA": [99, 100, 102, 104, 105], "BBB": [51, 50, 49, 49, 48]}


@pytest.fixture
def aaa_bbb(db):
    for symbol, closes in CLOSES.items():
        rows = [{"date": day, "open": Decimal(c), "high": Decimal(c), "low": Decimal(c), "close": Decimal(c),
                 "adj_close": None, "volume": 1_000_000} for day, c in zip(DAYS, closes, strict=True)]
        bars_import(symbol=symbol, rows=rows, is_synthetic=True)


def _order(account, key, symbol, side, quantity, tag, fills):
    order = Order.objects.create(account=account, client_order_id=key, symbol=symbol, side=side,
                                 order_type=Order.MARKET, quantity=Decimal(quantity), status=Order.ACCEPTED,
                                 strategy_tag=tag)
    for n, (qty, price, commission, at) in enumerate(fills):
        fill_record(order_id=order.pk, quantity=Decimal(qty), price=Decimal(price), commission=Decimal(commission),
                    executed_at=at, external_id=f"{key}-{n}")
    return order


@pytest.fixture
def traded(account, aaa_bbb):
    _order(account, "aaa-buy", "AAA", Order.BUY, 500, "trend", [
        (300, "100.10", "1.50", datetime(2025, 3, 4, 10, 0, tzinfo=NY)),
        (200, "100.35", "1.00", datetime(2025, 3, 4, 10, 5, tzinfo=NY))])
    _order(account, "aaa-sell", "AAA", Order.SELL, 200, "trend", [(200, "104", "1.00", datetime(2025, 3, 6, 15, 55, tzinfo=NY))])
    _order(account, "bbb-buy", "BBB", Order.BUY, 1000, "other", [(1000, "50.10", "5.00", datetime(2025, 3, 5, 10, 0, tzinfo=NY))])
    return account


def _get(api, account, **query):
    params = {"account": account.pk, "strategy_id": "buy_and_hold", "start_date": "2025-03-03",
              "end_date": "2025-03-07", **query}
    return api.get("/api/v1/backtest/live-compare", params)


def test_a_tagged_comparison_gives_the_exact_slippage_and_the_missed_and_extra_trades(api, traded):
    response = _get(api, traded, symbols="AAA,BBB", tag="trend")
    aaa_buy = Order.objects.get(client_order_id="aaa-buy")

    assert response.status_code == 200, response.data
    report = response.data
    assert (report["initial_capital"], report["capital_source"]) == (
        "100000.00", "the account's initial cash (no snapshot before the range)")
    assert report["marks"] == {"AAA": {"date": "2025-03-07", "close": "105.000000"},
                               "BBB": {"date": "2025-03-07", "close": "48.000000"}}
    matched, missed, extra = report["rows"]
    assert matched == {
        "kind": "matched", "symbol": "AAA", "side": "buy",
        "backtest": {"date": "2025-03-04", "price": "100.000000", "quantity": "500", "commission": "0.00", "fills": 1},
        "live": {"date": "2025-03-04", "executed_at": "2025-03-04T15:00:00+00:00", "price": "100.200000",
                 "quantity": "500", "commission": "2.50", "fills": 2, "order_ids": [aaa_buy.pk]},
        "delay_sessions": 0, "slippage_per_share": "0.200000", "slippage_bps": "20.00", "slippage": "-100.00",
        "size_effect": "0.00", "commission_difference": "-2.50", "backtest_pnl": "2500.00", "live_pnl": "2397.50",
        "pnl_difference": "-102.50",
    }
    assert (missed["kind"], missed["symbol"], missed["backtest"]["quantity"], missed["backtest"]["price"]) == (
        "missed", "BBB", "1000", "50.000000")
    assert (missed["backtest_pnl"], missed["pnl_difference"], missed["live"]) == ("-2000.00", "2000.00", None)
    assert (extra["kind"], extra["symbol"], extra["side"], extra["live"]["price"], extra["live"]["date"]) == (
        "extra", "AAA", "sell", "104.000000", "2025-03-06")
    assert (extra["live_pnl"], extra["pnl_difference"], extra["backtest"]) == ("-201.00", "-201.00", None)
    assert report["totals"] == {
        "matched": 1, "missed": 1, "extra": 1, "live_pnl": "2196.50", "backtest_pnl": "500.00",
        "pnl_difference": "1696.50", "slippage": "-100.00", "size_effect": "0.00", "commission_difference": "-2.50",
        "missed_pnl": "2000.00", "extra_pnl": "-201.00", "avg_slippage_bps": "20.00",
    }
    assert report["curve"][0] == {"date": "2025-03-03", "backtest_pnl": "0.00", "live_pnl": "0.00"}
    assert report["curve"][-1] == {"date": "2025-03-07", "backtest_pnl": "500.00", "live_pnl": "2196.50"}


def test_without_a_tag_every_fill_counts_and_a_late_fill_matches_within_the_window(api, traded):
    report = _get(api, traded, symbols="AAA,BBB").data

    assert report["totals"]["matched"] == 2 and report["totals"]["missed"] == 0 and report["totals"]["extra"] == 1
    bbb = next(row for row in report["rows"] if row["symbol"] == "BBB")
    assert (bbb["kind"], bbb["delay_sessions"], bbb["slippage"], bbb["live_pnl"]) == ("matched", 1, "-100.00", "-2105.00")
    strict = _get(api, traded, symbols="AAA,BBB", window=0).data
    assert [row["kind"] for row in strict["rows"] if row["symbol"] == "BBB"] == ["missed", "extra"]
    by_default = _get(api, traded, tag="trend").data  # the symbols the tagged orders traded
    assert by_default["symbols"] == ["AAA"] and by_default["totals"]["missed"] == 0


def test_live_compare_refuses_what_it_cannot_replay_and_hides_other_accounts(api, other_api, traded):
    assert _get(other_api, traded, symbols="AAA").status_code == 404
    no_strategy = api.get("/api/v1/backtest/live-compare", {"start_date": "2025-03-03", "end_date": "2025-03-07"})
    assert no_strategy.status_code == 400 and "strategy_id" in no_strategy.data
    assert "symbols" in _get(api, traded, tag="nobody").data
    assert "params" in _get(api, traded, params="[1, 2]").data
    assert "end_date" in _get(api, traded, end_date="2025-03-01").data


def test_a_run_id_replays_that_runs_strategy_and_symbols(api, other_api, traded, user):
    from backtest.models import BacktestRun

    run = BacktestRun.objects.create(user=user, strategy_id="buy_and_hold", params={}, symbols=["AAA", "BBB"],
                                     start_date=date(2025, 3, 3), end_date=date(2025, 3, 7),
                                     initial_capital=Decimal(5000), status="SUCCEEDED")
    report = api.get("/api/v1/backtest/live-compare", {"run_id": run.pk, "start_date": "2025-03-03",
                                                       "end_date": "2025-03-07", "tag": "trend"}).data

    assert (report["run_id"], report["strategy_id"], report["symbols"]) == (run.pk, "buy_and_hold", ["AAA", "BBB"])
    assert report["totals"]["pnl_difference"] == "1696.50"  # on the account's capital, not the run's
    assert other_api.get("/api/v1/backtest/live-compare", {"run_id": run.pk, "start_date": "2025-03-03",
                                                           "end_date": "2025-03-07"}).status_code == 404


def test_a_run_id_replays_with_that_runs_spread_and_volume_cap(api, traded, user):
    from backtest.models import BacktestRun

    run = BacktestRun.objects.create(user=user, strategy_id="buy_and_hold", params={}, symbols=["AAA", "BBB"],
                                     start_date=date(2025, 3, 3), end_date=date(2025, 3, 7),
                                     initial_capital=Decimal(5000), spread=Decimal("0.002"),
                                     max_volume_fraction=Decimal("0.0004"), status="SUCCEEDED")
    report = api.get("/api/v1/backtest/live-compare", {"run_id": run.pk, "start_date": "2025-03-03",
                                                       "end_date": "2025-03-07", "tag": "trend"}).data

    # Half of 100,000 at the ask of 100 x 1.001 is 499 shares; 0.04 % of the 1,000,000 traded is 400.
    (matched,) = [row for row in report["rows"] if row["kind"] == "matched"]
    assert (matched["backtest"]["price"], matched["backtest"]["quantity"]) == ("100.100000", "400")
    # The live 500 shares at 100.20 paid 0.10 a share over the backtest's ask: -50.00.
    assert (matched["slippage_per_share"], matched["slippage"]) == ("0.100000", "-50.00")


def test_the_differences_add_up_to_the_pnl_gap_for_sizes_that_differ():
    """Pure: a bigger live size, sold in two orders, splits into slippage, size and commission exactly."""
    day = date(2025, 3, 4)
    sessions = [date(2025, 3, 3), day, date(2025, 3, 5)]
    simulated = [SimulatedFill(day, "X", "sell", Decimal(100), Decimal(20), Decimal(1))]
    # The live side sold in two orders that session (100 at 19.95, then 50 at 19.80): one trade of 150 at 19.90.
    live = [Execution(1, "X", "sell", Decimal(100), Decimal("19.95"), Decimal("1.00"), datetime(2025, 3, 5, 14, 0, tzinfo=NY),
                      date(2025, 3, 5)),
            Execution(2, "X", "sell", Decimal(50), Decimal("19.80"), Decimal("0.75"), datetime(2025, 3, 5, 15, 0, tzinfo=NY),
                      date(2025, 3, 5))]

    report = compare(simulated, live, sessions=sessions, marks={"X": Decimal(18)}, window=1)

    row = report["rows"][0]
    # sell: backtest 100 x (20 - 18) - 1 = 199; live 150 x (19.90 - 18) - 1.75 = 283.25
    assert (row["backtest_pnl"], row["live_pnl"], row["pnl_difference"]) == ("199.00", "283.25", "84.25")
    # slippage: sold 0.10 lower on 150 shares = -15; size: 50 more shares short from 20 to 18 = +100; commission -0.75
    assert (row["slippage_per_share"], row["slippage_bps"], row["slippage"]) == ("0.100000", "50.00", "-15.00")
    assert (row["size_effect"], row["commission_difference"], row["delay_sessions"]) == ("100.00", "-0.75", 1)
    assert (row["live"]["fills"], row["live"]["order_ids"], row["live"]["price"]) == (2, [1, 2], "19.900000")


def test_a_reversal_is_one_trade_whether_it_took_one_order_or_two():
    day = date(2025, 3, 4)
    close_then_short = [SimulatedFill(day, "X", "sell", Decimal(100), Decimal(20), Decimal(0)),
                        SimulatedFill(day, "X", "sell", Decimal(100), Decimal(20), Decimal(0))]
    one_order = [Execution(7, "X", "sell", Decimal(200), Decimal("19.99"), Decimal(1), datetime(2025, 3, 4, 10, tzinfo=NY), day)]

    report = compare(close_then_short, one_order, sessions=[day], marks={"X": Decimal(19)}, window=0)

    assert [row["kind"] for row in report["rows"]] == ["matched"]
    assert report["rows"][0]["backtest"] == {"date": "2025-03-04", "price": "20.000000", "quantity": "200",
                                             "commission": "0.00", "fills": 2}
    assert report["totals"]["slippage"] == "-2.00"  # 0.01 lower on 200 shares


def test_a_range_past_the_last_bar_and_the_calendar_compares_up_to_the_last_bar(api, traded):
    report = _get(api, traded, symbols="AAA,BBB", tag="trend", end_date="2029-06-30").data

    assert report["totals"]["pnl_difference"] == "1696.50"
    assert report["marks"]["AAA"] == {"date": "2025-03-07", "close": "105.000000"}
    assert report["curve"][-1]["date"] == "2025-03-07"
