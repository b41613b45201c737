"""The order path and everything that writes in the orders domain.

``order_submit`` is the ONE way an order reaches a broker (REST API, alert auto-execute, plan
execution, approvals, strategies): validate -> OrderSafetyGuard (daily-loss breaker included)
under the account row lock -> the order row is committed with its client_order_id -> broker.

Do not call ``order_submit`` inside your own ``transaction.atomic``: the broker call (network for
a real venue) must not run inside a transaction, and the account lock would be held until your
transaction ends.
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import ValidationError

from alphaloop.audit import audit_log_create
from alphaloop.exceptions import ApplicationError, ServiceUnavailable
from marketdata import calendar
from marketdata.models import Instrument
from orders import publish
from orders.brokers import BrokerAck, BrokerUnavailable, broker_for
from orders.fills import fill_apply, fill_record  # noqa: F401  (fill_record: the API real adapters call)
from orders.guard import GuardDecision, OrderRequest, OrderSafetyGuard, open_quantity_on_side
from orders.models import Account, ApprovalRequest, Order, Position, TradingPlan
from orders.selectors import (  # noqa: F401  (re-exported: other apps import these from orders.services)
    account_equity,
    account_positions_valued,
    daily_pnl_pct,
    plan_execution_rate,
    portfolio_exposure,
    previous_close_equity,
    price_marks,
)

PLACES = Decimal("0.000001")
MAX_NUMBER = Decimal("100000000000000")  # 20 digits with 6 decimal places
CLIENT_ORDER_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")
SOURCES = {code for code, _ in Order.SOURCES}
ORDER_TYPES = {code for code, _ in Order.TYPES}
TIFS = {code for code, _ in Order.TIFS}
REJECT_BROKER = "broker_rejected"


# --- validation -------------------------------------------------------------------------------

def _number(value: Any, name: str, errors: dict[str, list[str]], *, required: bool) -> Decimal | None:
    if value is None or value == "":
        if required:
            errors[name] = ["This field is required."]
        return None
    if isinstance(value, bool):
        errors[name] = ["A valid number is required."]
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors[name] = ["A valid number is required."]
        return None
    if not number.is_finite():
        errors[name] = ["A valid number is required."]
    elif number <= 0:
        errors[name] = ["Must be greater than zero."]
    elif number >= MAX_NUMBER:
        errors[name] = [f"Must be less than {MAX_NUMBER}."]
    elif number != number.quantize(PLACES):
        errors[name] = ["At most 6 decimal places."]
    else:
        return number
    return None


def order_request_validate(
    *,
    account: Account,
    symbol: str,
    side: str,
    quantity: Any,
    order_type: str = Order.MARKET,
    time_in_force: str = Order.DAY,
    limit_price: Any = None,
    stop_price: Any = None,
) -> OrderRequest:
    """Normalize an order or raise ``ValidationError({field: [message]})``. Reads only."""
    errors: dict[str, list[str]] = {}
    symbol = (symbol or "").strip().upper() if isinstance(symbol, str) else ""
    if not symbol:
        errors["symbol"] = ["This field is required."]
    elif not Instrument.objects.filter(symbol=symbol, active=True).exists():
        errors["symbol"] = [f"Unknown or inactive symbol {symbol}."]
    if side not in (Order.BUY, Order.SELL):
        errors["side"] = ["Must be BUY or SELL."]
    if order_type not in ORDER_TYPES:
        errors["order_type"] = [f"Must be one of {', '.join(sorted(ORDER_TYPES))}."]
    if time_in_force not in TIFS:
        errors["time_in_force"] = ["Must be DAY or GTC."]
    qty = _number(quantity, "quantity", errors, required=True)
    needs_limit = order_type in (Order.LIMIT, Order.STOP_LIMIT)
    needs_stop = order_type in (Order.STOP, Order.STOP_LIMIT)
    limit = _number(limit_price, "limit_price", errors, required=needs_limit)
    stop = _number(stop_price, "stop_price", errors, required=needs_stop)
    if limit is not None and not needs_limit:
        errors["limit_price"] = [f"A {order_type} order takes no limit price."]
    if stop is not None and not needs_stop:
        errors["stop_price"] = [f"A {order_type} order takes no stop price."]
    mark, mark_source = None, "quote"
    if "symbol" not in errors:
        mark, mark_source = price_marks([symbol]).get(symbol, (None, "quote"))
        if mark is None and order_type == Order.MARKET:
            errors["symbol"] = [f"No quote or daily close for {symbol}: a market order cannot be valued."]
    if errors:
        raise ValidationError(errors)
    return OrderRequest(symbol=symbol, side=side, quantity=qty, order_type=order_type, time_in_force=time_in_force,
                        limit_price=limit, stop_price=stop, mark=mark, mark_source=mark_source)


def _short_check(account: Account, request: OrderRequest) -> None:
    """Refuse (as a validation error, nothing written) a sell that would open a short where shorts are off."""
    if request.side != Order.SELL or account.allow_short:
        return
    held = Position.objects.filter(account=account, symbol=request.symbol).values_list("quantity", flat=True).first() or Decimal("0")
    pending = open_quantity_on_side(account, request.symbol, Order.SELL)
    available = max(Decimal("0"), held - pending)
    if request.quantity > available:
        raise ValidationError({"quantity": [
            f"Short selling is not allowed on this account: {available} {request.symbol} can be sold "
            f"({held} held, {pending} already in open sell orders)."
        ]})


# --- submit -------------------------------------------------------------------------------------

def order_submit(
    *,
    account: Account,
    symbol: str,
    side: str,
    quantity: Decimal,
    order_type: str = Order.MARKET,
    time_in_force: str = Order.DAY,
    limit_price: Decimal | None = None,
    stop_price: Decimal | None = None,
    client_order_id: str | None = None,
    plan: TradingPlan | None = None,
    source: str = "API",
    strategy_tag: str = "",
    factor_tag: str = "",
    user=None,
    ip_address: str | None = None,
) -> Order:
    """Submit an order through validation, the guard and the broker.

    Returns the stored order: FILLED/PARTIALLY_FILLED/ACCEPTED when placed, REJECTED (with
    ``reject_code`` and ``reject_reason``) when the guard or the broker refused it. Invalid input
    raises ``ValidationError`` and writes nothing. The same ``client_order_id`` on the same account
    with the same order returns the existing order and places nothing; with a different order it is
    a 409 ``client_order_id_conflict`` (see ``client_order_id_replay``).
    """
    order, _created = order_place(
        account=account, symbol=symbol, side=side, quantity=quantity, order_type=order_type,
        time_in_force=time_in_force, limit_price=limit_price, stop_price=stop_price,
        client_order_id=client_order_id, plan=plan, source=source, strategy_tag=strategy_tag,
        factor_tag=factor_tag, user=user, ip_address=ip_address,
    )
    return order


def order_place(
    *,
    account: Account,
    symbol: str,
    side: str,
    quantity: Decimal,
    order_type: str = Order.MARKET,
    time_in_force: str = Order.DAY,
    limit_price: Decimal | None = None,
    stop_price: Decimal | None = None,
    client_order_id: str | None = None,
    plan: TradingPlan | None = None,
    source: str = "API",
    strategy_tag: str = "",
    factor_tag: str = "",
    user=None,
    ip_address: str | None = None,
) -> tuple[Order, bool]:
    """``order_submit`` that also says whether this call created the order (False: an idempotent replay)."""
    now = timezone.now()
    errors: dict[str, list[str]] = {}
    if client_order_id is not None and not (isinstance(client_order_id, str) and CLIENT_ORDER_ID.match(client_order_id)):
        errors["client_order_id"] = ["1-64 characters: letters, digits and . _ : -"]
    if source not in SOURCES:
        errors["source"] = [f"Must be one of {', '.join(sorted(SOURCES))}."]
    if plan is not None and plan.account_id != account.pk:
        errors["plan"] = ["The plan belongs to another account."]
    for name, tag in (("strategy_tag", strategy_tag), ("factor_tag", factor_tag)):
        if len(tag or "") > 64:
            errors[name] = ["At most 64 characters."]
    if errors:
        raise ValidationError(errors)
    replay = {"symbol": symbol, "side": side, "quantity": quantity, "order_type": order_type,
              "time_in_force": time_in_force, "limit_price": limit_price, "stop_price": stop_price, "plan": plan}
    if client_order_id:
        existing = Order.objects.filter(account_id=account.pk, client_order_id=client_order_id).first()
        if existing is not None:
            return client_order_id_replay(existing, **replay), False
    request = order_request_validate(
        account=account, symbol=symbol, side=side, quantity=quantity, order_type=order_type,
        time_in_force=time_in_force, limit_price=limit_price, stop_price=stop_price,
    )
    client_order_id = client_order_id or uuid.uuid4().hex
    try:
        with transaction.atomic():
            locked = Account.objects.select_for_update().get(pk=account.pk)
            existing = Order.objects.filter(account=locked, client_order_id=client_order_id).first()
            if existing is not None:
                return client_order_id_replay(existing, **replay), False
            _short_check(locked, request)
            decision = OrderSafetyGuard(now=now).evaluate(account=locked, request=request)
            order = Order.objects.create(
                account=locked, plan=plan, client_order_id=client_order_id, symbol=request.symbol, side=request.side,
                order_type=request.order_type, time_in_force=request.time_in_force, quantity=request.quantity,
                limit_price=request.limit_price, stop_price=request.stop_price, source=source,
                strategy_tag=strategy_tag or "", factor_tag=factor_tag or "",
                status=Order.NEW if decision.allowed else Order.REJECTED,
                reject_code=decision.code, reject_reason=decision.reason[:255],
                rejected_at=None if decision.allowed else now,
                warnings=[warning.as_dict() for warning in decision.warnings],
            )
            if decision.trip_breaker:
                _breaker_trip(account=locked, now=now, equity=decision.equity, previous=decision.previous_close_equity,
                              pct=decision.daily_pnl_pct)
            audit_log_create(
                action="order.submit" if decision.allowed else "order.reject",
                resource=f"order:{order.pk}", user=user, ip_address=ip_address,
                payload=_submit_payload(order, decision),
            )
            publish.order_transition_publish(order, user_id=locked.user_id)
            if not decision.allowed:
                publish.order_rejection_notify(order, account=locked)
    except IntegrityError:
        # The same client_order_id committed by a concurrent call between our check and insert.
        existing = Order.objects.filter(account_id=account.pk, client_order_id=client_order_id).first()
        if existing is None:
            raise
        return client_order_id_replay(existing, **replay), False
    if order.status == Order.REJECTED:
        return order, True
    return _order_route(order, now=now, user=user, ip_address=ip_address), True


def _replay_value(name: str, value: Any) -> Any:
    """A request field as the stored order holds it, for comparison (unparseable input stays as sent)."""
    if name == "symbol":
        return value.strip().upper() if isinstance(value, str) else value
    if name == "plan":
        return getattr(value, "pk", value)
    if name in ("quantity", "limit_price", "stop_price") and value not in (None, "") and not isinstance(value, bool):
        try:
            return Decimal(str(value))
        except (InvalidOperation, ValueError):
            return value
    return None if value == "" else value


def _replay_text(value: Any) -> str | None:
    if value is None:
        return None
    return f"{value.normalize():f}" if isinstance(value, Decimal) else str(value)


def client_order_id_replay(existing: Order, **requested: Any) -> Order:
    """The same ``client_order_id`` again: the existing order when the request is the same order.

    A reused id naming a different order (symbol, side, quantity, type, time in force, limit or
    stop price, plan) is a 409 ``client_order_id_conflict`` listing each field that differs, as
    a broker refuses a duplicate client order id: the caller meant a new order and must not be
    told it was placed.
    """
    stored = {"symbol": existing.symbol, "side": existing.side, "quantity": existing.quantity,
              "order_type": existing.order_type, "time_in_force": existing.time_in_force,
              "limit_price": existing.limit_price, "stop_price": existing.stop_price, "plan": existing.plan_id}
    conflicts = {
        name: {"existing": _replay_text(value), "requested": _replay_text(_replay_value(name, requested[name]))}
        for name, value in stored.items()
        if _replay_value(name, requested[name]) != value
    }
    if not conflicts:
        return existing
    differences = ", ".join(f"{name} ({c['existing']} -> {c['requested']})" for name, c in conflicts.items())
    raise ApplicationError(
        f"client_order_id {existing.client_order_id} already names order #{existing.pk} "
        f"({existing.side} {_replay_text(existing.quantity)} {existing.symbol} {existing.order_type} "
        f"{existing.time_in_force}); this request differs in {differences}. Use a new client_order_id for a new order.",
        code="client_order_id_conflict", status_code=status.HTTP_409_CONFLICT,
        extra={"order_id": existing.pk, "conflicts": conflicts},
    )


def _submit_payload(order: Order, decision: GuardDecision) -> dict:
    return {
        "client_order_id": order.client_order_id, "symbol": order.symbol, "side": order.side,
        "quantity": order.quantity, "order_type": order.order_type, "time_in_force": order.time_in_force,
        "limit_price": order.limit_price, "stop_price": order.stop_price, "source": order.source,
        "plan_id": order.plan_id, "status": order.status, "reject_code": order.reject_code,
        "reference_price": decision.reference_price, "notional": decision.notional, "equity": decision.equity,
        "checks": [{"rule": c.rule, "passed": c.passed} for c in decision.checks],
        "warnings": [warning.as_dict() for warning in decision.warnings], "buying_power": decision.buying_power,
    }


def _order_route(order: Order, *, now: datetime, user=None, ip_address: str | None = None) -> Order:
    """Hand a committed NEW order to its broker (outside any transaction), then record the answer."""
    broker = broker_for(order.account)
    try:
        ack = broker.submit(order)
    except BrokerUnavailable as exc:
        audit_log_create(action="order.broker_unavailable", resource=f"order:{order.pk}", user=user,
                         ip_address=ip_address, payload={"error": str(exc)})
        raise ServiceUnavailable(
            f"The broker did not confirm order #{order.pk}; it stays NEW until the broker answers. "
            "Resubmitting with the same client_order_id never places it twice.",
            code="broker_unavailable", extra={"order_id": order.pk},
        ) from exc
    return _order_acknowledge(order.pk, ack, now=now, user=user, ip_address=ip_address)


def _order_acknowledge(order_id: int, ack: BrokerAck, *, now: datetime, user=None, ip_address: str | None = None) -> Order:
    account_id = Order.objects.values_list("account_id", flat=True).get(pk=order_id)
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account_id)
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status != Order.NEW:
            return order
        if not ack.accepted:
            order.status, order.rejected_at = Order.REJECTED, now
            order.reject_code, order.reject_reason = REJECT_BROKER, ack.reason[:255]
            order.save(update_fields=["status", "rejected_at", "reject_code", "reject_reason", "updated_at"])
            audit_log_create(action="order.reject", resource=f"order:{order.pk}", user=user, ip_address=ip_address,
                             payload={"reject_code": REJECT_BROKER, "reason": ack.reason})
            publish.order_transition_publish(order, user_id=account.user_id)
            publish.order_rejection_notify(order, account=account)
            return order
        order.status, order.accepted_at = Order.ACCEPTED, now
        order.broker_order_id = ack.broker_order_id[:64]
        order.stop_triggered = order.stop_triggered or ack.stop_triggered
        order.save(update_fields=["status", "accepted_at", "broker_order_id", "stop_triggered", "updated_at"])
        audit_log_create(action="order.accept", resource=f"order:{order.pk}", user=user, ip_address=ip_address,
                         payload={"broker_order_id": order.broker_order_id})
        publish.order_transition_publish(order, user_id=account.user_id)
        for fill in ack.fills:
            quantity = min(fill.quantity, order.remaining_quantity)
            if quantity > 0:
                fill_apply(account=account, order=order, quantity=quantity, price=fill.price, commission=fill.commission,
                           executed_at=fill.executed_at, external_id=fill.external_id)
    return order


def order_preview(
    *,
    account: Account,
    symbol: str,
    side: str,
    quantity: Decimal,
    order_type: str = Order.MARKET,
    time_in_force: str = Order.DAY,
    limit_price: Decimal | None = None,
    stop_price: Decimal | None = None,
) -> GuardDecision:
    """Validation and every guard rule, exactly as ``order_submit`` would run them, writing nothing."""
    request = order_request_validate(
        account=account, symbol=symbol, side=side, quantity=quantity, order_type=order_type,
        time_in_force=time_in_force, limit_price=limit_price, stop_price=stop_price,
    )
    fresh = Account.objects.get(pk=account.pk)
    _short_check(fresh, request)
    return OrderSafetyGuard(now=timezone.now()).evaluate(account=fresh, request=request)


# --- cancel and expiry -----------------------------------------------------------------------------

def order_cancel(*, order: Order, user=None, ip_address: str | None = None) -> Order:
    """Cancel an open order. 409 when it is still being submitted or already final."""
    order = Order.objects.select_related("account").get(pk=order.pk)
    if order.status == Order.NEW:
        raise ApplicationError("The order is still being submitted to the broker; try again in a moment.",
                               code="order_not_cancellable", status_code=status.HTTP_409_CONFLICT)
    if not order.is_open:
        raise ApplicationError(f"The order is {order.status}; only open orders can be cancelled.",
                               code="order_not_cancellable", status_code=status.HTTP_409_CONFLICT)
    try:
        broker_for(order.account).cancel(order)
    except BrokerUnavailable as exc:
        raise ServiceUnavailable(f"The broker did not confirm the cancel: {exc}", code="broker_unavailable") from exc
    now = timezone.now()
    with transaction.atomic():
        claimed = Order.objects.filter(pk=order.pk, status__in=[Order.ACCEPTED, Order.PARTIALLY_FILLED]).update(
            status=Order.CANCELLED, cancelled_at=now, updated_at=now
        )
        order.refresh_from_db()
        if not claimed:
            raise ApplicationError(f"The order is {order.status}; only open orders can be cancelled.",
                                   code="order_not_cancellable", status_code=status.HTTP_409_CONFLICT)
        audit_log_create(action="order.cancel", resource=f"order:{order.pk}", user=user, ip_address=ip_address,
                         payload={"filled_quantity": order.filled_quantity, "remaining": order.remaining_quantity})
        publish.order_transition_publish(order, user_id=order.account.user_id)
    return order


def orders_expire(*, now: datetime | None = None) -> list[int]:
    """Expire open DAY orders whose session has closed. Idempotent: each order is claimed once."""
    now = now or timezone.now()
    closed = calendar.last_closed_session(now)
    cutoff = calendar.session_open_close(closed)[1]
    candidates = Order.objects.filter(
        status__in=[Order.ACCEPTED, Order.PARTIALLY_FILLED], time_in_force=Order.DAY, created_at__lt=cutoff
    ).values_list("id", "account__user_id")
    expired = []
    for order_id, user_id in candidates:
        with transaction.atomic():
            claimed = Order.objects.filter(pk=order_id, status__in=[Order.ACCEPTED, Order.PARTIALLY_FILLED]).update(
                status=Order.EXPIRED, expired_at=now, updated_at=now
            )
            if not claimed:
                continue
            order = Order.objects.get(pk=order_id)
            audit_log_create(action="order.expire", resource=f"order:{order_id}",
                             payload={"session": closed, "filled_quantity": order.filled_quantity})
            publish.order_transition_publish(order, user_id=user_id)
            expired.append(order_id)
    return expired


# --- daily-loss breaker ------------------------------------------------------------------------------

def _breaker_trip(*, account: Account, now: datetime, equity: Decimal, previous: Decimal, pct: Decimal) -> bool:
    """Trip the breaker for the current session once (claimed by an update). True if this call tripped it."""
    session = calendar.current_session(now)
    claimed = (
        Account.objects.filter(pk=account.pk)
        .exclude(breaker_session=session)
        .exclude(breaker_override_session=session)
        .update(breaker_session=session, breaker_tripped_at=now, updated_at=now)
    )
    if not claimed:
        return False
    account.breaker_session, account.breaker_tripped_at = session, now
    limit = settings.MAX_DAILY_LOSS_PCT
    data = {"account_id": account.pk, "session": session.isoformat(), "equity": str(equity),
            "previous_close_equity": str(previous), "daily_pnl_pct": str(pct), "limit_pct": str(limit)}
    audit_log_create(action="account.breaker_trip", resource=f"account:{account.pk}", payload=data)
    publish.risk_warning_publish(
        account=account,
        title="Daily-loss breaker tripped: new orders refused",
        body=f"Equity {equity} is {pct:.2%} from the previous close {previous} (limit -{limit:.2%}). "
             "New orders are refused until the next session.",
        data=data,
    )
    return True


def breaker_check(*, account: Account, now: datetime | None = None) -> bool:
    """Trip the account's breaker if its daily loss reached the limit. True when this call tripped it."""
    now = now or timezone.now()
    session = calendar.current_session(now)
    if session in (account.breaker_session, account.breaker_override_session):
        return False
    equity, previous, pct = daily_pnl_pct(account, at=now)
    if pct is None or not (pct < 0 and pct <= -settings.MAX_DAILY_LOSS_PCT):
        return False
    with transaction.atomic():
        return _breaker_trip(account=account, now=now, equity=equity, previous=previous, pct=pct)


