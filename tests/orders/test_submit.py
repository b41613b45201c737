"""order_submit on the paper broker: validation, idempotency, market fills and the books to the cent."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from rest_framework.exceptions import ValidationError

from alphaloop.models import AuditLog
from orders.models import Fill, Order, Position

pytestmark = pytest.mark.django_db


def test_market_buy_fills_at_the_quote_plus_slippage_and_pays_commission(account, aapl, submit, account_state):
    order = submit("BUY", 100)

    assert (order.status, order.filled_quantity, order.avg_fill_price) == (Order.FILLED, D("100"), D("100.050000"))
    fill = order.fills.get()
    assert (fill.price, fill.quantity, fill.commission, fill.realized_pnl) == (D("100.050000"), D("100"), D("1.00"), D("0"))
    assert fill.cash_flow == D("-10006.00")
    assert account_state(account) == {"cash": D("89994.00"), "realized_pnl": D("0.00"), "total_commission": D("1.00"),
                                      "breaker_session": None}
    position = Position.objects.get(account=account, symbol="AAPL")
    assert (position.quantity, position.avg_cost, position.cost_basis) == (D("100"), D("100.05"), D("10005.00"))
    assert order.broker_order_id == f"PAPER-{order.pk}" and order.accepted_at and order.filled_at
    actions = list(AuditLog.objects.filter(resource=f"order:{order.pk}").order_by("id").values_list("action", flat=True))
    assert actions == ["order.submit", "order.accept", "order.fill"]


def test_buy_add_partial_sell_flip_to_short_and_cover_are_exact_to_the_cent(account, aapl, submit, quote, session_time, account_state):
    steps = [
        # quote, side, qty -> position qty, avg cost, cost basis, realized (total), cash
        ("100", "BUY", 100, "100", "100.05", "10005.00", "0.00", "89994.00"),
        ("101", "BUY", 50, "150", "100.383533", "15057.53", "0.00", "84940.47"),
        ("102", "SELL", 60, "90", "100.383556", "9034.52", "93.93", "91056.41"),
        ("99", "SELL", 150, "-60", "98.9505", "-5937.03", "-35.04", "105897.99"),
        ("97.50", "BUY", 60, "0", "0", "0.00", "49.06", "100044.06"),
    ]
    for price, side, qty, want_qty, want_avg, want_basis, want_realized, want_cash in steps:
        session_time.shift(61)  # keep clear of the per-minute rate limit
        quote("AAPL", price)
        order = submit(side, qty)
        assert order.status == Order.FILLED, (order.reject_code, order.reject_reason)
        position = Position.objects.get(account=account, symbol="AAPL")
        state = account_state(account)
        assert (position.quantity, position.avg_cost, position.cost_basis) == (D(want_qty), D(want_avg), D(want_basis)), price
        assert (state["realized_pnl"], state["cash"]) == (D(want_realized), D(want_cash)), price
    state = account_state(account)
    assert state["total_commission"] == D("5.00")
    # flat again: every cent of cash is explained by realized P&L and commissions
    assert state["cash"] == D("100000.00") + state["realized_pnl"] - state["total_commission"]
    assert [f.realized_pnl for f in Fill.objects.order_by("id")] == [D("0"), D("0"), D("93.93"), D("-128.97"), D("84.10")]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"symbol": "NOPE"}, "symbol"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": "-5"}, "quantity"),
        ({"quantity": "1.0000001"}, "quantity"),
        ({"quantity": "abc"}, "quantity"),
        ({"order_type": "LIMIT"}, "limit_price"),
        ({"order_type": "STOP"}, "stop_price"),
        ({"limit_price": D("99")}, "limit_price"),
        ({"order_type": "LIMIT", "limit_price": D("0")}, "limit_price"),
        ({"order_type": "FOK"}, "order_type"),
        ({"time_in_force": "IOC"}, "time_in_force"),
        ({"side": "HOLD"}, "side"),
        ({"client_order_id": "has spaces"}, "client_order_id"),
        ({"source": "ROBOT"}, "source"),
    ],
)
def test_invalid_orders_raise_naming_the_field_and_write_nothing(account, aapl, session_time, row_counts, account_state, kwargs, field):
    from orders.submission import order_submit

    before, money_before = row_counts(), account_state(account)
    params = {"account": account, "symbol": "AAPL", "side": "BUY", "quantity": D("10"), **kwargs}
    with pytest.raises(ValidationError) as caught:
        order_submit(**params)
    assert field in caught.value.detail
    assert row_counts() == before and account_state(account) == money_before


def test_a_sell_that_would_open_a_short_is_refused_when_the_account_disallows_shorts(account, aapl, submit, row_counts, session_time):
    account.allow_short = False
    account.save()
    submit("BUY", 10)
    session_time.shift(61)
    submit("SELL", 4, order_type="LIMIT", limit_price=D("150"))  # rests, holding 4 of the 10 back
    before = row_counts()
    with pytest.raises(ValidationError) as caught:
        submit("SELL", 7)
    assert "Short selling is not allowed" in str(caught.value.detail["quantity"][0])
    assert row_counts() == before
    assert submit("SELL", 6).status == Order.FILLED  # exactly what is left to sell


def test_the_same_client_order_id_returns_the_existing_order_and_places_nothing(account, aapl, submit, row_counts, account_state):
    first = submit("BUY", 10, client_order_id="my-key-1")
    before, money = row_counts(), account_state(account)

    again = submit("BUY", D("10.000000"), symbol="aapl", client_order_id="my-key-1")  # the same order, written differently

    assert again.pk == first.pk
    assert row_counts() == before and account_state(account) == money
    assert Order.objects.filter(client_order_id="my-key-1").count() == 1


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"side": "SELL"}, ["side"]),
        ({"quantity": 11}, ["quantity"]),
        ({"symbol": "MSFT"}, ["symbol"]),
        ({"order_type": "LIMIT", "limit_price": D("99")}, ["order_type", "limit_price"]),
        ({"time_in_force": "GTC"}, ["time_in_force"]),
        ({"side": "SELL", "quantity": 99}, ["side", "quantity"]),
    ],
)
def test_a_reused_client_order_id_for_a_different_order_is_a_conflict_naming_what_differs(
    account, aapl, submit, row_counts, account_state, changes, fields
):
    from alphaloop.exceptions import ApplicationError

    first = submit("BUY", 10, client_order_id="my-key-1")
    before, money = row_counts(), account_state(account)
    request = {"side": "BUY", "quantity": 10, "client_order_id": "my-key-1", **changes}

    with pytest.raises(ApplicationError) as caught:
        submit(request.pop("side"), request.pop("quantity"), **request)

    error = caught.value
    assert (error.code, error.status_code, error.extra["order_id"]) == ("client_order_id_conflict", 409, first.pk)
    assert sorted(error.extra["conflicts"]) == sorted(fields)
    assert all(name in error.message for name in fields) and f"#{first.pk}" in error.message
    assert row_counts() == before and account_state(account) == money


def test_a_limit_order_replayed_with_another_limit_price_is_a_conflict(account, aapl, submit):
    from alphaloop.exceptions import ApplicationError

    first = submit("BUY", 5, order_type="LIMIT", limit_price=D("95"), client_order_id="lim-1")
    assert submit("BUY", 5, order_type="LIMIT", limit_price=D("95.000000"), client_order_id="lim-1").pk == first.pk
    with pytest.raises(ApplicationError) as caught:
        submit("BUY", 5, order_type="LIMIT", limit_price=D("95.01"), client_order_id="lim-1")
    assert caught.value.extra["conflicts"] == {"limit_price": {"existing": "95", "requested": "95.01"}}


def test_an_order_row_with_its_client_order_id_is_committed_before_the_broker_is_called(account, aapl, submit, monkeypatch):
    from orders.brokers.paper import PaperBroker

    seen = {}
    original = PaperBroker.submit

    def spy(self, order):
        seen["stored"] = list(Order.objects.filter(pk=order.pk).values_list("client_order_id", "status"))
        return original(self, order)

    monkeypatch.setattr(PaperBroker, "submit", spy)
    submit("BUY", 5, client_order_id="before-broker")
    assert seen["stored"] == [("before-broker", Order.NEW)]


def test_a_market_order_without_a_live_quote_is_rejected_by_the_paper_broker(account, bars_factory, submit):
    import datetime as dt

    bars_factory("MSFT", [400, 401], end=dt.date(2026, 11, 23))  # a close to value it, but no quote
    order = submit("BUY", 1, symbol="MSFT")
    assert (order.status, order.reject_code) == (Order.REJECTED, "broker_rejected")
    assert "No live quote" in order.reject_reason
    assert not Fill.objects.exists()


def test_every_transition_is_published_as_an_order_update_and_the_fill_is_notified_after_commit(
    account, aapl, submit, django_capture_on_commit_callbacks
):
    from alphaloop import bus
    from alphaloop.events import FillRecorded
    from notifications.models import LiveEvent, NotificationLog

    received = []
    bus.subscribe(FillRecorded, "test.recorder", lambda event: received.append(event.fill_id))
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            order = submit("BUY", 10)
            assert received == [] and not LiveEvent.objects.filter(channel="order_update").exists()
        for callback in callbacks:
            callback()
    finally:
        bus.unsubscribe(FillRecorded, "test.recorder")

    assert received == [order.fills.get().pk]
    events = [e for e in LiveEvent.objects.filter(user=account.user, channel="order_update").order_by("id")
              if e.data.get("id") == order.pk]
    assert [e.event for e in events] == ["NEW", "ACCEPTED", "FILLED"]
    assert [e.data["status"] for e in events] == ["NEW", "ACCEPTED", "FILLED"]  # each shows the order as it was then
    assert events[-1].data["filled_quantity"] == "10.000000"
    assert NotificationLog.objects.filter(account=account, event_type="order_filled").exists()


def test_a_refusal_is_notified_as_order_rejected(account, aapl, submit, django_capture_on_commit_callbacks):
    from notifications.models import LiveEvent, NotificationLog

    with django_capture_on_commit_callbacks(execute=True):
        order = submit("BUY", 500)  # 50,000 > 20% of equity
    assert order.reject_code == "max_order_pct"
    assert LiveEvent.objects.filter(channel="order_update", event="REJECTED").count() == 1
    log = NotificationLog.objects.filter(account=account, event_type="order_rejected").first()
    assert log is not None and "max_order_pct" in log.body


def test_order_events_carry_the_same_shape_as_the_api(account, aapl, submit):
    from orders.publish import order_as_dict
    from orders.serializers import OrderSerializer

    order = submit("BUY", 7, order_type="LIMIT", limit_price=D("99.5"))
    order.filled_quantity = D("2")  # an in-memory value mid-transition, not yet re-read from the database
    assert order_as_dict(order) == dict(OrderSerializer(order).data)


def test_the_fill_notification_reads_the_price_to_the_cent_and_the_quantity_without_zeros(account, aapl, submit, quote,
                                                                                          django_capture_on_commit_callbacks):
    from notifications.models import NotificationLog

    quote("AAPL", "880.10")  # + 5 bp slippage: a fill at 880.540050
    with django_capture_on_commit_callbacks(execute=True):
        order = submit("BUY", 5)
    assert order.avg_fill_price == D("880.540050")
    titles = set(NotificationLog.objects.filter(event_type="order_filled").values_list("title", flat=True))
    assert titles == {"Filled BUY 5 AAPL @ 880.54"}
