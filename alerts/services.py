"""AlertService (spec 4.4): create/update/delete alerts, evaluate prices, fire exactly once.

An alert fires when ``alert_trigger`` claims it ACTIVE -> TRIGGERED with one conditional
UPDATE (two workers evaluating the same tick: one wins, the other updates nothing). The
claim and its ``AlertHistory`` row commit together; the action (the order path, an approval
request) and the notification run after that, outside the transaction, and their outcome is
written back to the history row's ``action_taken``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError as DrfValidationError

from alerts.engine import AlertEngine, Firing
from alerts.models import AlertHistory, PriceAlert
from alerts.selectors import active_alerts, alert_rule, daily_states_get, latest_quotes, not_expired
from alphaloop import bus
from alphaloop.audit import audit_log_create
from alphaloop.events import AlertFired, NotificationSent, PriceTicks
from alphaloop.exceptions import ApplicationError
from alphaloop.money import PRICE_PLACES
from marketdata.calendar import market_date
from marketdata.models import Instrument
from orders.models import Order, TradingPlan

logger = logging.getLogger(__name__)

EXECUTABLE_PLAN_STATUSES = (TradingPlan.PENDING, TradingPlan.ACTIVE)
PLAN_ACTIONS = (PriceAlert.AUTO_EXECUTE, PriceAlert.REQUEST_APPROVAL)
# Which status a PATCH may move an alert to, from each status.
TRANSITIONS = {
    PriceAlert.ACTIVE: {PriceAlert.ACTIVE, PriceAlert.PAUSED},
    PriceAlert.PAUSED: {PriceAlert.PAUSED, PriceAlert.ACTIVE},
    PriceAlert.TRIGGERED: {PriceAlert.TRIGGERED, PriceAlert.ACTIVE},
    PriceAlert.EXPIRED: {PriceAlert.EXPIRED, PriceAlert.ACTIVE},
}


# --- create / update / delete -------------------------------------------------


def alert_fields_validate(
    *, account, symbol: str, condition_type: str, threshold: Decimal | None, direction: str, action: str,
    linked_plan: TradingPlan | None, expires_at: datetime | None, armed: bool, now: datetime,
    check_expiry: bool = True, symbol_known: bool = True,
) -> dict[str, Any]:
    """The alert's fields, normalized; ValidationError naming every field at fault (API names)."""
    errors: dict[str, str] = {}
    if not symbol_known:
        errors["symbol"] = f"Unknown symbol {symbol!r}."
    if condition_type not in dict(PriceAlert.CONDITIONS):
        errors["condition_type"] = f"Unknown condition; use one of {', '.join(dict(PriceAlert.CONDITIONS))}."
    if condition_type == PriceAlert.MACD_CROSS:
        if threshold not in (None, 0):
            errors["threshold"] = "macd_cross compares the MACD line with its signal line: leave threshold out or 0."
        threshold = Decimal("0")
    elif threshold is None:
        errors["threshold"] = "This field is required."
    elif not threshold.is_finite():
        errors["threshold"] = "Must be a finite number."
    elif condition_type in (PriceAlert.PRICE_ABOVE, PriceAlert.PRICE_BELOW) and threshold <= 0:
        errors["threshold"] = "A price threshold must be greater than 0."
    elif condition_type == PriceAlert.PCT_CHANGE and threshold <= 0:
        errors["threshold"] = "pct_change is a move in percent (5 = 5%) and must be greater than 0."
    elif condition_type == PriceAlert.PCT_CHANGE and direction == PriceAlert.DOWN and threshold >= 100:
        errors["threshold"] = "A price cannot fall 100% or more."
    elif condition_type == PriceAlert.RSI_CROSS and not Decimal("0") < threshold < Decimal("100"):
        errors["threshold"] = "RSI lies between 0 and 100: pick a level strictly inside."
    if condition_type in (PriceAlert.RSI_CROSS, PriceAlert.MACD_CROSS, PriceAlert.PCT_CHANGE):
        if direction not in ("", PriceAlert.UP, PriceAlert.DOWN):
            way = "a move" if condition_type == PriceAlert.PCT_CHANGE else "a cross"
            errors["direction"] = f"Use up, down, or leave it empty for {way} either way."
    else:
        direction = ""  # a price level has no direction
    if action not in dict(PriceAlert.ACTIONS):
        errors["action"] = f"Unknown action; use one of {', '.join(dict(PriceAlert.ACTIONS))}."
    if linked_plan is not None and linked_plan.account_id != account.pk:
        errors["linked_plan_id"] = "No such plan."
    elif action in PLAN_ACTIONS and linked_plan is None:
        errors["linked_plan_id"] = f"action {action} needs a linked plan to execute."
    elif action in PLAN_ACTIONS and armed and linked_plan.status not in EXECUTABLE_PLAN_STATUSES:
        errors["linked_plan_id"] = f"Plan #{linked_plan.pk} is {linked_plan.status} and can no longer be executed."
    if check_expiry and expires_at is not None and expires_at <= now:
        errors["expires_at"] = "Must be in the future."
    if errors:
        raise ValidationError(errors)
    return {
        "condition_type": condition_type,
        "threshold": threshold.quantize(PRICE_PLACES),
        "direction": direction,
        "action": action,
        "linked_plan": linked_plan,
        "expires_at": expires_at,
    }


