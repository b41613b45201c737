"""Pre-trade checks beside the spec's four: max quantity, max order value, price band, buying power
and the account trading state, each at its exact boundary, and what a refusal writes."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal as D

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.exceptions import ValidationError

from alphaloop.models import AuditLog
from orders.limits import PreTradeLimits, pretrade_limits
from orders.models import Account, Order, Position

pytestmark = pytest.mark.django_db


def set_cash(account, cash: str) -> None:
    Account.objects.filter(pk=account.pk).update(cash=D(cash))
    account.refresh_from_db()


def hold(account, quantity: str, avg_cost: str = "100") -> Position:
    q, cost = D(quantity), D(avg_cost)
    return Position.objects.create(account=account, symbol="AAPL", quantity=q, avg_cost=cost, cost_basis=q * cost)


def preview(account, side: str, quantity, **kwargs):
    from orders.submission import order_preview

    return order_preview(account=account, symbol=kwargs.pop("symbol", "AAPL"), side=side, quantity=D(str(quantity)), **kwargs)


@pytest.fixture
def msft(bars_factory, quote):
    """A second instrument at 100.00, so buying power can be spent away from AAPL's position."""
    instrument = bars_factory("MSFT", [100], end=dt.date(2026, 11, 23))
    quote("MSFT", "100")
    return instrument


# --- settings --------------------------------------------------------------------------------------

def test_the_limits_default_when_the_settings_are_absent(settings):
    for name in ("MAX_ORDER_QUANTITY", "MAX_ORDER_VALUE", "PRICE_BAND_WARN_PCT", "PRICE_BAND_REFUSE_PCT"):
        if hasattr(settings, name):
            delattr(settings, name)
    assert pretrade_limits() == PreTradeLimits(D("100000"), D("1000000"), D("0.03"), D("0.10"))


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MAX_ORDER_QUANTITY", "-1", "MAX_ORDER_QUANTITY must be a number >= 0"),
        ("MAX_ORDER_VALUE", "lots", "MAX_ORDER_VALUE must be a number"),
        ("PRICE_BAND_REFUSE_PCT", "10", "PRICE_BAND_REFUSE_PCT is a fraction"),
        ("PRICE_BAND_WARN_PCT", "0.2", "PRICE_BAND_WARN_PCT (0.2) must not exceed PRICE_BAND_REFUSE_PCT"),
    ],
)
def test_a_bad_limit_setting_fails_loudly_naming_it(settings, name, value, message):
    setattr(settings, name, value)
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        pretrade_limits()


# --- max_quantity ------------------------------------------------------------------------------------

def test_an_order_of_exactly_max_order_quantity_passes_and_a_millionth_more_is_refused(aapl, submit, settings):
    settings.MAX_ORDER_QUANTITY = 150
    refused = submit("BUY", "150.000001")
    assert (refused.status, refused.reject_code) == (Order.REJECTED, "max_quantity")
    assert "Quantity 150.000001 is more than the 150 one order may ask for" in refused.reject_reason
    assert submit("BUY", 150).status == Order.FILLED


def test_max_quantity_also_limits_an_order_that_closes_a_position(account, aapl, submit, settings):
    settings.MAX_ORDER_QUANTITY = 150
    hold(account, "500")
    assert submit("SELL", 151).reject_code == "max_quantity"
    assert submit("SELL", 150).status == Order.FILLED


def test_zero_turns_the_fat_finger_limits_off(account, instrument_factory, quote, submit, settings):
    instrument_factory("PENNY")
    quote("PENNY", "0.01")
    assert submit("BUY", 150000, symbol="PENNY").reject_code == "max_quantity"  # the default limit is 100,000
    settings.MAX_ORDER_QUANTITY, settings.MAX_ORDER_VALUE = 0, 0
    assert submit("BUY", 150000, symbol="PENNY").status == Order.FILLED
    checks = {c.rule: c.detail for c in preview(account, "BUY", 1, symbol="PENNY").checks}
    assert (checks["max_quantity"], checks["max_order_value"]) == ("MAX_ORDER_QUANTITY is off.", "MAX_ORDER_VALUE is off.")


