"""OrderSafetyGuard: every rule at its exact boundary, refusals that write only what they must."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.apps import apps

from alphaloop.models import AuditLog
from orders.models import Account, Order, Position

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc


def equity_snapshot(account, day: dt.date, equity: str):
    model = apps.get_model("equity", "EquitySnapshot")
    return model.objects.create(account=account, snapshot_date=day, total_equity=D(equity), cash=D(equity))


def set_cash(account, cash: str) -> None:
    Account.objects.filter(pk=account.pk).update(cash=D(cash))
    account.refresh_from_db()


# --- max_order_pct -----------------------------------------------------------------------------------

def test_an_order_of_exactly_20pct_of_equity_passes(aapl, submit):
    order = submit("BUY", 200)  # 200 x 100.00 = 20,000.00 = 20% of 100,000.00
    assert order.status == Order.FILLED


def test_one_share_more_than_20pct_of_equity_is_rejected(aapl, submit):
    order = submit("BUY", 201)  # 20,100.00 > 20,000.00
    assert (order.status, order.reject_code) == (Order.REJECTED, "max_order_pct")
    assert "more than 20.00% of equity 100000.00 (20000.00)" in order.reject_reason


@pytest.mark.parametrize(
    ("side", "limit", "passes", "fails"),
    [
        ("BUY", "105", 190, 191),  # limit above the quote: valued at the limit (190 x 105 = 19,950)
        ("BUY", "95", 200, 201),  # limit below the quote: valued at the quote, not the limit
        ("SELL", "95", 200, 201),  # a short sale below the quote: valued at the quote
        ("SELL", "125", 160, 161),  # a short sale above the quote: valued at the limit (160 x 125 = 20,000)
    ],
)
def test_limit_orders_are_valued_at_the_worse_of_quote_and_limit(aapl, submit, session_time, side, limit, passes, fails):
    refused = submit(side, fails, order_type="LIMIT", limit_price=D(limit))
    assert (refused.status, refused.reject_code) == (Order.REJECTED, "max_order_pct")
    allowed = submit(side, passes, order_type="LIMIT", limit_price=D(limit))
    assert allowed.status != Order.REJECTED, allowed.reject_reason


def test_the_part_of_an_order_that_closes_a_position_is_not_counted(account, aapl, submit, session_time):
    Position.objects.create(account=account, symbol="AAPL", quantity=D("300"), avg_cost=D("100"), cost_basis=D("30000"))
    set_cash(account, "70000")  # equity still 100,000.00
    refused = submit("SELL", 501)  # closes 300, opens a 201-share short worth 20,100.00
    assert refused.reject_code == "max_order_pct"
    allowed = submit("SELL", 500)  # closes 300, opens exactly 20% short
    assert allowed.status == Order.FILLED
    assert Position.objects.get(account=account, symbol="AAPL").quantity == D("-200")


def test_open_orders_already_closing_a_position_are_netted_before_exempting_a_close(account, aapl, submit, session_time):
    Position.objects.create(account=account, symbol="AAPL", quantity=D("300"), avg_cost=D("100"), cost_basis=D("30000"))
    set_cash(account, "70000")
    resting = submit("SELL", 300, order_type="LIMIT", limit_price=D("130"))  # will close the whole position
    assert resting.status == Order.ACCEPTED
    # A second sell of 300 closes nothing the first does not: it would open a 30,000.00 short (> 20%).
    assert submit("SELL", 300).reject_code == "max_order_pct"


# --- rate_limit --------------------------------------------------------------------------------------

def test_the_sixth_order_within_a_minute_is_refused_and_a_minute_later_it_passes(aapl, submit, session_time):
    statuses = [submit("BUY", 1).status for _ in range(5)]
    assert statuses == [Order.FILLED] * 5
    session_time.shift(59)
    refused = submit("BUY", 1)
    assert (refused.status, refused.reject_code) == (Order.REJECTED, "rate_limit")
    assert "5 orders in the last 60 seconds" in refused.reject_reason
    session_time.shift(1)  # the first five are now exactly 60 s old and no longer count
    assert submit("BUY", 1).status == Order.FILLED


def test_refused_orders_do_not_count_against_the_rate_limit(aapl, submit, session_time):
    assert {submit("BUY", 9999).reject_code for _ in range(6)} == {"max_order_pct"}
    assert [submit("BUY", 1).status for _ in range(5)] == [Order.FILLED] * 5
    assert submit("BUY", 1).reject_code == "rate_limit"


def test_cancelled_orders_still_count_against_the_rate_limit(aapl, submit, session_time):
    from orders.cancellation import order_cancel

    for _ in range(5):
        order_cancel(order=submit("BUY", 1, order_type="LIMIT", limit_price=D("90")))
    assert submit("BUY", 1).reject_code == "rate_limit"


# --- trading hours ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("moment", "allowed"),
    [
        (dt.datetime(2026, 11, 24, 14, 29, 59, tzinfo=UTC), False),  # 09:29:59 ET
        (dt.datetime(2026, 11, 24, 14, 30, 0, tzinfo=UTC), True),  # 09:30 ET: the open is inclusive
        (dt.datetime(2026, 11, 24, 20, 59, 59, tzinfo=UTC), True),  # 15:59:59 ET
        (dt.datetime(2026, 11, 24, 21, 0, 0, tzinfo=UTC), False),  # 16:00 ET: the close is exclusive
        (dt.datetime(2026, 11, 27, 17, 59, 59, tzinfo=UTC), True),  # day after Thanksgiving, 12:59:59 ET
        (dt.datetime(2026, 11, 27, 18, 0, 0, tzinfo=UTC), False),  # 13:00 ET half-day close
        (dt.datetime(2026, 12, 25, 15, 0, 0, tzinfo=UTC), False),  # Christmas: a market holiday
        (dt.datetime(2026, 11, 28, 15, 0, 0, tzinfo=UTC), False),  # a Saturday
    ],
)
def test_orders_are_refused_outside_the_nyse_regular_session(account, aapl, time_machine, moment, allowed):
    from orders.submission import order_submit

    time_machine.move_to(moment, tick=False)
    order = order_submit(account=account, symbol="AAPL", side="BUY", quantity=D("1"))
    if allowed:
        assert order.status == Order.FILLED, order.reject_reason
    else:
        assert (order.status, order.reject_code) == (Order.REJECTED, "outside_trading_hours")
        assert "next opens" in order.reject_reason


def test_the_holiday_refusal_names_the_next_open(account, aapl, time_machine):
    from orders.submission import order_submit

    time_machine.move_to(dt.datetime(2026, 12, 25, 15, 0, tzinfo=UTC), tick=False)
    order = order_submit(account=account, symbol="AAPL", side="BUY", quantity=D("1"))
    assert "it next opens 2026-12-28 09:30 ET" in order.reject_reason


def test_trading_hours_only_off_lets_orders_through_on_a_holiday(account, aapl, time_machine, settings):
    from orders.submission import order_submit

    settings.TRADING_HOURS_ONLY = False
    time_machine.move_to(dt.datetime(2026, 12, 25, 15, 0, tzinfo=UTC), tick=False)
    assert order_submit(account=account, symbol="AAPL", side="BUY", quantity=D("1")).status == Order.FILLED


# --- daily-loss breaker -----------------------------------------------------------------------------

def test_a_loss_of_exactly_5pct_from_the_previous_close_trips_the_breaker(account, aapl, submit, account_state, django_capture_on_commit_callbacks):
    from notifications.models import NotificationLog

    equity_snapshot(account, dt.date(2026, 11, 23), "100000.00")
    set_cash(account, "95000.00")  # -5.00%

    with django_capture_on_commit_callbacks(execute=True):
        order = submit("BUY", 1)

    assert (order.status, order.reject_code) == (Order.REJECTED, "daily_loss_breaker")
    assert account_state(account)["breaker_session"] == dt.date(2026, 11, 24)
    trip = AuditLog.objects.get(action="account.breaker_trip")
    assert (trip.payload["daily_pnl_pct"], trip.payload["limit_pct"]) == ("-5.0000", "5.0000")  # percent
    assert trip.payload["previous_close_equity"] == "100000.00"
    assert NotificationLog.objects.filter(account=account, event_type="risk_warning").exists()


def test_a_loss_just_under_5pct_does_not_trip_the_breaker(account, aapl, submit, account_state):
    equity_snapshot(account, dt.date(2026, 11, 23), "100000.00")
    set_cash(account, "95001.00")  # -4.999%
    assert submit("BUY", 1).status == Order.FILLED
    assert account_state(account)["breaker_session"] is None


def test_a_tripped_breaker_refuses_every_order_until_the_next_session(account, aapl, submit, session_time, quote):
    equity_snapshot(account, dt.date(2026, 11, 23), "100000.00")
    set_cash(account, "94000.00")
    assert submit("BUY", 1).reject_code == "daily_loss_breaker"
    set_cash(account, "100000.00")  # even if equity recovers, the session stays closed to new orders
    session_time.shift(3600)
    refused = submit("SELL", 1)
    assert refused.reject_code == "daily_loss_breaker" and "until the next session opens" in refused.reject_reason
    assert AuditLog.objects.filter(action="account.breaker_trip").count() == 1  # tripped once

    session_time.move_to(dt.datetime(2026, 11, 25, 15, 0, tzinfo=UTC), tick=False)  # next session, 10:00 ET
    quote("AAPL", "100")
    assert submit("BUY", 1).status == Order.FILLED


def test_realized_and_unrealized_losses_count_against_the_previous_close(account, aapl, submit, session_time, quote):
    """No snapshot: the previous close equity is rebuilt from the books; a held position's drop trips it."""
    from orders.selectors import previous_close_equity

    Position.objects.create(account=account, symbol="AAPL", quantity=D("400"), avg_cost=D("90"), cost_basis=D("36000"))
    set_cash(account, "64000.00")  # previous close: 64,000 + 400 x 100.00 (close of 2026-11-23) = 104,000
    assert previous_close_equity(account) == D("104000.00")
    quote("AAPL", "87")  # unrealized: equity 64,000 + 34,800 = 98,800 (-5.0%)
    assert submit("BUY", 1).reject_code == "daily_loss_breaker"