def _audit_payload(alert: PriceAlert) -> dict[str, Any]:
    return {
        "account_id": alert.account_id, "symbol": alert.symbol, "condition_type": alert.condition_type,
        "threshold": alert.threshold, "direction": alert.direction, "action": alert.action,
        "linked_plan_id": alert.linked_plan_id, "alert_status": alert.alert_status, "expires_at": alert.expires_at,
    }


@transaction.atomic
def alert_create(
    *, account, symbol: str, condition_type: str, threshold: Decimal | None, direction: str = "",
    action: str = PriceAlert.NOTIFY, linked_plan: TradingPlan | None = None, expires_at: datetime | None = None,
    note: str = "", user=None, ip_address: str | None = None,
) -> PriceAlert:
    now = timezone.now()
    symbol = (symbol or "").strip().upper()
    fields = alert_fields_validate(
        account=account, symbol=symbol, condition_type=condition_type, threshold=threshold,
        direction=direction or "", action=action, linked_plan=linked_plan, expires_at=expires_at, armed=True, now=now,
        symbol_known=Instrument.objects.filter(symbol=symbol).exists(),
    )
    alert = PriceAlert.objects.create(account=account, symbol=symbol, note=note, **fields)
    audit_log_create(action="alert.create", resource=f"alert:{alert.pk}", user=user, payload=_audit_payload(alert),
                     ip_address=ip_address)
    return alert


@transaction.atomic
def alert_update(*, alert: PriceAlert, user=None, ip_address: str | None = None, **changes: Any) -> PriceAlert:
    """Change threshold, direction, action, linked_plan, alert_status, expires_at or note.

    Status moves: ACTIVE <-> PAUSED, and TRIGGERED/EXPIRED -> ACTIVE re-arms the alert. The row
    is locked first, so a PATCH racing the engine sees the status the engine left.
    """
    unknown = set(changes) - {"threshold", "direction", "action", "linked_plan", "alert_status", "expires_at", "note"}
    if unknown:
        raise ValueError(f"alert_update cannot change {sorted(unknown)}")
    locked = PriceAlert.objects.select_for_update().get(pk=alert.pk)
    now = timezone.now()
    status = changes.get("alert_status", locked.alert_status)
    if status not in TRANSITIONS.get(locked.alert_status, set()):
        raise ValidationError({"alert_status": f"An alert that is {locked.alert_status} cannot become {status}."})
    rearm = status == PriceAlert.ACTIVE and locked.alert_status in (PriceAlert.TRIGGERED, PriceAlert.EXPIRED)
    fields = alert_fields_validate(
        account=locked.account,
        symbol=locked.symbol,
        condition_type=locked.condition_type,
        threshold=changes.get("threshold", locked.threshold),
        direction=changes.get("direction", locked.direction) or "",
        action=changes.get("action", locked.action),
        linked_plan=changes.get("linked_plan", locked.linked_plan),
        expires_at=changes.get("expires_at", locked.expires_at),
        armed=status in (PriceAlert.ACTIVE, PriceAlert.PAUSED),
        now=now,
        check_expiry="expires_at" in changes or rearm,
    )
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.note = changes.get("note", locked.note)
    locked.alert_status = status
    if rearm:
        locked.triggered_at = None
    locked.save()
    audit_log_create(action="alert.update", resource=f"alert:{locked.pk}", user=user,
                     payload={"changes": {k: getattr(v, "pk", v) for k, v in changes.items()}, "result": _audit_payload(locked)},
                     ip_address=ip_address)
    return locked


@transaction.atomic
def alert_delete(*, alert: PriceAlert, user=None, ip_address: str | None = None) -> None:
    payload = _audit_payload(alert)
    resource = f"alert:{alert.pk}"
    alert.delete()
    audit_log_create(action="alert.delete", resource=resource, user=user, payload=payload, ip_address=ip_address)