# --- max_order_value -----------------------------------------------------------------------------------

def test_an_order_worth_exactly_max_order_value_passes_and_a_cent_more_is_refused(aapl, submit, settings):
    settings.MAX_ORDER_VALUE = D("15000")
    # 150 x 100.000067 = 15,000.01: valued at the limit, the higher of quote and limit.
    refused = submit("BUY", 150, order_type="LIMIT", limit_price=D("100.000067"))
    assert (refused.status, refused.reject_code) == (Order.REJECTED, "max_order_value")
    assert "worth 15000.01 at 100.000067, more than the 15000.00 one order may be worth" in refused.reject_reason
    assert submit("BUY", 150).status == Order.FILLED  # 150 x 100.00 = 15,000.00


def test_max_order_value_also_limits_an_order_that_closes_a_position(account, aapl, submit, settings):
    settings.MAX_ORDER_VALUE = D("15000")
    hold(account, "500")
    assert submit("SELL", 151).reject_code == "max_order_value"


# --- price_band ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("side", "limit", "outcome"),
    [
        ("BUY", "103", "silent"),  # exactly 3% above the quote 100.00
        ("BUY", "103.000001", "warned"),
        ("BUY", "110", "warned"),  # exactly 10%: accepted, with a warning
        ("BUY", "110.000001", "refused"),
        ("SELL", "97", "silent"),
        ("SELL", "96.999999", "warned"),
        ("SELL", "90", "warned"),
        ("SELL", "89.999999", "refused"),
        ("BUY", "50", "silent"),  # behind the market: it only rests, never banded
        ("SELL", "150", "silent"),
    ],
)
def test_a_limit_is_banded_by_how_far_it_trades_through_the_quote(aapl, submit, side, limit, outcome):
    order = submit(side, 1, order_type="LIMIT", limit_price=D(limit))
    if outcome == "refused":
        assert (order.status, order.reject_code) == (Order.REJECTED, "price_band")
        assert "more than the 10.00% band (PRICE_BAND_REFUSE_PCT)" in order.reject_reason
        return
    assert order.status in (Order.FILLED, Order.ACCEPTED), order.reject_reason
    if outcome == "silent":
        assert order.warnings == []
    else:
        [warning] = order.warnings
        where = "above" if side == "BUY" else "below"
        assert warning["rule"] == "price_band"
        assert f"The {side.lower()} limit {D(limit)} is" in warning["detail"] and f"{where} the quote 100.000000" in warning["detail"]


def test_an_accepted_order_with_a_warning_is_stored_and_audited_with_it(aapl, submit):
    order = submit("BUY", 1, order_type="LIMIT", limit_price=D("105"))

    assert order.status == Order.FILLED  # a marketable limit still fills at the quote plus slippage: 100.05
    assert order.avg_fill_price == D("100.05")
    stored = Order.objects.get(pk=order.pk)
    assert stored.warnings == [{
        "rule": "price_band",
        "detail": "The buy limit 105 is 5.00% above the quote 100.000000, more than 3.00%: "
                  "check the price before it trades that far through the market.",
    }]
    assert AuditLog.objects.get(action="order.submit", resource=f"order:{order.pk}").payload["warnings"] == stored.warnings


def test_a_stop_limit_is_banded_against_its_own_stop_price(aapl, submit):
    allowed = submit("BUY", 1, order_type="STOP_LIMIT", stop_price=D("120"), limit_price=D("132"))
    assert allowed.status == Order.ACCEPTED  # resting: the quote 100.00 has not reached the stop
    assert "10.00% above its stop price 120" in allowed.warnings[0]["detail"]
    refused = submit("BUY", 1, order_type="STOP_LIMIT", stop_price=D("120"), limit_price=D("132.000001"))
    assert refused.reject_code == "price_band"