def breaker_check_all(*, now: datetime | None = None) -> dict:
    """The ``daily_loss_check_job``: check every account while the regular session is open."""
    now = now or timezone.now()
    if not calendar.is_open(now):
        return {"checked": 0, "tripped": [], "skipped": "market closed"}
    accounts = list(Account.objects.all())
    tripped = [a.pk for a in accounts if breaker_check(account=a, now=now)]
    return {"checked": len(accounts), "tripped": tripped}


def breaker_reset(*, account: Account, user=None, ip_address: str | None = None) -> bool:
    """Admin action: lift a tripped breaker early; it does not trip again in this session. False if not tripped."""
    now = timezone.now()
    session = calendar.current_session(now)
    with transaction.atomic():
        claimed = Account.objects.filter(pk=account.pk, breaker_session__isnull=False).update(
            breaker_session=None, breaker_tripped_at=None, breaker_override_session=session, updated_at=now
        )
        if not claimed:
            return False
        audit_log_create(action="account.breaker_reset", resource=f"account:{account.pk}", user=user,
                         ip_address=ip_address, payload={"session": session, "tripped_session": account.breaker_session})
    account.refresh_from_db()
    return True


# --- trading state ------------------------------------------------------------------------------------

TRADING_STATE_EFFECTS = {
    Account.ACTIVE: "new orders are allowed again",
    Account.REDUCING: "only orders that shrink a position are allowed",
    Account.HALTED: "every new order is refused; cancels still work",
}