# --- evaluation -------------------------------------------------------------------


def alerts_on_ticks(event: PriceTicks) -> None:
    """``PriceTicks`` subscriber ``alerts.engine`` (background): evaluate the batch's symbols' active alerts."""
    alerts_evaluate(quotes={tick.symbol: (tick.price, tick.timestamp) for tick in event.ticks})


def alerts_evaluate(*, quotes: Mapping[str, tuple[Decimal, datetime]], now: datetime | None = None) -> list[AlertHistory]:
    """Evaluate every active alert on the quoted symbols (symbol -> (price, time)); fire the hits.

    One engine pass per market date (normally one): the book holds all the alerts at once.
    """
    now = now or timezone.now()
    alerts = {alert.pk: alert for alert in active_alerts(now=now, symbols=quotes)}
    if not alerts:
        return []
    by_date: dict = defaultdict(list)
    for alert in alerts.values():
        by_date[market_date(quotes[alert.symbol][1])].append(alert)
    fired: list[AlertHistory] = []
    for day, group in by_date.items():
        engine = AlertEngine(alert_rule(alert) for alert in group)
        states = daily_states_get(symbols=engine.symbols, before=day, indicator_symbols=engine.needs_indicators())
        for firing in engine.fired({s: float(quotes[s][0]) for s in engine.symbols}, states):
            alert = alerts[firing.alert_id]
            price, at = quotes[alert.symbol]
            try:
                history = alert_trigger(alert=alert, price=price, at=at, firing=firing)
            except Exception:  # one alert's failure must not keep the others from firing
                logger.exception("alert %s: firing failed", alert.pk)
                continue
            if history is not None:
                fired.append(history)
    return fired


def alert_trigger(*, alert: PriceAlert, price: Decimal, at: datetime, firing: Firing | None = None) -> AlertHistory | None:
    """Fire ``alert`` at ``price``: claim it, record it, act, notify. None when someone else claimed it."""
    now = timezone.now()
    price = Decimal(price).quantize(PRICE_PLACES)
    with transaction.atomic():
        claimed = PriceAlert.objects.filter(not_expired(now), pk=alert.pk, alert_status=PriceAlert.ACTIVE).update(
            alert_status=PriceAlert.TRIGGERED, triggered_at=at, updated_at=now
        )
        if claimed != 1:
            return None
        alert.alert_status, alert.triggered_at = PriceAlert.TRIGGERED, at
        evidence = firing.evidence if firing is not None else {"price": float(price)}
        crossed = firing.crossed if firing is not None else None
        history = AlertHistory.objects.create(
            alert=alert, account_id=alert.account_id, symbol=alert.symbol, trigger_price=price, trigger_time=at,
            detail={"condition": alert.describe_firing(crossed), "crossed": crossed, "evidence": evidence},
        )
        audit_log_create(action="alert.trigger", resource=f"alert:{alert.pk}",
                         payload={"price": price, "at": at, "history_id": history.pk, "crossed": crossed,
                                  "evidence": evidence})
    action_taken, outcome = _alert_act(alert=alert, price=price)
    AlertHistory.objects.filter(pk=history.pk).update(action_taken=action_taken[:64])
    history.action_taken = action_taken[:64]
    _alert_fired_publish(alert=alert, history=history, price=price, at=at, action_taken=action_taken,
                         outcome=outcome, crossed=crossed)
    return history


def _alert_act(*, alert: PriceAlert, price: Decimal) -> tuple[str, str]:
    """Run the alert's action; ``(action_taken, sentence for the notification)``. Never raises."""
    if alert.action == PriceAlert.NOTIFY:
        return "notified", ""
    plan = alert.linked_plan
    if plan is None:
        logger.error("alert %s: action %s but its plan is gone", alert.pk, alert.action)
        return "plan_missing", "Its plan no longer exists; nothing was executed."
    if alert.action == PriceAlert.AUTO_EXECUTE:
        return _plan_execute(alert=alert, plan=plan)
    return _approval_request(alert=alert, plan=plan, price=price)