def test_previous_close_equity_undoes_todays_fills(account, aapl, submit, session_time):
    from orders.selectors import previous_close_equity

    submit("BUY", 100)  # today: cash 89,994.00, 100 AAPL
    # before today's fill: 100,000.00 cash and no position
    assert previous_close_equity(account) == D("100000.00")


def test_an_admin_reset_lifts_the_breaker_for_the_rest_of_the_session(account, aapl, submit, session_time, admin_client):
    equity_snapshot(account, dt.date(2026, 11, 23), "100000.00")
    set_cash(account, "94000.00")
    assert submit("BUY", 1).reject_code == "daily_loss_breaker"

    response = admin_client.post(
        "/admin/orders/account/", {"action": "reset_daily_loss_breaker", "_selected_action": [account.pk]}
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.breaker_session, account.breaker_override_session) == (None, dt.date(2026, 11, 24))
    reset = AuditLog.objects.get(action="account.breaker_reset")
    assert reset.user.username == "admin" and reset.resource == f"account:{account.pk}"

    session_time.shift(61)
    assert submit("BUY", 1).status == Order.FILLED  # still 6% down, but reset for this session


def test_daily_loss_check_job_trips_once_and_a_second_run_changes_nothing(account, aapl, session_time, make_user):
    from orders.tasks import daily_loss_check_job

    healthy = make_user("healthy").accounts.get()
    equity_snapshot(account, dt.date(2026, 11, 23), "100000.00")
    equity_snapshot(healthy, dt.date(2026, 11, 23), "100000.00")
    set_cash(account, "90000.00")

    first = daily_loss_check_job.delay().get()
    account.refresh_from_db()
    tripped_at = account.breaker_tripped_at
    second = daily_loss_check_job.delay().get()
    account.refresh_from_db()

    assert first == {"checked": 2, "tripped": [account.pk]}
    assert second == {"checked": 2, "tripped": []}
    assert account.breaker_tripped_at == tripped_at and account.breaker_session == dt.date(2026, 11, 24)
    assert AuditLog.objects.filter(action="account.breaker_trip").count() == 1