def account_trading_state_set(*, account: Account, state: str, user=None, ip_address: str | None = None) -> bool:
    """Switch the account to ACTIVE, REDUCING or HALTED (audited; the owner gets a risk warning).

    Takes the account row lock, so a state change never lands in the middle of a submit's guard
    check. Open orders keep working: cancel them separately. False when the account already was
    in ``state``.
    """
    if state not in TRADING_STATE_EFFECTS:
        raise ValidationError({"trading_state": [f"Must be one of {', '.join(TRADING_STATE_EFFECTS)}."]})
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        previous = locked.trading_state
        if previous == state:
            return False
        locked.trading_state = state
        locked.save(update_fields=["trading_state", "updated_at"])
        open_count = Order.objects.filter(account=locked, status__in=Order.OPEN_STATUSES).count()
        data = {"account_id": locked.pk, "from": previous, "to": state, "open_orders": open_count}
        audit_log_create(action="account.trading_state", resource=f"account:{locked.pk}", user=user,
                         ip_address=ip_address, payload=data)
        publish.risk_warning_publish(
            account=locked,
            title=f"Account {locked.code} is now {state}",
            body=f"Trading state {previous} -> {state}: {TRADING_STATE_EFFECTS[state]}. "
                 f"{open_count} open order(s) keep working until cancelled.",
            data=data,
        )
    account.trading_state = state
    return True