def test_without_a_quote_the_band_uses_the_last_close(account, bars_factory, submit):
    bars_factory("IBM", [190, 200], end=dt.date(2026, 11, 23))
    refused = submit("BUY", 1, symbol="IBM", order_type="LIMIT", limit_price=D("220.000001"))
    assert refused.reject_code == "price_band" and "above the last close 200" in refused.reject_reason
    assert submit("BUY", 1, symbol="IBM", order_type="LIMIT", limit_price=D("220")).status == Order.ACCEPTED


def test_zero_band_settings_turn_the_warning_and_the_refusal_off(aapl, submit, settings):
    settings.PRICE_BAND_WARN_PCT, settings.PRICE_BAND_REFUSE_PCT = 0, 0
    order = submit("BUY", 1, order_type="LIMIT", limit_price=D("150"))
    assert (order.status, order.warnings) == (Order.FILLED, [])


def test_submit_and_preview_answer_with_the_warnings(trader_api, aapl):
    data = {"symbol": "AAPL", "direction": "BUY", "quantity": "1", "order_type": "LIMIT", "limit_price": "104"}

    preview_body = trader_api.post("/api/v1/orders/preview", data, format="json").json()
    submitted = trader_api.post("/api/v1/orders/submit", data, format="json")

    assert preview_body["allowed"] is True and preview_body["buying_power"] == "100000.00"
    assert [w["rule"] for w in preview_body["warnings"]] == ["price_band"]
    assert "4.00% above the quote" in preview_body["warnings"][0]["detail"]
    assert submitted.status_code == 201
    assert submitted.json()["warnings"] == preview_body["warnings"]
    status = trader_api.get(f"/api/v1/orders/{submitted.json()['id']}/status").json()
    assert status["warnings"] == preview_body["warnings"]


def test_a_stranger_cannot_preview_against_my_account(outsider_api, account, aapl):
    response = outsider_api.post("/api/v1/orders/preview",
                                 {"account_id": account.pk, "symbol": "AAPL", "direction": "BUY", "quantity": "1"}, format="json")
    assert response.status_code == 404


# --- buying_power ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("cash", "allowed"), [("99905.00", True), ("99904.99", False)])
def test_a_short_sale_needs_buying_power_for_its_full_value(account, aapl, submit, settings, cash, allowed):
    settings.MAX_SINGLE_ORDER_PCT = D("1")
    set_cash(account, cash)
    order = submit("SELL", 999)  # 999 x 100.00 + commission 5.00 = 99,905.00
    if allowed:
        assert order.status == Order.FILLED
    else:
        assert (order.status, order.reject_code) == (Order.REJECTED, "buying_power")
        assert "The short sale of 999 at about 100.000000 needs 99905.00" in order.reject_reason
        assert "more than the buying power 99904.99" in order.reject_reason


def test_a_filled_short_consumes_buying_power_its_proceeds_do_not_add_any(account, aapl, msft, submit, settings):
    settings.MAX_SINGLE_ORDER_PCT = D("1")
    assert submit("SELL", 200).status == Order.FILLED  # proceeds 200 x 99.95 - 1.00: cash 119,989.00
    # equity 119,989.00 - 20,000.00 = 99,989.00, less the short's 20,000.00 of exposure
    assert preview(account, "BUY", 1, symbol="MSFT").buying_power == D("79989.00")
    assert submit("BUY", 800, symbol="MSFT").reject_code == "buying_power"  # 800 x 100.05 + 4.00 = 80,044.00
    assert submit("BUY", 799, symbol="MSFT").status == Order.FILLED  # 79,943.95


def test_a_resting_short_sale_commits_buying_power_at_its_limit(account, aapl, submit):
    resting = submit("SELL", 150, order_type="LIMIT", limit_price=D("105"))
    assert resting.status == Order.ACCEPTED
    assert preview(account, "BUY", 1).buying_power == D("84250.00")  # 100,000.00 - 150 x 105.00