def test_daily_loss_check_job_does_nothing_outside_the_session(account, aapl, time_machine):
    from orders.tasks import daily_loss_check_job

    time_machine.move_to(dt.datetime(2026, 11, 24, 22, 0, tzinfo=UTC), tick=False)  # 17:00 ET
    equity_snapshot(account, dt.date(2026, 11, 23), "100000.00")
    set_cash(account, "50000.00")
    assert daily_loss_check_job.delay().get()["skipped"] == "market closed"
    account.refresh_from_db()
    assert account.breaker_session is None


# --- account state and cash -----------------------------------------------------------------------------

def test_a_halted_account_is_refused_every_order(account, aapl, submit):
    Account.objects.filter(pk=account.pk).update(trading_state=Account.HALTED)
    assert submit("BUY", 1).reject_code == "account_halted"


def test_a_reducing_account_may_only_shrink_its_position(account, aapl, submit, session_time):
    Position.objects.create(account=account, symbol="AAPL", quantity=D("50"), avg_cost=D("100"), cost_basis=D("5000"))
    Account.objects.filter(pk=account.pk).update(trading_state=Account.REDUCING)
    assert submit("BUY", 1).reject_code == "reducing_only"
    assert submit("SELL", 51).reject_code == "reducing_only"  # would flip short
    assert submit("SELL", 50).status == Order.FILLED