# --- plans --------------------------------------------------------------------------------------------

PLAN_EDITABLE = ("symbol", "direction", "entry_price", "stop_price", "target_price", "quantity", "order_type",
                 "status", "valid_until", "strategy_tag", "factor_tag", "notes")
PLAN_USER_STATUSES = (TradingPlan.PENDING, TradingPlan.ACTIVE, TradingPlan.CANCELLED)


def _plan_validate(values: dict, *, now: datetime, creating: bool) -> None:
    errors: dict[str, list[str]] = {}
    symbol = values.get("symbol") or ""
    if not Instrument.objects.filter(symbol=symbol, active=True).exists():
        errors["symbol"] = [f"Unknown or inactive symbol {symbol}."]
    if values.get("direction") not in (TradingPlan.LONG, TradingPlan.SHORT):
        errors["direction"] = ["Must be LONG or SHORT."]
    if values.get("order_type") not in ORDER_TYPES:
        errors["order_type"] = [f"Must be one of {', '.join(sorted(ORDER_TYPES))}."]
    if values.get("status") not in PLAN_USER_STATUSES:
        errors["status"] = ["A plan can be set to PENDING, ACTIVE or CANCELLED."]
    for name, required in (("entry_price", True), ("quantity", True), ("stop_price", False), ("target_price", False)):
        number = _number(values.get(name), name, errors, required=required)
        if name not in errors:
            values[name] = number
    entry, stop, target = values.get("entry_price"), values.get("stop_price"), values.get("target_price")
    if entry is not None and not errors.get("direction"):
        long = values["direction"] == TradingPlan.LONG
        if stop is not None and "stop_price" not in errors and (stop >= entry if long else stop <= entry):
            errors["stop_price"] = ["A long plan's stop is below its entry." if long else "A short plan's stop is above its entry."]
        if target is not None and "target_price" not in errors and (target <= entry if long else target >= entry):
            errors["target_price"] = ["A long plan's target is above its entry." if long else "A short plan's target is below its entry."]
    valid_until = values.get("valid_until")
    if creating and valid_until is not None and valid_until <= now:
        errors["valid_until"] = ["Must be in the future."]
    if errors:
        raise ValidationError(errors)