def test_open_buys_covering_a_short_commit_nothing_until_they_open_a_long(account, aapl, submit):
    hold(account, "-300")
    set_cash(account, "130000.00")  # equity 100,000.00; buying power 100,000.00 - 30,000.00
    assert preview(account, "BUY", 1).buying_power == D("70000.00")
    assert submit("BUY", 300, order_type="LIMIT", limit_price=D("95")).status == Order.ACCEPTED  # covers: commits 0
    assert preview(account, "BUY", 1).buying_power == D("70000.00")
    assert submit("BUY", 100, order_type="LIMIT", limit_price=D("95")).status == Order.ACCEPTED  # opens a long
    assert preview(account, "BUY", 1).buying_power == D("60500.00")


def test_closing_a_position_never_needs_buying_power(account, aapl, submit):
    hold(account, "-300")
    set_cash(account, "31000.00")  # equity 1,000.00; buying power 1,000.00 - 30,000.00 = -29,000.00
    assert preview(account, "BUY", 1).buying_power == D("-29000.00")
    assert submit("SELL", 1).reject_code == "buying_power"  # adding to the short needs buying power
    cover = submit("BUY", 300)
    assert cover.status == Order.FILLED
    assert Account.objects.get(pk=account.pk).cash == D("983.50")  # 31,000.00 - 300 x 100.05 - 1.50


def test_a_long_only_account_can_sell_with_no_cash_but_not_buy(account, aapl, submit):
    hold(account, "500")
    set_cash(account, "0.00")
    assert submit("BUY", 1).reject_code == "buying_power"
    assert submit("SELL", 200).status == Order.FILLED


# --- trading state ----------------------------------------------------------------------------------------

def test_a_halted_account_refuses_buys_and_sells_but_cancels_still_work(account, aapl, submit):
    from orders.cancellation import order_cancel
    from orders.risk import account_trading_state_set

    hold(account, "50")
    resting = submit("BUY", 1, order_type="LIMIT", limit_price=D("90"))
    assert account_trading_state_set(account=account, state=Account.HALTED) is True

    assert submit("BUY", 1).reject_code == "account_halted"
    assert submit("SELL", 50).reject_code == "account_halted"  # even a sale that only closes
    assert order_cancel(order=resting).status == Order.CANCELLED


def test_a_reducing_account_may_cover_a_short_but_not_flip_it(account, aapl, submit):
    from orders.risk import account_trading_state_set

    hold(account, "-50")
    account_trading_state_set(account=account, state=Account.REDUCING)
    assert submit("SELL", 1).reject_code == "reducing_only"
    assert submit("BUY", 51).reject_code == "reducing_only"
    assert submit("BUY", 50).status == Order.FILLED


def test_a_reducing_account_counts_open_orders_already_shrinking_the_position(account, aapl, submit):
    from orders.risk import account_trading_state_set

    hold(account, "50")
    assert submit("SELL", 30, order_type="LIMIT", limit_price=D("101")).status == Order.ACCEPTED
    account_trading_state_set(account=account, state=Account.REDUCING)
    assert submit("SELL", 21).reject_code == "reducing_only"  # 30 + 21 would sell more than the 50 held
    assert submit("SELL", 20).status == Order.FILLED


def test_the_admin_action_sets_the_trading_state_with_an_audit_row_and_a_risk_warning(
    account, aapl, submit, admin_client, django_capture_on_commit_callbacks
):
    from notifications.models import NotificationLog

    submit("BUY", 1, order_type="LIMIT", limit_price=D("90"))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/orders/account/", {"action": "set_trading_state_halted", "_selected_action": [account.pk]}
        )
    assert response.status_code == 302
    assert Account.objects.get(pk=account.pk).trading_state == Account.HALTED
    row = AuditLog.objects.get(action="account.trading_state")
    assert (row.user.username, row.resource) == ("admin", f"account:{account.pk}")
    assert row.payload == {"account_id": account.pk, "from": "ACTIVE", "to": "HALTED", "open_orders": 1}
    titles = set(NotificationLog.objects.filter(account=account, event_type="risk_warning").values_list("title", flat=True))
    assert titles == {f"Account {account.code} is now HALTED"}

    admin_client.post("/admin/orders/account/", {"action": "set_trading_state_halted", "_selected_action": [account.pk]})
    assert AuditLog.objects.filter(action="account.trading_state").count() == 1  # already HALTED: nothing written


