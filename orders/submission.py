"""Submitting an order: the ONE way an order reaches a broker (REST API, alert auto-execute, plan
execution, approvals, strategies): validate -> OrderSafetyGuard (daily-loss breaker included) under
the account row lock -> the order row is committed with its client_order_id -> broker -> acknowledgement.

Do not call ``order_submit`` inside your own ``transaction.atomic``: the broker call (network for a
real venue) must not run inside a transaction, and the account lock would be held until your
transaction ends.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Required, TypedDict, Unpack

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import ValidationError

from alphaloop.audit import audit_log_create
from alphaloop.exceptions import ApplicationError, ServiceUnavailable
from alphaloop.money import PRICE_PLACES
from marketdata.models import Instrument
from orders import publish
from orders.brokers import BrokerAck, BrokerUnavailable, broker_for
from orders.fills import fill_apply
from orders.guard import GuardDecision, OrderRequest, OrderSafetyGuard, open_quantity_on_side
from orders.models import Account, Order, Position, TradingPlan
from orders.risk import breaker_trip
from orders.selectors import price_marks

MAX_NUMBER = Decimal("100000000000000")  # 20 digits with 6 decimal places
CLIENT_ORDER_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")
SOURCES = {code for code, _ in Order.SOURCES}
ORDER_TYPES = {code for code, _ in Order.TYPES}
TIFS = {code for code, _ in Order.TIFS}
REJECT_BROKER = "broker_rejected"


def number_field(value: Any, name: str, errors: dict[str, list[str]], *, required: bool) -> Decimal | None:
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
    elif number != number.quantize(PRICE_PLACES):
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
    qty = number_field(quantity, "quantity", errors, required=True)
    needs_limit = order_type in (Order.LIMIT, Order.STOP_LIMIT)
    needs_stop = order_type in (Order.STOP, Order.STOP_LIMIT)
    limit = number_field(limit_price, "limit_price", errors, required=needs_limit)
    stop = number_field(stop_price, "stop_price", errors, required=needs_stop)
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
    return OrderRequest(
        symbol=symbol,
        side=side,
        quantity=qty,
        order_type=order_type,
        time_in_force=time_in_force,
        limit_price=limit,
        stop_price=stop,
        mark=mark,
        mark_source=mark_source,
    )


def _short_check(account: Account, request: OrderRequest) -> None:
    """Refuse (as a validation error, nothing written) a sell that would open a short where shorts are off."""
    if request.side != Order.SELL or account.allow_short:
        return
    held = Position.objects.filter(account=account, symbol=request.symbol).values_list(
        "quantity", flat=True
    ).first() or Decimal("0")
    pending = open_quantity_on_side(account, request.symbol, Order.SELL)
    available = max(Decimal("0"), held - pending)
    if request.quantity > available:
        raise ValidationError(
            {
                "quantity": [
                    f"Short selling is not allowed on this account: {available} {request.symbol} can be sold "
                    f"({held} held, {pending} already in open sell orders)."
                ]
            }
        )


# --- submit -------------------------------------------------------------------------------------


class OrderFields(TypedDict, total=False):
    """What an order is, as ``order_submit`` and ``order_place`` take it (symbol, side and quantity required)."""

    symbol: Required[str]
    side: Required[str]
    quantity: Required[Decimal]
    order_type: str
    time_in_force: str
    limit_price: Decimal | None
    stop_price: Decimal | None
    client_order_id: str | None
    plan: TradingPlan | None
    source: str
    strategy_tag: str
    factor_tag: str


def order_submit(*, account: Account, user=None, ip_address: str | None = None, **order: Unpack[OrderFields]) -> Order:
    """Submit an order through validation, the guard and the broker.

    Returns the stored order: FILLED/PARTIALLY_FILLED/ACCEPTED when placed, REJECTED (with
    ``reject_code`` and ``reject_reason``) when the guard or the broker refused it. Invalid input
    raises ``ValidationError`` and writes nothing. The same ``client_order_id`` on the same account
    with the same order returns the existing order and places nothing; with a different order it is
    a 409 ``client_order_id_conflict`` (see ``client_order_id_replay``).
    """
    return order_place(account=account, user=user, ip_address=ip_address, **order)[0]


def order_place(
    *, account: Account, user=None, ip_address: str | None = None, **fields: Unpack[OrderFields]
) -> tuple[Order, bool]:
    """``order_submit`` that also says whether this call created the order (False: an idempotent replay)."""
    symbol, side, quantity = fields["symbol"], fields["side"], fields["quantity"]
    order_type = fields.get("order_type", Order.MARKET)
    time_in_force = fields.get("time_in_force", Order.DAY)
    limit_price, stop_price = fields.get("limit_price"), fields.get("stop_price")
    client_order_id, plan = fields.get("client_order_id"), fields.get("plan")
    source = fields.get("source", "API")
    strategy_tag, factor_tag = fields.get("strategy_tag", ""), fields.get("factor_tag", "")
    now = timezone.now()
    errors: dict[str, list[str]] = {}
    if client_order_id is not None and not (
        isinstance(client_order_id, str) and CLIENT_ORDER_ID.match(client_order_id)
    ):
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
    replay = {
        "symbol": symbol,
        "side": side,
        "quantity": quantity,
        "order_type": order_type,
        "time_in_force": time_in_force,
        "limit_price": limit_price,
        "stop_price": stop_price,
        "plan": plan,
    }
    if client_order_id:
        existing = Order.objects.filter(account_id=account.pk, client_order_id=client_order_id).first()
        if existing is not None:
            return client_order_id_replay(existing, **replay), False
    request = order_request_validate(
        account=account,
        symbol=symbol,
        side=side,
        quantity=quantity,
        order_type=order_type,
        time_in_force=time_in_force,
        limit_price=limit_price,
        stop_price=stop_price,
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
                account=locked,
                plan=plan,
                client_order_id=client_order_id,
                symbol=request.symbol,
                side=request.side,
                order_type=request.order_type,
                time_in_force=request.time_in_force,
                quantity=request.quantity,
                limit_price=request.limit_price,
                stop_price=request.stop_price,
                source=source,
                strategy_tag=strategy_tag or "",
                factor_tag=factor_tag or "",
                status=Order.NEW if decision.allowed else Order.REJECTED,
                reject_code=decision.code,
                reject_reason=decision.reason[:255],
                rejected_at=None if decision.allowed else now,
                warnings=[warning.as_dict() for warning in decision.warnings],
            )
            if decision.trip_breaker:
                breaker_trip(
                    account=locked,
                    now=now,
                    equity=decision.equity,
                    previous=decision.previous_close_equity,
                    pct=decision.daily_pnl_pct,
                )
            audit_log_create(
                action="order.submit" if decision.allowed else "order.reject",
                resource=f"order:{order.pk}",
                user=user,
                ip_address=ip_address,
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
    stored = {
        "symbol": existing.symbol,
        "side": existing.side,
        "quantity": existing.quantity,
        "order_type": existing.order_type,
        "time_in_force": existing.time_in_force,
        "limit_price": existing.limit_price,
        "stop_price": existing.stop_price,
        "plan": existing.plan_id,
    }
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
        code="client_order_id_conflict",
        status_code=status.HTTP_409_CONFLICT,
        extra={"order_id": existing.pk, "conflicts": conflicts},
    )


def _submit_payload(order: Order, decision: GuardDecision) -> dict:
    return {
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side,
        "quantity": order.quantity,
        "order_type": order.order_type,
        "time_in_force": order.time_in_force,
        "limit_price": order.limit_price,
        "stop_price": order.stop_price,
        "source": order.source,
        "plan_id": order.plan_id,
        "status": order.status,
        "reject_code": order.reject_code,
        "reference_price": decision.reference_price,
        "notional": decision.notional,
        "equity": decision.equity,
        "checks": [{"rule": c.rule, "passed": c.passed} for c in decision.checks],
        "warnings": [warning.as_dict() for warning in decision.warnings],
        "buying_power": decision.buying_power,
    }


def _order_route(order: Order, *, now: datetime, user=None, ip_address: str | None = None) -> Order:
    """Hand a committed NEW order to its broker (outside any transaction), then record the answer."""
    broker = broker_for(order.account)
    try:
        ack = broker.submit(order)
    except BrokerUnavailable as exc:
        audit_log_create(
            action="order.broker_unavailable",
            resource=f"order:{order.pk}",
            user=user,
            ip_address=ip_address,
            payload={"error": str(exc)},
        )
        raise ServiceUnavailable(
            f"The broker did not confirm order #{order.pk}; it stays NEW until the broker answers. "
            "Resubmitting with the same client_order_id never places it twice.",
            code="broker_unavailable",
            extra={"order_id": order.pk},
        ) from exc
    return _order_acknowledge(order.pk, ack, now=now, user=user, ip_address=ip_address)


def _order_acknowledge(
    order_id: int, ack: BrokerAck, *, now: datetime, user=None, ip_address: str | None = None
) -> Order:
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
            audit_log_create(
                action="order.reject",
                resource=f"order:{order.pk}",
                user=user,
                ip_address=ip_address,
                payload={"reject_code": REJECT_BROKER, "reason": ack.reason},
            )
            publish.order_transition_publish(order, user_id=account.user_id)
            publish.order_rejection_notify(order, account=account)
            return order
        order.status, order.accepted_at = Order.ACCEPTED, now
        order.broker_order_id = ack.broker_order_id[:64]
        order.stop_triggered = order.stop_triggered or ack.stop_triggered
        order.save(update_fields=["status", "accepted_at", "broker_order_id", "stop_triggered", "updated_at"])
        audit_log_create(
            action="order.accept",
            resource=f"order:{order.pk}",
            user=user,
            ip_address=ip_address,
            payload={"broker_order_id": order.broker_order_id},
        )
        publish.order_transition_publish(order, user_id=account.user_id)
        for fill in ack.fills:
            quantity = min(fill.quantity, order.remaining_quantity)
            if quantity > 0:
                fill_apply(
                    account=account,
                    order=order,
                    quantity=quantity,
                    price=fill.price,
                    commission=fill.commission,
                    executed_at=fill.executed_at,
                    external_id=fill.external_id,
                )
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
        account=account,
        symbol=symbol,
        side=side,
        quantity=quantity,
        order_type=order_type,
        time_in_force=time_in_force,
        limit_price=limit_price,
        stop_price=stop_price,
    )
    fresh = Account.objects.get(pk=account.pk)
    _short_check(fresh, request)
    return OrderSafetyGuard(now=timezone.now()).evaluate(account=fresh, request=request)