def _plan_execute(*, alert: PriceAlert, plan: TradingPlan) -> tuple[str, str]:
    from orders.plans import plan_execute

    try:
        order = plan_execute(plan=plan, source="ALERT")
    except ApplicationError as exc:
        logger.info("alert %s: plan %s refused: %s (%s)", alert.pk, plan.pk, exc.message, exc.code)
        return f"order_rejected:{exc.code}", f"Plan #{plan.pk} was refused: {exc.message}"
    except DrfValidationError as exc:
        logger.info("alert %s: plan %s makes an invalid order: %s", alert.pk, plan.pk, exc.detail)
        return "order_rejected:invalid_order", f"Plan #{plan.pk} makes an invalid order: {exc.detail}"
    except Exception as exc:
        logger.exception("alert %s: executing plan %s failed", alert.pk, plan.pk)
        return f"order_failed:{type(exc).__name__}", f"Executing plan #{plan.pk} failed: {exc}"
    if order.status == Order.REJECTED:
        return f"order_rejected:{order.reject_code}", f"Order #{order.pk} was refused: {order.reject_code} {order.reject_reason}".strip()
    return f"order_submitted:{order.pk}", f"Order #{order.pk} submitted ({order.status.lower()})."


def _approval_request(*, alert: PriceAlert, plan: TradingPlan, price: Decimal) -> tuple[str, str]:
    from orders.approvals import approval_request_create

    reason = f"Alert #{alert.pk}: {alert.describe()} (price {price.normalize():f})"
    try:
        approval = approval_request_create(plan=plan, source=f"alert:{alert.pk}", reason=reason[:255])
    except ApplicationError as exc:
        logger.info("alert %s: approval for plan %s refused: %s", alert.pk, plan.pk, exc.message)
        return f"approval_refused:{exc.code}", f"No approval could be requested: {exc.message}"
    except Exception as exc:
        logger.exception("alert %s: requesting approval for plan %s failed", alert.pk, plan.pk)
        return f"approval_failed:{type(exc).__name__}", f"Requesting approval failed: {exc}"
    # approval_request_create sends the approval_requested notification itself (once per request).
    token = approval.token
    return (f"approval_requested:{approval.pk}",
            f"Approval {token} requested for plan #{plan.pk}: reply /approve {token} or /reject {token}.")


def _alert_fired_publish(*, alert: PriceAlert, history: AlertHistory, price: Decimal, at: datetime, action_taken: str,
                         outcome: str, crossed: str | None = None) -> None:
    """``AlertFired``: the trader hears of it as a ``price_alert``; ``alert_notification_record`` marks the history."""
    bus.publish(AlertFired(
        account_id=alert.account_id, alert_id=alert.pk, history_id=history.pk, ts_event=at,
        headline=f"Alert: {alert.describe_firing(crossed)}"[:128],
        detail=" ".join(part for part in (f"{alert.symbol} at {price.normalize():f}.", alert.note, outcome) if part),
        facts={"symbol": alert.symbol, "price": str(price), "trigger_time": at.isoformat(),
               "condition_type": alert.condition_type, "threshold": str(alert.threshold), "direction": alert.direction,
               "crossed": crossed, "action": alert.action, "action_taken": action_taken},
    ))


def alert_notification_record(event: NotificationSent) -> None:
    """``NotificationSent`` subscriber ``alerts.history``: whether the alert's notification went out."""
    if event.notification_type == AlertFired.notification_type:
        AlertHistory.objects.filter(pk=event.data["history_id"]).update(notification_sent=event.delivered)


# --- the backstop job -----------------------------------------------------------


def alerts_expire(*, now: datetime | None = None) -> int:
    """ACTIVE or PAUSED alerts past ``expires_at`` become EXPIRED (each claimed, each audited)."""
    now = now or timezone.now()
    live = (PriceAlert.ACTIVE, PriceAlert.PAUSED)
    expired = 0
    for pk in PriceAlert.objects.filter(alert_status__in=live, expires_at__lte=now).values_list("pk", flat=True):
        with transaction.atomic():
            if PriceAlert.objects.filter(pk=pk, alert_status__in=live, expires_at__lte=now).update(
                alert_status=PriceAlert.EXPIRED, updated_at=now
            ):
                audit_log_create(action="alert.expire", resource=f"alert:{pk}", payload={"at": now})
                expired += 1
    return expired


def alerts_check(*, now: datetime | None = None) -> dict[str, int]:
    """``alert_check_job``: expire, then evaluate every active alert against the latest quotes.

    The backstop behind the tick listener (a missed tick, an alert created after the last
    tick). Idempotent: a fired alert is TRIGGERED and is not evaluated again.
    """
    now = now or timezone.now()
    expired = alerts_expire(now=now)
    symbols = set(active_alerts(now=now).values_list("symbol", flat=True))
    quotes = latest_quotes(symbols)
    fired = alerts_evaluate(quotes=quotes, now=now) if quotes else []
    return {"expired": expired, "evaluated_symbols": len(quotes), "fired": len(fired)}
