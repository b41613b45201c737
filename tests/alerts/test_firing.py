"""Ticks and the backstop job fire alerts exactly once, record them, act and notify."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest
import talib

from alerts.models import AlertHistory, PriceAlert
from alerts.services import alert_create, alert_trigger, alert_update, alerts_check
from alphaloop.models import AuditLog
from notifications.models import LiveEvent, NotificationLog
from orders.models import ApprovalRequest, Order, TradingPlan
from tests.delivery import committed

from .conftest import MONDAY_1030_ET

FRIDAY = date(2026, 11, 20)


def make_alert(account, condition="price_above", threshold="190.10", **kwargs) -> PriceAlert:
    threshold = None if threshold is None else Decimal(threshold)
    return alert_create(account=account, symbol=kwargs.pop("symbol", "AAPL"), condition_type=condition,
                        threshold=threshold, **kwargs)


@pytest.mark.django_db
def test_a_tick_at_the_threshold_fires_once_with_history_notifications_and_a_live_event(account, aapl, tick):
    alert = make_alert(account)

    tick("AAPL", "190.10")

    alert.refresh_from_db()
    assert alert.alert_status == PriceAlert.TRIGGERED and alert.triggered_at == MONDAY_1030_ET
    history = AlertHistory.objects.get()
    assert (history.alert_id, history.trigger_price, history.trigger_time) == (alert.pk, Decimal("190.100000"), MONDAY_1030_ET)
    assert history.notification_sent is True and history.action_taken == "notified"
    assert history.detail["evidence"]["price"] == 190.1
    logs = NotificationLog.objects.order_by("channel")
    assert [(n.channel, n.event_type, n.status) for n in logs] == [
        ("desktop", "price_alert", "SENT"), ("websocket", "price_alert", "SENT"),
    ]
    event = LiveEvent.objects.get(channel="price_alert")
    assert event.user_id == account.user_id and event.event == "price_alert"
    assert event.data["alert_id"] == alert.pk and event.data["price"] == "190.100000"
    assert AuditLog.objects.filter(action="alert.trigger", resource=f"alert:{alert.pk}").count() == 1

    tick("AAPL", "191.00")
    assert AlertHistory.objects.count() == 1


@pytest.mark.django_db
def test_a_tick_a_cent_short_fires_nothing(account, aapl, tick):
    make_alert(account, "price_above", "190.10")
    make_alert(account, "price_below", "150.00")

    tick("AAPL", "190.09")
    tick("AAPL", "150.01")

    assert not AlertHistory.objects.exists()
    assert not NotificationLog.objects.exists()
    assert set(PriceAlert.objects.values_list("alert_status", flat=True)) == {PriceAlert.ACTIVE}


@pytest.mark.django_db
def test_a_paused_alert_never_fires(account, aapl, tick):
    alert = make_alert(account)
    alert_update(alert=alert, alert_status=PriceAlert.PAUSED)

    tick("AAPL", "200")
    alerts_check()

    alert.refresh_from_db()
    assert alert.alert_status == PriceAlert.PAUSED and not AlertHistory.objects.exists()


@pytest.mark.django_db
def test_an_alert_past_its_expiry_does_not_fire_and_the_job_expires_it(account, aapl, tick, time_machine):
    time_machine.move_to(MONDAY_1030_ET - timedelta(hours=2))
    alert = make_alert(account, expires_at=MONDAY_1030_ET - timedelta(hours=1))
    paused = make_alert(account, expires_at=MONDAY_1030_ET - timedelta(hours=1))
    alert_update(alert=paused, alert_status=PriceAlert.PAUSED)
    time_machine.move_to(MONDAY_1030_ET)

    tick("AAPL", "200")
    assert not AlertHistory.objects.exists()

    assert alerts_check()["expired"] == 2
    assert set(PriceAlert.objects.values_list("alert_status", flat=True)) == {PriceAlert.EXPIRED}
    assert AuditLog.objects.filter(action="alert.expire").count() == 2
    assert alerts_check()["expired"] == 0


@pytest.mark.django_db
def test_pct_change_is_measured_from_the_previous_sessions_close(account, bars_factory, tick):
    bars_factory("AAPL", [150, 160, 200], end=FRIDAY)
    up = make_alert(account, "pct_change", "5", direction="up")
    down = make_alert(account, "pct_change", "5", direction="down")

    tick("AAPL", "209.99")  # +4.995 % on Friday's 200
    assert not AlertHistory.objects.exists()
    tick("AAPL", "210.00")  # +5 % exactly

    assert list(AlertHistory.objects.values_list("alert_id", flat=True)) == [up.pk]
    down.refresh_from_db()
    assert down.alert_status == PriceAlert.ACTIVE
    assert AlertHistory.objects.get().detail["evidence"]["previous_close"] == 200.0


def wavy_closes(n: int = 120, seed: int = 3) -> list[float]:
    rng = np.random.default_rng(seed)
    return [round(float(x), 2) for x in 100 * np.exp(np.cumsum(rng.normal(0, 0.015, n)))]


@pytest.mark.django_db
def test_rsi_cross_fires_when_the_live_price_carries_rsi_through_the_level(account, bars_factory, tick):
    closes = wavy_closes()
    bars_factory("AAPL", closes, end=FRIDAY)
    live = round(closes[-1] * 1.06, 2)
    series = np.array(closes + [live])
    rsi_prev, rsi_now = talib.RSI(series, timeperiod=14)[-2:]
    assert rsi_prev < rsi_now
    level_crossed = Decimal(str(math.floor(rsi_now * 100) / 100))
    level_not_reached = Decimal(str(math.ceil(rsi_now * 100) / 100))
    assert rsi_prev < float(level_crossed) <= rsi_now < float(level_not_reached)
    fired = make_alert(account, "rsi_cross", str(level_crossed), direction="up")
    missed = make_alert(account, "rsi_cross", str(level_not_reached), direction="up")
    wrong_way = make_alert(account, "rsi_cross", str(level_crossed), direction="down")

    tick("AAPL", str(live))

    assert list(AlertHistory.objects.values_list("alert_id", flat=True)) == [fired.pk]
    evidence = AlertHistory.objects.get().detail["evidence"]
    assert evidence["rsi_prev"] == pytest.approx(rsi_prev, abs=1e-9)
    assert evidence["rsi_now"] == pytest.approx(rsi_now, abs=1e-9)
    assert {a.alert_status for a in PriceAlert.objects.filter(pk__in=[missed.pk, wrong_way.pk])} == {PriceAlert.ACTIVE}


@pytest.mark.django_db
def test_macd_cross_fires_in_its_direction_only(account, bars_factory, tick):
    # An accelerating fall keeps MACD clearly under its signal (a straight-line fall would put
    # them level, the sign of the difference then being rounding noise).
    closes = [round(150 - 0.4 * i - 0.004 * i * i, 2) for i in range(80)]
    bars_factory("AAPL", closes, end=FRIDAY)
    live = round(closes[-1] * 1.12, 2)
    line, signal, _ = talib.MACD(np.array(closes + [live]), 12, 26, 9)
    assert line[-2] - signal[-2] < 0 < line[-1] - signal[-1]
    up = make_alert(account, "macd_cross", None, direction="up")
    down = make_alert(account, "macd_cross", None, direction="down")

    tick("AAPL", str(live))

    assert list(AlertHistory.objects.values_list("alert_id", flat=True)) == [up.pk]
    down.refresh_from_db()
    assert down.alert_status == PriceAlert.ACTIVE


@pytest.mark.django_db
@pytest.mark.parametrize(("last_step", "live_move", "crossed"), [(-1.0, 2.0, "up"), (1.0, -2.0, "down")])
def test_an_rsi_cross_without_a_direction_fires_either_way_and_the_history_says_which(
    api, account, bars_factory, tick, last_step, live_move, crossed
):
    closes = [100.0]
    for i in range(60):  # a zigzag: RSI-14 hovers around 50, on the side of the last step
        closes.append(closes[-1] + (1.0 if i % 2 == 0 else -1.0))
    if last_step > 0:
        closes.append(closes[-1] + 1.0)
    bars_factory("AAPL", closes, end=FRIDAY)
    live = closes[-1] + live_move
    rsi_prev, rsi_now = talib.RSI(np.array(closes + [live]), timeperiod=14)[-2:]
    assert (rsi_prev < 50 <= rsi_now) if crossed == "up" else (rsi_prev > 50 >= rsi_now)
    alert = make_alert(account, "rsi_cross", "50")

    tick("AAPL", str(live))

    history = AlertHistory.objects.get(alert=alert)
    assert history.detail["crossed"] == crossed
    assert history.detail["condition"] == f"AAPL RSI-14 crossed {crossed} through 50"
    listed = api.get("/api/v1/alerts/history").json()["results"]
    assert [(h["alert_id"], h["crossed"]) for h in listed] == [(alert.pk, crossed)]
    title = NotificationLog.objects.filter(event_type="price_alert").values_list("title", flat=True).first()
    assert title == f"Alert: AAPL RSI-14 crossed {crossed} through 50"


@pytest.mark.django_db
def test_the_backstop_job_fires_an_alert_created_after_the_last_tick_and_is_idempotent(account, aapl, tick):
    tick("AAPL", "200")
    alert = make_alert(account, "price_above", "195")

    with committed():
        assert alerts_check() == {"expired": 0, "evaluated_symbols": 1, "fired": 1}
        assert alerts_check() == {"expired": 0, "evaluated_symbols": 0, "fired": 0}

    assert AlertHistory.objects.filter(alert=alert).count() == 1
    assert NotificationLog.objects.filter(event_type="price_alert").count() == 2


@pytest.mark.django_db
def test_a_second_trigger_of_a_triggered_alert_writes_nothing(account, aapl):
    alert = make_alert(account)
    with committed():
        assert alert_trigger(alert=alert, price=Decimal("191"), at=MONDAY_1030_ET) is not None

    again = PriceAlert.objects.get(pk=alert.pk)
    again.alert_status = PriceAlert.ACTIVE  # a stale copy, as a second worker would hold
    assert alert_trigger(alert=again, price=Decimal("192"), at=MONDAY_1030_ET) is None

    assert AlertHistory.objects.count() == 1
    assert NotificationLog.objects.count() == 2


@pytest.mark.django_db
def test_re_arming_a_triggered_alert_lets_it_fire_again(account, aapl, tick):
    alert = make_alert(account)
    tick("AAPL", "191")
    with pytest.raises(Exception, match="cannot become PAUSED"):
        alert_update(alert=alert, alert_status=PriceAlert.PAUSED)

    alert = alert_update(alert=alert, alert_status=PriceAlert.ACTIVE, threshold=Decimal("195"))
    assert alert.triggered_at is None
    tick("AAPL", "194.99")
    tick("AAPL", "195")

    assert list(AlertHistory.objects.values_list("trigger_price", flat=True).order_by("id")) == [
        Decimal("191.000000"), Decimal("195.000000"),
    ]


@pytest.mark.django_db
def test_auto_execute_submits_the_linked_plan_through_the_order_path(account, aapl, tick, plan_factory, settings):
    settings.TRADING_HOURS_ONLY = False
    plan = plan_factory(account, quantity="10")
    alert = make_alert(account, action="auto_execute", linked_plan=plan)

    tick("AAPL", "190.20")

    order = Order.objects.get()
    assert (order.source, order.plan_id, order.side, order.quantity) == ("ALERT", plan.pk, "BUY", Decimal("10"))
    assert order.status != Order.REJECTED
    history = AlertHistory.objects.get(alert=alert)
    assert history.action_taken == f"order_submitted:{order.pk}"
    plan.refresh_from_db()
    assert plan.status == TradingPlan.EXECUTED
    notification = NotificationLog.objects.get(event_type="price_alert", channel="websocket")
    assert f"Order #{order.pk} submitted" in notification.body


@pytest.mark.django_db
def test_a_guard_refusal_is_recorded_with_its_reason_code(account, aapl, tick, plan_factory, settings):
    settings.TRADING_HOURS_ONLY = False
    plan = plan_factory(account, quantity="500")  # 500 x 190 = 95,000 of a 100,000 account: over 20 %
    alert = make_alert(account, action="auto_execute", linked_plan=plan)

    tick("AAPL", "190.20")

    order = Order.objects.get()
    assert order.status == Order.REJECTED and order.reject_code == "max_order_pct"
    history = AlertHistory.objects.get(alert=alert)
    assert history.action_taken == "order_rejected:max_order_pct"
    body = NotificationLog.objects.get(event_type="price_alert", channel="websocket").body
    assert "refused: max_order_pct" in body


@pytest.mark.django_db
def test_an_unexpected_failure_of_the_order_path_is_recorded_not_raised(account, aapl, tick, plan_factory, monkeypatch):
    import orders.plans

    def broken(**kwargs):
        raise RuntimeError("broker adapter exploded")

    monkeypatch.setattr(orders.plans, "plan_execute", broken)
    alert = make_alert(account, action="auto_execute", linked_plan=plan_factory(account))

    tick("AAPL", "191")

    history = AlertHistory.objects.get(alert=alert)
    assert history.action_taken == "order_failed:RuntimeError" and history.notification_sent is True
    alert.refresh_from_db()
    assert alert.alert_status == PriceAlert.TRIGGERED


@pytest.mark.django_db
def test_request_approval_asks_the_user_once_with_a_token_to_reply_with(account, aapl, tick, plan_factory):
    plan = plan_factory(account)
    alert = make_alert(account, action="request_approval", linked_plan=plan)

    tick("AAPL", "191")

    approval = ApprovalRequest.objects.get()
    assert (approval.plan_id, approval.source, approval.status) == (plan.pk, f"alert:{alert.pk}", "PENDING")
    assert AlertHistory.objects.get().action_taken == f"approval_requested:{approval.pk}"
    asked = NotificationLog.objects.get(event_type="approval_requested", channel="websocket")
    assert f"/approve {approval.token}" in asked.body and f"/reject {approval.token}" in asked.body
    fired = NotificationLog.objects.get(event_type="price_alert", channel="websocket")
    assert f"reply /approve {approval.token} or /reject {approval.token}" in fired.body
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_a_failing_notification_does_not_undo_the_trigger(account, aapl, tick, monkeypatch):
    import notifications.subscribers

    def broken(**kwargs):
        raise RuntimeError("preferences table is gone")

    monkeypatch.setattr(notifications.subscribers, "notify", broken)
    alert = make_alert(account)

    tick("AAPL", "191")

    alert.refresh_from_db()
    history = AlertHistory.objects.get()
    assert alert.alert_status == PriceAlert.TRIGGERED
    assert history.notification_sent is False and history.action_taken == "notified"
