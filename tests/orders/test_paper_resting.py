"""Resting orders on the paper broker, filled by ticks through the real pipeline; partial fills; cancel; expiry."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from alphaloop.exceptions import ApplicationError
from alphaloop.models import AuditLog
from marketdata.pipeline import tick_ingest
from orders.models import Fill, Order, Position
from tests.delivery import committed

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc


def tick(symbol: str, price: str, volume: int = 0):
    with committed():
        return tick_ingest(symbol=symbol, price=D(price), source="test", volume=volume)


def refreshed(order: Order) -> Order:
    order.refresh_from_db()
    return order


def test_a_resting_buy_limit_fills_at_its_limit_when_a_tick_trades_through_it(account, aapl, submit, account_state):
    order = submit("BUY", 100, order_type="LIMIT", limit_price=D("99"))
    assert order.status == Order.ACCEPTED and not order.fills.exists()

    tick("AAPL", "99.01")
    assert refreshed(order).status == Order.ACCEPTED

    tick("AAPL", "98.50")
    order = refreshed(order)
    assert (order.status, order.filled_quantity, order.avg_fill_price) == (Order.FILLED, D("100"), D("99"))
    assert order.fills.get().price == D("99")
    assert account_state(account)["cash"] == D("100000.00") - D("9900.00") - D("1.00")
    assert AuditLog.objects.filter(resource=f"order:{order.pk}", action="order.fill").count() == 1


def test_a_limit_that_is_marketable_on_submit_fills_at_the_quote_with_slippage_capped_by_the_limit(aapl, submit):
    better = submit("BUY", 10, order_type="LIMIT", limit_price=D("101"))
    capped = submit("BUY", 10, order_type="LIMIT", limit_price=D("100.02"))
    assert better.avg_fill_price == D("100.05")
    assert capped.avg_fill_price == D("100.02")


def test_partial_fills_are_capped_by_paper_max_fill_qty_and_pay_one_orders_commission(
    account, instrument_factory, quote, submit, settings, account_state
):
    settings.PAPER_MAX_FILL_QTY = D("400")
    instrument_factory("F")
    quote("F", "12")
    order = submit("BUY", 1000, symbol="F", order_type="LIMIT", limit_price=D("11.50"))

    tick("F", "11.40")
    order = refreshed(order)
    assert (order.status, order.filled_quantity, order.remaining_quantity) == (Order.PARTIALLY_FILLED, D("400"), D("600"))
    tick("F", "11.45")
    tick("F", "11.49")
    order = refreshed(order)
    assert (order.status, order.filled_quantity) == (Order.FILLED, D("1000"))

    fills = list(Fill.objects.filter(order=order).order_by("id").values_list("quantity", "price", "commission"))
    assert fills == [(D("400"), D("11.5"), D("2.00")), (D("400"), D("11.5"), D("2.00")), (D("200"), D("11.5"), D("1.00"))]
    assert account_state(account) == {"cash": D("88495.00"), "realized_pnl": D("0.00"), "total_commission": D("5.00"),
                                      "breaker_session": None}
    actions = list(AuditLog.objects.filter(resource=f"order:{order.pk}").order_by("id").values_list("action", flat=True))
    assert actions == ["order.submit", "order.accept", "order.partial_fill", "order.partial_fill", "order.fill"]


def test_a_tick_fills_at_most_its_own_volume(aapl, submit):
    order = submit("BUY", 100, order_type="LIMIT", limit_price=D("99"))
    tick("AAPL", "98", volume=30)
    assert refreshed(order).filled_quantity == D("30")
    tick("AAPL", "98", volume=0)  # no volume reported: no volume cap
    assert refreshed(order).status == Order.FILLED


def test_the_rest_of_a_partially_filled_market_order_fills_on_the_next_tick_with_slippage(aapl, submit, settings):
    settings.PAPER_MAX_FILL_QTY = D("60")
    order = submit("BUY", 100)
    assert (order.status, order.filled_quantity) == (Order.PARTIALLY_FILLED, D("60"))
    tick("AAPL", "101")
    order = refreshed(order)
    assert order.status == Order.FILLED
    assert [f.price for f in order.fills.order_by("id")] == [D("100.05"), D("101.0505")]
    assert order.avg_fill_price == D("100.4502")  # (60 x 100.05 + 40 x 101.0505) / 100


def test_a_sell_stop_triggers_at_the_stop_and_fills_as_a_market_order(account, aapl, submit, session_time):
    submit("BUY", 100)
    session_time.shift(61)
    stop = submit("SELL", 100, order_type="STOP", stop_price=D("95"))
    assert stop.status == Order.ACCEPTED
    tick("AAPL", "95.50")
    assert refreshed(stop).status == Order.ACCEPTED
    tick("AAPL", "94.80")
    stop = refreshed(stop)
    assert (stop.status, stop.avg_fill_price, stop.stop_triggered) == (Order.FILLED, D("94.7526"), True)
    assert Position.objects.get(account=account, symbol="AAPL").quantity == 0


def test_a_stop_limit_triggers_then_rests_at_its_limit(aapl, submit):
    order = submit("BUY", 10, order_type="STOP_LIMIT", stop_price=D("105"), limit_price=D("105.20"))
    tick("AAPL", "104")
    assert refreshed(order).stop_triggered is False
    tick("AAPL", "105.50")  # stop touched, but above the limit
    order = refreshed(order)
    assert (order.stop_triggered, order.status) == (True, Order.ACCEPTED)
    tick("AAPL", "105.10")  # now a resting limit: fills at 105.20
    order = refreshed(order)
    assert (order.status, order.avg_fill_price) == (Order.FILLED, D("105.2"))


def test_a_stop_limit_triggered_by_a_marketable_price_fills_at_that_price_with_slippage(aapl, submit):
    order = submit("BUY", 10, order_type="STOP_LIMIT", stop_price=D("105"), limit_price=D("106"))
    tick("AAPL", "105.50")
    assert refreshed(order).avg_fill_price == D("105.55275")


def test_ticks_of_another_symbol_fill_nothing(aapl, instrument_factory, submit):
    instrument_factory("MSFT")
    order = submit("BUY", 10, order_type="LIMIT", limit_price=D("99"))
    tick("MSFT", "1")
    assert refreshed(order).status == Order.ACCEPTED


def test_resting_orders_do_not_fill_outside_the_session_when_trading_hours_only(aapl, submit, session_time):
    order = submit("BUY", 10, order_type="LIMIT", limit_price=D("99"), time_in_force="GTC")
    session_time.move_to(dt.datetime(2026, 11, 24, 22, 0, tzinfo=UTC), tick=False)  # 17:00 ET
    tick("AAPL", "90")
    assert refreshed(order).status == Order.ACCEPTED
    session_time.move_to(dt.datetime(2026, 11, 25, 15, 0, tzinfo=UTC), tick=False)
    tick("AAPL", "90")
    assert refreshed(order).status == Order.FILLED


# --- cancel -----------------------------------------------------------------------------------------

def test_cancelling_a_resting_order_stops_it_from_filling(aapl, submit):
    from orders.cancellation import order_cancel

    order = submit("BUY", 10, order_type="LIMIT", limit_price=D("99"))
    cancelled = order_cancel(order=order)
    assert (cancelled.status, cancelled.cancelled_at is not None) == (Order.CANCELLED, True)
    tick("AAPL", "90")
    assert refreshed(order).status == Order.CANCELLED and not Fill.objects.exists()
    assert AuditLog.objects.filter(resource=f"order:{order.pk}", action="order.cancel").count() == 1


def test_cancelling_a_partially_filled_order_keeps_its_fills(aapl, submit):
    from orders.cancellation import order_cancel

    order = submit("BUY", 100, order_type="LIMIT", limit_price=D("99"))
    tick("AAPL", "98", volume=40)
    order = order_cancel(order=order)
    assert (order.status, order.filled_quantity, order.remaining_quantity) == (Order.CANCELLED, D("40"), D("60"))


def test_a_filled_or_cancelled_order_cannot_be_cancelled(aapl, submit, row_counts):
    from orders.cancellation import order_cancel

    filled = submit("BUY", 1)
    before = row_counts()
    with pytest.raises(ApplicationError) as caught:
        order_cancel(order=filled)
    assert (caught.value.code, caught.value.status_code) == ("order_not_cancellable", 409)
    assert row_counts() == before


# --- expiry -----------------------------------------------------------------------------------------

def test_day_orders_expire_after_the_close_and_gtc_orders_do_not(aapl, submit, session_time):
    from orders.tasks import order_expiry_job

    day = submit("BUY", 10, order_type="LIMIT", limit_price=D("90"))
    gtc = submit("BUY", 10, order_type="LIMIT", limit_price=D("90"), time_in_force="GTC")
    session_time.move_to(dt.datetime(2026, 11, 24, 20, 59, tzinfo=UTC), tick=False)
    assert order_expiry_job.delay().get()["orders"] == []  # still in session

    session_time.move_to(dt.datetime(2026, 11, 24, 21, 5, tzinfo=UTC), tick=False)  # 16:05 ET
    first = order_expiry_job.delay().get()
    second = order_expiry_job.delay().get()
    assert (first["orders"], second["orders"]) == ([day.pk], [])
    assert (refreshed(day).status, refreshed(gtc).status) == (Order.EXPIRED, Order.ACCEPTED)
    assert AuditLog.objects.filter(action="order.expire").count() == 1


def test_a_day_order_placed_after_the_close_belongs_to_the_next_session(aapl, time_machine, account, settings):
    from orders.cancellation import orders_expire
    from orders.submission import order_submit

    settings.TRADING_HOURS_ONLY = False
    time_machine.move_to(dt.datetime(2026, 11, 24, 22, 0, tzinfo=UTC), tick=False)  # 17:00 ET
    order = order_submit(account=account, symbol="AAPL", side="BUY", quantity=D("1"), order_type="LIMIT", limit_price=D("90"))
    assert orders_expire() == []
    time_machine.move_to(dt.datetime(2026, 11, 25, 21, 0, tzinfo=UTC), tick=False)  # the next close
    assert orders_expire() == [order.pk]


def test_the_half_day_close_expires_day_orders_at_13_00(aapl, time_machine, account):
    from orders.cancellation import orders_expire
    from orders.submission import order_submit

    time_machine.move_to(dt.datetime(2026, 11, 27, 15, 0, tzinfo=UTC), tick=False)
    order = order_submit(account=account, symbol="AAPL", side="BUY", quantity=D("1"), order_type="LIMIT", limit_price=D("90"))
    time_machine.move_to(dt.datetime(2026, 11, 27, 18, 5, tzinfo=UTC), tick=False)  # 13:05 ET
    assert orders_expire() == [order.pk]


# --- fills reported by a venue ------------------------------------------------------------------------

def test_a_venue_fill_is_booked_once_per_execution_id(account, aapl, submit, account_state):
    from orders.fills import FillRefused, fill_record

    order = submit("BUY", 10, order_type="LIMIT", limit_price=D("90"))
    at = dt.datetime(2026, 11, 24, 15, 1, tzinfo=UTC)
    first = fill_record(order_id=order.pk, quantity=D("4"), price=D("89.90"), commission=D("1.00"), executed_at=at, external_id="X1")
    again = fill_record(order_id=order.pk, quantity=D("4"), price=D("89.90"), commission=D("1.00"), executed_at=at, external_id="X1")
    assert first.pk == again.pk and Fill.objects.count() == 1
    assert account_state(account)["cash"] == D("100000.00") - D("359.60") - D("1.00")
    with pytest.raises(FillRefused):
        fill_record(order_id=order.pk, quantity=D("7"), price=D("89.90"), commission=D("0"), executed_at=at, external_id="X2")


def test_a_late_venue_fill_on_a_cancelled_order_is_booked_without_reopening_it(account, aapl, submit):
    from orders.cancellation import order_cancel
    from orders.fills import fill_record

    order = order_cancel(order=submit("BUY", 10, order_type="LIMIT", limit_price=D("90")))
    fill_record(order_id=order.pk, quantity=D("10"), price=D("90"), commission=D("1.00"),
                executed_at=dt.datetime(2026, 11, 24, 15, 1, tzinfo=UTC), external_id="late")
    order = refreshed(order)
    assert (order.status, order.filled_quantity) == (Order.CANCELLED, D("10"))
    assert Position.objects.get(account=account, symbol="AAPL").quantity == D("10")
    assert AuditLog.objects.filter(resource=f"order:{order.pk}", action="order.late_fill").exists()


def test_an_admin_cancels_open_orders_from_the_changelist_with_an_audit_row(aapl, submit, admin_client):
    resting = submit("BUY", 10, order_type="LIMIT", limit_price=D("90"))
    filled = submit("BUY", 1)
    response = admin_client.post("/admin/orders/order/", {"action": "cancel_orders", "_selected_action": [resting.pk, filled.pk]})
    assert response.status_code == 302
    assert (refreshed(resting).status, refreshed(filled).status) == (Order.CANCELLED, Order.FILLED)
    audit = AuditLog.objects.get(action="order.cancel")
    assert (audit.resource, audit.user.username) == (f"order:{resting.pk}", "admin")