def plan_create(
    *,
    account: Account,
    symbol: str,
    direction: str,
    entry_price: Decimal,
    quantity: Decimal,
    stop_price: Decimal | None = None,
    target_price: Decimal | None = None,
    order_type: str = Order.LIMIT,
    status: str = TradingPlan.PENDING,
    valid_until: datetime | None = None,
    strategy_tag: str = "",
    factor_tag: str = "",
    notes: str = "",
    signal=None,
    user=None,
    ip_address: str | None = None,
) -> TradingPlan:
    now = timezone.now()
    values = {"symbol": (symbol or "").strip().upper(), "direction": direction, "entry_price": entry_price,
              "stop_price": stop_price, "target_price": target_price, "quantity": quantity, "order_type": order_type,
              "status": status, "valid_until": valid_until, "strategy_tag": strategy_tag or "",
              "factor_tag": factor_tag or "", "notes": notes or ""}
    _plan_validate(values, now=now, creating=True)
    with transaction.atomic():
        plan = TradingPlan.objects.create(account=account, signal=signal, **values)
        audit_log_create(action="plan.create", resource=f"plan:{plan.pk}", user=user, ip_address=ip_address, payload=values)
    return plan


def plan_update(*, plan: TradingPlan, data: dict, user=None, ip_address: str | None = None) -> TradingPlan:
    """Edit a PENDING/ACTIVE plan (a user may also cancel it). 409 for executed, cancelled or expired plans."""
    now = timezone.now()
    with transaction.atomic():
        plan = TradingPlan.objects.select_for_update().get(pk=plan.pk)
        if plan.status not in (TradingPlan.PENDING, TradingPlan.ACTIVE):
            raise ApplicationError(f"The plan is {plan.status} and can no longer be changed.",
                                   code="plan_not_editable", status_code=status.HTTP_409_CONFLICT)
        changes = {k: v for k, v in data.items() if k in PLAN_EDITABLE}
        if "symbol" in changes:
            changes["symbol"] = (changes["symbol"] or "").strip().upper()
        values = {name: getattr(plan, name) for name in PLAN_EDITABLE} | changes
        _plan_validate(values, now=now, creating="valid_until" in changes)
        for name in changes:
            setattr(plan, name, values[name])
        plan.save()
        audit_log_create(action="plan.update", resource=f"plan:{plan.pk}", user=user, ip_address=ip_address,
                         payload={k: values[k] for k in changes})
    return plan