def test_an_unknown_trading_state_is_refused_and_nothing_is_written(account, row_counts):
    from orders.risk import account_trading_state_set

    before = row_counts()
    with pytest.raises(ValidationError) as error:
        account_trading_state_set(account=account, state="PAUSED")
    assert "trading_state" in error.value.detail
    assert row_counts() == before and Account.objects.get(pk=account.pk).trading_state == Account.ACTIVE


# --- what a refusal writes ----------------------------------------------------------------------------------

def _halt(account, settings) -> dict:
    Account.objects.filter(pk=account.pk).update(trading_state=Account.HALTED)
    return {}


def _reduce(account, settings) -> dict:
    Account.objects.filter(pk=account.pk).update(trading_state=Account.REDUCING)
    return {}


def _small_max_quantity(account, settings) -> dict:
    settings.MAX_ORDER_QUANTITY = 10
    return {}


def _small_max_value(account, settings) -> dict:
    settings.MAX_ORDER_VALUE = 1000
    return {}


def _far_limit(account, settings) -> dict:
    return {"order_type": "LIMIT", "limit_price": D("111")}


def _no_cash(account, settings) -> dict:
    hold(account, "500")
    set_cash(account, "1000.00")  # equity 51,000.00 (max_order_pct allows 10,200.00), buying power 1,000.00
    return {}


@pytest.mark.parametrize(
    ("arrange", "code"),
    [
        (_halt, "account_halted"),
        (_reduce, "reducing_only"),
        (_small_max_quantity, "max_quantity"),
        (_small_max_value, "max_order_value"),
        (_far_limit, "price_band"),
        (_no_cash, "buying_power"),
    ],
)
def test_a_refused_order_writes_only_its_rejected_row_and_one_audit_row(
    account, aapl, submit, settings, row_counts, account_state, arrange, code
):
    extra = arrange(account, settings)
    before, money = row_counts(), account_state(account)

    order = submit("BUY", 11, **extra)

    after = row_counts()
    assert (order.status, order.reject_code) == (Order.REJECTED, code)
    assert {k: after[k] - before[k] for k in after} == {
        "AuditLog": 1, "Order": 1, "Fill": 0, "Position": 0, "TradingPlan": 0, "ApprovalRequest": 0,
        "LiveEvent": 0, "NotificationLog": 0,
    }
    assert account_state(account) == money
    audit = AuditLog.objects.get(resource=f"order:{order.pk}")
    assert (audit.action, audit.payload["reject_code"]) == ("order.reject", code)


# --- regressions found by tests/hardening/test_ledger_invariants.py ---------------------------------------

def test_the_breaker_reference_is_exact_to_the_cent_when_todays_cash_flows_cancel(account, aapl, session_time):
    """SQLite sums DECIMAL columns as floats: SUM(-10005.55, 9978.38) is -27.1700000000001 there."""
    from django.utils import timezone

    from orders.models import Fill
    from orders.selectors import previous_close_equity

    now = timezone.now()
    for side, price, cash_flow in (("BUY", "100.0545", "-10005.55"), ("SELL", "99.7938", "9978.38")):
        order = Order.objects.create(account=account, client_order_id=f"day-{side}", symbol="AAPL", side=side,
                                     quantity=D("100"), filled_quantity=D("100"), status=Order.FILLED)
        Fill.objects.create(order=order, account=account, symbol="AAPL", side=side, quantity=D("100"), price=D(price),
                            cash_flow=D(cash_flow), executed_at=now)
    set_cash(account, "99972.83")  # 100,000.00 at the previous close, -27.17 today

    assert previous_close_equity(account) == D("100000.00")
    assert preview(account, "BUY", 1).previous_close_equity == D("100000.00")
