"""Through the real order path: paper fills -> FillRecorded -> FIFO attribution, drafts, and a snapshot
whose cash reconciles with the order ledger to the cent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from equity.models import TradePnlAttribution
from equity.services import create_daily_snapshot
from journal.models import TradeJournal
from orders.models import Account, Order

# Tuesday 2026-11-24 15:00 UTC = 10:00 ET, inside the regular session.
SESSION_TIME = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_paper_trades_are_attributed_fifo_and_the_snapshot_reconciles_with_the_account(
    account, bars_factory, time_machine, django_capture_on_commit_callbacks
):
    from marketdata.pipeline import quote_store
    from orders.submission import order_submit

    bars_factory("AAPL", [98, 99, 100], end=dt.date(2026, 11, 23))
    time_machine.move_to(SESSION_TIME, tick=False)
    steps = [("100", "BUY", 100), ("101", "BUY", 50), ("102", "SELL", 60), ("99", "SELL", 150), ("97.50", "BUY", 60)]
    for price, side, quantity in steps:
        time_machine.shift(61)  # clear of the per-minute order limit
        quote_store(symbol="AAPL", price=D(price), source="test")
        with django_capture_on_commit_callbacks(execute=True):
            order = order_submit(
                account=account, symbol="AAPL", side=side, quantity=D(quantity), strategy_tag=side.lower()
            )
        assert order.status == Order.FILLED, (order.reject_code, order.reject_reason)

    rows = list(TradePnlAttribution.objects.filter(account=account).order_by("id").values_list("direction", "quantity"))
    # sell 60 closes 60 of the first buy; sell 150 closes 40 + 50 and opens a 60 short; buy 60 covers it.
    assert rows == [("LONG", D("60")), ("LONG", D("40")), ("LONG", D("50")), ("SHORT", D("60"))]
    assert TradeJournal.objects.filter(account=account, journal_status="DRAFT").count() == 4

    stored = Account.objects.get(pk=account.pk)
    snapshot = create_daily_snapshot(account=account, date=dt.date(2026, 11, 24))
    assert snapshot.cash == stored.cash and snapshot.market_value == D("0.00")
    assert snapshot.realized_pnl == stored.cash - stored.initial_cash == stored.realized_pnl - stored.total_commission
    # Flat again, FIFO and average cost agree on the total; commission shares are rounded per trade.
    attributed = sum(TradePnlAttribution.objects.filter(account=account).values_list("realized_pnl", flat=True), D("0"))
    assert abs(attributed - snapshot.realized_pnl) <= D("0.02")