def plan_delete(*, plan: TradingPlan, user=None, ip_address: str | None = None) -> None:
    """Delete a plan that never sent an order; a plan with orders is kept for the record (cancel it)."""
    if plan.orders.exists():
        raise ApplicationError("The plan has orders and is kept for the record; set its status to CANCELLED instead.",
                               code="plan_has_orders", status_code=status.HTTP_409_CONFLICT)
    with transaction.atomic():
        payload = {"symbol": plan.symbol, "direction": plan.direction, "status": plan.status}
        pk = plan.pk
        plan.delete()
        audit_log_create(action="plan.delete", resource=f"plan:{pk}", user=user, ip_address=ip_address, payload=payload)


def _plan_order_prices(plan: TradingPlan) -> tuple[Decimal | None, Decimal | None]:
    """(limit, stop) of the order a plan sends: its entry price is the limit and/or the stop trigger."""
    if plan.order_type == Order.LIMIT:
        return plan.entry_price, None
    if plan.order_type == Order.STOP:
        return None, plan.entry_price
    if plan.order_type == Order.STOP_LIMIT:
        return plan.entry_price, plan.entry_price
    return None, None


def plan_execute(*, plan: TradingPlan, source: str = "PLAN", user=None, ip_address: str | None = None) -> Order:
    """Send the plan's order through ``order_submit``; executing twice places one order.

    The client_order_id is ``plan-<id>``; after a refusal the next attempt uses ``plan-<id>-<n>``
    (n = refusals so far), so a plan refused outside trading hours can be executed later, while two
    concurrent executions still share one id. The plan becomes EXECUTED once its order is accepted.
    """
    now = timezone.now()
    plan = TradingPlan.objects.select_related("account").get(pk=plan.pk)
    live = plan.orders.exclude(status=Order.REJECTED).order_by("id").first()
    if live is not None:
        _plan_mark_executed(plan, live, now=now, user=user, ip_address=ip_address)
        return live
    if plan.status in (TradingPlan.PENDING, TradingPlan.ACTIVE) and plan.valid_until and plan.valid_until <= now:
        _plan_expire(plan.pk, now=now)
        plan.refresh_from_db()
    if plan.status not in (TradingPlan.PENDING, TradingPlan.ACTIVE):
        raise ApplicationError(f"The plan is {plan.status} and cannot be executed.",
                               code="plan_not_executable", status_code=status.HTTP_409_CONFLICT)
    refusals = plan.orders.filter(status=Order.REJECTED).count()
    limit, stop = _plan_order_prices(plan)
    order = order_submit(
        account=plan.account, symbol=plan.symbol, side=Order.BUY if plan.direction == TradingPlan.LONG else Order.SELL,
        quantity=plan.quantity, order_type=plan.order_type, time_in_force=Order.DAY, limit_price=limit, stop_price=stop,
        client_order_id=f"plan-{plan.pk}" if refusals == 0 else f"plan-{plan.pk}-{refusals}", plan=plan,
        source=source, strategy_tag=plan.strategy_tag, factor_tag=plan.factor_tag, user=user, ip_address=ip_address,
    )
    _plan_mark_executed(plan, order, now=now, user=user, ip_address=ip_address)
    return order