def test_a_buy_that_costs_more_than_cash_net_of_open_buys_is_refused(account, aapl, submit, session_time):
    Position.objects.create(account=account, symbol="AAPL", quantity=D("950"), avg_cost=D("100"), cost_basis=D("95000"))
    set_cash(account, "5000.00")  # equity 100,000.00, cash 5,000.00
    assert submit("BUY", 40, order_type="LIMIT", limit_price=D("99")).status == Order.ACCEPTED  # commits 3,960.00
    refused = submit("BUY", 11)  # 11 x 100.05 + 1.00 = 1,101.55; 3,960 + 1,101.55 > 5,000
    assert refused.reject_code == "buying_power"
    assert submit("BUY", 10).status == Order.FILLED  # 1,001.50 + 3,960 <= 5,000


# --- what a refusal writes ----------------------------------------------------------------------------

def test_a_refused_order_writes_only_its_rejected_row_and_one_audit_row(account, aapl, submit, row_counts, account_state):
    before, money = row_counts(), account_state(account)

    order = submit("BUY", 201)

    after = row_counts()
    assert order.status == Order.REJECTED and order.rejected_at is not None
    assert {k: after[k] - before[k] for k in after} == {
        "AuditLog": 1, "Order": 1, "Fill": 0, "Position": 0, "TradingPlan": 0, "ApprovalRequest": 0,
        "LiveEvent": 0, "NotificationLog": 0,  # the refusal's event and notification go out after commit
    }
    assert account_state(account) == money
    audit = AuditLog.objects.get(resource=f"order:{order.pk}")
    assert audit.action == "order.reject" and audit.payload["reject_code"] == "max_order_pct"


def test_preview_reports_the_refusing_rule_and_writes_nothing(account, aapl, session_time, row_counts, account_state):
    from orders.submission import order_preview

    equity_snapshot(account, dt.date(2026, 11, 23), "100000.00")
    set_cash(account, "94000.00")
    before, money = row_counts(), account_state(account)

    decision = order_preview(account=account, symbol="AAPL", side="BUY", quantity=D("201"))

    assert (decision.allowed, decision.code) == (False, "daily_loss_breaker")
    failed = [c.rule for c in decision.checks if not c.passed]
    assert failed == ["daily_loss_breaker", "max_order_pct"]
    assert (decision.notional, decision.reference_price) == (D("20100.00"), D("100"))
    assert row_counts() == before and account_state(account) == money  # the breaker did not trip either