def _plan_mark_executed(plan: TradingPlan, order: Order, *, now: datetime, user=None, ip_address: str | None = None) -> None:
    if order.status in (Order.NEW, Order.REJECTED):
        return
    with transaction.atomic():
        claimed = TradingPlan.objects.filter(pk=plan.pk, status__in=[TradingPlan.PENDING, TradingPlan.ACTIVE]).update(
            status=TradingPlan.EXECUTED, executed_at=now, updated_at=now
        )
        if claimed:
            audit_log_create(action="plan.execute", resource=f"plan:{plan.pk}", user=user, ip_address=ip_address,
                             payload={"order_id": order.pk, "order_status": order.status})
    plan.refresh_from_db()


def plans_expire(*, now: datetime | None = None) -> list[int]:
    """PENDING/ACTIVE plans past ``valid_until`` become EXPIRED (claimed once each)."""
    now = now or timezone.now()
    due = TradingPlan.objects.filter(status__in=[TradingPlan.PENDING, TradingPlan.ACTIVE], valid_until__lte=now)
    return [plan_id for plan_id in due.values_list("id", flat=True) if _plan_expire(plan_id, now=now)]


def _plan_expire(plan_id: int, *, now: datetime) -> bool:
    with transaction.atomic():
        claimed = TradingPlan.objects.filter(pk=plan_id, status__in=[TradingPlan.PENDING, TradingPlan.ACTIVE]).update(
            status=TradingPlan.EXPIRED, updated_at=now
        )
        if claimed:
            audit_log_create(action="plan.expire", resource=f"plan:{plan_id}")
    return bool(claimed)


# --- approvals ----------------------------------------------------------------------------------------

def _approval_ttl() -> timedelta:
    return timedelta(minutes=settings.APPROVAL_TTL_MINUTES)


def approval_request_create(*, plan: TradingPlan, source: str, reason: str = "") -> ApprovalRequest:
    """Ask the user to approve a plan's execution; one PENDING request per plan (a repeat returns it)."""
    now = timezone.now()
    if plan.status not in (TradingPlan.PENDING, TradingPlan.ACTIVE):
        raise ApplicationError(f"The plan is {plan.status}; there is nothing to approve.",
                               code="plan_not_executable", status_code=status.HTTP_409_CONFLICT)
    with transaction.atomic():
        TradingPlan.objects.select_for_update().get(pk=plan.pk)
        existing = ApprovalRequest.objects.filter(plan=plan, status=ApprovalRequest.PENDING).first()
        if existing is not None and (existing.expires_at is None or existing.expires_at > now):
            return existing
        expires_at = now + _approval_ttl()
        if plan.valid_until is not None:
            expires_at = min(expires_at, plan.valid_until)
        approval = ApprovalRequest.objects.create(
            account_id=plan.account_id, plan=plan, source=source[:32], reason=(reason or "")[:255],
            token=_approval_token(), expires_at=expires_at,
        )
        audit_log_create(action="approval.create", resource=f"approval:{approval.pk}",
                         payload={"plan_id": plan.pk, "source": source, "reason": reason})
        side = "Buy" if plan.direction == TradingPlan.LONG else "Sell"
        publish.approval_request_notify(
            account=plan.account,
            title=f"Approve: {side} {plan.quantity.normalize():f} {plan.symbol} @ {plan.entry_price.normalize():f}?",
            body=f"{reason or source}. Reply /approve {approval.token} or /reject {approval.token}, or decide on the dashboard.",
            data={"approval_id": approval.pk, "plan_id": plan.pk, "token": approval.token,
                  "expires_at": expires_at.isoformat()},
        )
    return approval


def _approval_token() -> str:
    while True:
        token = secrets.token_hex(4).upper()
        if not ApprovalRequest.objects.filter(token=token).exists():
            return token


def approval_decide(
    *, approval: ApprovalRequest, approve: bool, via: str, user=None, ip_address: str | None = None
) -> ApprovalRequest:
    """Approve (-> ``plan_execute`` with source APPROVAL) or reject a PENDING request, claimed atomically.

    An approval whose order is not placed (the guard refuses it, e.g. outside trading hours; the
    plan makes an invalid order) goes back to PENDING with ``refusal_code``/``refusal_reason`` (and
    the REJECTED order as its ``order``), so it can be approved again once it can execute, until it
    expires; an invalid order's ``ValidationError`` is raised after that.
    """
    now = timezone.now()
    approval = ApprovalRequest.objects.select_related("plan").get(pk=approval.pk)
    plan_open = approval.plan.status in (TradingPlan.PENDING, TradingPlan.ACTIVE)
    expired = approval.expires_at is not None and approval.expires_at <= now
    if approval.status == ApprovalRequest.PENDING and (expired or not plan_open):
        with transaction.atomic():
            if ApprovalRequest.objects.filter(pk=approval.pk, status=ApprovalRequest.PENDING).update(
                status=ApprovalRequest.EXPIRED, decided_at=now, decided_via=via[:16]
            ):
                audit_log_create(action="approval.expire", resource=f"approval:{approval.pk}", user=user,
                                 ip_address=ip_address)
        raise ApplicationError("The approval request has expired." if expired else
                               f"The plan is {approval.plan.status}; the request has lapsed.",
                               code="approval_expired", status_code=status.HTTP_409_CONFLICT)
    new_status = ApprovalRequest.APPROVED if approve else ApprovalRequest.REJECTED
    with transaction.atomic():
        claimed = ApprovalRequest.objects.filter(pk=approval.pk, status=ApprovalRequest.PENDING).update(
            status=new_status, decided_at=now, decided_via=via[:16]
        )
        if not claimed:
            approval.refresh_from_db()
            raise ApplicationError(f"The approval request is already {approval.status}.",
                                   code="approval_decided", status_code=status.HTTP_409_CONFLICT)
        audit_log_create(action="approval.approve" if approve else "approval.reject", resource=f"approval:{approval.pk}",
                         user=user, ip_address=ip_address, payload={"via": via, "plan_id": approval.plan_id})
    if approve:
        try:
            order = plan_execute(plan=approval.plan, source="APPROVAL", user=user, ip_address=ip_address)
        except ValidationError as exc:
            _approval_requeue(approval.pk, code="invalid_order", reason=_validation_text(exc), now=now, user=user,
                              ip_address=ip_address)
            raise
        except ServiceUnavailable as exc:  # the order is stored (NEW) and the broker did not answer: it is this approval's
            ApprovalRequest.objects.filter(pk=approval.pk).update(order_id=exc.extra.get("order_id"))
            raise
        except ApplicationError as exc:
            if exc.code == "plan_not_executable":
                _approval_lapse(approval.pk, now=now, user=user, ip_address=ip_address)
            else:
                _approval_requeue(approval.pk, code=exc.code, reason=exc.message, now=now, user=user, ip_address=ip_address)
            raise
        if order.status == Order.REJECTED:
            _approval_requeue(approval.pk, code=order.reject_code, reason=order.reject_reason, now=now, user=user,
                              ip_address=ip_address, order=order)
        else:
            ApprovalRequest.objects.filter(pk=approval.pk).update(order=order)
    approval.refresh_from_db()
    return approval


def _validation_text(exc: ValidationError) -> str:
    detail = exc.detail if isinstance(exc.detail, dict) else {"order": exc.detail}
    return "; ".join(f"{field}: {' '.join(str(m) for m in (msgs if isinstance(msgs, list) else [msgs]))}"
                     for field, msgs in detail.items())


def _approval_requeue(approval_id: int, *, code: str, reason: str, now: datetime, user=None, ip_address: str | None = None,
                      order: Order | None = None) -> None:
    """An approved request whose order was not placed waits again (PENDING), saying why."""
    with transaction.atomic():
        if ApprovalRequest.objects.filter(pk=approval_id, status=ApprovalRequest.APPROVED).update(
            status=ApprovalRequest.PENDING, decided_at=None, decided_via="", refusal_code=code[:32],
            refusal_reason=reason[:255], refused_at=now, order=order,
        ):
            audit_log_create(action="approval.refused", resource=f"approval:{approval_id}", user=user,
                             ip_address=ip_address,
                             payload={"code": code, "reason": reason, "order_id": order.pk if order else None})


def _approval_lapse(approval_id: int, *, now: datetime, user=None, ip_address: str | None = None) -> None:
    with transaction.atomic():
        if ApprovalRequest.objects.filter(pk=approval_id, status=ApprovalRequest.APPROVED).update(
            status=ApprovalRequest.EXPIRED, decided_at=now
        ):
            audit_log_create(action="approval.expire", resource=f"approval:{approval_id}", user=user, ip_address=ip_address)


def approvals_expire(*, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    expired = []
    for approval_id in ApprovalRequest.objects.filter(status=ApprovalRequest.PENDING, expires_at__lte=now).values_list("id", flat=True):
        with transaction.atomic():
            if ApprovalRequest.objects.filter(pk=approval_id, status=ApprovalRequest.PENDING).update(
                status=ApprovalRequest.EXPIRED, decided_at=now, decided_via="expiry"
            ):
                audit_log_create(action="approval.expire", resource=f"approval:{approval_id}")
                expired.append(approval_id)
    return expired
